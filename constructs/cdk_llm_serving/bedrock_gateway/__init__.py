"""BedrockGatewayApi and its types."""

from . import rules
from ._governance import Budget, BudgetPeriod, GatewayGovernance, TeamPolicy, TokenPrice
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
    "Budget",
    "BudgetPeriod",
    "BedrockGatewayApi",
    "BedrockModelAlias",
    "GatewayAuth",
    "GatewayAuthMode",
    "GatewayEndpoint",
    "GatewayEndpointType",
    "GatewayGovernance",
    "GatewayLimits",
    "KnowledgeBaseRetrieval",
    "ModelAlias",
    "SageMakerModelAlias",
    "TeamPolicy",
    "TokenPrice",
]
