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
from .eks_inferentia import (
    DEFAULT_INF2_NODE_POOLS,
    CostCeiling,
    EksInferentiaCluster,
    Inf2NodePool,
    ServingMode,
    VllmNeuronModel,
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
    "DEFAULT_INF2_NODE_POOLS",
    "CostCeiling",
    "EksInferentiaCluster",
    "Inf2NodePool",
    "ServingMode",
    "VllmNeuronModel",
]
