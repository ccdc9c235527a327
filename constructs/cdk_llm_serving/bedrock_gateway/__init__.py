"""BedrockGatewayApi and its types."""

from . import rules
from .alarms import GatewayAlarmOptions
from .aliases import (
    INFERENCE_PROFILE_GEOS,
    BedrockEmbeddingAlias,
    BedrockModelAlias,
    GatewayLimits,
    KnowledgeBaseRetrieval,
    ModelAlias,
    SageMakerModelAlias,
)
from .auth import GatewayAuth, GatewayAuthMode
from .construct import BedrockGatewayApi
from .endpoint import GatewayEndpoint, GatewayEndpointType

__all__ = [
    "rules",
    "INFERENCE_PROFILE_GEOS",
    "BedrockEmbeddingAlias",
    "BedrockGatewayApi",
    "BedrockModelAlias",
    "GatewayAlarmOptions",
    "GatewayAuth",
    "GatewayAuthMode",
    "GatewayEndpoint",
    "GatewayEndpointType",
    "GatewayLimits",
    "KnowledgeBaseRetrieval",
    "ModelAlias",
    "SageMakerModelAlias",
]
