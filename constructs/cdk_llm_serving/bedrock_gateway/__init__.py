"""BedrockGatewayApi and its types."""

from .auth import GatewayAuth, GatewayAuthMode
from .construct import BedrockGatewayApi
from .routes import INFERENCE_PROFILE_GEOS, BedrockModelAlias, GatewayLimits

__all__ = [
    "INFERENCE_PROFILE_GEOS",
    "BedrockGatewayApi",
    "BedrockModelAlias",
    "GatewayAuth",
    "GatewayAuthMode",
    "GatewayLimits",
]
