"""CatalogStack: a Service Catalog portfolio that application teams launch gateways from (seed 001 §6).

One product, the chat gateway (``ChatGatewayProduct``, a ``servicecatalog.ProductStack``): an OpenAI-compatible API over
the platform's Bedrock allowlist with IAM auth, alarms and WAF. The knobs a team picks at launch are CloudFormation
parameters, checked by CloudFormation (``MinValue``/``MaxValue``) because their values are unknown at synth:
throttling rate and burst, and the WAF per-IP limit (the gateway accepts tokens for exactly these props). The model
allowlist is fixed per product version: the function's IAM policy and configuration are derived from it at synth.

The products never create ``AWS::ApiGateway::Account`` (the account's API Gateway CloudWatch role, one per account
and Region): every launched copy would overwrite it, and deleting one would break the others' execution logging. The
catalog stack creates it once for its own account (``api_gateway_cloud_watch_role``).

Added to the app only when cdk.json (or ``-c catalog='{...}'``) has a ``catalog`` setting.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicecatalog as servicecatalog
from constructs import Construct

import cdk_llm_serving
from cdk_llm_serving import BedrockGatewayApi, GatewayAuth, PropsValidationError
from cdk_llm_serving._nag import acknowledge, nag_resource
from cdk_llm_serving.bedrock_gateway._validation import MAX_BURST, WAF_RATE_LIMIT_RANGE

from ._common import alarm_topic
from .chat_stack import ChatSettings
from .pipeline_stack import _as_mapping, _environment_problems

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
        if problems:
            raise PropsValidationError(where, problems)
        return cls(
            account=raw["account"],
            region=raw["region"],
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


class CatalogStack(cdk.Stack):
    """The portfolio, its products (one version per library version), their launch role and asset bucket."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: CatalogSettings,
        chat: ChatSettings | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("description", "cdk-llm-serving: Service Catalog portfolio of serving products")
        kwargs.setdefault("env", cdk.Environment(account=settings.account, region=settings.region))
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        chat = chat or ChatSettings()
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
        self.chat_product = servicecatalog.CloudFormationProduct(
            self,
            "ChatGateway",
            product_name="LLM chat gateway",
            owner=settings.provider_name,
            description="OpenAI-compatible chat completions API over the platform's Amazon Bedrock model allowlist",
            product_versions=[
                servicecatalog.CloudFormationProductVersion(
                    product_version_name=PRODUCT_VERSION,
                    description=f"cdk-llm-serving {cdk_llm_serving.__version__}",
                    cloud_formation_template=servicecatalog.CloudFormationTemplate.from_product_stack(
                        self.chat_product_stack
                    ),
                )
            ],
        )
        self.portfolio.add_product(self.chat_product)
        self.launch_role = launch_role(self, self.asset_bucket)
        self.portfolio.set_launch_role(self.chat_product, self.launch_role)
        for i, arn in enumerate(settings.consumer_role_arns):
            self.portfolio.give_access_to_role(iam.Role.from_role_arn(self, f"Consumer{i}", arn, mutable=False))
        if settings.api_gateway_cloud_watch_role:
            self._api_gateway_account()
        self._acknowledge_asset_deployment()
        cdk.CfnOutput(self, "PortfolioId", value=self.portfolio.portfolio_id)
        cdk.CfnOutput(self, "ChatGatewayProductId", value=self.chat_product.product_id)

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
    policy = iam.ManagedPolicy(scope, "LaunchPolicy", statements=statements)
    for statement in statements:
        for resource in statement.resources:
            if "*" in resource:
                acknowledge(
                    policy,
                    f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(policy, resource)}]",
                    _LAUNCH_WILDCARDS[statement.sid or ""],
                )
    return iam.Role(
        scope,
        "LaunchRole",
        assumed_by=iam.ServicePrincipal("servicecatalog.amazonaws.com"),
        managed_policies=[policy],
        description="Service Catalog launch role of the cdk-llm-serving chat gateway product",
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
