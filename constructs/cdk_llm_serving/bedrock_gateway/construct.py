"""BedrockGatewayApi: an OpenAI-compatible, streaming, rate-limited chat API in front of Amazon Bedrock
and SageMaker endpoints, optionally grounded in Bedrock knowledge bases, public (REGIONAL) or VPC-only (PRIVATE)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_cognito as cognito
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
from .._nag import acknowledge
from .._retained import RetainedName, stack_id_suffix
from .auth import GatewayAuth, GatewayAuthMode
from .catalogue import catalogue
from .endpoint import GatewayEndpoint, GatewayEndpointType
from .layers import GATEWAY_RUNTIME, powertools_layer_arn, web_adapter_layer_arn
from .routes import (
    MAX_RUNTIME_CONFIG_BYTES,
    BedrockModelAlias,
    GatewayLimits,
    KnowledgeBaseRetrieval,
    ModelAlias,
    SageMakerModelAlias,
    model_problems,
    runtime_config,
    runtime_config_json,
    runtime_config_size,
)
from . import rules
from .rules import (
    EXECUTION_LOG_GROUP_PREFIX,
    ExecutionLogGroup,
    ManagedRuleOverrides,
    MarketplaceGrants,
    ProfileRegion,
    SageMakerLimitsSubject,
    UnsignedRequestResponse,
    WafLogDestination,
)

_INVOKE_ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
# InvokeEndpointWithResponseStream is authorized as sagemaker:InvokeEndpoint (API reference of the
# operation); the same-named IAM action exists too, so both are granted on the same resources.
_SAGEMAKER_INVOKE_ACTIONS = ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"]
_MAX_STREAM = cdk.Duration.minutes(15)  # API Gateway's response-streaming limit


_SUBNET_SELECTION_FIELDS = (
    "availability_zones", "one_per_az", "subnet_filters", "subnet_group_name", "subnet_type", "subnets"
)


def _selection_kwargs(selection: ec2.SubnetSelection) -> dict[str, Any]:
    """``vpc.select_subnets`` takes the selection's fields as keyword arguments in Python."""
    return {f: getattr(selection, f) for f in _SUBNET_SELECTION_FIELDS if getattr(selection, f) is not None}


def _error_template(error_type: str, code: str) -> dict[str, str]:
    """API Gateway gateway-response body in OpenAI's error shape."""
    body = (
        '{"error":{"message":$context.error.messageString,'
        f'"type":"{error_type}","param":null,"code":"{code}"}}}}'
    )
    return {"application/json": body}


#: With IAM auth, API Gateway's MISSING_AUTHENTICATION_TOKEN means "unsigned request" as often as "unknown route".
_IAM_MISSING_TOKEN_MESSAGE = (
    "Missing authentication token: this API requires requests signed with AWS SigV4 (service execute-api), "
    "or the method and path do not exist (POST /v1/chat/completions, GET /v1/models, GET /health)"
)


def _iam_missing_token_template() -> dict[str, str]:
    body = json.dumps(
        {
            "error": {
                "message": _IAM_MISSING_TOKEN_MESSAGE,
                "type": "invalid_request_error",
                "param": None,
                "code": "missing_authentication_token",
            }
        },
        separators=(",", ":"),
    )
    return {"application/json": body}


# Gateway responses API Gateway produces itself (before the Lambda runs), reshaped for OpenAI clients.
# MISSING_AUTHENTICATION_TOKEN is added per auth mode (_missing_token_response).
_GATEWAY_RESPONSES: tuple[tuple[str, apigw.ResponseType, str | None, str, str], ...] = (
    ("BadRequestBody", apigw.ResponseType.BAD_REQUEST_BODY, "400", "invalid_request_error", "invalid_request_body"),
    ("Unauthorized", apigw.ResponseType.UNAUTHORIZED, "401", "invalid_request_error", "invalid_api_key"),
    ("AccessDenied", apigw.ResponseType.ACCESS_DENIED, "403", "invalid_request_error", "access_denied"),
    ("Throttled", apigw.ResponseType.THROTTLED, "429", "rate_limit_exceeded", "rate_limit_exceeded"),
    ("QuotaExceeded", apigw.ResponseType.QUOTA_EXCEEDED, "429", "rate_limit_exceeded", "quota_exceeded"),
    ("RequestTooLarge", apigw.ResponseType.REQUEST_TOO_LARGE, "413", "invalid_request_error", "request_too_large"),
    ("WafFiltered", apigw.ResponseType.WAF_FILTERED, "403", "invalid_request_error", "request_blocked"),
    ("IntegrationTimeout", apigw.ResponseType.INTEGRATION_TIMEOUT, "504", "timeout", "timeout"),
    ("Default4xx", apigw.ResponseType.DEFAULT_4_XX, None, "invalid_request_error", "invalid_request"),
    ("Default5xx", apigw.ResponseType.DEFAULT_5_XX, None, "api_error", "upstream_error"),
)


def _missing_token_response(mode: GatewayAuthMode) -> tuple[str, dict[str, str], str]:
    """(status, templates, code) of MISSING_AUTHENTICATION_TOKEN: an unknown route (404) unless IAM auth makes it ambiguous."""
    if mode is GatewayAuthMode.IAM:
        return "403", _iam_missing_token_template(), "missing_authentication_token"
    return "404", _error_template("invalid_request_error", "not_found"), "not_found"


#: AWS managed rule groups of the web ACL, in priority order, with the rules set to count.
#: The *_BODY rules inspect the request body, i.e. the prompt: chat messages legitimately contain HTML and
#: JavaScript, file paths, URLs with IP addresses, metadata-service addresses and JNDI/Java snippets, which the
#: rules would block with 403. Counting keeps their labels and metrics visible; the function validates the body.
#: SizeRestrictions_BODY blocks bodies over 8 KB, far below a chat history; the function enforces its own limits.
_WAF_MANAGED_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AWSManagedRulesAmazonIpReputationList", ()),
    (
        "AWSManagedRulesCommonRuleSet",
        ("SizeRestrictions_BODY", "CrossSiteScripting_BODY", "GenericLFI_BODY", "GenericRFI_BODY", "EC2MetaDataSSRF_BODY"),
    ),
    ("AWSManagedRulesKnownBadInputsRuleSet", ("Log4JRCE_BODY", "JavaDeserializationRCE_BODY")),
)


class BedrockGatewayApi(Construct):
    """Define an OpenAI-compatible chat completions API (REST API Gateway + Python Lambda) in front of
    Bedrock models and SageMaker endpoints (or their inference components, e.g. LoRA adapters).

    Routes (under the stage URL):

    - ``POST /v1/chat/completions``: OpenAI chat completions, streamed with API Gateway response streaming.
    - ``GET /v1/models``: the model aliases of the allowlist.
    - ``GET /health``: unauthenticated liveness check (mock integration; the function is not called).

    The function runs a small standard-library HTTP app behind the AWS Lambda Web Adapter layer.
    Its IAM role can invoke exactly the allowlisted inference profiles, foundation models, SageMaker
    endpoints and inference components, and retrieve from exactly the knowledge bases the aliases name.
    With ``endpoint=GatewayEndpoint.private(...)`` the API is reachable only through a VPC endpoint and
    the function runs in that VPC.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        models: Sequence[ModelAlias],
        auth: GatewayAuth | None = None,
        endpoint: GatewayEndpoint | None = None,
        limits: GatewayLimits | None = None,
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
        server_error_alarm_threshold: int = 5,
        model_throttle_alarm_threshold: int = 10,
        model_config_error_alarm_threshold: int = 1,
        time_to_first_token_alarm_threshold: cdk.Duration | None = None,
    ) -> None:
        """
        :param models: the model allowlist: aliases clients may request, each with its token cap;
            ``BedrockModelAlias`` and ``SageMakerModelAlias`` entries, either with optional ``retrieval``.
        :param auth: how callers authenticate. Default: - ``GatewayAuth.cognito()`` with a new user pool.
        :param endpoint: where the API is reachable from: ``GatewayEndpoint.regional()`` (internet) or
            ``GatewayEndpoint.private(vpc=...)`` (only through an ``execute-api`` VPC endpoint; the function
            then runs in the VPC). Default: - ``GatewayEndpoint.regional()``
        :param limits: request limits enforced by the function. Default: - ``GatewayLimits()``
            (64 messages, 200000 characters, 1 MiB body).
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
            30 seconds to 15 minutes. Default: 10 minutes
        :param memory_size: function memory in MiB (128 to 10240). Default: 1024
        :param architecture: function architecture. Default: ARM_64 (Graviton, cheaper)
        :param stage_name: API Gateway stage name. Default: "prod"
        :param api_name: name of the REST API (console, CLI). Default: - the construct's unique ID, like
            ``ChatStack-Gateway-8498D912``, so several gateways in one account are told apart
        :param cloud_watch_role: create the account's API Gateway CloudWatch Logs role
            (``AWS::ApiGateway::Account``, one per account and Region: the last stack to deploy sets it). Set to false
            when the account already has one (e.g. managed by a landing zone); execution logging needs it either way.
            Default: true
        :param web_acl: attach an AWS WAF web ACL (per-IP rate limit and AWS managed rule groups), also on a
            PRIVATE API. Default: true
        :param waf_rate_limit_per_ip: requests per IP per 5 minutes before WAF answers 429 (100 to 2e9). Default: 1000
        :param log_retention: retention of the function and access logs. Default: one month
        :param log_content: log prompt and completion text. Default: false (only sizes, tokens and timings)
        :param encryption_key: KMS key for the log groups. Default: - a key with rotation is created
        :param metrics_namespace: CloudWatch namespace of the gateway's EMF metrics. Default: "CdkLlmServing/Gateway"
        :param alarm_topic: SNS topic notified by the alarms. Default: - alarms have no actions
        :param server_error_alarm_threshold: 5XX responses in 5 minutes that raise an alarm. Default: 5
        :param model_throttle_alarm_threshold: model throttles (Bedrock quota, SageMaker capacity; HTTP 429 to
            the client) in 5 minutes that raise an alarm. Default: 10
        :param model_config_error_alarm_threshold: requests in 5 minutes that fail because the gateway cannot use its
            model (invalid or unavailable model ID, access denied, Marketplace subscription missing; HTTP 502 to the
            client) that raise an alarm. Default: 1
        :param time_to_first_token_alarm_threshold: p90 time to first token (any alias, 5 minutes) that raises
            an alarm. Default: 10 seconds
        """
        super().__init__(scope, construct_id)
        auth = auth or GatewayAuth.cognito()
        endpoint = endpoint or GatewayEndpoint.regional()
        limits = limits or GatewayLimits()
        generation_timeout = generation_timeout or cdk.Duration.minutes(10)
        architecture = architecture or lambda_.Architecture.ARM_64
        ttft_threshold = time_to_first_token_alarm_threshold or cdk.Duration.seconds(10)
        self._log_retention = log_retention
        self._retained_log_groups: list[tuple[logs.LogGroup, str | None]] = []
        self._waf_log_name: str | None = None
        models = list(models)
        network_problems, subnets = self._network_problems(endpoint)
        region = cdk.Stack.of(self).region
        self._stack_region: str | None = None if cdk.Token.is_unresolved(region) else region
        bedrock_aliases = [m for m in models if isinstance(m, BedrockModelAlias)]
        marketplace_statements, marketplace_grants = self._marketplace_statements(
            bedrock_aliases, enabled=marketplace_subscription
        )
        rule_problems = rules.problems(marketplace_grants) + [
            p
            for m in bedrock_aliases
            for p in rules.problems(ProfileRegion(m.alias, m.model_id, m.geo, self._stack_region))
        ]

        self._validate(
            network_problems=network_problems,
            rule_problems=rule_problems,
            models=models,
            limits=limits,
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
            reserved_concurrency=reserved_concurrency,
            generation_timeout=generation_timeout,
            memory_size=memory_size,
            stage_name=stage_name,
            waf_rate_limit_per_ip=waf_rate_limit_per_ip,
            metrics_namespace=metrics_namespace,
            log_content=log_content,
            model_config_error_alarm_threshold=model_config_error_alarm_threshold,
        )
        self._catalogue_warnings(bedrock_aliases, marketplace_subscription=marketplace_subscription)

        self.models: tuple[ModelAlias, ...] = tuple(models)
        """The allowlist, in the order given."""
        self.auth_mode: GatewayAuthMode = auth.mode
        self.endpoint_type: GatewayEndpointType = endpoint.type
        """REGIONAL (internet) or PRIVATE (only through a VPC endpoint)."""
        self.metrics_namespace = metrics_namespace
        self.service_name = cdk.Names.unique_id(self)[-64:]
        """``service`` dimension of the EMF metrics: unique per gateway, stable across deployments."""

        # --- encryption and logs -------------------------------------------------------------------
        self.encryption_key: kms.IKey = encryption_key or kms.Key(
            self,
            "LogsKey",
            description="Encrypts the Bedrock gateway's function and access logs",
            enable_key_rotation=True,
        )
        if encryption_key is None:
            # CloudWatch Logs must be allowed to use the key, scoped to this account's log groups.
            self.encryption_key.add_to_resource_policy(
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
        self.log_group = self._log_group("FunctionLogs")
        self.access_log_group = self._log_group("AccessLogs")

        # --- network (PRIVATE only) ------------------------------------------------------------------
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

        # --- function --------------------------------------------------------------------------------
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Bedrock gateway function: invoke the allowlisted models, write its own logs and traces",
        )
        self._policy_statements: list[iam.PolicyStatement] = [
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            ),
            iam.PolicyStatement(
                sid="WriteTraces",
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                # X-Ray has no resource-level permissions: AWS requires "*" here.
                resources=["*"],
            ),
            *self._bedrock_statements(bedrock_aliases),
            *marketplace_statements,
            *self._sagemaker_statements([m for m in models if isinstance(m, SageMakerModelAlias)]),
            *self._retrieval_statements([m.retrieval for m in models if m.retrieval is not None]),
            *self._network_interface_statements(),
        ]
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Least-privilege permissions of the Bedrock gateway function, generated from its model allowlist",
            roles=[self.role],
            statements=self._policy_statements,
        )

        config = runtime_config(
            models=models,
            limits=limits,
            log_content=log_content,
            metrics_namespace=metrics_namespace,
            service_name=self.service_name,
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="OpenAI-compatible gateway to Amazon Bedrock (streaming via Lambda Web Adapter)",
            runtime=GATEWAY_RUNTIME,
            architecture=architecture,
            handler="run.sh",
            code=lambda_.Code.from_asset(runtime_dir("gateway"), exclude=["__pycache__", "*.pyc"]),
            memory_size=memory_size,
            timeout=generation_timeout,
            # Policy updates go to the managed policy above; the role itself stays without inline policies.
            role=self.role.without_policy_updates(),
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrency,
            vpc=self.vpc,
            vpc_subnets=subnets,
            security_groups=[self.function_security_group] if self.function_security_group else None,
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(self, "WebAdapterLayer", web_adapter_layer_arn(architecture)),
                lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", powertools_layer_arn(architecture)),
            ],
            environment={
                "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
                "AWS_LWA_INVOKE_MODE": "response_stream",
                "AWS_LWA_READINESS_CHECK_PATH": "/health",
                "PORT": "8080",
                "GATEWAY_CONFIG": runtime_config_json(config),
                "POWERTOOLS_SERVICE_NAME": self.service_name,
                "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
                # A non-streamed Converse call may take as long as the whole generation.
                "GATEWAY_BEDROCK_READ_TIMEOUT": str(int(generation_timeout.to_seconds())),
            },
        )
        self.function.node.add_dependency(self.policy)
        if self.vpc is not None:
            self._runtime_vpc_endpoints(endpoint)

        # --- REST API --------------------------------------------------------------------------------
        if self.vpc is not None:
            self.vpc_endpoint = endpoint.vpc_endpoint or self._execute_api_endpoint()
            # PRIVATE: response streaming works with every REST endpoint type (5-minute idle timeout, as REGIONAL).
            endpoint_options: dict[str, Any] = {
                "endpoint_configuration": apigw.EndpointConfiguration(
                    types=[apigw.EndpointType.PRIVATE], vpc_endpoints=[self.vpc_endpoint]
                ),
                "policy": self._private_api_policy(self.vpc_endpoint, auth, stage_name),
            }
        else:
            # Edge-optimized has a 30 s idle timeout for streamed responses; REGIONAL and PRIVATE have 5 minutes.
            endpoint_options = {"endpoint_types": [apigw.EndpointType.REGIONAL]}
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=api_name or cdk.Names.unique_resource_name(self, max_length=255, separator="-"),
            description="OpenAI-compatible chat completions API in front of Amazon Bedrock",
            **endpoint_options,
            cloud_watch_role=cloud_watch_role,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN if cloud_watch_role else None,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.custom(
                    json.dumps(
                        {
                            "requestId": "$context.requestId",
                            "ip": "$context.identity.sourceIp",
                            "caller": "$context.identity.caller",
                            "user": "$context.authorizer.claims.sub",
                            "requestTime": "$context.requestTime",
                            "httpMethod": "$context.httpMethod",
                            "resourcePath": "$context.resourcePath",
                            "status": "$context.status",
                            "protocol": "$context.protocol",
                            "responseLength": "$context.responseLength",
                            "integrationLatency": "$context.integrationLatency",
                            "responseLatency": "$context.responseLatency",
                            "wafStatus": "$context.waf.status",
                            "error": "$context.error.message",
                        },
                        separators=(",", ":"),
                    )
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # would log prompts and completions
                metrics_enabled=True,
                tracing_enabled=True,
            ),
        )
        self.stage: apigw.Stage = self.api.deployment_stage
        # API Gateway creates the execution log group itself (no retention, no encryption) unless it exists.
        # Its name holds the REST API ID, which is new for every create, so retaining it never collides.
        self.execution_log_group = self._log_group(
            "ExecutionLogs",
            log_group_name=f"{EXECUTION_LOG_GROUP_PREFIX}{self.api.rest_api_id}/{stage_name}",
        )
        self.stage.node.add_dependency(self.execution_log_group)
        for rid, rtype, status, etype, code in _GATEWAY_RESPONSES:
            self.api.add_gateway_response(
                rid,
                type=rtype,
                status_code=status,
                templates=_error_template(etype, code),
                response_headers={"Retry-After": "'1'"} if status == "429" else None,
            )
        missing_status, missing_templates, self._missing_token_code = _missing_token_response(auth.mode)
        self.api.add_gateway_response(
            "MissingAuthToken",
            type=apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
            status_code=missing_status,
            templates=missing_templates,
        )

        self.user_pool: cognito.IUserPool | None = None
        self.user_pool_client: cognito.UserPoolClient | None = None
        method_auth = self._method_auth(auth)

        integration = apigw.LambdaIntegration(
            self.function,
            proxy=True,
            allow_test_invoke=False,
            response_transfer_mode=apigw.ResponseTransferMode.STREAM,
            timeout=generation_timeout,
        )
        chat_request_model = self.api.add_model(
            "ChatCompletionRequest",
            content_type="application/json",
            schema=apigw.JsonSchema(
                schema=apigw.JsonSchemaVersion.DRAFT4,
                title="ChatCompletionRequest",
                type=apigw.JsonSchemaType.OBJECT,
                required=["model", "messages"],
                properties={
                    "model": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=256),
                    "messages": apigw.JsonSchema(
                        type=apigw.JsonSchemaType.ARRAY, min_items=1, max_items=limits.max_messages
                    ),
                    "stream": apigw.JsonSchema(type=apigw.JsonSchemaType.BOOLEAN),
                },
            ),
        )
        validator = self.api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        v1 = self.api.root.add_resource("v1")
        self.chat_completions_method = v1.add_resource("chat").add_resource("completions").add_method(
            "POST",
            integration,
            request_models={"application/json": chat_request_model},
            request_validator=validator,
            **method_auth,
        )
        self.models_method = v1.add_resource("models").add_method(
            "GET", integration, request_validator=validator, **method_auth
        )
        self.health_method = self.api.root.add_resource("health").add_method(
            "GET",
            apigw.MockIntegration(
                request_templates={"application/json": '{"statusCode": 200}'},
                integration_responses=[
                    apigw.IntegrationResponse(
                        status_code="200", response_templates={"application/json": '{"status":"ok"}'}
                    )
                ],
            ),
            method_responses=[apigw.MethodResponse(status_code="200")],
            authorization_type=apigw.AuthorizationType.NONE,
            request_validator=validator,
        )

        self.url: str = self.api.url
        """Invoke URL of the stage, ending in ``/``."""
        self.openai_base_url: str = f"{self.api.url}v1"
        """What to pass as ``base_url`` to an OpenAI SDK."""

        # --- WAF -------------------------------------------------------------------------------------
        self.web_acl: wafv2.CfnWebACL | None = self._web_acl(waf_rate_limit_per_ip) if web_acl else None

        # --- alarms ----------------------------------------------------------------------------------
        self.alarms: list[cloudwatch.Alarm] = self._alarms(
            server_error_alarm_threshold, model_throttle_alarm_threshold, model_config_error_alarm_threshold, ttft_threshold
        )
        if alarm_topic is not None:
            for alarm in self.alarms:
                alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))

        self._check_generated(auth.mode, stage_name)
        self._acknowledge_findings(auth, reserved_concurrency, alarm_topic=alarm_topic, web_acl=web_acl)

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

    def _check_generated(self, auth_mode: GatewayAuthMode, stage_name: str) -> None:
        """Run the upstream rules over names and settings this construct generated (not props)."""
        stack = cdk.Stack.of(self)
        subjects: list[Any] = [
            RetainedName(group.node.path, "LogGroupName", None if name is None else stack.resolve(name))
            for group, name in self._retained_log_groups
        ]
        api_logical_id = stack.get_logical_id(self.api.node.default_child)  # type: ignore[arg-type]
        subjects.append(
            ExecutionLogGroup(
                stack.resolve(f"{EXECUTION_LOG_GROUP_PREFIX}{self.api.rest_api_id}/{stage_name}"), api_logical_id, stage_name
            )
        )
        missing_status, _, _ = _missing_token_response(auth_mode)
        subjects.append(UnsignedRequestResponse(auth_mode is GatewayAuthMode.IAM, missing_status, self._missing_token_code))
        if self._waf_log_name is not None:
            subjects.append(WafLogDestination(stack.resolve(self._waf_log_name)))
            subjects.extend(ManagedRuleOverrides(group, overrides) for group, overrides in _WAF_MANAGED_GROUPS)
        p = ProblemCollector("BedrockGatewayApi (generated resources)")
        for subject in subjects:
            for problem in rules.problems(subject):
                p.add(problem)
        p.raise_if_any()

    # ---------------------------------------------------------------------------------------------------
    # validation

    @staticmethod
    def _network_problems(endpoint: Any) -> tuple[list[str], ec2.SubnetSelection | None]:
        """Problems of ``endpoint`` and, for PRIVATE, the subnets of the function and the VPC endpoints."""
        if not isinstance(endpoint, GatewayEndpoint):
            return [
                f"endpoint must be GatewayEndpoint.regional() or GatewayEndpoint.private(vpc=...), got {type(endpoint).__name__}"
            ], None
        if endpoint.type is GatewayEndpointType.REGIONAL:
            return [], None
        vpc = endpoint.vpc
        if vpc is None:
            return ["endpoint=GatewayEndpoint.private(...) needs a vpc"], None
        selection = endpoint.subnets
        if selection is None:
            if vpc.private_subnets:
                selection = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
            elif vpc.isolated_subnets:
                selection = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            else:
                return [
                    "endpoint=GatewayEndpoint.private(...): the VPC has no private or isolated subnets for the function"
                    " and the VPC endpoints; add some or pass subnets="
                ], None
        try:
            selected = vpc.select_subnets(**_selection_kwargs(selection))
        except Exception as exc:  # jsii raises for selections that match nothing
            return [f"endpoint=GatewayEndpoint.private(...): subnets select nothing in the VPC ({exc})"], None
        if not selected.subnets:
            return ["endpoint=GatewayEndpoint.private(...): subnets select no subnet of the VPC"], None
        try:
            vpc.vpc_cidr_block  # security group rules of the VPC endpoints and the function use it
        except Exception:
            return [
                "endpoint=GatewayEndpoint.private(...): the VPC's CIDR block is unknown; import it with"
                " ec2.Vpc.from_vpc_attributes(..., vpc_cidr_block=...)"
            ], None
        if selected.has_public:
            return [
                "endpoint=GatewayEndpoint.private(...): subnets must be private or isolated (a Lambda function in a"
                " public subnet has no internet access and the API must not be reachable from outside the VPC)"
            ], None
        return [], selection

    @staticmethod
    def _validate(
        *,
        network_problems: list[str],
        rule_problems: list[str],
        models: list[ModelAlias],
        limits: GatewayLimits,
        throttling_rate_limit: float,
        throttling_burst_limit: int,
        reserved_concurrency: int | None,
        generation_timeout: cdk.Duration,
        memory_size: int,
        stage_name: str,
        waf_rate_limit_per_ip: int,
        metrics_namespace: str,
        log_content: bool,
        model_config_error_alarm_threshold: int,
    ) -> None:
        p = ProblemCollector("BedrockGatewayApi properties")
        for problem in network_problems:
            p.add(problem)
        for problem in rule_problems:
            p.add(problem)
        for problem in model_problems(models):
            p.add(problem)
        for problem in limits.problems():
            p.add(problem)
        sagemaker_aliases = tuple(m.alias for m in models if isinstance(m, SageMakerModelAlias))
        for problem in rules.problems(SageMakerLimitsSubject(limits.max_request_bytes, sagemaker_aliases)):
            p.add(problem)
        p.check(throttling_rate_limit > 0, f"throttling_rate_limit must be positive, got {throttling_rate_limit}")
        p.check(
            0 < throttling_burst_limit <= 5000,
            f"throttling_burst_limit must be between 1 and 5000 (the account burst quota), got {throttling_burst_limit}",
        )
        p.check(
            reserved_concurrency is None or reserved_concurrency >= 1,
            f"reserved_concurrency must be at least 1 (or None for unreserved), got {reserved_concurrency}",
        )
        if not cdk.Token.is_unresolved(generation_timeout.to_seconds()):
            seconds = generation_timeout.to_seconds()
            p.check(
                30 <= seconds <= _MAX_STREAM.to_seconds(),
                f"generation_timeout must be between 30 seconds and 15 minutes (API Gateway's streaming limit),"
                f" got {seconds} seconds",
            )
        p.check(128 <= memory_size <= 10240, f"memory_size must be between 128 and 10240 MiB, got {memory_size}")
        p.check(
            stage_name.replace("_", "").replace("-", "").isalnum() and len(stage_name) <= 128,
            f"stage_name may contain only letters, digits, '-' and '_', got {stage_name!r}",
        )
        p.check(
            100 <= waf_rate_limit_per_ip <= 2_000_000_000,
            f"waf_rate_limit_per_ip must be between 100 and 2000000000 requests per 5 minutes, got {waf_rate_limit_per_ip}",
        )
        p.check(
            model_config_error_alarm_threshold >= 1,
            f"model_config_error_alarm_threshold must be at least 1, got {model_config_error_alarm_threshold}",
        )
        p.check(
            bool(metrics_namespace) and not metrics_namespace.startswith("AWS/") and len(metrics_namespace) <= 255,
            f"metrics_namespace must be non-empty, at most 255 characters and not start with 'AWS/', got {metrics_namespace!r}",
        )
        if not p.problems:
            # Tokens (endpoint names, knowledge base IDs) are counted at their longest resolved length.
            size = runtime_config_size(
                runtime_config_json(
                    runtime_config(
                        models=models, limits=limits, log_content=log_content,
                        metrics_namespace=metrics_namespace, service_name="x" * 64,
                    )
                )
            )
            p.check(
                size <= MAX_RUNTIME_CONFIG_BYTES,
                f"the model allowlist is too large for the function's environment ({size} bytes of configuration,"
                f" at most {MAX_RUNTIME_CONFIG_BYTES}); use fewer or shorter aliases",
            )
        p.raise_if_any()

    # ---------------------------------------------------------------------------------------------------
    # IAM

    def _bedrock_statements(self, models: Sequence[BedrockModelAlias]) -> list[iam.PolicyStatement]:
        """InvokeModel* on exactly the allowlisted inference profiles and the foundation models behind them."""
        stack = cdk.Stack.of(self)
        profile_arns = sorted(
            {
                stack.format_arn(service="bedrock", resource="inference-profile", resource_name=m.model_id)
                for m in models
                if m.is_inference_profile
            }
        )
        routed_models = sorted({m.foundation_model_id for m in models if m.is_inference_profile})
        direct_models = sorted({m.model_id for m in models if not m.is_inference_profile})
        statements: list[iam.PolicyStatement] = []
        if profile_arns:
            statements.append(
                iam.PolicyStatement(sid="InvokeInferenceProfiles", actions=_INVOKE_ACTIONS, resources=profile_arns)
            )
            statements.append(
                iam.PolicyStatement(
                    sid="InvokeModelsThroughProfiles",
                    actions=_INVOKE_ACTIONS,
                    # A cross-Region profile may route to any Region of its geography (global profiles to any
                    # Region), chosen by AWS per request; AWS requires the foundation model in every one of
                    # them, so the Region is a wildcard. The condition pins these grants to our profiles.
                    resources=[self._routed_model_arn(fm) for fm in routed_models],
                    conditions={"StringEquals": {"bedrock:InferenceProfileArn": profile_arns}},
                )
            )
        if direct_models:
            statements.append(
                iam.PolicyStatement(
                    sid="InvokeFoundationModels",
                    actions=_INVOKE_ACTIONS,
                    resources=[
                        stack.format_arn(service="bedrock", account="", resource="foundation-model", resource_name=fm)
                        for fm in direct_models
                    ],
                )
            )
        return statements

    @staticmethod
    def _marketplace_statements(
        models: Sequence[BedrockModelAlias], *, enabled: bool
    ) -> tuple[list[iam.PolicyStatement], MarketplaceGrants]:
        """AWS Marketplace permissions for the first call of the allowlist's third-party models in an account.

        Bedrock subscribes the account to a Marketplace model on its first call, with the caller's permissions.
        ``Subscribe`` is limited to the models' product IDs; Marketplace actions have no resource-level permissions.
        """
        cat = catalogue()
        pairs = tuple((m.alias, m.foundation_model_id) for m in models)
        third_party = sorted({fm for _, fm in pairs if cat.is_marketplace_model(fm)})
        products = sorted({p for fm in third_party if (p := cat.marketplace_product_id(fm)) is not None})
        statements: list[iam.PolicyStatement] = []
        if enabled and third_party:
            statements.append(
                iam.PolicyStatement(
                    sid="ViewMarketplaceSubscriptions",
                    actions=["aws-marketplace:ViewSubscriptions"],
                    # AWS Marketplace supports no resource ARNs: AWS requires "*".
                    resources=["*"],
                )
            )
            if products:
                statements.append(
                    iam.PolicyStatement(
                        sid="SubscribeToAllowlistedModelsOnFirstUse",
                        actions=["aws-marketplace:Subscribe"],
                        resources=["*"],
                        conditions={"ForAnyValue:StringEquals": {"aws-marketplace:ProductId": products}},
                    )
                )
        grants = MarketplaceGrants(
            foundation_models=pairs,
            enabled=enabled,
            view_subscriptions=enabled and bool(third_party),
            subscribe_product_ids=frozenset(products if enabled else ()),
        )
        return statements, grants

    def _catalogue_warnings(self, models: Sequence[BedrockModelAlias], *, marketplace_subscription: bool) -> None:
        """Synth warnings for model IDs the dated catalogue cannot confirm (errors are rules, see rules.py)."""
        cat = catalogue()
        unknown: list[str] = []
        region_mismatch: list[str] = []
        unscoped: list[str] = []
        for m in models:
            fm = m.foundation_model_id
            if not cat.is_known_model(fm):
                unknown.append(f"{m.alias!r} ({m.model_id})")
                continue
            profiles = cat.profile_geos(fm)
            if m.geo is not None and profiles is not None:
                geos, complete = profiles
                if m.geo not in geos and complete:
                    unknown.append(f"{m.alias!r} ({m.model_id}: {fm} has {', '.join(g + '.' for g in geos)} profiles)")
                sources = geos.get(m.geo)
                if sources and self._stack_region is not None and self._stack_region not in sources:
                    region_mismatch.append(f"{m.alias!r} ({m.model_id} from {self._stack_region})")
            if marketplace_subscription and cat.is_marketplace_model(fm) and cat.marketplace_product_id(fm) is None:
                unscoped.append(f"{m.alias!r} ({fm})")
        annotations = cdk.Annotations.of(self)
        if unknown:
            annotations.add_warning_v2(
                "cdk-llm-serving:bedrock-model-unknown",
                f"BedrockGatewayApi: model IDs not in the library's Bedrock catalogue (as of {cat.as_of}): "
                f"{'; '.join(unknown)}. Check them: a wrong ID passes synth and deploy, then every request fails "
                "(502 upstream_model_not_found, alarm ModelConfigErrorsAlarm). A model newer than the catalogue is fine.",
            )
        if region_mismatch:
            annotations.add_warning_v2(
                "cdk-llm-serving:bedrock-profile-region",
                f"BedrockGatewayApi: the catalogue (as of {cat.as_of}) does not list the stack's Region as a source Region "
                f"of these inference profiles: {'; '.join(region_mismatch)}. Check the model card before deploying.",
            )
        if unscoped:
            annotations.add_warning_v2(
                "cdk-llm-serving:bedrock-marketplace-unscoped",
                f"BedrockGatewayApi: no AWS Marketplace product ID is catalogued for {'; '.join(unscoped)}, so the role "
                "cannot subscribe the account on first use: call each model once as an identity with "
                "aws-marketplace:Subscribe (or add a scoped statement with add_to_role_policy) before the first request.",
            )

    @staticmethod
    def _routed_model_arn(foundation_model_id: str) -> str:
        return f"arn:{cdk.Aws.PARTITION}:bedrock:*::foundation-model/{foundation_model_id}"

    def _sagemaker_arn(self, resource: str, name: str, arn: str | None) -> str:
        """``arn`` if given, else the ARN of ``resource``/``name`` in this stack's account and Region.

        SageMaker ARNs hold the resource name in lower case (``CreateEndpoint`` returns
        ``...:endpoint/my-endpoint`` for ``My-Endpoint``), hence ``lower()``; validation already required
        an explicit ARN for token names, which cannot be lower-cased at synth time.
        """
        if arn is not None:
            return arn
        return cdk.Stack.of(self).format_arn(service="sagemaker", resource=resource, resource_name=name.lower())

    def _sagemaker_statements(self, models: Sequence[SageMakerModelAlias]) -> list[iam.PolicyStatement]:
        """InvokeEndpoint* on exactly the allowlisted endpoints and inference components."""
        endpoints = sorted({self._sagemaker_arn("endpoint", m.endpoint_name, m.endpoint_arn) for m in models})
        components = sorted(
            {
                self._sagemaker_arn("inference-component", m.inference_component_name, m.inference_component_arn)
                for m in models
                if m.inference_component_name is not None
            }
        )
        statements: list[iam.PolicyStatement] = []
        if endpoints:
            statements.append(
                iam.PolicyStatement(sid="InvokeSageMakerEndpoints", actions=_SAGEMAKER_INVOKE_ACTIONS, resources=endpoints)
            )
        if components:
            # The Service Authorization Reference lists two resource types for sagemaker:InvokeEndpoint and
            # sagemaker:InvokeEndpointWithResponseStream: endpoint (required) and inference-component (optional).
            # A call with InferenceComponentName is therefore authorized against the endpoint ARN *and* the
            # component ARN (arn:${Partition}:sagemaker:${Region}:${Account}:inference-component/<name>), so
            # both are granted: the endpoint above, exactly these components here.
            statements.append(
                iam.PolicyStatement(
                    sid="InvokeSageMakerInferenceComponents", actions=_SAGEMAKER_INVOKE_ACTIONS, resources=components
                )
            )
        return statements

    def _retrieval_statements(self, retrievals: Sequence[KnowledgeBaseRetrieval]) -> list[iam.PolicyStatement]:
        """bedrock:Retrieve (the IAM action of bedrock-agent-runtime Retrieve) on exactly the named knowledge bases."""
        stack = cdk.Stack.of(self)
        arns = sorted(
            {
                r.knowledge_base_arn
                or stack.format_arn(service="bedrock", resource="knowledge-base", resource_name=r.knowledge_base_id)
                for r in retrievals
            }
        )
        if not arns:
            return []
        return [iam.PolicyStatement(sid="RetrieveFromKnowledgeBases", actions=["bedrock:Retrieve"], resources=arns)]

    def _network_interface_statements(self) -> list[iam.PolicyStatement]:
        """What Lambda needs to attach the function to the VPC (the permissions of the AWS managed policy
        AWSLambdaVPCAccessExecutionRole, minus logs, scoped as far as EC2 allows)."""
        if self.vpc is None or self.function_security_group is None or self._subnets is None:
            return []
        stack = cdk.Stack.of(self)
        enis = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        subnets = [
            stack.format_arn(service="ec2", resource="subnet", resource_name=subnet_id)
            for subnet_id in self.vpc.select_subnets(**_selection_kwargs(self._subnets)).subnet_ids
        ]
        security_group = stack.format_arn(
            service="ec2", resource="security-group", resource_name=self.function_security_group.security_group_id
        )
        return [
            iam.PolicyStatement(
                sid="CreateVpcNetworkInterfaces",
                actions=["ec2:CreateNetworkInterface"],
                # Lambda creates the interfaces, so their IDs are unknown here; subnets and group are ours.
                resources=[enis, *subnets, security_group],
            ),
            iam.PolicyStatement(
                sid="ManageVpcNetworkInterfaces",
                actions=["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
                resources=[enis],
            ),
            iam.PolicyStatement(
                sid="DescribeVpcNetworkInterfaces",
                actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
                # EC2 Describe* actions support no resource-level permissions: AWS requires "*" here.
                resources=["*"],
            ),
        ]

    # ---------------------------------------------------------------------------------------------------
    # PRIVATE endpoint

    def _execute_api_endpoint(self) -> ec2.InterfaceVpcEndpoint:
        """An ``execute-api`` interface endpoint with private DNS, reachable over HTTPS from the VPC's CIDR."""
        assert self.vpc is not None
        security_group = ec2.SecurityGroup(
            self,
            "ExecuteApiEndpointSecurityGroup",
            vpc=self.vpc,
            description="execute-api VPC endpoint of the Bedrock gateway: HTTPS from the VPC",
            allow_all_outbound=False,
        )
        cidr = self.vpc.vpc_cidr_block
        security_group.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS from clients in the VPC")
        if cdk.Token.is_unresolved(cidr):
            for finding in (
                "AwsSolutions::AwsSolutions-EC23",
                "NIST.800.53.R5::NIST.800.53.R5-EC2RestrictedCommonPorts",
                "NIST.800.53.R5::NIST.800.53.R5-EC2RestrictedSSH",
            ):
                acknowledge(
                    security_group,
                    finding,
                    "The only ingress rule is HTTPS (443) from the VPC's own CIDR block, a CloudFormation attribute "
                    "cdk-nag cannot evaluate; never 0.0.0.0/0, never SSH or another common port",
                )
        return ec2.InterfaceVpcEndpoint(
            self,
            "ExecuteApiEndpoint",
            vpc=self.vpc,
            service=ec2.InterfaceVpcEndpointAwsService.APIGATEWAY,
            subnets=self._subnets,
            private_dns_enabled=True,
            open=False,
            security_groups=[security_group],
        )

    def _private_api_policy(
        self, vpc_endpoint: ec2.IInterfaceVpcEndpoint, auth: GatewayAuth, stage_name: str
    ) -> iam.PolicyDocument:
        """Resource policy of a PRIVATE API: invoke only through ``vpc_endpoint``, deny everything else.

        With IAM auth the Allow names this account (not ``*``): same-account callers then also need an
        identity policy (``grant_invoke``), as with the REGIONAL API. Cognito and development modes need
        ``*`` because API Gateway evaluates the policy for callers that have no AWS identity.
        """
        through_endpoint = {"StringEquals": {"aws:SourceVpce": vpc_endpoint.vpc_endpoint_id}}
        callers: iam.IPrincipal = (
            iam.AccountRootPrincipal() if auth.mode is GatewayAuthMode.IAM else iam.AnyPrincipal()
        )
        statements = [
            iam.PolicyStatement(
                sid="InvokeThroughVpcEndpoint",
                principals=[callers],
                actions=["execute-api:Invoke"],
                resources=["execute-api:/*"],
                conditions=through_endpoint,
            )
        ]
        if auth.mode is GatewayAuthMode.IAM:
            statements.append(
                iam.PolicyStatement(
                    sid="HealthCheckThroughVpcEndpoint",
                    principals=[iam.AnyPrincipal()],
                    actions=["execute-api:Invoke"],
                    resources=[f"execute-api:/{stage_name}/GET/health"],
                    conditions=through_endpoint,
                )
            )
        statements.append(
            iam.PolicyStatement(
                sid="DenyOutsideVpcEndpoint",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["execute-api:Invoke"],
                resources=["execute-api:/*"],
                conditions={"StringNotEquals": {"aws:SourceVpce": vpc_endpoint.vpc_endpoint_id}},
            )
        )
        return iam.PolicyDocument(statements=statements)

    def _runtime_vpc_endpoints(self, endpoint: GatewayEndpoint) -> None:
        """Function egress: to interface endpoints created here for the services the allowlist uses, or
        (``add_runtime_vpc_endpoints=False``) HTTPS anywhere the VPC routes (NAT or existing endpoints)."""
        assert self.vpc is not None and self.function_security_group is not None
        fn_sg = self.function_security_group
        if not endpoint.add_runtime_vpc_endpoints:
            fn_sg.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs through the VPC's NAT or endpoints"
            )
            return
        services: list[tuple[str, str, ec2.InterfaceVpcEndpointAwsService]] = []
        if any(isinstance(m, BedrockModelAlias) for m in self.models):
            services.append(("bedrock-runtime", "BedrockRuntimeEndpoint", ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME))
        if any(isinstance(m, SageMakerModelAlias) for m in self.models):
            services.append(
                ("sagemaker.runtime", "SageMakerRuntimeEndpoint", ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME)
            )
        if any(m.retrieval is not None for m in self.models):
            services.append(
                (
                    "bedrock-agent-runtime",
                    "BedrockAgentRuntimeEndpoint",
                    ec2.InterfaceVpcEndpointAwsService.BEDROCK_AGENT_RUNTIME,
                )
            )
        endpoints_sg = ec2.SecurityGroup(
            self,
            "RuntimeEndpointsSecurityGroup",
            vpc=self.vpc,
            description="VPC endpoints of the Bedrock gateway function: HTTPS from the function only",
            allow_all_outbound=False,
        )
        endpoints_sg.add_ingress_rule(fn_sg, ec2.Port.tcp(443), "HTTPS from the gateway function")
        # An inline (CIDR) rule: a group-to-group egress rule is a separate resource, which would leave
        # CloudFormation's default allow-all egress rule in place on the function's group.
        fn_sg.add_egress_rule(
            ec2.Peer.ipv4(self.vpc.vpc_cidr_block), ec2.Port.tcp(443), "HTTPS to the gateway's VPC endpoints"
        )
        for service, construct_id, aws_service in services:
            self.runtime_vpc_endpoints[service] = ec2.InterfaceVpcEndpoint(
                self,
                construct_id,
                vpc=self.vpc,
                service=aws_service,
                subnets=self._subnets,
                private_dns_enabled=True,
                open=False,
                security_groups=[endpoints_sg],
            )

    def _method_auth(self, auth: GatewayAuth) -> dict[str, Any]:
        if auth.mode is GatewayAuthMode.IAM:
            return {"authorization_type": apigw.AuthorizationType.IAM}
        if auth.mode is GatewayAuthMode.NONE:
            cdk.Annotations.of(self).add_warning_v2(
                "cdk-llm-serving:gateway-unauthenticated",
                "BedrockGatewayApi is deployed WITHOUT authentication (GatewayAuth.none_for_development()): "
                "anyone with the URL can spend your Bedrock budget. Use only for short-lived development stacks.",
            )
            return {"authorization_type": apigw.AuthorizationType.NONE}
        pool = auth.user_pool
        if pool is None:
            created = cognito.UserPool(
                self,
                "UserPool",
                self_sign_up_enabled=False,
                sign_in_aliases=cognito.SignInAliases(email=True),
                password_policy=cognito.PasswordPolicy(
                    min_length=12, require_digits=True, require_lowercase=True, require_uppercase=True, require_symbols=True
                ),
                mfa=cognito.Mfa.REQUIRED,
                mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
                account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
                feature_plan=cognito.FeaturePlan.ESSENTIALS,
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
            self.user_pool_client = created.add_client(
                "Client",
                auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
                generate_secret=False,
                prevent_user_existence_errors=True,
                # No hosted UI or OAuth flows: callers sign in with SRP or the password flow and send the ID token.
                # (CDK would otherwise enable the implicit and code grants with an example.com callback.)
                disable_o_auth=True,
                id_token_validity=cdk.Duration.hours(1),
                access_token_validity=cdk.Duration.hours(1),
            )
            pool = created
        self.user_pool = pool
        authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[pool], results_cache_ttl=cdk.Duration.minutes(5)
        )
        return {"authorization_type": apigw.AuthorizationType.COGNITO, "authorizer": authorizer}

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call the model routes (IAM auth mode only).

        Grants ``execute-api:Invoke`` on ``POST /v1/chat/completions`` and ``GET /v1/models`` of this stage.
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
                self.api.arn_for_execute_api("GET", "/v1/models", self.stage.stage_name),
            ],
        )

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> None:
        """Add a statement to the function's (managed) policy."""
        self.policy.add_statements(statement)

    # ---------------------------------------------------------------------------------------------------
    # WAF

    def _web_acl(self, rate_limit_per_ip: int) -> wafv2.CfnWebACL:
        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            )

        def managed(priority: int, name: str, overrides: Sequence[str] = ()) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS",
                        name=name,
                        rule_action_overrides=[
                            wafv2.CfnWebACL.RuleActionOverrideProperty(
                                name=o, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                            )
                            for o in overrides
                        ]
                        or None,
                    )
                ),
                visibility_config=visibility(name),
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility("BedrockGateway"),
            custom_response_bodies={
                "RateLimited": wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON",
                    content=json.dumps(
                        {
                            "error": {
                                "message": "Too many requests from this address; retry later",
                                "type": "rate_limit_exceeded",
                                "param": None,
                                "code": "rate_limit_exceeded",
                            }
                        },
                        separators=(",", ":"),
                    ),
                )
            },
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="RateLimitPerIp",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(
                        block=wafv2.CfnWebACL.BlockActionProperty(
                            custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                                response_code=429,
                                custom_response_body_key="RateLimited",
                                response_headers=[wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Retry-After", value="60")],
                            )
                        )
                    ),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=rate_limit_per_ip, aggregate_key_type="IP", evaluation_window_sec=300
                        )
                    ),
                    visibility_config=visibility("RateLimitPerIp"),
                ),
                *(
                    managed(priority, group, overrides)
                    for priority, (group, overrides) in enumerate(_WAF_MANAGED_GROUPS, start=1)
                ),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self, "WebAclAssociation", resource_arn=self.stage.stage_arn, web_acl_arn=acl.attr_arn
        )
        # WAF only logs to log groups named aws-waf-logs-*. The group is retained, so its name ends with part of
        # the stack ID: a re-created stack never asks for the name its deleted predecessor's group still holds.
        waf_log_name = f"aws-waf-logs-{cdk.Names.unique_id(self)[-100:]}-{stack_id_suffix()}"
        self._waf_log_name = waf_log_name
        self.waf_log_group = self._log_group("WafLogs", log_group_name=waf_log_name)
        logging = wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=acl.attr_arn,
            log_destination_configs=[
                cdk.Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=waf_log_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            # Bearer tokens must never reach the logs.
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "authorization"})
            ],
        )
        logging.node.add_dependency(self.waf_log_group)
        return acl

    # ---------------------------------------------------------------------------------------------------
    # metrics and alarms

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
        ``OutputTokens``, ``TimeToFirstToken`` (ms), ``Latency`` (ms). Default: sum over 5 minutes.
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

    def _across_aliases(
        self, metric: Any, reducer: str, label: str
    ) -> cloudwatch.MathExpression:
        """``reducer`` (SUM, MAX) of one per-alias metric over the aliases, for a single alarm.

        A CloudWatch alarm takes at most 10 metrics, so only the first 10 aliases are covered.
        """
        usable = {f"m{i}": m.alias for i, m in enumerate(self.models[:10])}
        expression = next(iter(usable)) if len(usable) == 1 else f"{reducer}([{','.join(usable)}])"
        return cloudwatch.MathExpression(
            expression=expression,
            using_metrics={k: metric(a) for k, a in usable.items()},
            label=label,
            period=cdk.Duration.minutes(5),
        )

    def _count_alarm(self, metric: cloudwatch.IMetric, construct_id: str, description: str, threshold: float) -> cloudwatch.Alarm:
        """Alarm when ``metric`` reaches ``threshold`` in one 5-minute period; no data is not a breach."""
        return metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _alarms(
        self, server_errors: int, throttles: int, config_errors: int, ttft: cdk.Duration
    ) -> list[cloudwatch.Alarm]:
        # The function emits the same per-alias metrics whatever the backend; Throttles counts 429s.
        if all(isinstance(m, BedrockModelAlias) for m in self.models):
            throttle_label = "Bedrock throttles (all aliases)"
            throttle_description = "Bedrock throttled the gateway's model calls (tokens/requests per minute quota)"
        else:
            throttle_label = "Model throttles (all aliases)"
            throttle_description = (
                "Model backends throttled the gateway's calls (Bedrock tokens/requests per minute quota, "
                "SageMaker endpoint or inference component capacity)"
            )
        alarms = [
            self._count_alarm(
                self.metric_server_errors(), "ServerErrorsAlarm", "The Bedrock gateway returned 5XX responses", server_errors
            ),
            self._count_alarm(
                self.function.metric_throttles(statistic="Sum", period=cdk.Duration.minutes(5)),
                "FunctionThrottlesAlarm",
                "The gateway function was throttled (concurrency exhausted)",
                1,
            ),
            self._count_alarm(
                self._across_aliases(self.metric_model_throttles, "SUM", throttle_label),
                "ModelThrottlesAlarm",
                throttle_description,
                throttles,
            ),
            self._count_alarm(
                self._across_aliases(self.metric_model_config_errors, "SUM", "Model configuration errors (all aliases)"),
                "ModelConfigErrorsAlarm",
                "The gateway cannot use a model of its allowlist (invalid or unavailable model ID, access denied, "
                "Marketplace subscription or Anthropic use-case form missing, unknown endpoint): every request to that "
                "alias fails with 502 until the deployment is fixed",
                config_errors,
            ),
        ]
        ttft_expr = self._across_aliases(
            self.metric_time_to_first_token, "MAX", "p90 time to first token, worst alias (ms)"
        )
        alarms.append(
            ttft_expr.create_alarm(
                self,
                "TimeToFirstTokenAlarm",
                alarm_description="p90 time to first token is above the threshold for at least one model alias",
                threshold=ttft.to_milliseconds(),
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )
        return alarms

    # ---------------------------------------------------------------------------------------------------
    # cdk-nag

    def _acknowledge_findings(
        self, auth: GatewayAuth, reserved_concurrency: int | None, *, alarm_topic: sns.ITopic | None, web_acl: bool
    ) -> None:
        cw_role = self.api.node.try_find_child("CloudWatchRole")
        if cw_role is not None:
            acknowledge(
                cw_role,
                "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "API Gateway's account-level logging role; AWS documents this service-role policy for execution logs",
            )
        if self.user_pool_client is not None:  # we created the pool
            acknowledge(
                self.user_pool.node.default_child or self.user_pool,  # type: ignore[union-attr]
                "AwsSolutions::AwsSolutions-COG8",
                "The Plus feature plan (threat protection) is billed per monthly active user; MFA is required instead. "
                "Pass your own Plus-tier pool with GatewayAuth.cognito(pool) to get it",
            )
        if alarm_topic is None:
            for alarm in self.alarms:
                acknowledge(
                    alarm,
                    "NIST.800.53.R5::NIST.800.53.R5-CloudWatchAlarmAction",
                    "No alarm_topic was passed: the alarms are visible in CloudWatch but notify no one; pass an SNS "
                    "topic as alarm_topic to act on them",
                )
        if not web_acl:
            for rule in (
                "AwsSolutions::AwsSolutions-APIG3",
                "NIST.800.53.R5::NIST.800.53.R5-APIGWAssociatedWithWAF",
            ):
                acknowledge(
                    self.stage,
                    rule,
                    "WAF was switched off explicitly with web_acl=False (e.g. a WAF managed centrally by Firewall "
                    "Manager); stage throttling still applies",
                )
        policy = self.policy
        acknowledge(
            policy,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; AWS requires '*'"
            + (
                "; so do AWS Marketplace ViewSubscriptions and Subscribe (first call of a third-party model), "
                "Subscribe limited to the allowlisted models' product IDs by aws-marketplace:ProductId"
                if any(s.sid == "ViewMarketplaceSubscriptions" for s in self._policy_statements)
                else ""
            )
            + (
                "; so do EC2 DescribeNetworkInterfaces/DescribeSubnets, which Lambda needs to attach the function to the VPC"
                if self.vpc is not None
                else ""
            ),
        )
        if self.vpc is not None:
            acknowledge(
                policy,
                "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:"
                "network-interface/*]",
                "Lambda creates and deletes the function's VPC network interfaces itself, so their IDs are unknown at "
                "deploy time; creation is limited to our subnets and security group",
            )
        bedrock_aliases = [m for m in self.models if isinstance(m, BedrockModelAlias)]
        for fm in sorted({m.foundation_model_id for m in bedrock_aliases if m.is_inference_profile}):
            acknowledge(
                policy,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/{fm}]",
                "Cross-Region inference profiles route to the foundation model in any Region of their geography; "
                "AWS requires the model ARN in every such Region. Pinned to our profiles by bedrock:InferenceProfileArn.",
            )
        fn = self.function
        acknowledge(
            fn,
            "NIST.800.53.R5::NIST.800.53.R5-LambdaDLQ",
            "The function is only invoked synchronously by API Gateway; a DLQ applies to asynchronous invocations only",
        )
        if self.vpc is None:
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
        stage = self.stage
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
        acknowledge(
            self.health_method,
            "AwsSolutions::AwsSolutions-APIG4",
            "GET /health is a mock integration returning a constant for load balancers and uptime checks; no data, no model",
        )
        acknowledge(
            self.health_method,
            "AwsSolutions::AwsSolutions-COG4",
            "GET /health is a mock integration returning a constant for load balancers and uptime checks; no data, no model",
        )
        if auth.mode is GatewayAuthMode.IAM:
            for method in (self.chat_completions_method, self.models_method):
                acknowledge(
                    method,
                    "AwsSolutions::AwsSolutions-COG4",
                    "This gateway uses IAM (SigV4) authorization for service callers, chosen with GatewayAuth.iam()",
                )
        if auth.mode is GatewayAuthMode.NONE:
            for method in (self.chat_completions_method, self.models_method):
                for rule in ("AwsSolutions::AwsSolutions-APIG4", "AwsSolutions::AwsSolutions-COG4"):
                    acknowledge(
                        method,
                        rule,
                        "Unauthenticated on purpose: GatewayAuth.none_for_development() was chosen explicitly "
                        "(synth warns about it); WAF and stage throttling still apply",
                    )
