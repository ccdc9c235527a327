"""CatalogStack: a Service Catalog portfolio that application teams launch gateways from (seed 001 §6).

Two products, each a ``servicecatalog.ProductStack``: the chat gateway (``ChatGatewayProduct``), an OpenAI-compatible API
over the platform's Bedrock allowlist with IAM auth, alarms and WAF; and internal RAG (``RagProduct``), the body of
RagStack (a SageMaker-hosted open model, a Bedrock Knowledge Base, a private API) in its own VPC. The knobs a team picks at launch are CloudFormation
parameters, checked by CloudFormation (``MinValue``/``MaxValue``) because their values are unknown at synth:
throttling rate and burst, and the WAF per-IP limit (the gateway accepts tokens for exactly these props). The model
allowlist is fixed per product version: the function's IAM policy and configuration are derived from it at synth.

RAG's launch parameters are the autoscaling upper bound and the weights' bucket and folder; the instance type, the
container and the context length are fixed per product version (the ``rag`` settings), and so are the VPC's
Availability Zones (``availability_zones``: a product template has no environment to look zones up in).

The products never create ``AWS::ApiGateway::Account`` (the account's API Gateway CloudWatch role, one per account
and Region): every launched copy would overwrite it, and deleting one would break the others' execution logging. The
catalog stack creates it once for its own account (``api_gateway_cloud_watch_role``).

Added to the app only when cdk.json (or ``-c catalog='{...}'``) has a ``catalog`` setting.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, replace
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicecatalog as servicecatalog
from constructs import Construct

import cdk_llm_serving
from cdk_llm_serving import BedrockGatewayApi, Budget, GatewayAuth, PropsValidationError
from cdk_llm_serving._nag import acknowledge, nag_resource
from cdk_llm_serving._retained import stack_id_suffix
from cdk_llm_serving.bedrock_gateway._validation import MAX_BURST, WAF_RATE_LIMIT_RANGE

from ._common import alarm_topic
from .chat_stack import ChatSettings
from .pipeline_stack import _AZ, _as_mapping, _environment_problems
from .rag_stack import RagComposition, RagNames, RagSettings

#: The construct ID of aws-s3-deployment's singleton function (BucketDeployment, aws-cdk-lib 2.275).
_BUCKET_DEPLOYMENT = "Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C"
_COPY = "aws-s3-deployment's generated grants to copy the product assets from the bootstrap bucket"

#: Product versions are the library's version: a new release of cdk-llm-serving is a new product version.
PRODUCT_VERSION = f"v{cdk_llm_serving.__version__}"

_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")


@dataclass(frozen=True, kw_only=True)
class CatalogSettings:
    """Settings of :class:`CatalogStack`, read from cdk.json context ``catalog``."""

    account: str
    """12-digit account ID of the catalog (and of the asset bucket's name)."""
    region: str
    """Region of the catalog."""
    provider_name: str = "Platform team"
    """Portfolio provider and product owner shown to consumers. Default: Platform team"""
    consumer_role_arns: tuple[str, ...] = ()
    """IAM roles of the catalog account that may launch the products. Default: - none (grant access later in the
    console or with ``aws servicecatalog associate-principal-with-portfolio``)"""
    availability_zones: tuple[str, ...]
    """Availability Zones (at least 2) of ``region`` in the catalog account for the RAG product's VPC (names differ
    per account: ``aws ec2 describe-availability-zones``); products launch in the catalog's account and Region."""
    api_gateway_cloud_watch_role: bool = True
    """Create the account's API Gateway CloudWatch role (``AWS::ApiGateway::Account``) once, in this stack, since the
    products never do; the gateways' execution logging needs it. Set to false when the account has one already.
    Default: true"""

    @classmethod
    def from_context(cls, raw: Any) -> CatalogSettings:
        where = "cdk.json context 'catalog'"
        raw = _as_mapping(raw, where)
        known = set(cls.__dataclass_fields__)
        problems = [f"unknown setting {k!r}; known settings: {', '.join(sorted(known))}" for k in raw if k not in known]
        problems += _environment_problems("setting", raw.get("account"), raw.get("region"))
        roles = raw.get("consumer_role_arns", [])
        if not isinstance(roles, list) or any(not isinstance(r, str) or not _ROLE_ARN.match(r) for r in roles):
            problems.append(
                "setting 'consumer_role_arns' must be a list of IAM role ARNs like "
                f"'arn:aws:iam::111111111111:role/app-team', got {json.dumps(roles)}"
            )
        azs = raw.get("availability_zones", [])
        region = raw.get("region")
        if (
            not isinstance(azs, list)
            or len(set(azs)) < 2
            or any(not isinstance(z, str) or not (m := _AZ.match(z)) or m.group(1) != region for z in azs)
        ):
            problems.append(
                f"setting 'availability_zones' must name at least 2 zones of {region} like '{region}a' for the RAG "
                f"product's VPC (no lookups at synth), got {json.dumps(azs)}: aws ec2 describe-availability-zones "
                f"--region {region}"
            )
        if problems:
            raise PropsValidationError(where, problems)
        return cls(
            account=raw["account"],
            region=raw["region"],
            availability_zones=tuple(azs),
            provider_name=str(raw.get("provider_name", "Platform team")),
            consumer_role_arns=tuple(roles),
            api_gateway_cloud_watch_role=bool(raw.get("api_gateway_cloud_watch_role", True)),
        )


class ChatGatewayProduct(servicecatalog.ProductStack):
    """The chat gateway as a product template: the ``chat`` settings' allowlist and limits, IAM auth, throttles and
    the WAF limit as launch parameters, no ``AWS::ApiGateway::Account``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: ChatSettings, asset_bucket: s3.IBucket
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            asset_bucket=asset_bucket,
            description="cdk-llm-serving chat gateway: OpenAI-compatible API over Amazon Bedrock (IAM auth)",
        )
        rate = cdk.CfnParameter(
            self,
            "ThrottlingRateLimit",
            type="Number",
            default=settings.throttling_rate_limit,
            min_value=1,
            max_value=10000,
            description="Stage-wide requests per second (API Gateway throttling).",
        )
        burst = cdk.CfnParameter(
            self,
            "ThrottlingBurstLimit",
            type="Number",
            default=settings.throttling_burst_limit,
            min_value=1,
            max_value=MAX_BURST,
            description=f"Stage-wide burst (1 to {MAX_BURST}, the account burst quota).",
        )
        waf = cdk.CfnParameter(
            self,
            "WafRateLimitPerIp",
            type="Number",
            default=settings.waf_rate_limit_per_ip,
            min_value=WAF_RATE_LIMIT_RANGE[0],
            max_value=WAF_RATE_LIMIT_RANGE[1],
            description="Requests per client IP per 5 minutes before AWS WAF answers 429.",
        )
        props = settings.gateway_props()
        governance = props.get("governance")
        if governance is not None:  # budgets on (the chat settings' default): each is a launch parameter
            props["governance"] = dataclasses.replace(
                governance,
                team_budget=self._budget_parameter("TeamBudgetTokens", "each team", settings.team_budget_tokens),
                caller_budget=self._budget_parameter(
                    "CallerBudgetTokens", "each IAM caller", settings.caller_budget_tokens
                ),
            )
        props.update(
            auth=GatewayAuth.iam(),
            throttling_rate_limit=rate.value_as_number,
            throttling_burst_limit=burst.value_as_number,
            waf_rate_limit_per_ip=waf.value_as_number,
            cloud_watch_role=False,
        )
        self.alarm_topic = alarm_topic(self, "the chat gateway product")
        self.gateway = BedrockGatewayApi(self, "Gateway", **props, alarm_topic=self.alarm_topic)
        gw = self.gateway
        cdk.CfnOutput(self, "OpenAIBaseUrl", value=gw.openai_base_url, description="base_url for OpenAI SDKs")
        cdk.CfnOutput(self, "AuthMode", value=gw.auth_mode.value, description="SigV4 (execute-api:Invoke)")
        cdk.CfnOutput(
            self,
            "InvokeArn",
            value=gw.api.arn_for_execute_api("*", "/v1/*", gw.stage.stage_name),
            description="Grant execute-api:Invoke on this to the roles that call the API",
        )
        cdk.CfnOutput(self, "ModelAliases", value=",".join(m.alias for m in settings.models))
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn, description="Subscribe to get alarms")

    def _budget_parameter(self, name: str, whom: str, default: int | None) -> Budget:
        """A token budget per period as a launch parameter (the chat settings' value as its default)."""
        parameter = cdk.CfnParameter(
            self,
            name,
            type="Number",
            default=default if default is not None else MAX_BUDGET_TOKENS,
            min_value=MIN_BUDGET_TOKENS,
            max_value=MAX_BUDGET_TOKENS,
            description=f"Input plus output tokens per budget period of {whom} ({MIN_BUDGET_TOKENS} to "
            f"{MAX_BUDGET_TOKENS}); over it the gateway answers 429 insufficient_quota.",
        )
        return Budget(tokens=parameter.value_as_number)


#: Range of the budget launch parameters (tokens per period): at least one long answer, at most 10^12 (far beyond any
#: real budget; DynamoDB numbers hold 38 digits).
MIN_BUDGET_TOKENS = 1000
MAX_BUDGET_TOKENS = 1_000_000_000_000

#: ``AllowedPattern`` of the weights bucket: a general purpose bucket name (Amazon S3 User Guide, "General purpose
#: bucket naming rules": 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit).
WEIGHTS_BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
#: ``AllowedPattern`` of the weights folder: key segments without a leading or trailing ``/`` (``ModelSource.s3_prefix``
#: appends the ``/``; a token cannot be stripped at synth) from S3's safe key characters (User Guide, "Naming objects").
WEIGHTS_PREFIX_PATTERN = r"^[a-zA-Z0-9!_.*'()-]+(/[a-zA-Z0-9!_.*'()-]+)*$"


class RagProduct(servicecatalog.ProductStack):
    """Internal RAG as a product template: RagStack's body (:class:`~stacks.rag_stack.RagComposition`) with the
    autoscaling upper bound and the weights' bucket and folder as launch parameters, the VPC in the catalog's
    ``availability_zones``, and account-unique names that hold the launched stack's ID."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: RagSettings,
        availability_zones: tuple[str, ...],
        asset_bucket: s3.IBucket,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            asset_bucket=asset_bucket,
            description="cdk-llm-serving internal RAG: private API, SageMaker-hosted model, Bedrock Knowledge Base",
        )
        max_instances = cdk.CfnParameter(
            self,
            "MaxInstances",
            type="Number",
            default=settings.max_instances,
            min_value=1,
            max_value=20,
            description=f"Autoscaling upper bound of the {settings.instance_type} endpoint instances.",
        )
        bucket = cdk.CfnParameter(
            self,
            "WeightsBucketName",
            type="String",
            default=settings.weights_bucket_name,
            allowed_pattern=WEIGHTS_BUCKET_PATTERN,
            description="Bucket of this account holding the model weights (uncompressed Hugging Face snapshot).",
        )
        prefix = cdk.CfnParameter(
            self,
            "WeightsPrefix",
            type="String",
            default=settings.weights_prefix.rstrip("/"),
            allowed_pattern=WEIGHTS_PREFIX_PATTERN,
            description=f"Folder of the weights in that bucket, no trailing '/'; a model that {settings.instance_type} "
            f"serves with a {settings.max_model_len}-token context.",
        )
        suffix = stack_id_suffix()  # 12 lowercase hex digits of the launched stack's ID
        self.rag = RagComposition(
            self,
            replace(settings, weights_bucket_name=bucket.value_as_string, weights_prefix=prefix.value_as_string),
            label="the RAG product",
            availability_zones=list(availability_zones),
            max_instances=max_instances.value_as_number,  # type: ignore[arg-type]  # a number token
            names=RagNames(
                endpoint=f"rag-llm-{suffix}",
                model_package_group=f"rag-llm-{suffix}-versions",
                knowledge_base=f"rag-documents-{suffix}",
                vector_bucket=f"rag-documents-{suffix}-vectors",
            ),
            api_gateway_account=False,
        )


class CatalogStack(cdk.Stack):
    """The portfolio, its products (one version per library version), their launch role and asset bucket."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: CatalogSettings,
        chat: ChatSettings | None = None,
        rag: RagSettings | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("description", "cdk-llm-serving: Service Catalog portfolio of serving products")
        kwargs.setdefault("env", cdk.Environment(account=settings.account, region=settings.region))
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        chat = chat or ChatSettings()
        rag = rag or RagSettings()
        self.asset_bucket = self._asset_bucket()
        self.portfolio = servicecatalog.Portfolio(
            self,
            "Portfolio",
            display_name="cdk-llm-serving",
            provider_name=settings.provider_name,
            description="LLM serving building blocks for application teams",
        )
        self.chat_product_stack = ChatGatewayProduct(
            self, "ChatGatewayProduct", settings=chat, asset_bucket=self.asset_bucket
        )
        self.chat_product = self._product(
            "ChatGateway",
            self.chat_product_stack,
            name="LLM chat gateway",
            description="OpenAI-compatible chat completions API over the platform's Amazon Bedrock model allowlist",
        )
        self.launch_role = launch_role(self, self.asset_bucket)
        self.portfolio.set_launch_role(self.chat_product, self.launch_role)
        self.rag_product_stack = RagProduct(
            self,
            "RagProduct",
            settings=rag,
            availability_zones=settings.availability_zones,
            asset_bucket=self.asset_bucket,
        )
        self.rag_product = self._product(
            "Rag",
            self.rag_product_stack,
            name="LLM RAG over enterprise documents",
            description="Private OpenAI-compatible API answering from a document index with a SageMaker-hosted model",
        )
        self.rag_launch_role = rag_launch_role(self, self.launch_role)
        self.portfolio.set_launch_role(self.rag_product, self.rag_launch_role)
        for i, arn in enumerate(settings.consumer_role_arns):
            self.portfolio.give_access_to_role(iam.Role.from_role_arn(self, f"Consumer{i}", arn, mutable=False))
        if settings.api_gateway_cloud_watch_role:
            self._api_gateway_account()
        self._acknowledge_asset_deployment()
        cdk.CfnOutput(self, "PortfolioId", value=self.portfolio.portfolio_id)
        cdk.CfnOutput(self, "ChatGatewayProductId", value=self.chat_product.product_id)
        cdk.CfnOutput(self, "RagProductId", value=self.rag_product.product_id)

    def _product(
        self, construct_id: str, template: servicecatalog.ProductStack, *, name: str, description: str
    ) -> servicecatalog.CloudFormationProduct:
        """A product of the portfolio at the library's version, its template from ``template``."""
        product = servicecatalog.CloudFormationProduct(
            self,
            construct_id,
            product_name=name,
            owner=self.settings.provider_name,
            description=description,
            product_versions=[
                servicecatalog.CloudFormationProductVersion(
                    product_version_name=PRODUCT_VERSION,
                    description=f"cdk-llm-serving {cdk_llm_serving.__version__}",
                    cloud_formation_template=servicecatalog.CloudFormationTemplate.from_product_stack(template),
                )
            ],
        )
        self.portfolio.add_product(product)
        return product

    def _asset_bucket(self) -> s3.Bucket:
        """The products' Lambda code: ProductStack copies its assets here, and launches read them. ProductStack needs
        the bucket's physical name in the product template (aws-cdk-lib 2.275 product-stack-synthesizer:
        ``BucketNameRequiredForAssets``), so the name is fixed: account and Region keep it unique. Being named, it is
        not retained (a retained named bucket would make the next create of the stack fail); its objects are
        rebuilt from the repository, so empty it before ``cdk destroy``."""
        access_logs = s3.Bucket(
            self,
            "AssetAccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(90))],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        loop = "This is the access-log bucket of the product asset bucket; logging it to itself would loop"
        acknowledge(access_logs, "AwsSolutions::AwsSolutions-S1", loop)
        acknowledge(access_logs, "NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled", loop)
        acknowledge(
            access_logs,
            "NIST.800.53.R5::NIST.800.53.R5-S3DefaultEncryptionKMS",
            "S3 server access logging can only deliver to SSE-S3 encrypted buckets",
        )
        bucket = s3.Bucket(
            self,
            "AssetBucket",
            bucket_name=f"cdk-llm-serving-catalog-assets-{self.account}-{self.region}",
            # SSE-S3: Lambda reads the code with the launch role's permissions; no key grant to every launcher.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="assets/",
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        acknowledge(
            bucket,
            "NIST.800.53.R5::NIST.800.53.R5-S3DefaultEncryptionKMS",
            "Product code read by Lambda with each launch role; SSE-S3 avoids a key grant per consumer account",
        )
        for b in (bucket, access_logs):
            acknowledge(
                b,
                "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
                "Product assets are rebuilt from the repository on every deploy; replication is a deployment choice",
            )
        return bucket

    def _acknowledge_asset_deployment(self) -> None:
        """ProductStack copies the product's assets into the asset bucket with aws-s3-deployment's singleton
        function (generated by aws-cdk-lib, run once per deployment by CloudFormation)."""
        deployment = self.node.try_find_child(_BUCKET_DEPLOYMENT)
        if deployment is None:
            return
        for finding, reason in (
            (
                "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "aws-s3-deployment's function writes only its own logs with this AWS managed policy",
            ),
            ("AwsSolutions::AwsSolutions-IAM5[Action::s3:GetBucket*]", _COPY),
            ("AwsSolutions::AwsSolutions-IAM5[Action::s3:GetObject*]", _COPY),
            ("AwsSolutions::AwsSolutions-IAM5[Action::s3:List*]", _COPY),
            ("AwsSolutions::AwsSolutions-IAM5[Action::s3:Abort*]", _COPY),
            ("AwsSolutions::AwsSolutions-IAM5[Action::s3:DeleteObject*]", _COPY),
            (
                f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-{self.account}-{self.region}/*]",
                "reads the assets CDK staged in this account's bootstrap bucket (keys are asset hashes)",
            ),
            (
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, self.asset_bucket.arn_for_objects('*'))}]",
                "writes the product assets into the asset bucket (keys are asset hashes)",
            ),
            ("AwsSolutions::AwsSolutions-L1", "aws-s3-deployment pins the runtime of its function in aws-cdk-lib"),
            (
                "NIST.800.53.R5::NIST.800.53.R5-LambdaConcurrency",
                "runs once per deployment, called by CloudFormation only",
            ),
            (
                "NIST.800.53.R5::NIST.800.53.R5-LambdaDLQ",
                "called synchronously by CloudFormation, which reports failures",
            ),
            ("NIST.800.53.R5::NIST.800.53.R5-LambdaInsideVPC", "copies between two S3 buckets; no VPC resources"),
            ("NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy", "aws-s3-deployment attaches its copy grants inline"),
            (
                "NIST.800.53.R5::NIST.800.53.R5-CloudWatchLogGroupEncrypted",
                "the deployment function's own logs (file names copied), no product data",
            ),
        ):
            acknowledge(deployment, finding, f"Asset copy of the Service Catalog products: {reason}")

    def _api_gateway_account(self) -> None:
        """The account's API Gateway CloudWatch role, once (the products' execution logging needs it)."""
        role = iam.Role(
            self,
            "ApiGatewayCloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
            ],
        )
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level logging role; AWS documents this managed policy for it (set up CloudWatch "
            "logging for REST APIs)",
        )
        account = apigw.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(cdk.RemovalPolicy.RETAIN)


def launch_role(scope: Construct, asset_bucket: s3.IBucket) -> iam.Role:
    """The role Service Catalog assumes to launch the chat gateway: CloudFormation on the provisioned products' own
    stacks (``SC-<account>-pp-*``) and the product's resource types only, named with that prefix where the type
    takes a name (no ``*FullAccess``)."""
    stack = cdk.Stack.of(scope)
    statements = launch_statements(stack, asset_bucket)
    policy = _launch_policy(scope, "LaunchPolicy", statements, _LAUNCH_WILDCARDS)
    return iam.Role(
        scope,
        "LaunchRole",
        assumed_by=iam.ServicePrincipal("servicecatalog.amazonaws.com"),
        managed_policies=[policy],
        description="Service Catalog launch role of the cdk-llm-serving chat gateway product",
    )


def _launch_policy(
    scope: Construct, construct_id: str, statements: list[iam.PolicyStatement], reasons: dict[str, str]
) -> iam.ManagedPolicy:
    """A launch policy; each wildcard resource acknowledged with its statement's reason."""
    policy = iam.ManagedPolicy(scope, construct_id, statements=statements)
    for statement in statements:
        for resource in statement.resources:
            if "*" in resource:
                acknowledge(
                    policy,
                    f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(policy, resource)}]",
                    reasons[statement.sid or ""],
                )
    return policy


def rag_launch_role(scope: Construct, chat_launch_role: iam.Role) -> iam.Role:
    """The role Service Catalog assumes to launch the RAG product: the chat gateway's launch policy (the RAG product
    holds the same gateway) plus :func:`rag_launch_statements` (network, SageMaker, document index), in a second
    managed policy (one policy is at most 6,144 characters)."""
    stack = cdk.Stack.of(scope)
    chat_policy = scope.node.find_child("LaunchPolicy")
    assert isinstance(chat_policy, iam.ManagedPolicy)
    policy = _launch_policy(scope, "RagLaunchPolicy", rag_launch_statements(stack), _RAG_LAUNCH_WILDCARDS)
    return iam.Role(
        scope,
        "RagLaunchRole",
        assumed_by=iam.ServicePrincipal("servicecatalog.amazonaws.com"),
        managed_policies=[chat_policy, policy],
        description="Service Catalog launch role of the cdk-llm-serving RAG product",
    )


#: Why each launch-policy statement has a wildcard resource (by statement id).
_LAUNCH_WILDCARDS = {
    "ProductStacks": "Service Catalog names each provisioned product's stack SC-<account>-pp-<id>; the ID is "
    "generated at launch, so the stacks are matched by that prefix",
    "TemplateChecks": "cloudformation:GetTemplateSummary and ValidateTemplate have no resource types; AWS requires '*'",
    "ProductTemplate": "the product template is in a Service Catalog-owned bucket; AWS documents s3:GetObject on '*' "
    "conditioned on the s3:ExistingObjectTag/servicecatalog:provisioning tag",
    "ProductCode": "launches read the product's Lambda code, whose keys are asset hashes, from the catalog's asset bucket",
    "Roles": "the product's roles and managed policies are named by CloudFormation after the provisioned product's "
    "stack (SC-<account>-pp-*); matched by that prefix",
    "PassFunctionRole": "passes only the product's own roles (SC-<account>-pp-*), and only to Lambda",
    "Function": "the product's function is named by CloudFormation after its stack (SC-<account>-pp-*)",
    "RestApi": "REST API resources are addressed by a path holding the API ID, generated at launch",
    "LogGroups": "the product's log group names hold generated IDs (REST API ID, function name); limited to this "
    "account and Region",
    "LogDelivery": "DescribeLogGroups and the WAF log delivery actions have no resource types; AWS requires '*'",
    "CreateKeys": "kms:CreateKey has no resource: the key does not exist yet",
    "Keys": "the product's KMS key IDs are generated at launch; limited to this account and Region",
    "WebAcl": "the web ACL's ID is generated at launch, the AWS managed rule groups are AWS's; limited to "
    "this account and Region",
    "AlarmTopic": "the alarm topic is named by CloudFormation after the provisioned product's stack (SC-<account>-pp-*)",
    "Alarms": "the alarms are named by CloudFormation after the provisioned product's stack (SC-<account>-pp-*)",
}


def launch_statements(stack: cdk.Stack, asset_bucket: s3.IBucket) -> list[iam.PolicyStatement]:
    def arn(service: str, resource: str, name: str, sep: cdk.ArnFormat = cdk.ArnFormat.SLASH_RESOURCE_NAME) -> str:
        region = "" if service == "iam" else None  # IAM is global: its ARNs have no Region
        return stack.format_arn(service=service, resource=resource, resource_name=name, arn_format=sep, region=region)

    # Provisioned products' stacks are named SC-<account>-pp-<id>; CloudFormation names the stacks' unnamed
    # resources <stack name>-<logical id>-<suffix>, so SC-* covers roles, policies, functions, topics and alarms.
    sc = f"SC-{stack.account}-pp-*"
    return [
        iam.PolicyStatement(
            sid="ProductStacks",
            actions=[
                "cloudformation:CreateStack",
                "cloudformation:UpdateStack",
                "cloudformation:DeleteStack",
                "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackEvents",
                "cloudformation:GetTemplate",
                "cloudformation:SetStackPolicy",
                "cloudformation:CreateChangeSet",
                "cloudformation:DescribeChangeSet",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:DeleteChangeSet",
            ],
            resources=[arn("cloudformation", "stack", f"{sc}/*")],
        ),
        # No resource-level permissions (Service Authorization Reference, AWS CloudFormation).
        iam.PolicyStatement(
            sid="TemplateChecks",
            actions=["cloudformation:GetTemplateSummary", "cloudformation:ValidateTemplate"],
            resources=["*"],
        ),
        # The product template sits in a Service Catalog-owned bucket; AWS documents exactly this statement
        # (Service Catalog Administrator Guide, "Step 6: Add a launch constraint to assign an IAM role").
        iam.PolicyStatement(
            sid="ProductTemplate",
            actions=["s3:GetObject"],
            resources=["*"],
            conditions={"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}},
        ),
        iam.PolicyStatement(sid="ProductCode", actions=["s3:GetObject"], resources=[asset_bucket.arn_for_objects("*")]),
        iam.PolicyStatement(
            sid="Roles",
            actions=[
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:GetRolePolicy",
                "iam:CreatePolicy",
                "iam:DeletePolicy",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicyVersion",
                "iam:ListPolicyVersions",
            ],
            resources=[arn("iam", "role", sc), arn("iam", "policy", sc)],
        ),
        iam.PolicyStatement(
            sid="PassFunctionRole",
            actions=["iam:PassRole"],
            resources=[arn("iam", "role", sc)],
            conditions={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        ),
        iam.PolicyStatement(
            sid="Function",
            actions=[
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:ListTags",
                "lambda:GetRuntimeManagementConfig",
                "lambda:GetFunctionRecursionConfig",
                "lambda:GetFunctionCodeSigningConfig",
            ],
            resources=[arn("lambda", "function", sc, cdk.ArnFormat.COLON_RESOURCE_NAME)],
        ),
        # REST API resources are path-addressed (/restapis/<id>/...): the ID is unknown until created.
        iam.PolicyStatement(
            sid="RestApi",
            actions=["apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"],
            resources=[
                f"arn:{stack.partition}:apigateway:{stack.region}::/restapis",
                f"arn:{stack.partition}:apigateway:{stack.region}::/restapis/*",
                f"arn:{stack.partition}:apigateway:{stack.region}::/tags/*",
            ],
        ),
        # Log group names hold the REST API ID (execution logs) or generated names; KMS key IDs are generated.
        iam.PolicyStatement(
            sid="LogGroups",
            actions=[
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:AssociateKmsKey",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
            ],
            resources=[arn("logs", "log-group", "*", cdk.ArnFormat.COLON_RESOURCE_NAME)],
        ),
        # Describe and the WAF log delivery (PutLoggingConfiguration's CloudWatch Logs side) have no resource types.
        iam.PolicyStatement(
            sid="LogDelivery",
            actions=[
                "logs:DescribeLogGroups",
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
            ],
            resources=["*"],
        ),
        # CreateKey has no resource (the key does not exist yet).
        iam.PolicyStatement(sid="CreateKeys", actions=["kms:CreateKey"], resources=["*"]),
        iam.PolicyStatement(
            sid="Keys",
            actions=[
                "kms:DescribeKey",
                "kms:PutKeyPolicy",
                "kms:GetKeyPolicy",
                "kms:EnableKeyRotation",
                "kms:GetKeyRotationStatus",
                "kms:ScheduleKeyDeletion",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:ListResourceTags",
            ],
            resources=[arn("kms", "key", "*")],
        ),
        iam.PolicyStatement(
            sid="WebAcl",
            actions=[
                "wafv2:CreateWebACL",
                "wafv2:DeleteWebACL",
                "wafv2:GetWebACL",
                "wafv2:UpdateWebACL",
                "wafv2:AssociateWebACL",
                "wafv2:DisassociateWebACL",
                "wafv2:GetWebACLForResource",
                "wafv2:PutLoggingConfiguration",
                "wafv2:DeleteLoggingConfiguration",
                "wafv2:GetLoggingConfiguration",
                "wafv2:TagResource",
                "wafv2:ListTagsForResource",
                "apigateway:SetWebACL",
            ],
            resources=[
                arn("wafv2", "regional", "webacl/*"),
                arn("wafv2", "regional", "managedruleset/*"),
                f"arn:{stack.partition}:apigateway:{stack.region}::/restapis/*",
            ],
        ),
        iam.PolicyStatement(
            sid="AlarmTopic",
            actions=[
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:TagResource",
                "sns:UntagResource",
            ],
            resources=[stack.format_arn(service="sns", resource=sc, arn_format=cdk.ArnFormat.NO_RESOURCE_NAME)],
        ),
        iam.PolicyStatement(
            sid="Alarms",
            actions=[
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
            ],
            resources=[arn("cloudwatch", "alarm", sc, cdk.ArnFormat.COLON_RESOURCE_NAME)],
        ),
    ]


#: Why each RAG launch-policy statement has a wildcard resource (by statement id).
_RAG_LAUNCH_WILDCARDS = {
    "PassServiceRoles": "passes only the product's own roles (SC-<account>-pp-*), and only to the services that use them",
    "Network": "VPC, subnet, route table, security group, endpoint and flow log IDs are generated at launch; limited "
    "to this account and Region",
    "NetworkDescribe": "EC2 Describe* actions have no resource types; AWS requires '*'",
    "Endpoint": "the endpoint and its model package group are named rag-llm-<stack ID>; the model's and endpoint "
    "config's names are generated by CloudFormation; limited to this account and Region",
    "Scaling": "scalable targets and scaling policies are addressed by generated IDs; limited to this account and Region",
    "ScalingDescribe": "Application Auto Scaling Describe* actions have no resource types; AWS requires '*'",
    "Buckets": "the product's buckets are named by CloudFormation after the provisioned product's stack "
    "(sc-<account>-pp-*, lowercase)",
    "VectorStore": "the vector bucket is named rag-documents-<stack ID>-vectors; its index is addressed under it",
    "CreateKnowledgeBase": "bedrock:CreateKnowledgeBase has no resource: the knowledge base does not exist yet",
    "KnowledgeBase": "knowledge base IDs are generated at launch; limited to this account and Region",
    "Ingestion": "the state machine's name is generated by CloudFormation; limited to this account and Region",
    "Rules": "the rules are named by CloudFormation after the provisioned product's stack (SC-<account>-pp-*)",
    "Dashboard": "the dashboard is named by CloudFormation after the provisioned product's stack (SC-<account>-pp-*)",
    "Grants": "SageMaker and the vector store use the product's KMS keys through grants; key IDs are generated at "
    "launch; limited to this account and Region and to grants for AWS resources",
}


def rag_launch_statements(stack: cdk.Stack) -> list[iam.PolicyStatement]:
    """What the RAG product adds to the chat gateway's launch statements (each resource type of RagStack's body)."""

    def arn(service: str, resource: str, name: str, sep: cdk.ArnFormat = cdk.ArnFormat.SLASH_RESOURCE_NAME) -> str:
        return stack.format_arn(service=service, resource=resource, resource_name=name, arn_format=sep)

    sc = f"SC-{stack.account}-pp-*"
    ec2_types = (
        "vpc",
        "subnet",
        "route-table",
        "security-group",
        "security-group-rule",
        "vpc-endpoint",
        "vpc-flow-log",
    )
    return [
        iam.PolicyStatement(
            sid="PassServiceRoles",
            actions=["iam:PassRole"],
            resources=[stack.format_arn(service="iam", region="", resource="role", resource_name=sc)],
            conditions={
                "StringEquals": {
                    "iam:PassedToService": [
                        "sagemaker.amazonaws.com",
                        "bedrock.amazonaws.com",
                        "states.amazonaws.com",
                        "events.amazonaws.com",
                        "vpc-flow-logs.amazonaws.com",
                    ]
                }
            },
        ),
        # The endpoint's autoscaling runs as Application Auto Scaling's service-linked role, created on first use.
        iam.PolicyStatement(
            sid="ScalingServiceLinkedRole",
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                stack.format_arn(
                    service="iam",
                    region="",
                    resource="role",
                    resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                )
            ],
            conditions={"StringEquals": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}},
        ),
        iam.PolicyStatement(
            sid="Network",
            actions=[
                "ec2:CreateVpc",
                "ec2:DeleteVpc",
                "ec2:ModifyVpcAttribute",
                "ec2:CreateSubnet",
                "ec2:DeleteSubnet",
                "ec2:CreateRouteTable",
                "ec2:DeleteRouteTable",
                "ec2:AssociateRouteTable",
                "ec2:DisassociateRouteTable",
                "ec2:CreateSecurityGroup",
                "ec2:DeleteSecurityGroup",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:CreateVpcEndpoint",
                "ec2:ModifyVpcEndpoint",
                "ec2:DeleteVpcEndpoints",
                "ec2:CreateFlowLogs",
                "ec2:DeleteFlowLogs",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ],
            resources=[arn("ec2", t, "*") for t in ec2_types],
        ),
        iam.PolicyStatement(
            sid="NetworkDescribe",
            actions=[
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcAttribute",
                "ec2:DescribeSubnets",
                "ec2:DescribeRouteTables",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSecurityGroupRules",
                "ec2:DescribeVpcEndpoints",
                "ec2:DescribeFlowLogs",
                "ec2:DescribePrefixLists",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeNetworkInterfaces",
            ],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="Endpoint",
            actions=[
                "sagemaker:CreateModel",
                "sagemaker:DeleteModel",
                "sagemaker:DescribeModel",
                "sagemaker:CreateEndpointConfig",
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:CreateEndpoint",
                "sagemaker:UpdateEndpoint",
                "sagemaker:DeleteEndpoint",
                "sagemaker:DescribeEndpoint",
                "sagemaker:CreateModelPackageGroup",
                "sagemaker:DeleteModelPackageGroup",
                "sagemaker:DescribeModelPackageGroup",
                "sagemaker:AddTags",
                "sagemaker:DeleteTags",
                "sagemaker:ListTags",
            ],
            resources=[
                arn("sagemaker", "endpoint", "rag-llm-*"),
                arn("sagemaker", "model-package-group", "rag-llm-*"),
                arn("sagemaker", "model", "*"),
                arn("sagemaker", "endpoint-config", "*"),
            ],
        ),
        iam.PolicyStatement(
            sid="Scaling",
            actions=[
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:TagResource",
            ],
            resources=[arn("application-autoscaling", "scalable-target", "*")],
        ),
        iam.PolicyStatement(
            sid="ScalingDescribe",
            actions=[
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:DescribeScalingPolicies",
            ],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="Buckets",
            actions=[
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:GetBucketPolicy",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketVersioning",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketOwnershipControls",
                "s3:PutLifecycleConfiguration",
                "s3:PutBucketLogging",
                "s3:PutBucketNotification",
                "s3:PutBucketTagging",
            ],
            resources=[f"arn:{stack.partition}:s3:::sc-{stack.account}-pp-*"],
        ),
        iam.PolicyStatement(
            sid="VectorStore",
            actions=[
                "s3vectors:CreateVectorBucket",
                "s3vectors:DeleteVectorBucket",
                "s3vectors:GetVectorBucket",
                "s3vectors:CreateIndex",
                "s3vectors:DeleteIndex",
                "s3vectors:GetIndex",
            ],
            resources=[
                arn("s3vectors", "bucket", "rag-documents-*-vectors"),
                arn("s3vectors", "bucket", "rag-documents-*-vectors/index/*"),
            ],
        ),
        iam.PolicyStatement(sid="CreateKnowledgeBase", actions=["bedrock:CreateKnowledgeBase"], resources=["*"]),
        iam.PolicyStatement(
            sid="KnowledgeBase",
            actions=[
                "bedrock:GetKnowledgeBase",
                "bedrock:UpdateKnowledgeBase",
                "bedrock:DeleteKnowledgeBase",
                "bedrock:CreateDataSource",
                "bedrock:GetDataSource",
                "bedrock:UpdateDataSource",
                "bedrock:DeleteDataSource",
                "bedrock:TagResource",
                "bedrock:UntagResource",
                "bedrock:ListTagsForResource",
            ],
            resources=[arn("bedrock", "knowledge-base", "*")],
        ),
        iam.PolicyStatement(
            sid="Ingestion",
            actions=[
                "states:CreateStateMachine",
                "states:UpdateStateMachine",
                "states:DeleteStateMachine",
                "states:DescribeStateMachine",
                "states:TagResource",
                "states:UntagResource",
                "states:ListTagsForResource",
            ],
            resources=[arn("states", "stateMachine", "*", cdk.ArnFormat.COLON_RESOURCE_NAME)],
        ),
        iam.PolicyStatement(
            sid="Rules",
            actions=[
                "events:PutRule",
                "events:DeleteRule",
                "events:DescribeRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:TagResource",
                "events:UntagResource",
            ],
            resources=[arn("events", "rule", sc)],
        ),
        iam.PolicyStatement(
            sid="Dashboard",
            actions=["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"],
            resources=[stack.format_arn(service="cloudwatch", region="", resource="dashboard", resource_name=sc)],
        ),
        iam.PolicyStatement(
            sid="Grants",
            actions=["kms:CreateGrant"],
            resources=[arn("kms", "key", "*")],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
    ]
