"""Small test-only stacks that exercise BedrockGatewayApi options ChatStack does not use.

They are synthesized in the same session app as the real stacks, so they get the same
snapshot, cdk-nag and cfn-lint checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns

from cdk_llm_serving import (
    AccountGuardrailEnforcement,
    ApplicationInferenceProfile,
    BedrockEmbeddingAlias,
    BedrockGatewayApi,
    BedrockModelAlias,
    Budget,
    BudgetPeriod,
    ContentFilter,
    ContentFilterType,
    DeniedTopic,
    FilterStrength,
    GatewayAuth,
    GatewayEndpoint,
    GatewayGovernance,
    GatewayGuardrail,
    GuardrailPolicy,
    KnowledgeBaseRetrieval,
    PiiEntity,
    SageMakerModelAlias,
    SelectiveGuarding,
    TeamPolicy,
    TokenPrice,
)
from cdk_llm_serving._nag import acknowledge

DIRECT_MODEL = BedrockModelAlias(
    alias="titan", model_id="amazon.titan-text-express-v1", max_tokens_cap=2048, default_max_tokens=512
)
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


#: Knowledge base of the SageMaker variant (a literal ID) and the endpoint it imports by name.
LITERAL_KNOWLEDGE_BASE_ID = "ABCDEFGHIJ"
IMPORTED_ENDPOINT_NAME = "Shared-Llm-Endpoint"  # mixed case on purpose: the ARN holds it lower-cased
#: Exports of another stack the variants import (CDK tokens in the allowlist).
SHARED_ENDPOINT_NAME_EXPORT = "SharedLoraEndpointName"
SHARED_ENDPOINT_ARN_EXPORT = "SharedLoraEndpointArn"
SHARED_KNOWLEDGE_BASE_EXPORT = "SharedKnowledgeBaseId"
PRIVATE_ENDPOINT_NAME = "private-llm"


@dataclass(frozen=True)
class ExportedEndpoint:
    """Stands in for a SageMakerLlmEndpoint / LoraAdapterFleet of another stack: name and ARN are tokens."""

    endpoint_name: str
    endpoint_arn: str


class GatewaySageMakerStack(cdk.Stack):
    """REGIONAL gateway mixing backends: a Bedrock profile, a SageMaker endpoint imported by name (with
    retrieval from a literal knowledge base) and two LoRA adapters (inference components) on one endpoint
    whose name and ARN are tokens."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        shared = ExportedEndpoint(
            endpoint_name=cdk.Fn.import_value(SHARED_ENDPOINT_NAME_EXPORT),
            endpoint_arn=cdk.Fn.import_value(SHARED_ENDPOINT_ARN_EXPORT),
        )
        self.gateway = BedrockGatewayApi(
            self,
            "Gateway",
            models=[
                GLOBAL_PROFILE,
                SageMakerModelAlias(
                    alias="rag",
                    endpoint_name=IMPORTED_ENDPOINT_NAME,
                    max_tokens_cap=2048,
                    default_max_tokens=512,
                    retrieval=KnowledgeBaseRetrieval(knowledge_base_id=LITERAL_KNOWLEDGE_BASE_ID, number_of_results=4),
                ),
                SageMakerModelAlias.for_endpoint(
                    alias="adapter-a", endpoint=shared, inference_component_name="adapter-a"
                ),
                SageMakerModelAlias.for_endpoint(
                    alias="adapter-b", endpoint=shared, inference_component_name="adapter-b"
                ),
            ],
            auth=GatewayAuth.iam(),
        )


class GatewayPrivateStack(cdk.Stack):
    """PRIVATE gateway (IAM auth) in a new VPC with isolated subnets only, SageMaker-only allowlist with
    retrieval from a knowledge base whose ID is a token: the function reaches AWS through interface endpoints."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
            ],
        )
        flow_log_key = kms.Key(self, "FlowLogKey", enable_key_rotation=True, description="Encrypts the VPC flow logs")
        flow_log_key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com"))
        flow_log = self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogGroup", retention=logs.RetentionDays.ONE_MONTH, encryption_key=flow_log_key)
            ),
        )
        acknowledge(
            flow_log,
            "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
            "CDK-generated flow-log delivery role of this test VPC; its inline policy only writes to the flow-log group",
        )
        acknowledge(
            self.vpc,
            "NIST.800.53.R5::NIST.800.53.R5-VPCDefaultSecurityGroupClosed",
            "Nothing in this test VPC uses the default security group; the function and endpoints have their own",
        )
        self.gateway = BedrockGatewayApi(
            self,
            "Gateway",
            models=[
                SageMakerModelAlias(
                    alias="private-llm",
                    endpoint_name=PRIVATE_ENDPOINT_NAME,
                    retrieval=KnowledgeBaseRetrieval(
                        knowledge_base_id=cdk.Fn.import_value(SHARED_KNOWLEDGE_BASE_EXPORT)
                    ),
                )
            ],
            auth=GatewayAuth.iam(),
            endpoint=GatewayEndpoint.private(vpc=self.vpc),
        )


#: Embedding aliases of GatewaySurfaceStack: Titan (Amazon, no Marketplace) and Cohere (a Marketplace product).
EMBEDDING_ALIASES = (
    BedrockEmbeddingAlias(alias="embed", model_id="amazon.titan-embed-text-v2:0"),
    BedrockEmbeddingAlias(alias="embed-multilingual", model_id="cohere.embed-multilingual-v3"),
)


SURFACE_IMAGE_HOSTS = ("images.example.com",)
SURFACE_CORS_ORIGIN = "https://app.example.com"


class GatewaySurfaceStack(cdk.Stack):
    """The OpenAI surface beyond chat: embedding aliases next to a chat profile (Cognito auth), remote image URLs
    from one allowlisted host and CORS for one browser origin."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.gateway = BedrockGatewayApi(
            self,
            "Gateway",
            models=[GLOBAL_PROFILE, *EMBEDDING_ALIASES],
            image_url_hosts=SURFACE_IMAGE_HOSTS,
            cors_allowed_origins=[SURFACE_CORS_ORIGIN],
        )


#: An existing guardrail managed outside the stack (shared by another team).
CENTRAL_GUARDRAIL_ARN = "arn:aws:bedrock:us-east-1:123456789012:guardrail/centralguard01"


class GatewayGovernanceStack(cdk.Stack):
    """Governance options: a created guardrail shared by two aliases with a fallback between them, an existing
    guardrail, prompt caching, an application inference profile with cost tags, and account-level enforcement of
    the created guardrail (one per account and Region)."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        safety = GatewayGuardrail.create(
            name="Safety",
            policy=GuardrailPolicy(
                content_filters=[
                    ContentFilter(type=ContentFilterType.HATE),
                    ContentFilter(type=ContentFilterType.PROMPT_ATTACK, output_strength=FilterStrength.NONE),
                ],
                denied_topics=[DeniedTopic(name="Legal advice", definition="Advice on a specific legal case.")],
                pii_entities=[PiiEntity(type="EMAIL"), PiiEntity(type="PHONE")],
                managed_profanity=True,
            ),
        )
        central = GatewayGuardrail.existing(name="Central", guardrail_arn=CENTRAL_GUARDRAIL_ARN, version="2")
        self.gateway = BedrockGatewayApi(
            self,
            "Gateway",
            models=[
                BedrockModelAlias(
                    alias="chat",
                    model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0",
                    guardrail=safety,
                    prompt_caching=True,
                    fallback=["chat-backup"],
                ),
                BedrockModelAlias(alias="chat-backup", model_id="us.amazon.nova-lite-v1:0", guardrail=safety),
                BedrockModelAlias(alias="regulated", model_id="us.amazon.nova-pro-v1:0", guardrail=central),
                BedrockModelAlias(
                    alias="search-team",
                    model_id="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                    application_inference_profile=ApplicationInferenceProfile(
                        tags={"team": "search", "cost-center": "1234"}
                    ),
                ),
            ],
        )
        self.enforcement = AccountGuardrailEnforcement(
            self,
            "AccountGuardrail",
            guardrail_arn=self.gateway.guardrails["Safety"].attr_guardrail_arn,
            guardrail_version=self.gateway.guardrail_versions["Safety"].attr_version,
            system_prompts=SelectiveGuarding.COMPREHENSIVE,
            messages=SelectiveGuarding.COMPREHENSIVE,
        )


class GatewayKeysStack(cdk.Stack):
    """Gateway API keys (the function authenticates them), monthly token and USD budgets, team policies, prices."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.gateway = BedrockGatewayApi(
            self,
            "Gateway",
            models=[GLOBAL_PROFILE, DIRECT_MODEL],
            auth=GatewayAuth.api_keys(),
            governance=GatewayGovernance(
                period=BudgetPeriod.MONTH,
                team_budget=Budget(tokens=50_000_000, usd=200.0),
                teams={"research": TeamPolicy(aliases=["haiku-global"], budget=Budget(usd=500.0))},
                # Illustrative prices (USD per 1M tokens); take real ones from the Bedrock pricing page.
                prices={"haiku-global": TokenPrice(input_per_million=1.0, output_per_million=5.0)},
            ),
        )


VARIANTS = {
    "GatewayIamStack": GatewayIamStack,
    "GatewayDevStack": GatewayDevStack,
    "GatewayExistingPoolStack": GatewayExistingPoolStack,
    "GatewaySageMakerStack": GatewaySageMakerStack,
    "GatewayPrivateStack": GatewayPrivateStack,
    "GatewaySurfaceStack": GatewaySurfaceStack,
    "GatewayGovernanceStack": GatewayGovernanceStack,
    "GatewayKeysStack": GatewayKeysStack,
}
