"""The gateway's cdk-nag acknowledgments: each one narrow, on a construct the gateway created, with its reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._nag import acknowledge, nag_resource
from . import _iam
from .aliases import BedrockModelAlias
from .auth import GatewayAuth, GatewayAuthMode

if TYPE_CHECKING:
    from .construct import BedrockGatewayApi

_HEALTH_REASON = (
    "GET /health is a mock integration returning a constant for load balancers and uptime checks; no data, no model"
)


_PREFLIGHT_REASON = (
    "CORS preflight (OPTIONS, cors_allowed_origins): browsers send it without credentials, so it cannot be "
    "authorized; a mock integration answers with the allowed origins, methods and headers, no data, no model"
)


def acknowledge_findings(
    gateway: BedrockGatewayApi,
    auth: GatewayAuth,
    reserved_concurrency: int | None,
    *,
    web_acl: bool,
) -> None:
    """Acknowledge the findings that do not apply to the gateway, or are accepted for the reason given
    (the alarms' missing-action finding is acknowledged where they are created, see ``_alarms.notify``)."""
    _account_and_pool(gateway)
    if not web_acl:
        for rule in ("AwsSolutions::AwsSolutions-APIG3", "NIST.800.53.R5::NIST.800.53.R5-APIGWAssociatedWithWAF"):
            acknowledge(
                gateway.stage,
                rule,
                "WAF was switched off explicitly with web_acl=False (e.g. a WAF managed centrally by Firewall "
                "Manager); stage throttling still applies",
            )
    _policy(gateway)
    _function(gateway, reserved_concurrency)
    _stage_and_methods(gateway, auth.mode)
    if gateway.governance_table is not None:
        acknowledge(
            gateway.governance_table,
            "NIST.800.53.R5::NIST.800.53.R5-DynamoDBInBackupPlan",
            "Point-in-time recovery (35 days of continuous backups) is on and the table is retained and "
            "deletion-protected; adding it to an AWS Backup plan is an account-level choice",
        )


def _account_and_pool(gateway: BedrockGatewayApi) -> None:
    cw_role = gateway.api.node.try_find_child("CloudWatchRole")
    if cw_role is not None:
        acknowledge(
            cw_role,
            "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level logging role; AWS documents this service-role policy for execution logs",
        )
    if gateway.user_pool_client is not None and gateway.user_pool is not None:  # we created the pool
        acknowledge(
            gateway.user_pool.node.default_child or gateway.user_pool,
            "AwsSolutions::AwsSolutions-COG8",
            "The Plus feature plan (threat protection) is billed per monthly active user; MFA is required instead. "
            "Pass your own Plus-tier pool with GatewayAuth.cognito(pool) to get it",
        )


def _policy(gateway: BedrockGatewayApi) -> None:
    policy = gateway.policy
    statements = gateway._policy_statements
    acknowledge(
        policy,
        "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; AWS requires '*'"
        + (
            "; so do AWS Marketplace ViewSubscriptions and Subscribe (first call of a third-party model), "
            "Subscribe limited to the allowlisted models' product IDs by aws-marketplace:ProductId"
            if any(s.sid == "ViewMarketplaceSubscriptions" for s in statements)
            else ""
        )
        + (
            "; so do EC2 DescribeNetworkInterfaces/DescribeSubnets, which Lambda needs to attach the function to the VPC"
            if gateway.vpc is not None
            else ""
        ),
    )
    if gateway.vpc is not None:
        acknowledge(
            policy,
            # rendered from the statement's own ARN: literals in a stack with an account and Region (pipeline stages)
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(policy, _iam.network_interfaces_arn(policy))}]",
            "Lambda creates and deletes the function's VPC network interfaces itself, so their IDs are unknown at "
            "deploy time; creation is limited to our subnets and security group",
        )
    bedrock_aliases = [m for m in gateway.models if isinstance(m, BedrockModelAlias)]
    for fm in sorted({m.foundation_model_id for m in bedrock_aliases if m.is_inference_profile}):
        acknowledge(
            policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/{fm}]",
            "Cross-Region inference profiles route to the foundation model in any Region of their geography; "
            "AWS requires the model ARN in every such Region. Pinned to our profiles by bedrock:InferenceProfileArn.",
        )


def _function(gateway: BedrockGatewayApi, reserved_concurrency: int | None) -> None:
    fn = gateway.function
    acknowledge(
        fn,
        "NIST.800.53.R5::NIST.800.53.R5-LambdaDLQ",
        "The function is only invoked synchronously by API Gateway; a DLQ applies to asynchronous invocations only",
    )
    if gateway.vpc is None:
        acknowledge(
            fn,
            "NIST.800.53.R5::NIST.800.53.R5-LambdaInsideVPC",
            "The function only calls AWS APIs (Bedrock, SageMaker runtime) over TLS with SigV4; a VPC would add NAT "
            "or interface-endpoint cost without reducing exposure. Use GatewayEndpoint.private() for a VPC",
        )
    if reserved_concurrency is None:
        acknowledge(
            fn,
            "NIST.800.53.R5::NIST.800.53.R5-LambdaConcurrency",
            "Reserved concurrency is opt-in (reserved_concurrency): new accounts have a concurrency quota of 10, "
            "and a default reservation would fail to deploy there",
        )


def _stage_and_methods(gateway: BedrockGatewayApi, auth_mode: GatewayAuthMode) -> None:
    stage = gateway.stage
    acknowledge(
        stage,
        "NIST.800.53.R5::NIST.800.53.R5-APIGWCacheEnabledAndEncrypted",
        "API Gateway response streaming does not support endpoint caching, and chat completions must not be cached",
    )
    acknowledge(
        stage,
        "NIST.800.53.R5::NIST.800.53.R5-APIGWSSLEnabled",
        "Client certificates authenticate API Gateway to HTTP backends; this API's only backend is a Lambda function",
    )
    acknowledge(gateway.health_method, "AwsSolutions::AwsSolutions-APIG4", _HEALTH_REASON)
    acknowledge(gateway.health_method, "AwsSolutions::AwsSolutions-COG4", _HEALTH_REASON)
    for preflight in gateway.cors_preflight_methods:
        for rule in ("AwsSolutions::AwsSolutions-APIG4", "AwsSolutions::AwsSolutions-COG4"):
            # Browsers send CORS preflights without credentials (Fetch standard, CORS-preflight request).
            acknowledge(preflight, rule, _PREFLIGHT_REASON)
    model_methods = [
        gateway.chat_completions_method,
        gateway.embeddings_method,
        gateway.models_method,
        gateway.model_method,
    ]
    if gateway.usage_method is not None:
        model_methods.append(gateway.usage_method)
    if auth_mode is GatewayAuthMode.API_KEYS:
        for method in model_methods:
            for rule in ("AwsSolutions::AwsSolutions-APIG4", "AwsSolutions::AwsSolutions-COG4"):
                acknowledge(
                    method,
                    rule,
                    "Authenticated by the function with gateway API keys (GatewayAuth.api_keys()): each key is looked "
                    "up by its SHA-256 in the governance table before any model call; API Gateway cannot check them",
                )
    if auth_mode is GatewayAuthMode.IAM:
        for method in model_methods:
            acknowledge(
                method,
                "AwsSolutions::AwsSolutions-COG4",
                "This gateway uses IAM (SigV4) authorization for service callers, chosen with GatewayAuth.iam()",
            )
    if auth_mode is GatewayAuthMode.NONE:
        for method in model_methods:
            for rule in ("AwsSolutions::AwsSolutions-APIG4", "AwsSolutions::AwsSolutions-COG4"):
                acknowledge(
                    method,
                    rule,
                    "Unauthenticated on purpose: GatewayAuth.none_for_development() was chosen explicitly "
                    "(synth warns about it); WAF and stage throttling still apply",
                )
