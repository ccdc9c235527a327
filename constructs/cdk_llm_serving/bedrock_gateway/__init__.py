"""BedrockGatewayApi and its types."""

from .._prices import TokenPrice
from . import rules
from ._governance import Budget, BudgetPeriod, GatewayGovernance, TeamPolicy
from .alarms import GatewayAlarmOptions
from .aliases import (
    INFERENCE_PROFILE_GEOS,
    ApplicationInferenceProfile,
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
from .enforcement import AccountGuardrailEnforcement, SelectiveGuarding
from .guardrails import (
    ContentFilter,
    ContentFilterType,
    DeniedTopic,
    FilterStrength,
    GatewayGuardrail,
    GuardrailPolicy,
    GuardrailTrace,
    PiiAction,
    PiiEntity,
    StreamProcessingMode,
)

__all__ = [
    "AccountGuardrailEnforcement",
    "SelectiveGuarding",
    "ApplicationInferenceProfile",
    "rules",
    "INFERENCE_PROFILE_GEOS",
    "BedrockEmbeddingAlias",
    "Budget",
    "BudgetPeriod",
    "BedrockGatewayApi",
    "BedrockModelAlias",
    "GatewayAlarmOptions",
    "GatewayAuth",
    "GatewayAuthMode",
    "GatewayEndpoint",
    "GatewayEndpointType",
    "GatewayGovernance",
    "GatewayLimits",
    "KnowledgeBaseRetrieval",
    "ModelAlias",
    "SageMakerModelAlias",
    "ContentFilter",
    "ContentFilterType",
    "DeniedTopic",
    "FilterStrength",
    "GatewayGuardrail",
    "GuardrailPolicy",
    "GuardrailTrace",
    "PiiAction",
    "PiiEntity",
    "StreamProcessingMode",
    "TeamPolicy",
    "TokenPrice",
]
