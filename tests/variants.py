"""Small test-only stacks that exercise BedrockGatewayApi options ChatStack does not use.

They are synthesized in the same session app as the real stacks, so they get the same
snapshot, cdk-nag and cfn-lint checks.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns

from cdk_llm_serving import BedrockGatewayApi, BedrockModelAlias, GatewayAuth
from cdk_llm_serving._nag import acknowledge

DIRECT_MODEL = BedrockModelAlias(alias="titan", model_id="amazon.titan-text-express-v1", max_tokens_cap=2048, default_max_tokens=512)
GLOBAL_PROFILE = BedrockModelAlias(alias="haiku-global", model_id="global.anthropic.claude-haiku-4-5-20251001-v1:0")


class GatewayIamStack(cdk.Stack):
    """IAM (SigV4) auth, a direct foundation model next to a global profile, reserved concurrency, alarm topic."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(self, "AlarmKey", enable_key_rotation=True)
        key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))
        self.topic = sns.Topic(self, "AlarmTopic", enforce_ssl=True, master_key=key)
        self.gateway = BedrockGatewayApi(
            self,
            "Gateway",
            models=[DIRECT_MODEL, GLOBAL_PROFILE],
            auth=GatewayAuth.iam(),
            reserved_concurrency=20,
            alarm_topic=self.topic,
            generation_timeout=cdk.Duration.minutes(15),
        )
        self.caller = iam.Role(self, "CallerRole", assumed_by=iam.AccountRootPrincipal())
        self.gateway.grant_invoke(self.caller)
        acknowledge(
            self.caller,
            "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
            "Test-only caller role standing in for a consumer's own role; grant_invoke adds to its default policy",
        )


class GatewayDevStack(cdk.Stack):
    """Unauthenticated development mode, no WAF, an existing user pool is not needed."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.gateway = BedrockGatewayApi(
            self,
            "Gateway",
            models=[DIRECT_MODEL],
            auth=GatewayAuth.none_for_development(),
            web_acl=False,
        )


class GatewayExistingPoolStack(cdk.Stack):
    """Cognito auth with a user pool the caller already owns."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        pool = cognito.UserPool.from_user_pool_id(self, "ExistingPool", "us-east-1_EXAMPLE1")
        self.gateway = BedrockGatewayApi(self, "Gateway", models=[GLOBAL_PROFILE], auth=GatewayAuth.cognito(pool))


VARIANTS = {
    "GatewayIamStack": GatewayIamStack,
    "GatewayDevStack": GatewayDevStack,
    "GatewayExistingPoolStack": GatewayExistingPoolStack,
}
