"""Synth-time checks of the gateway: its props (every problem at once), the dated model catalogue's
warnings, and the upstream rules over the names and settings the gateway generated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from constructs import Construct

from .._errors import ProblemCollector
from .._retained import RetainedName
from . import rules
from ._iam import marketplace_statements
from ._network import image_host_problems, network_problems
from ._rest_api import cors_origin_problems, missing_token_response
from ._waf import WAF_MANAGED_GROUPS
from .alarms import GatewayAlarmOptions
from .aliases import (
    MAX_RUNTIME_CONFIG_BYTES,
    BedrockModelAlias,
    GatewayLimits,
    ModelAlias,
    SageMakerModelAlias,
    image_url_host_problems,
    model_problems,
    runtime_config,
    runtime_config_json,
    runtime_config_size,
)
from .auth import GatewayAuthMode
from .catalogue import catalogue
from .endpoint import GatewayEndpoint
from .guardrails import GatewayGuardrail
from .rules import (
    EXECUTION_LOG_GROUP_PREFIX,
    ExecutionLogGroup,
    GuardrailPolicySubject,
    ManagedRuleOverrides,
    ProfileRegion,
    SageMakerLimitsSubject,
    UnsignedRequestResponse,
    WafLogDestination,
)

MAX_STREAM = cdk.Duration.minutes(15)  # API Gateway's response-streaming limit


def value_problems(
    *,
    models: Sequence[ModelAlias],
    endpoint: GatewayEndpoint,
    limits: GatewayLimits,
    marketplace_subscription: bool,
    region: str | None,
    image_url_hosts: Sequence[str],
    cors_allowed_origins: Sequence[str] | None,
    throttling_rate_limit: float,
    throttling_burst_limit: int,
    reserved_concurrency: int | None,
    generation_timeout: cdk.Duration,
    memory_size: int,
    stage_name: str,
    waf_rate_limit_per_ip: int,
    metrics_namespace: str,
    log_content: bool,
    alarms: GatewayAlarmOptions,
) -> list[str]:
    """Every problem of the (correctly typed, defaults applied) props, in a fixed order: the PRIVATE network, the
    upstream rules on the props (``region`` ``None`` skips the profile-geography rule), the allowlist, the limits,
    the plain ranges, and the size of GATEWAY_CONFIG when everything else is fine."""
    models = list(models)
    bedrock_aliases = [m for m in models if isinstance(m, BedrockModelAlias)]
    _, marketplace_grants = marketplace_statements(bedrock_aliases, enabled=marketplace_subscription)
    p = ProblemCollector("BedrockGatewayApi props")
    for problem in [
        *network_problems(endpoint)[0],
        *image_host_problems(endpoint, image_url_hosts),
        *rules.problems(marketplace_grants),
        *(q for m in bedrock_aliases for q in rules.problems(ProfileRegion(m.alias, m.model_id, m.geo, region))),
        *model_problems(models),
        *limits.problems(),
        *alarms.problems(),
        *image_url_host_problems(image_url_hosts),
        *(cors_origin_problems(cors_allowed_origins) if cors_allowed_origins is not None else []),
    ]:
        p.add(problem)
    for problem in _guardrail_rule_problems(bedrock_aliases):
        p.add(problem)
    sagemaker_aliases = tuple(m.alias for m in models if isinstance(m, SageMakerModelAlias))
    for problem in rules.problems(SageMakerLimitsSubject(limits.max_request_bytes, sagemaker_aliases)):
        p.add(problem)
    _check_scalars(
        p,
        throttling_rate_limit=throttling_rate_limit,
        throttling_burst_limit=throttling_burst_limit,
        reserved_concurrency=reserved_concurrency,
        generation_timeout=generation_timeout,
        memory_size=memory_size,
        stage_name=stage_name,
        waf_rate_limit_per_ip=waf_rate_limit_per_ip,
        metrics_namespace=metrics_namespace,
    )
    if not p.problems:
        p.check(
            *_config_size(
                models,
                limits,
                log_content=log_content,
                metrics_namespace=metrics_namespace,
                image_url_hosts=image_url_hosts,
                cors_allow_origins=cors_allowed_origins or (),
            )
        )
    return p.problems


def _guardrail_rule_problems(models: Sequence[BedrockModelAlias]) -> list[str]:
    """The upstream rules over each guardrail the gateway creates (once per guardrail name)."""
    policies = {
        m.guardrail.name: m.guardrail.policy
        for m in models
        if m.guardrail is not None and isinstance(m.guardrail, GatewayGuardrail) and m.guardrail.policy is not None
    }
    return [
        q for name, policy in sorted(policies.items()) for q in rules.problems(GuardrailPolicySubject(name, policy))
    ]


def _config_size(
    models: list[ModelAlias],
    limits: GatewayLimits,
    *,
    log_content: bool,
    metrics_namespace: str,
    image_url_hosts: Sequence[str],
    cors_allow_origins: Sequence[str],
) -> tuple[bool, str]:
    """Whether GATEWAY_CONFIG fits the function's environment; tokens (endpoint names, knowledge base IDs) are
    counted at their longest resolved length."""
    size = runtime_config_size(
        runtime_config_json(
            runtime_config(
                models=models,
                limits=limits,
                log_content=log_content,
                metrics_namespace=metrics_namespace,
                service_name="x" * 64,
                image_url_hosts=image_url_hosts,
                cors_allow_origins=cors_allow_origins,
            )
        )
    )
    return size <= MAX_RUNTIME_CONFIG_BYTES, (
        f"the model allowlist, image_url_hosts and cors_allowed_origins are too large for the function's environment"
        f" ({size} bytes of configuration, at most {MAX_RUNTIME_CONFIG_BYTES}); use fewer or shorter aliases,"
        f" hosts or origins"
    )


#: Most requests of a stage's burst (the account-level burst quota, API Gateway quotas).
MAX_BURST = 5000
#: AWS WAF rate-based rule limits per 5 minutes (wafv2 RateBasedStatement Limit: 100 to 2,000,000,000).
WAF_RATE_LIMIT_RANGE = (100, 2_000_000_000)


def _check_scalars(
    p: ProblemCollector,
    *,
    throttling_rate_limit: float,
    throttling_burst_limit: int,
    reserved_concurrency: int | None,
    generation_timeout: cdk.Duration,
    memory_size: int,
    stage_name: str,
    waf_rate_limit_per_ip: int,
    metrics_namespace: str,
) -> None:
    """Range checks of the plain props. The throttles and the WAF limit may be tokens (e.g. CloudFormation parameters
    of a Service Catalog product): those are checked at deploy time by the parameter's MinValue/MaxValue instead."""

    def known(value: float) -> bool:
        return not cdk.Token.is_unresolved(value)

    p.check(
        not known(throttling_rate_limit) or throttling_rate_limit > 0,
        f"throttling_rate_limit must be positive, got {throttling_rate_limit}",
    )
    p.check(
        not known(throttling_burst_limit) or 0 < throttling_burst_limit <= MAX_BURST,
        f"throttling_burst_limit must be between 1 and 5000 (the account burst quota), got {throttling_burst_limit}",
    )
    p.check(
        reserved_concurrency is None or reserved_concurrency >= 1,
        f"reserved_concurrency must be at least 1 (or None for unreserved), got {reserved_concurrency}",
    )
    _check_generation_timeout(p, generation_timeout)
    p.check(128 <= memory_size <= 10240, f"memory_size must be between 128 and 10240 MiB, got {memory_size}")
    p.check(
        stage_name.replace("_", "").replace("-", "").isalnum() and len(stage_name) <= 128,
        f"stage_name may contain only letters, digits, '-' and '_', got {stage_name!r}",
    )
    p.check(
        not known(waf_rate_limit_per_ip) or WAF_RATE_LIMIT_RANGE[0] <= waf_rate_limit_per_ip <= WAF_RATE_LIMIT_RANGE[1],
        f"waf_rate_limit_per_ip must be between 100 and 2000000000 requests per 5 minutes, got {waf_rate_limit_per_ip}",
    )
    p.check(
        bool(metrics_namespace) and not metrics_namespace.startswith("AWS/") and len(metrics_namespace) <= 255,
        f"metrics_namespace must be non-empty, at most 255 characters and not start with 'AWS/', got {metrics_namespace!r}",
    )


def _check_generation_timeout(p: ProblemCollector, generation_timeout: cdk.Duration) -> None:
    if not cdk.Token.is_unresolved(generation_timeout.to_seconds()):
        seconds = generation_timeout.to_seconds()
        p.check(
            30 <= seconds <= MAX_STREAM.to_seconds(),
            f"generation_timeout must be between 30 seconds and 15 minutes (API Gateway's streaming limit),"
            f" got {seconds} seconds",
        )


def catalogue_warnings(
    scope: Construct, models: Sequence[BedrockModelAlias], *, region: str | None, marketplace_subscription: bool
) -> None:
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
            if sources and region is not None and region not in sources:
                region_mismatch.append(f"{m.alias!r} ({m.model_id} from {region})")
        if marketplace_subscription and cat.is_marketplace_model(fm) and cat.marketplace_product_id(fm) is None:
            unscoped.append(f"{m.alias!r} ({fm})")
    _warn(scope, cat.as_of, unknown=unknown, region_mismatch=region_mismatch, unscoped=unscoped)


def _warn(scope: Construct, as_of: str, *, unknown: list[str], region_mismatch: list[str], unscoped: list[str]) -> None:
    annotations = cdk.Annotations.of(scope)
    if unknown:
        annotations.add_warning_v2(
            "cdk-llm-serving:bedrock-model-unknown",
            f"BedrockGatewayApi: model IDs not in the library's Bedrock catalogue (as of {as_of}): "
            f"{'; '.join(unknown)}. Check them: a wrong ID passes synth and deploy, then every request fails "
            "(502 upstream_model_not_found, alarm ModelConfigErrorsAlarm). A model newer than the catalogue is fine.",
        )
    if region_mismatch:
        annotations.add_warning_v2(
            "cdk-llm-serving:bedrock-profile-region",
            f"BedrockGatewayApi: the catalogue (as of {as_of}) does not list the stack's Region as a source Region "
            f"of these inference profiles: {'; '.join(region_mismatch)}. Check the model card before deploying.",
        )
    if unscoped:
        annotations.add_warning_v2(
            "cdk-llm-serving:bedrock-marketplace-unscoped",
            f"BedrockGatewayApi: no AWS Marketplace product ID is catalogued for {'; '.join(unscoped)}, so the role "
            "cannot subscribe the account on first use: call each model once as an identity with "
            "aws-marketplace:Subscribe (or add a scoped statement with add_to_role_policy) before the first request.",
        )


def check_generated(
    scope: Construct,
    *,
    retained_log_groups: Sequence[tuple[logs.LogGroup, str | None]],
    api: apigw.RestApi,
    stage_name: str,
    auth_mode: GatewayAuthMode,
    missing_token_code: str,
    waf_log_name: str | None,
) -> None:
    """Run the upstream rules over names and settings the gateway generated (not props)."""
    stack = cdk.Stack.of(scope)
    subjects: list[Any] = [
        RetainedName(group.node.path, "LogGroupName", None if name is None else stack.resolve(name))
        for group, name in retained_log_groups
    ]
    api_logical_id = stack.get_logical_id(api.node.default_child)  # type: ignore[arg-type]
    subjects.append(
        ExecutionLogGroup(
            stack.resolve(f"{EXECUTION_LOG_GROUP_PREFIX}{api.rest_api_id}/{stage_name}"), api_logical_id, stage_name
        )
    )
    missing_status, _, _ = missing_token_response(auth_mode)
    subjects.append(UnsignedRequestResponse(auth_mode is GatewayAuthMode.IAM, missing_status, missing_token_code))
    if waf_log_name is not None:
        subjects.append(WafLogDestination(stack.resolve(waf_log_name)))
        subjects.extend(ManagedRuleOverrides(group, overrides) for group, overrides in WAF_MANAGED_GROUPS)
    p = ProblemCollector.for_construct(scope)
    for subject in subjects:
        for problem in rules.problems(subject):
            p.add(problem)
    p.raise_if_any()
