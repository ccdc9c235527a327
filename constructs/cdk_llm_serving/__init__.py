"""cdk-llm-serving: AWS CDK (Python) L3 constructs for serving large language models on AWS."""

from ._errors import PropsValidationError
from .bedrock_gateway import (
    INFERENCE_PROFILE_GEOS,
    BedrockGatewayApi,
    BedrockModelAlias,
    GatewayAuth,
    GatewayAuthMode,
    GatewayLimits,
)

__version__ = "0.1.0"

__all__ = [
    "INFERENCE_PROFILE_GEOS",
    "BedrockGatewayApi",
    "BedrockModelAlias",
    "GatewayAuth",
    "GatewayAuthMode",
    "GatewayLimits",
    "PropsValidationError",
]
