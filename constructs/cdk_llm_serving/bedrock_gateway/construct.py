"""BedrockGatewayApi: an OpenAI-compatible, streaming, rate-limited chat API in front of Amazon Bedrock
and SageMaker endpoints, optionally grounded in Bedrock knowledge bases, public (REGIONAL) or VPC-only (PRIVATE).

The constructor hands off to small builders; the cohesive groups live in private modules of this package
(``_iam``, ``_network``, ``_rest_api``, ``_waf``, ``_monitoring``, ``_validation``, ``_compliance``) as
functions that create their resources under the gateway itself, so every construct path stays as it was.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from .._assets import runtime_dir
from .._errors import ProblemCollector
from .._types import problem as type_problem
from .._types import typed_props
from .._vpc import select_subnets
from . import _governance, _iam, _network, _profiles, _rest_api
from . import guardrails as guardrails_module
from ._compliance import acknowledge_findings
from ._governance import GatewayGovernance
from ._monitoring import gateway_alarms
from ._validation import catalogue_warnings, check_generated, value_problems
from ._waf import web_acl as build_web_acl
from .alarms import GatewayAlarmOptions
from .aliases import (
    BedrockEmbeddingAlias,
    BedrockModelAlias,
    GatewayLimits,
    ModelAlias,
    SageMakerModelAlias,
    retrievals,
    runtime_config,
    runtime_config_json,
)
from .auth import GatewayAuth, GatewayAuthMode
from .endpoint import GatewayEndpoint, GatewayEndpointType
from .layers import GATEWAY_RUNTIME, powertools_layer_arn, web_adapter_layer_arn
from .rules import EXECUTION_LOG_GROUP_PREFIX

#: Default of ``generation_timeout``.
DEFAULT_GENERATION_TIMEOUT = cdk.Duration.minutes(10)


class BedrockGatewayApi(Construct):
    """Define an OpenAI-compatible chat completions API (REST API Gateway + Python Lambda) in front of
    Bedrock models and SageMaker endpoints (or their inference components, e.g. LoRA adapters).

    Routes (under the stage URL):

    - ``POST /v1/chat/completions``: OpenAI chat completions (tools, structured output, images, reasoning),
      streamed with API Gateway response streaming.
    - ``POST /v1/embeddings``: OpenAI embeddings of the ``BedrockEmbeddingAlias`` entries.
    - ``GET /v1/models`` and ``GET /v1/models/{model}``: the model aliases of the allowlist.
    - ``GET /health``: unauthenticated liveness check (mock integration; the function is not called).

    The function runs a small standard-library HTTP app behind the AWS Lambda Web Adapter layer.
    Its IAM role can invoke exactly the allowlisted inference profiles, foundation models, SageMaker
    endpoints and inference components, and retrieve from exactly the knowledge bases the aliases name.
    With ``endpoint=GatewayEndpoint.private(...)`` the API is reachable only through a VPC endpoint and
    the function runs in that VPC.
    """

    @typed_props
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        models: Sequence[ModelAlias],
        auth: GatewayAuth | None = None,
        endpoint: GatewayEndpoint | None = None,
        limits: GatewayLimits | None = None,
        image_url_hosts: Sequence[str] | None = None,
        cors_allowed_origins: Sequence[str] | None = None,
        marketplace_subscription: bool = True,
        throttling_rate_limit: float = 50,
        throttling_burst_limit: int = 100,
        reserved_concurrency: int | None = None,
        generation_timeout: cdk.Duration | None = None,
        memory_size: int = 1024,
        architecture: lambda_.Architecture | None = None,
        stage_name: str = "prod",
        api_name: str | None = None,
        cloud_watch_role: bool = True,
        web_acl: bool = True,
        waf_rate_limit_per_ip: int = 1000,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        log_content: bool = False,
        encryption_key: kms.IKey | None = None,
        metrics_namespace: str = "CdkLlmServing/Gateway",
        alarm_topic: sns.ITopic | None = None,
        alarms: GatewayAlarmOptions | None = None,
        governance: GatewayGovernance | None = None,
    ) -> None:
        """
        :param models: the model allowlist (required, at least one entry): aliases clients may request, each
            with its token cap; ``BedrockModelAlias`` and ``SageMakerModelAlias`` entries (chat completions), either
            with optional ``retrieval``, and ``BedrockEmbeddingAlias`` entries (``POST /v1/embeddings``).
        :param auth: how callers authenticate. Default: - ``GatewayAuth.cognito()`` with a new user pool.
        :param endpoint: where the API is reachable from: ``GatewayEndpoint.regional()`` (internet) or
            ``GatewayEndpoint.private(vpc=...)`` (only through an ``execute-api`` VPC endpoint; the function
            then runs in the VPC). Default: - ``GatewayEndpoint.regional()``
        :param limits: request limits enforced by the function. Default: - ``GatewayLimits()``
            (64 messages, 200000 characters, 1 MiB body).
        :param image_url_hosts: hosts the function may fetch ``image_url`` images from (``images.example.com``,
            ``host:8443`` for HTTPS, ``http://host[:port]`` for plain HTTP; no paths): each fetch has a 5 s timeout,
            a 3.75 MB cap and no redirects. Not with a PRIVATE gateway's runtime VPC endpoints (the function's
            egress is limited to them). Default: - remote image URLs are rejected (clients send ``data:`` URLs)
        :param cors_allowed_origins: browser origins allowed to call the API (``https://app.example.com``, or
            ``["*"]`` for any): each model route gets a CORS preflight (``OPTIONS``, answered by API Gateway without
            authorization) and the function adds ``Access-Control-Allow-Origin`` for these origins; with a single
            origin (or ``*``) API Gateway's own error responses carry it too. Default: - no CORS
        :param marketplace_subscription: let the function's role subscribe the account to the third-party
            (AWS Marketplace) models of the allowlist: Bedrock subscribes on a model's first call in an account with
            the caller's permissions. Grants ``aws-marketplace:ViewSubscriptions`` and ``aws-marketplace:Subscribe``
            limited to the models' product IDs (``aws-marketplace:ProductId``). Set to false when model access is
            managed centrally (the models must then be enabled before the first request). Default: true
        :param throttling_rate_limit: stage-wide steady-state requests per second. Default: 50
        :param throttling_burst_limit: stage-wide burst. Default: 100
        :param reserved_concurrency: reserved concurrency of the function, which caps parallel model calls.
            Default: - none (unreserved; new accounts have a concurrency quota of 10).
        :param generation_timeout: longest a single generation may stream (function and integration timeout),
            30 seconds to 15 minutes. Default: - 10 minutes
        :param memory_size: function memory in MiB (128 to 10240). Default: 1024
        :param architecture: function architecture. Default: - ``lambda_.Architecture.ARM_64`` (Graviton, cheaper)
        :param stage_name: API Gateway stage name. Default: "prod"
        :param api_name: name of the REST API (console, CLI). Default: - the construct's unique ID, like
            ``ChatStack-Gateway-8498D912``, so several gateways in one account are told apart
        :param cloud_watch_role: create the account's API Gateway CloudWatch Logs role
            (``AWS::ApiGateway::Account``, one per account and Region: the last stack to deploy sets it; a second
            gateway in the same stack reuses the first one's). Set to false when the account already has one (e.g.
            managed by a landing zone, or the Service Catalog products, which never create it); execution logging
            needs it either way. Default: true
        :param web_acl: attach an AWS WAF web ACL (per-IP rate limit and AWS managed rule groups), also on a
            PRIVATE API. Default: true
        :param waf_rate_limit_per_ip: requests per IP per 5 minutes before WAF answers 429 (100 to 2e9). Default: 1000
        :param log_retention: retention of the gateway's log groups (function, access, execution and WAF logs).
            Default: ``logs.RetentionDays.ONE_MONTH``
        :param log_content: log prompt and completion text. Default: false (only sizes, tokens and timings)
        :param encryption_key: KMS key of the gateway's log groups (its key policy must let CloudWatch Logs use it)
            and of the governance table.
            Default: - a new customer-managed KMS key with rotation
        :param metrics_namespace: CloudWatch namespace of the gateway's EMF metrics. Default: "CdkLlmServing/Gateway"
        :param alarm_topic: SNS topic the alarms notify when they go to ALARM and back to OK.
            Default: - the alarms have no actions
        :param alarms: thresholds of the default alarms (5XX responses, model throttles, model configuration errors,
            p90 time to first token; the function-throttles alarm has none); ``GatewayAlarmOptions(enabled=False)``
            creates none. Default: - ``GatewayAlarmOptions()``
        :param governance: callers, teams, budgets and usage: a DynamoDB table (``governance_table``) of API keys and
            per-period token/USD counters, per-team allowed aliases, reserve -> settle budgets (429
            ``insufficient_quota``) and ``GET /v1/usage``. Default: - ``GatewayGovernance()`` with
            ``GatewayAuth.api_keys()``, else none (no table, no budgets)
        """
        super().__init__(scope, construct_id)
        auth = auth or GatewayAuth.cognito()
        endpoint = endpoint or GatewayEndpoint.regional()
        limits = limits or GatewayLimits()
        image_url_hosts = tuple(image_url_hosts or ())
        cors_origins = tuple(cors_allowed_origins) if cors_allowed_origins is not None else None
        generation_timeout = generation_timeout or DEFAULT_GENERATION_TIMEOUT
        architecture = architecture or lambda_.Architecture.ARM_64
        alarms = alarms or GatewayAlarmOptions()
        self._log_retention = log_retention
        self._retained_log_groups: list[tuple[logs.LogGroup, str | None]] = []
        self._waf_log_name: str | None = None
        models = list(models)
        region = cdk.Stack.of(self).region
        self._stack_region: str | None = None if cdk.Token.is_unresolved(region) else region
        if governance is None and auth.mode is GatewayAuthMode.API_KEYS:
            governance = GatewayGovernance()
        subnets, marketplace_statements = self._validate(
            governance=governance,
            auth_mode=auth.mode,
            models=models,
            endpoint=endpoint,
            limits=limits,
            image_url_hosts=image_url_hosts,
            cors_allowed_origins=cors_origins,
            marketplace_subscription=marketplace_subscription,
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
            reserved_concurrency=reserved_concurrency,
            generation_timeout=generation_timeout,
            memory_size=memory_size,
            stage_name=stage_name,
            waf_rate_limit_per_ip=waf_rate_limit_per_ip,
            metrics_namespace=metrics_namespace,
            log_content=log_content,
            alarms=alarms,
        )

        self.models: tuple[ModelAlias, ...] = tuple(models)
        """The allowlist, in the order given."""
        self.cors_allowed_origins: tuple[str, ...] = cors_origins or ()
        """Browser origins with CORS access (empty: no CORS)."""
        self.auth_mode: GatewayAuthMode = auth.mode
        """How callers authenticate (COGNITO, IAM, API_KEYS or NONE)."""
        self.endpoint_type: GatewayEndpointType = endpoint.type
        """REGIONAL (internet) or PRIVATE (only through a VPC endpoint)."""
        self.metrics_namespace = metrics_namespace
        """CloudWatch namespace of the gateway's EMF metrics."""
        self.service_name = cdk.Names.unique_id(self)[-64:]
        """``service`` dimension of the EMF metrics: unique per gateway, stable across deployments."""

        self.encryption_key: kms.IKey = self._build_encryption_key(encryption_key)
        """The KMS key of the gateway's log groups and governance table (``encryption_key`` or the one created)."""
        self.governance_table: dynamodb.Table | None = (
            _governance.governance_table(self, self.encryption_key) if governance is not None else None
        )
        """The governance table (API keys by SHA-256, team overrides, budget counters), or ``None`` without
        ``governance``. Manage it with ``scripts/gateway_keys.py --table <table name>``."""
        self._governance_runtime = (
            _governance.runtime_governance(
                governance,
                table_name=self.governance_table.table_name,
                auth_mode=auth.mode,
                timeout_seconds=int(generation_timeout.to_seconds()),
            )
            if governance is not None and self.governance_table is not None
            else None
        )
        self.log_group = self._log_group("FunctionLogs")
        """The function's log group (retained, KMS-encrypted)."""
        self.access_log_group = self._log_group("AccessLogs")
        """The stage's access log group (one JSON line per request, never the body)."""
        self._build_network(endpoint, subnets)
        self._build_guardrails()
        self._build_inference_profiles()
        self._build_iam(marketplace_statements)
        if self.governance_table is not None:  # only GetItem/UpdateItem on this table, and its key
            self.policy.add_statements(*_governance.function_statements(self.governance_table, self.encryption_key))
        self._build_function(
            limits=limits,
            image_url_hosts=image_url_hosts,
            log_content=log_content,
            generation_timeout=generation_timeout,
            memory_size=memory_size,
            architecture=architecture,
            reserved_concurrency=reserved_concurrency,
        )
        self._build_runtime_endpoints(endpoint)
        self._build_api(
            endpoint,
            auth,
            stage_name=stage_name,
            api_name=api_name,
            cloud_watch_role=cloud_watch_role,
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
        )
        self._build_routes(auth, limits, generation_timeout)
        self.waf_log_group: logs.LogGroup | None = None
        """The web ACL's log group (``aws-waf-logs-*``), or ``None`` with ``web_acl=False``."""
        self.web_acl: wafv2.CfnWebACL | None = self._build_web_acl(waf_rate_limit_per_ip) if web_acl else None
        """The stage's AWS WAF web ACL, or ``None`` with ``web_acl=False``."""
        self.alarms: list[cloudwatch.Alarm] = self._build_alarms(alarms, alarm_topic) if alarms.enabled else []
        """The alarms: ServerErrors, FunctionThrottles, ModelThrottles, ModelConfigErrors, TimeToFirstToken (empty
        with ``GatewayAlarmOptions(enabled=False)``)."""
        self._check_generated(auth.mode, stage_name)
        acknowledge_findings(self, auth, reserved_concurrency, web_acl=web_acl)

    # ---------------------------------------------------------------------------------------------------
    # validation

    def _validate(
        self,
        *,
        models: list[ModelAlias],
        endpoint: GatewayEndpoint,
        marketplace_subscription: bool,
        governance: GatewayGovernance | None,
        auth_mode: GatewayAuthMode,
        **props: Any,
    ) -> tuple[ec2.SubnetSelection | None, list[iam.PolicyStatement]]:
        """Check every prop (one error listing every problem), warn about uncatalogued model IDs, and return
        the subnets of a PRIVATE gateway and the role's Marketplace statements (the rules checked those grants)."""
        p = ProblemCollector.for_construct(self)
        for problem in value_problems(
            models=models,
            endpoint=endpoint,
            marketplace_subscription=marketplace_subscription,
            region=self._stack_region,
            **props,
        ):
            p.add(problem)
        for problem in _governance.governance_problems(governance, models, auth_mode) if governance else ():
            p.add(problem)
        p.raise_if_any()
        bedrock_aliases = [m for m in models if isinstance(m, BedrockModelAlias)]
        catalogue_warnings(
            self, bedrock_aliases, region=self._stack_region, marketplace_subscription=marketplace_subscription
        )
        statements, _ = _iam.marketplace_statements(bedrock_aliases, enabled=marketplace_subscription)
        return _network.network_problems(endpoint)[1], statements

    def _check_generated(self, auth_mode: GatewayAuthMode, stage_name: str) -> None:
        """Run the upstream rules over the names and settings this construct generated (not props)."""
        check_generated(
            self,
            retained_log_groups=self._retained_log_groups,
            api=self.api,
            stage_name=stage_name,
            auth_mode=auth_mode,
            missing_token_code=self._missing_token_code,
            waf_log_name=self._waf_log_name,
        )

    # ---------------------------------------------------------------------------------------------------
    # builders (each creates its resources under this construct, with the IDs it has always had)

    def _log_group(self, construct_id: str, *, log_group_name: str | None = None) -> logs.LogGroup:
        """A KMS-encrypted log group with the configured retention, kept when the stack is deleted."""
        group = logs.LogGroup(
            self,
            construct_id,
            log_group_name=log_group_name,
            retention=self._log_retention,
            encryption_key=self.encryption_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self._retained_log_groups.append((group, log_group_name))
        return group

    def _build_encryption_key(self, encryption_key: kms.IKey | None) -> kms.IKey:
        """``encryption_key``, or a new key with rotation that CloudWatch Logs may use for this account's log groups."""
        if encryption_key is not None:
            return encryption_key
        key = kms.Key(
            self,
            "LogsKey",
            description="Encrypts the Bedrock gateway's function and access logs",
            enable_key_rotation=True,
        )
        # CloudWatch Logs must be allowed to use the key, scoped to this account's log groups.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                principals=[iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com")],
                # A key policy's resource is always "*" (the key itself).
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:log-group:*"
                    }
                },
            )
        )
        return key

    def _build_network(self, endpoint: GatewayEndpoint, subnets: ec2.SubnetSelection | None) -> None:
        """The VPC attributes of a PRIVATE gateway and the function's security group (REGIONAL: all empty)."""
        self.vpc: ec2.IVpc | None = endpoint.vpc if endpoint.type is GatewayEndpointType.PRIVATE else None
        """The VPC of a PRIVATE gateway (function and VPC endpoints), else ``None``."""
        self.function_security_group: ec2.SecurityGroup | None = None
        """Security group of the function in a PRIVATE gateway (no ingress; egress HTTPS only)."""
        self.vpc_endpoint: ec2.IInterfaceVpcEndpoint | None = None
        """The ``execute-api`` interface endpoint a PRIVATE API accepts requests from."""
        self.runtime_vpc_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        """Interface endpoints created for the function (``sagemaker.runtime``, ``bedrock-runtime``,
        ``bedrock-agent-runtime``), by service; empty unless ``add_runtime_vpc_endpoints``."""
        self._subnets = subnets
        if self.vpc is not None:
            self.function_security_group = ec2.SecurityGroup(
                self,
                "FunctionSecurityGroup",
                vpc=self.vpc,
                description="Bedrock gateway function: no ingress, HTTPS egress to the AWS APIs it calls",
                allow_all_outbound=False,
            )

    def _build_guardrails(self) -> None:
        """The guardrails of the aliases (``GatewayGuardrail.create``: a guardrail and a content-hashed version)."""
        named, _ = guardrails_module.distinct(
            [m.guardrail for m in self.models if isinstance(m, BedrockModelAlias) and m.guardrail is not None]
        )
        self._guardrails = guardrails_module.build(self, named)
        self.guardrails: dict[str, bedrock.CfnGuardrail] = self._guardrails.guardrails
        """The guardrails the gateway created, by ``GatewayGuardrail.name`` (empty without ``create()`` guardrails)."""
        self.guardrail_versions: dict[str, bedrock.CfnGuardrailVersion] = self._guardrails.versions
        """The published version of each created guardrail, by name (a new one whenever its policy changes)."""

    def _build_inference_profiles(self) -> None:
        """The application inference profiles of the aliases that ask for one (``application_inference_profile``)."""
        self.inference_profiles: dict[str, bedrock.CfnApplicationInferenceProfile] = _profiles.build(
            self, [m for m in self.models if isinstance(m, BedrockModelAlias)]
        )
        """The application inference profiles the gateway created, by alias."""
        self._profile_arns = {alias: _profiles.profile_arn(p) for alias, p in self.inference_profiles.items()}

    def _build_iam(self, marketplace_statements: Sequence[iam.PolicyStatement]) -> None:
        """The function's role and its one managed policy, generated from the allowlist."""
        self.role: iam.Role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Bedrock gateway function: invoke the allowlisted models, write its own logs and traces",
        )
        """The function's role; it has no inline policy, its permissions are in ``policy``."""
        network: list[iam.PolicyStatement] = []
        if self.vpc is not None and self.function_security_group is not None and self._subnets is not None:
            subnet_ids = select_subnets(self.vpc, self._subnets).subnet_ids
            network = _iam.network_interface_statements(self, subnet_ids, self.function_security_group)
        self._policy_statements: list[iam.PolicyStatement] = [
            *_iam.own_logs_and_traces(self.log_group.log_group_arn),
            *_iam.bedrock_statements(
                self,
                [m for m in self.models if isinstance(m, BedrockModelAlias)],
                self._guardrails.refs,
                self._profile_arns,
            ),
            *_iam.embedding_statements(self, [m for m in self.models if isinstance(m, BedrockEmbeddingAlias)]),
            *marketplace_statements,
            *_iam.sagemaker_statements(self, [m for m in self.models if isinstance(m, SageMakerModelAlias)]),
            *_iam.retrieval_statements(self, retrievals(self.models)),
            *network,
        ]
        self.policy: iam.ManagedPolicy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Least-privilege permissions of the Bedrock gateway function, generated from its model allowlist",
            roles=[self.role],
            statements=self._policy_statements,
        )
        """The role's managed policy, generated from the allowlist; extend it with ``add_to_role_policy``."""

    def _build_function(
        self,
        *,
        limits: GatewayLimits,
        image_url_hosts: Sequence[str],
        log_content: bool,
        generation_timeout: cdk.Duration,
        memory_size: int,
        architecture: lambda_.Architecture,
        reserved_concurrency: int | None,
    ) -> None:
        """The gateway function: the runtime behind the Lambda Web Adapter, configured by GATEWAY_CONFIG."""
        self.function: lambda_.Function = lambda_.Function(
            self,
            "Function",
            description="OpenAI-compatible gateway to Amazon Bedrock (streaming via Lambda Web Adapter)",
            runtime=GATEWAY_RUNTIME,
            architecture=architecture,
            handler="run.sh",
            code=lambda_.Code.from_asset(runtime_dir("gateway"), exclude=["__pycache__", "*.pyc"]),
            memory_size=memory_size,
            timeout=generation_timeout,
            # Policy updates go to the managed policy; the role itself stays without inline policies.
            role=self.role.without_policy_updates(),
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrency,
            vpc=self.vpc,
            vpc_subnets=self._subnets,
            security_groups=[self.function_security_group] if self.function_security_group else None,
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self, "WebAdapterLayer", web_adapter_layer_arn(architecture)
                ),
                lambda_.LayerVersion.from_layer_version_arn(
                    self, "PowertoolsLayer", powertools_layer_arn(architecture)
                ),
            ],
            environment=self._environment(
                limits, image_url_hosts=image_url_hosts, log_content=log_content, generation_timeout=generation_timeout
            ),
        )
        """The gateway function (role ``role``, permissions in ``policy``)."""
        self.function.node.add_dependency(self.policy)

    def _environment(
        self,
        limits: GatewayLimits,
        *,
        image_url_hosts: Sequence[str],
        log_content: bool,
        generation_timeout: cdk.Duration,
    ) -> dict[str, str]:
        """The function's environment: the Lambda Web Adapter's settings and the runtime's GATEWAY_CONFIG."""
        config = runtime_config(
            models=self.models,
            limits=limits,
            log_content=log_content,
            metrics_namespace=self.metrics_namespace,
            service_name=self.service_name,
            image_url_hosts=image_url_hosts,
            cors_allow_origins=self.cors_allowed_origins,
            guardrails=self._guardrails.refs,
            profiles=self._profile_arns,
        )
        return {
            "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
            "AWS_LWA_INVOKE_MODE": "response_stream",
            "AWS_LWA_READINESS_CHECK_PATH": "/health",
            "PORT": "8080",
            "GATEWAY_CONFIG": runtime_config_json(
                {**config, "governance": self._governance_runtime} if self._governance_runtime else config
            ),
            "POWERTOOLS_SERVICE_NAME": self.service_name,
            "POWERTOOLS_METRICS_NAMESPACE": self.metrics_namespace,
            # A non-streamed Converse call may take as long as the whole generation.
            "GATEWAY_BEDROCK_READ_TIMEOUT": str(int(generation_timeout.to_seconds())),
        }

    def _build_runtime_endpoints(self, endpoint: GatewayEndpoint) -> None:
        """PRIVATE only: the function's egress and the interface endpoints it needs."""
        if self.vpc is None:
            return
        assert self.function_security_group is not None
        self.runtime_vpc_endpoints.update(
            _network.runtime_vpc_endpoints(
                self,
                vpc=self.vpc,
                function_security_group=self.function_security_group,
                subnets=self._subnets,
                models=self.models,
                create=endpoint.add_runtime_vpc_endpoints,
            )
        )

    def _build_api(
        self,
        endpoint: GatewayEndpoint,
        auth: GatewayAuth,
        *,
        stage_name: str,
        api_name: str | None,
        cloud_watch_role: bool,
        throttling_rate_limit: float,
        throttling_burst_limit: int,
    ) -> None:
        """The REST API and its stage (throttled, access-logged), the execution log group and the gateway responses."""
        # AWS::ApiGateway::Account is one per account and Region: a second gateway in the same stack reuses the first
        # one's instead of fighting over it.
        cloud_watch_role = cloud_watch_role and not any(
            isinstance(c, apigw.CfnAccount) for c in cdk.Stack.of(self).node.find_all()
        )
        self.api: apigw.RestApi = apigw.RestApi(
            self,
            "Api",
            rest_api_name=api_name or cdk.Names.unique_resource_name(self, max_length=255, separator="-"),
            description="OpenAI-compatible chat completions API in front of Amazon Bedrock",
            **self._endpoint_options(endpoint, auth.mode, stage_name),
            cloud_watch_role=cloud_watch_role,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN if cloud_watch_role else None,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=_rest_api.access_log_format(),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # would log prompts and completions
                metrics_enabled=True,
                tracing_enabled=True,
            ),
        )
        """The REST API."""
        self.stage: apigw.Stage = self.api.deployment_stage
        """The API's one stage (``stage_name``), throttled and access-logged."""
        # API Gateway creates the execution log group itself (no retention, no encryption) unless it exists.
        # Its name holds the REST API ID, which is new for every create, so retaining it never collides.
        self.execution_log_group = self._log_group(
            "ExecutionLogs",
            log_group_name=f"{EXECUTION_LOG_GROUP_PREFIX}{self.api.rest_api_id}/{stage_name}",
        )
        """API Gateway's execution log group of the stage, created ahead so it has retention and encryption."""
        self.stage.node.add_dependency(self.execution_log_group)
        self._missing_token_code = _rest_api.add_gateway_responses(self.api, auth.mode, self.cors_allowed_origins)

    def _endpoint_options(
        self, endpoint: GatewayEndpoint, auth_mode: GatewayAuthMode, stage_name: str
    ) -> dict[str, Any]:
        """RestApi props of the endpoint type; PRIVATE also gets its execute-api VPC endpoint and resource policy."""
        if self.vpc is None:
            # Edge-optimized has a 30 s idle timeout for streamed responses; REGIONAL and PRIVATE have 5 minutes.
            return {"endpoint_types": [apigw.EndpointType.REGIONAL]}
        self.vpc_endpoint = endpoint.vpc_endpoint or _network.execute_api_endpoint(self, self.vpc, self._subnets)
        # PRIVATE: response streaming works with every REST endpoint type (5-minute idle timeout, as REGIONAL).
        return {
            "endpoint_configuration": apigw.EndpointConfiguration(
                types=[apigw.EndpointType.PRIVATE], vpc_endpoints=[self.vpc_endpoint]
            ),
            "policy": _network.private_api_policy(self.vpc_endpoint, auth_mode, stage_name),
        }

    def _build_routes(self, auth: GatewayAuth, limits: GatewayLimits, generation_timeout: cdk.Duration) -> None:
        """Method authorization (Cognito pool and authorizer when needed) and the three routes."""
        method_auth = _rest_api.method_auth(self, auth)
        self.user_pool: cognito.IUserPool | None = method_auth.user_pool
        """The Cognito user pool of COGNITO auth (given or created), else ``None``."""
        self.user_pool_client: cognito.UserPoolClient | None = method_auth.user_pool_client
        """The app client created with the pool (``None`` when the pool was passed in, or without Cognito)."""
        integration = apigw.LambdaIntegration(
            self.function,
            proxy=True,
            allow_test_invoke=False,
            response_transfer_mode=apigw.ResponseTransferMode.STREAM,
            timeout=generation_timeout,
        )
        routes = _rest_api.add_routes(self.api, integration, limits, method_auth.options, self.cors_allowed_origins)
        self.chat_completions_method: apigw.Method = routes.chat_completions
        """``POST /v1/chat/completions``."""
        self.embeddings_method: apigw.Method = routes.embeddings
        """``POST /v1/embeddings`` (the ``BedrockEmbeddingAlias`` entries)."""
        self.models_method: apigw.Method = routes.models
        """``GET /v1/models``."""
        self.model_method: apigw.Method = routes.model
        """``GET /v1/models/{model}`` (one alias; 404 ``model_not_found`` for others)."""
        self.usage_method: apigw.Method | None = (
            _governance.usage_route(self.api, integration, method_auth.options) if self.governance_table else None
        )
        """``GET /v1/usage`` (the caller's usage and remaining budget), or ``None`` without ``governance``."""
        self.health_method: apigw.Method = routes.health
        """``GET /health`` (unauthenticated mock)."""
        self.cors_preflight_methods: tuple[apigw.Method, ...] = routes.preflights
        """The CORS ``OPTIONS`` methods of the model routes (unauthenticated mocks; empty without CORS)."""
        self.url: str = self.api.url
        """Invoke URL of the stage, ending in ``/``."""
        self.openai_base_url: str = f"{self.api.url}v1"
        """What to pass as ``base_url`` to an OpenAI SDK."""

    def _build_web_acl(self, rate_limit_per_ip: int) -> wafv2.CfnWebACL:
        """The stage's web ACL and its log group."""
        acl = build_web_acl(
            self, stage_arn=self.stage.stage_arn, rate_limit_per_ip=rate_limit_per_ip, log_group=self._log_group
        )
        self._waf_log_name = acl.log_group_name
        self.waf_log_group = acl.log_group
        return acl.acl

    def _build_alarms(self, alarms: GatewayAlarmOptions, alarm_topic: sns.ITopic | None) -> list[cloudwatch.Alarm]:
        """The gateway's alarms, notifying ``alarm_topic`` on ALARM and OK when given."""
        return gateway_alarms(
            self,
            models=self.models,
            function=self.function,
            server_errors=self.metric_server_errors(),
            model_throttles=self.metric_model_throttles,
            model_config_errors=self.metric_model_config_errors,
            time_to_first_token=self.metric_time_to_first_token,
            thresholds=alarms,
            topic=alarm_topic,
        )

    # ---------------------------------------------------------------------------------------------------
    # grants

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call the model routes (IAM auth mode only).

        Grants ``execute-api:Invoke`` on ``POST /v1/chat/completions``, ``POST /v1/embeddings``, ``GET /v1/models``
        and ``GET /v1/models/<alias>`` of each allowlisted alias (no path wildcard) of this stage.
        """
        if self.auth_mode is not GatewayAuthMode.IAM:
            raise ValueError(
                f"grant_invoke only applies to GatewayAuth.iam(); this gateway uses {self.auth_mode.value} auth"
            )
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:Invoke"],
            resource_arns=[
                self.api.arn_for_execute_api("POST", "/v1/chat/completions", self.stage.stage_name),
                self.api.arn_for_execute_api("POST", "/v1/embeddings", self.stage.stage_name),
                self.api.arn_for_execute_api("GET", "/v1/models", self.stage.stage_name),
                *(
                    self.api.arn_for_execute_api("GET", f"/v1/models/{m.alias}", self.stage.stage_name)
                    for m in self.models
                ),
                *(
                    [self.api.arn_for_execute_api("GET", "/v1/usage", self.stage.stage_name)]
                    if self.usage_method is not None
                    else []
                ),
            ],
        )

    def _governance_table(self, what: str) -> dynamodb.Table:
        if self.governance_table is None:
            raise ValueError(f"{what} needs governance (GatewayGovernance or GatewayAuth.api_keys())")
        return self.governance_table

    def grant_key_admin(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to run ``scripts/gateway_keys.py``: create, list, revoke keys, set budgets, read usage
        (GetItem, PutItem, UpdateItem, Scan, Query on the governance table, and use of its KMS key)."""
        table = self._governance_table("grant_key_admin")
        return _governance.grant(grantee, table, self.encryption_key, _governance.ADMIN_TABLE_ACTIONS)

    def grant_usage_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read keys and usage counters (GetItem, Query on the governance table, and its key)."""
        table = self._governance_table("grant_usage_read")
        return _governance.grant(grantee, table, self.encryption_key, _governance.USAGE_TABLE_ACTIONS)

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> None:
        """Add a statement to the function's (managed) policy."""
        self.policy.add_statements(statement)

    # ---------------------------------------------------------------------------------------------------
    # metrics

    def metric(
        self,
        metric_name: str,
        *,
        model_alias: str,
        statistic: str = "Sum",
        period: cdk.Duration | None = None,
        **options: Any,
    ) -> cloudwatch.Metric:
        """One of the gateway's EMF metrics for one model alias.

        Metric names: ``Requests``, ``Errors``, ``Throttles``, ``ModelConfigErrors``, ``InputTokens``,
        ``OutputTokens``, ``TimeToFirstToken`` (ms), ``Latency`` (ms); ``GuardrailIntervened`` for aliases with a
        guardrail, ``CacheReadInputTokens``/``CacheWriteInputTokens`` with prompt caching (``Fallback`` carries an
        extra ``FallbackReason`` dimension, so build it with ``cloudwatch.Metric``). Default: sum over 5 minutes.
        """
        return cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name=metric_name,
            dimensions_map={"service": self.service_name, "ModelAlias": model_alias},
            statistic=statistic,
            period=period or cdk.Duration.minutes(5),
            **options,
        )

    def metric_requests(self, model_alias: str, **options: Any) -> cloudwatch.Metric:
        """Chat completion requests routed to ``model_alias``. Default: sum over 5 minutes."""
        return self.metric("Requests", model_alias=model_alias, **options)

    def metric_errors(self, model_alias: str, **options: Any) -> cloudwatch.Metric:
        """Requests to ``model_alias`` that ended in an error. Default: sum over 5 minutes."""
        return self.metric("Errors", model_alias=model_alias, **options)

    def metric_model_throttles(self, model_alias: str, **options: Any) -> cloudwatch.Metric:
        """Throttling/quota errors of the backend of ``model_alias`` (429 to the client). Default: sum over 5 minutes."""
        return self.metric("Throttles", model_alias=model_alias, **options)

    def metric_model_config_errors(self, model_alias: str, **options: Any) -> cloudwatch.Metric:
        """Requests to ``model_alias`` that failed because the gateway cannot use its model: an invalid or
        unavailable model ID (e.g. a profile of another geography), access denied (IAM, Marketplace subscription,
        Anthropic use-case form), an unknown endpoint (502 to the client). Default: sum over 5 minutes."""
        return self.metric("ModelConfigErrors", model_alias=model_alias, **options)

    def metric_input_tokens(self, model_alias: str, **options: Any) -> cloudwatch.Metric:
        """Input tokens billed for ``model_alias``. Default: sum over 5 minutes."""
        return self.metric("InputTokens", model_alias=model_alias, **options)

    def metric_output_tokens(self, model_alias: str, **options: Any) -> cloudwatch.Metric:
        """Output tokens billed for ``model_alias``. Default: sum over 5 minutes."""
        return self.metric("OutputTokens", model_alias=model_alias, **options)

    def metric_time_to_first_token(self, model_alias: str, **options: Any) -> cloudwatch.Metric:
        """Milliseconds from request to first streamed token. Default: p90 over 5 minutes."""
        options.setdefault("statistic", "p90")
        return self.metric("TimeToFirstToken", model_alias=model_alias, **options)

    def metric_latency(self, model_alias: str, **options: Any) -> cloudwatch.Metric:
        """Milliseconds from request to the end of the response. Default: p90 over 5 minutes."""
        options.setdefault("statistic", "p90")
        return self.metric("Latency", model_alias=model_alias, **options)

    def metric_server_errors(self, **options: Any) -> cloudwatch.Metric:
        """API Gateway 5XX responses of the stage. Default: sum over 5 minutes."""
        return self.stage.metric_server_error(statistic="Sum", **options)

    def metric_client_errors(self, **options: Any) -> cloudwatch.Metric:
        """API Gateway 4XX responses of the stage. Default: sum over 5 minutes."""
        return self.stage.metric_client_error(statistic="Sum", **options)


#: Props the value checks read (the others cannot be wrong once their type is right).
_CHECKED_SCALARS = (
    "throttling_rate_limit",
    "throttling_burst_limit",
    "reserved_concurrency",
    "memory_size",
    "stage_name",
    "waf_rate_limit_per_ip",
    "metrics_namespace",
    "log_content",
)


def props_problems(props: Mapping[str, Any], *, region: str | None = None) -> list[str]:
    """The props checks of :class:`BedrockGatewayApi` for its keyword arguments ``props``, the missing ones at their
    defaults, without building anything: the wrong types if there are any (values are then not checked), else every
    problem the constructor reports about the values (``region`` enables the profile-geography rule, as a stack with
    an explicit Region does).

    A settings parser (``stacks/chat_stack.py``) runs them to report them together with its own problems in one synth.
    """
    signature = inspect.signature(BedrockGatewayApi.__init__)
    params = {n: q for n, q in signature.parameters.items() if q.kind is q.KEYWORD_ONLY}
    unknown = sorted(set(props) - set(params))
    if unknown:
        raise TypeError(f"not BedrockGatewayApi props: {', '.join(unknown)}")
    missing = sorted(n for n, q in params.items() if q.default is q.empty and n not in props)
    if missing:
        raise TypeError(f"missing BedrockGatewayApi props: {', '.join(missing)}")
    p = {**{n: q.default for n, q in params.items() if q.default is not q.empty}, **props}
    hints = typing.get_type_hints(BedrockGatewayApi.__init__)
    wrong_types = [found for n, v in p.items() if (found := type_problem(n, v, hints[n])) is not None]
    if wrong_types:
        return wrong_types
    problems = value_problems(
        models=p["models"],
        endpoint=p["endpoint"] or GatewayEndpoint.regional(),
        limits=p["limits"] or GatewayLimits(),
        marketplace_subscription=p["marketplace_subscription"],
        region=region,
        image_url_hosts=tuple(p["image_url_hosts"] or ()),
        cors_allowed_origins=tuple(p["cors_allowed_origins"]) if p["cors_allowed_origins"] is not None else None,
        generation_timeout=p["generation_timeout"] or DEFAULT_GENERATION_TIMEOUT,
        alarms=p["alarms"] or GatewayAlarmOptions(),
        **{n: p[n] for n in _CHECKED_SCALARS},
    )
    auth_mode = (p["auth"] or GatewayAuth.cognito()).mode
    governance = p["governance"] or (GatewayGovernance() if auth_mode is GatewayAuthMode.API_KEYS else None)
    if governance is not None:
        problems += _governance.governance_problems(governance, p["models"], auth_mode)
    return problems
