"""How callers authenticate to the gateway."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aws_cdk import aws_cognito as cognito

from .._types import TypedOptions


class GatewayAuthMode(enum.Enum):
    """How the gateway's model routes authenticate callers."""

    COGNITO = "cognito"
    """A Cognito user-pool JWT authorizer (the default, ``GatewayAuth.cognito()``): callers send
    ``Authorization: Bearer <ID token>``."""
    IAM = "iam"
    """AWS IAM (SigV4) for service callers (``GatewayAuth.iam()``); access with ``BedrockGatewayApi.grant_invoke``."""
    API_KEYS = "api_keys"
    """Gateway API keys (``GatewayAuth.api_keys()``): callers send ``Authorization: Bearer sk-gw-...``; the function
    looks the key's SHA-256 up in the governance table (created by ``scripts/gateway_keys.py``)."""
    NONE = "none"
    """No authentication (``GatewayAuth.none_for_development()``), for short-lived development stacks only."""


@dataclass(frozen=True)
class GatewayAuth(TypedOptions):
    """Authentication of the gateway's model routes. Use the factory methods."""

    mode: GatewayAuthMode
    """COGNITO, IAM, API_KEYS or NONE."""
    user_pool: cognito.IUserPool | None = None
    """COGNITO only: the user pool whose ID tokens are accepted. Default: - a pool is created"""

    @staticmethod
    def cognito(user_pool: cognito.IUserPool | None = None) -> GatewayAuth:
        """Cognito user-pool JWT authorizer (the default). Callers send ``Authorization: Bearer <ID token>``,
        which is what the OpenAI SDKs send when the token is passed as ``api_key``.

        :param user_pool: an existing pool. Default: - a pool is created (no self sign-up, TOTP MFA required,
            12+ character passwords) together with an app client for the SRP and password flows.
        """
        return GatewayAuth(GatewayAuthMode.COGNITO, user_pool)

    @staticmethod
    def iam() -> GatewayAuth:
        """AWS IAM (SigV4) for service callers; give them access with ``BedrockGatewayApi.grant_invoke``."""
        return GatewayAuth(GatewayAuthMode.IAM)

    @staticmethod
    def api_keys() -> GatewayAuth:
        """Gateway API keys ("virtual keys"), one or more per team, with allowed aliases, a budget and an expiry.

        Keys are created, listed and revoked with ``scripts/gateway_keys.py``; the table stores only their SHA-256.
        The function checks the key (cached for ``GatewayGovernance.key_cache``) before anything else; API Gateway
        does not authenticate the model routes in this mode. Implies ``governance=GatewayGovernance()`` when the
        gateway's ``governance`` is not given.
        """
        return GatewayAuth(GatewayAuthMode.API_KEYS)

    @staticmethod
    def none_for_development() -> GatewayAuth:
        """No authentication: anyone who finds the URL spends your Bedrock budget.

        For short-lived development stacks only. WAF and throttling still apply, and synth emits a warning.
        """
        return GatewayAuth(GatewayAuthMode.NONE)
