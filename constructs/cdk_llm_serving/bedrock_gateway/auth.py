"""How callers authenticate to the gateway."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aws_cdk import aws_cognito as cognito


class GatewayAuthMode(enum.Enum):
    COGNITO = "cognito"
    IAM = "iam"
    NONE = "none"


@dataclass(frozen=True)
class GatewayAuth:
    """Authentication of the gateway's model routes. Use the factory methods."""

    mode: GatewayAuthMode
    user_pool: cognito.IUserPool | None = None

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
    def none_for_development() -> GatewayAuth:
        """No authentication: anyone who finds the URL spends your Bedrock budget.

        For short-lived development stacks only. WAF and throttling still apply, and synth emits a warning.
        """
        return GatewayAuth(GatewayAuthMode.NONE)
