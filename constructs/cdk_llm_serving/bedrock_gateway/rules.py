"""Upstream rules for BedrockGatewayApi (API Gateway, WAF, Bedrock, Cognito), checked at synth time (see :mod:`cdk_llm_serving._rules`).

Each rule cites the source it was read from; add a rule here (never as a stray ``if`` in a
construct) and give it a negative test with ``expect_rule("GATEWAY.<NAME>", ...)``.

Subjects are small frozen dataclasses describing what the construct is about to emit; each kind of
subject has its own rule set, and :func:`problems` applies the one that matches the subject.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._data import load_json
from .._retained import RetainedName, fixed_name_problem
from .._rules import RuleSet
from .catalogue import catalogue

#: Rules over the names of retained resources (subject: RetainedName).
RETAINED_NAMES: RuleSet[RetainedName] = RuleSet("GATEWAY")
#: Rules over the WAF logging destination (subject: WafLogDestination).
WAF_LOGGING: RuleSet[WafLogDestination] = RuleSet("GATEWAY")
#: Rules over the execution log group (subject: ExecutionLogGroup).
EXECUTION_LOGGING: RuleSet[ExecutionLogGroup] = RuleSet("GATEWAY")
#: Rules over the managed rule groups' overrides (subject: ManagedRuleOverrides).
WAF_OVERRIDES: RuleSet[ManagedRuleOverrides] = RuleSet("GATEWAY")
#: Rules over API Gateway's own responses (subject: UnsignedRequestResponse).
GATEWAY_RESPONSES: RuleSet[UnsignedRequestResponse] = RuleSet("GATEWAY")
#: Rules over Bedrock model IDs and the stack Region (subject: ProfileRegion).
BEDROCK_MODELS: RuleSet[ProfileRegion] = RuleSet("GATEWAY")
#: Rules over the role's AWS Marketplace permissions (subject: MarketplaceGrants).
MARKETPLACE: RuleSet[MarketplaceGrants] = RuleSet("GATEWAY")
#: Rules over aliases configured for reasoning (subject: ReasoningAlias).
REASONING: RuleSet[ReasoningAlias] = RuleSet("GATEWAY")

__all__ = [
    "BEDROCK_MODELS",
    "ENFORCED_GUARDRAILS",
    "EnforcedGuardrailSubject",
    "INFERENCE_PROFILES",
    "InferenceProfileSubject",
    "GUARDRAILS",
    "GUARDRAIL_PII_TYPES",
    "PROMPT_CACHING",
    "GuardrailPolicySubject",
    "PromptCachingAlias",
    "prompt_caching_models",
    "EXECUTION_LOGGING",
    "GOVERNANCE",
    "GATEWAY_RESPONSES",
    "MARKETPLACE",
    "REASONING",
    "RETAINED_NAMES",
    "SAGEMAKER_MAX_BODY_BYTES",
    "SAGEMAKER_RULES",
    "WAF_LOGGING",
    "WAF_OVERRIDES",
    "ExecutionLogGroup",
    "ManagedRuleOverrides",
    "MarketplaceGrants",
    "ProfileRegion",
    "ReasoningAlias",
    "RetainedName",
    "SageMakerLimitsSubject",
    "UnsignedRequestResponse",
    "WafLogDestination",
    "problems",
]


# --------------------------------------------------------------------------------------------------
# Retained resources and log groups


@RETAINED_NAMES.rule(
    "GATEWAY.RETAINED_NAME_UNIQUE",
    "A retained resource must not carry a name that the next create of the stack asks for again "
    "(CreateLogGroup fails with ResourceAlreadyExistsException for the group a deleted stack left behind)",
    source="CloudFormation User Guide 'DeletionPolicy attribute' (Retain keeps the resource after stack deletion) and "
    "'Resource custom naming' (names must be unique); botocore logs/2014-03-28 service-2.json CreateLogGroup errors "
    "(ResourceAlreadyExistsException)",
)
def _retained_name_unique(subject: RetainedName) -> Iterable[str]:
    yield from fixed_name_problem(subject)


def _leading_literal(resolved: Any) -> str:
    """The literal text a CloudFormation string starts with (before its first intrinsic)."""
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        sep, parts = resolved["Fn::Join"]
        head: list[str] = []
        for part in parts:
            if not isinstance(part, str):
                break
            head.append(part)
        return str(sep).join(head)
    return ""


@dataclass(frozen=True)
class WafLogDestination:
    """The CloudWatch Logs log group a web ACL's logging configuration writes to."""

    resolved_name: Any


@WAF_LOGGING.rule(
    "GATEWAY.WAF_LOG_GROUP_PREFIX",
    "AWS WAF logs only to destinations whose name starts with 'aws-waf-logs-'",
    source="AWS WAF API Reference 'LoggingConfiguration' (the destination name must start with aws-waf-logs-); "
    "botocore wafv2/2019-07-29 service-2.json LoggingConfiguration documentation",
)
def _waf_log_prefix(subject: WafLogDestination) -> Iterable[str]:
    head = _leading_literal(subject.resolved_name)
    if not head.startswith("aws-waf-logs-"):
        yield (
            f"the WAF log group name must start with 'aws-waf-logs-' (WAF refuses other destinations), got one "
            f"starting with {head!r}"
        )


@dataclass(frozen=True)
class ExecutionLogGroup:
    """The log group created for API Gateway's execution logs, and the stage it must belong to."""

    resolved_name: Any
    rest_api_logical_id: str
    stage_name: str


#: API Gateway's own name for a stage's execution log group.
EXECUTION_LOG_GROUP_PREFIX = "API-Gateway-Execution-Logs_"


@EXECUTION_LOGGING.rule(
    "GATEWAY.EXECUTION_LOG_GROUP_NAME",
    "API Gateway writes a stage's execution logs to the group named API-Gateway-Execution-Logs_{rest-api-id}/{stage_name} "
    "(creating it, without retention or encryption, if it does not exist); a group created ahead must have exactly that name",
    source="API Gateway Developer Guide 'Execution logging for REST APIs' (rest-api-execution-logging: 'The log group is "
    "named API-Gateway-Execution-Logs_{rest-api-id}/{stage_name}')",
)
def _execution_log_group(subject: ExecutionLogGroup) -> Iterable[str]:
    expected = {
        "Fn::Join": ["", [EXECUTION_LOG_GROUP_PREFIX, {"Ref": subject.rest_api_logical_id}, f"/{subject.stage_name}"]]
    }
    if subject.resolved_name != expected:
        yield (
            f"the execution log group must be named {EXECUTION_LOG_GROUP_PREFIX}<rest api id>/{subject.stage_name}, "
            f"got {subject.resolved_name!r}: API Gateway would write to a group of its own (no retention, no KMS)"
        )


# --------------------------------------------------------------------------------------------------
# WAF managed rule groups


@dataclass(frozen=True)
class ManagedRuleOverrides:
    """The RuleActionOverrides of one AWS managed rule group in the web ACL."""

    group: str
    overrides: tuple[str, ...]


def waf_managed_rules() -> dict[str, Any]:
    """``data/waf_managed_rules.json``: rule names of the AWS managed rule groups the web ACL uses."""
    return load_json(__package__, "waf_managed_rules.json")


@WAF_OVERRIDES.rule(
    "GATEWAY.WAF_RULE_OVERRIDES",
    "A RuleActionOverride must name a rule of its managed rule group; WAF ignores an override that names no rule, "
    "so a typo silently leaves the rule blocking",
    source="AWS WAF Developer Guide 'Baseline rule groups' (aws-managed-rule-groups-baseline: CRS and Known bad inputs "
    "rule names) and 'IP reputation rule groups'; botocore wafv2/2019-07-29 service-2.json RuleActionOverride.Name "
    "('With managed rule groups, WAF silently ignores any override that uses an invalid rule name')",
)
def _waf_rule_overrides(subject: ManagedRuleOverrides) -> Iterable[str]:
    groups = waf_managed_rules()["groups"]
    known = groups.get(subject.group)
    if known is None:
        yield f"managed rule group {subject.group!r} is not in data/waf_managed_rules.json; known: {sorted(groups)}"
        return
    for name in subject.overrides:
        if name not in known:
            yield (
                f"{subject.group} has no rule {name!r} (the override would be ignored and the rule keep blocking); "
                f"its rules are {', '.join(known)}"
            )


# --------------------------------------------------------------------------------------------------
# API Gateway responses


@dataclass(frozen=True)
class UnsignedRequestResponse:
    """How the gateway answers API Gateway's MISSING_AUTHENTICATION_TOKEN response type."""

    iam_auth: bool
    status_code: str | None
    code: str


@GATEWAY_RESPONSES.rule(
    "GATEWAY.IAM_MISSING_TOKEN_RESPONSE",
    "With AWS_IAM methods API Gateway answers an unsigned request with MISSING_AUTHENTICATION_TOKEN, the same "
    "response type as an unknown route; in IAM mode it must not claim 'not found'",
    source="API Gateway Developer Guide 'Gateway response types' (MISSING_AUTHENTICATION_TOKEN, default 403, includes "
    "calls to an unsupported method or resource); AWS Knowledge Center 'API Gateway Missing Authentication Token error' "
    "(causes: nonexistent method/resource, or an unsigned request to a method with IAM authorization)",
)
def _iam_missing_token(subject: UnsignedRequestResponse) -> Iterable[str]:
    if subject.iam_auth and (subject.status_code == "404" or subject.code == "not_found"):
        yield (
            "with GatewayAuth.iam() an unsigned request gets MISSING_AUTHENTICATION_TOKEN: answer 403 and say that "
            f"credentials are missing or the route is unknown, not {subject.status_code} {subject.code!r}"
        )


# --------------------------------------------------------------------------------------------------
# Bedrock models


@dataclass(frozen=True)
class ProfileRegion:
    """A Bedrock alias's model ID and the stack's Region (``None`` when the stack is environment-agnostic)."""

    alias: str
    model_id: str
    geo: str | None
    region: str | None


@BEDROCK_MODELS.rule(
    "GATEWAY.BEDROCK_PROFILE_GEOGRAPHY",
    "A geographic inference profile (us., eu., apac., jp., au., ca., us-gov.) can only be called from a source Region "
    "of its geography, and a global. profile only from commercial Regions; anything else is 'The provided model "
    "identifier is invalid' on every request",
    source="Bedrock User Guide 'Geographic cross-Region inference' (requests stay in the geography of the source "
    "Region), 'Supported Regions and models for inference profiles' and the model cards' source Regions; aws-cdk "
    "@aws-cdk/aws-bedrock-alpha v2.275.0 bedrock/inference-profiles/cross-region-inference-profile.ts (geography -> "
    "Regions); langchain-ai/open_deep_research#224 (us. profile outside the US: ValidationException)",
)
def _profile_geography(subject: ProfileRegion) -> Iterable[str]:
    if subject.geo is None or subject.region is None:
        return
    cat = catalogue()
    if cat.geography_contains(subject.geo, subject.region):
        return
    belongs_to = cat.geographies_of(subject.region)
    if belongs_to or (subject.geo == "global" and subject.region.startswith(("us-gov-", "cn-"))):
        fitting = ", ".join(f"'{g}.'" for g in belongs_to) or "none (no global. profiles there)"
        yield (
            f"model alias {subject.alias!r}: {subject.model_id!r} is an inference profile of the {subject.geo}. geography, "
            f"which cannot be called from {subject.region} (profiles for that Region: {fitting}); use a profile of the "
            f"Region's geography or a global. one, or deploy the stack to a Region of the {subject.geo}. geography"
        )


@dataclass(frozen=True)
class MarketplaceGrants:
    """The Bedrock foundation models of the allowlist and the AWS Marketplace permissions the role gets."""

    foundation_models: tuple[tuple[str, str], ...]
    """``(alias, foundation model ID)`` of every Bedrock alias."""
    enabled: bool
    """``marketplace_subscription`` prop: false when model access is managed outside the gateway."""
    view_subscriptions: bool
    subscribe_product_ids: frozenset[str]


@MARKETPLACE.rule(
    "GATEWAY.BEDROCK_MARKETPLACE_FIRST_USE",
    "The first call of a third-party (Marketplace) serverless model in an account subscribes the account with the "
    "caller's permissions: the caller needs aws-marketplace:ViewSubscriptions and aws-marketplace:Subscribe for the "
    "model's product, or every call returns AccessDeniedException",
    source="Bedrock User Guide 'Request access to models' (model-access: automatic model access, prerequisites) and "
    "'Use product ID condition keys to control access' (model-access-product-ids: aws-marketplace:ProductId scopes "
    "Subscribe; Amazon, DeepSeek, Meta, Mistral AI, OpenAI and Qwen models have no product ID)",
)
def _marketplace_first_use(subject: MarketplaceGrants) -> Iterable[str]:
    if not subject.enabled:
        return
    cat = catalogue()
    for alias, fm in subject.foundation_models:
        if not cat.is_marketplace_model(fm):
            continue
        product = cat.marketplace_product_id(fm)
        if not subject.view_subscriptions:
            yield f"model alias {alias!r}: {fm} is sold through AWS Marketplace, but the role lacks aws-marketplace:ViewSubscriptions"
        if product is not None and product not in subject.subscribe_product_ids:
            yield (
                f"model alias {alias!r}: {fm} is sold through AWS Marketplace (product {product}), but the role may not "
                f"aws-marketplace:Subscribe to it"
            )


#: Foundation models that take Anthropic's manual extended thinking (``thinking: {type: enabled, budget_tokens}``),
#: which the gateway sends for ``reasoning_effort`` on an alias with ``reasoning=True``; an ID matches when it is
#: one of these or continues one with ``-`` or ``:`` (``...-v1:0``).
EXTENDED_THINKING_MODELS = (
    "anthropic.claude-3-7-sonnet-20250219",
    "anthropic.claude-sonnet-4-20250514",
    "anthropic.claude-sonnet-4-5-20250929",
    "anthropic.claude-sonnet-4-6",
    "anthropic.claude-haiku-4-5-20251001",
    "anthropic.claude-opus-4-20250514",
    "anthropic.claude-opus-4-1-20250805",
    "anthropic.claude-opus-4-5-20251101",
    "anthropic.claude-opus-4-6",
)


@dataclass(frozen=True)
class ReasoningAlias:
    """A Bedrock alias with ``reasoning=True`` and the foundation model behind it."""

    alias: str
    foundation_model_id: str


@REASONING.rule(
    "GATEWAY.REASONING_MODEL",
    "reasoning=True makes the gateway send Anthropic's extended thinking (additionalModelRequestFields.thinking = "
    "{type: enabled, budget_tokens}) for reasoning_effort; only the Claude models listed for extended thinking "
    "accept it (Claude 4.7 and later reject the manual mode with a 400, other providers reject the field)",
    source="Bedrock User Guide 'Extended thinking' (claude-messages-extended-thinking: supported models table, as of "
    "2026-12: Claude 3.7 Sonnet, Sonnet 4, 4.5, 4.6, Haiku 4.5, Opus 4, 4.5, 4.6); Anthropic 'Extended thinking' "
    "(platform.claude.com build-with-claude/extended-thinking: Opus 4.1 supported; 'Claude 4.7 and later models do "
    "not support it and reject requests that use it, returning a 400 error')",
)
def _reasoning_model(subject: ReasoningAlias) -> Iterable[str]:
    fm = subject.foundation_model_id
    if any(fm == m or fm.startswith((m + "-", m + ":")) for m in EXTENDED_THINKING_MODELS):
        return
    yield (
        f"model alias {subject.alias!r}: reasoning=True needs a Claude model with extended thinking "
        f"({', '.join(m.removeprefix('anthropic.') for m in EXTENDED_THINKING_MODELS)}), but {fm!r} is not one; "
        f"Bedrock would reject every request with reasoning_effort. Drop reasoning=True or pick one of those models"
    )


_BY_SUBJECT: dict[type, RuleSet[Any]] = {
    RetainedName: RETAINED_NAMES,
    WafLogDestination: WAF_LOGGING,
    ExecutionLogGroup: EXECUTION_LOGGING,
    ManagedRuleOverrides: WAF_OVERRIDES,
    UnsignedRequestResponse: GATEWAY_RESPONSES,
    ProfileRegion: BEDROCK_MODELS,
    MarketplaceGrants: MARKETPLACE,
    ReasoningAlias: REASONING,
}


def problems(subject: Any) -> list[str]:
    """Every violation of the rules that apply to ``subject``'s kind, each prefixed with its rule id."""
    return _BY_SUBJECT[type(subject)].problems(subject)


# ----------------------------------------------------------------------------------------------------------------
# SageMaker Runtime limits the gateway's own limits must respect (subject: SageMakerLimitsSubject).

#: Largest request body InvokeEndpoint / InvokeEndpointWithResponseStream accept, bytes (the gateway runtime's
#: ``sagemaker.MAX_BODY_BYTES`` enforces the same number per request).
SAGEMAKER_MAX_BODY_BYTES = 6_291_456


@dataclass(frozen=True)
class SageMakerLimitsSubject:
    """What the SageMaker-limit rules look at: the gateway's body limit and its SageMaker aliases."""

    max_request_bytes: int
    sagemaker_aliases: tuple[str, ...]


#: Rules about SageMaker Runtime limits (same GATEWAY family, its own subject).
SAGEMAKER_RULES: RuleSet[SageMakerLimitsSubject] = RuleSet("GATEWAY")


@SAGEMAKER_RULES.rule(
    "GATEWAY.SAGEMAKER_BODY_LIMIT",
    "SageMaker Runtime accepts request bodies of at most 6291456 bytes (4 MB on serverless endpoints), so a gateway"
    " with SageMaker aliases must not promise callers more",
    source="botocore sagemaker-runtime 2017-05-13 service-2.json: shape BodyBlob {max: 6291456} (Body of InvokeEndpoint"
    " and InvokeEndpointWithResponseStream); SageMaker Developer Guide 'Invoke a serverless endpoint'"
    " (serverless-endpoints-invoke.html): 'The maximum request and response payload size for serverless"
    " invocations is 4 MB'",
)
def _sagemaker_body_limit(subject: SageMakerLimitsSubject) -> Iterable[str]:
    if subject.sagemaker_aliases and subject.max_request_bytes > SAGEMAKER_MAX_BODY_BYTES:
        yield (
            f"limits.max_request_bytes is {subject.max_request_bytes}, but the SageMaker aliases"
            f" {', '.join(repr(a) for a in subject.sagemaker_aliases)} call InvokeEndpoint, which accepts at most"
            f" {SAGEMAKER_MAX_BODY_BYTES} bytes (4 MB on serverless endpoints); set"
            f" GatewayLimits(max_request_bytes=...) to {SAGEMAKER_MAX_BODY_BYTES} or less"
        )


_BY_SUBJECT[SageMakerLimitsSubject] = SAGEMAKER_RULES


# ----------------------------------------------------------------------------------------------------------------
# Bedrock Guardrails created from a GuardrailPolicy (subject: GuardrailPolicySubject).

#: botocore bedrock 2023-04-20 service-2.json shape GuardrailPiiEntityType (the PII entity types CreateGuardrail accepts).
GUARDRAIL_PII_TYPES = (
    "ADDRESS", "AGE", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "CA_HEALTH_NUMBER", "CA_SOCIAL_INSURANCE_NUMBER",
    "CREDIT_DEBIT_CARD_CVV", "CREDIT_DEBIT_CARD_EXPIRY", "CREDIT_DEBIT_CARD_NUMBER", "DRIVER_ID", "EMAIL",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "IP_ADDRESS", "LICENSE_PLATE", "MAC_ADDRESS", "NAME", "PASSWORD", "PHONE",
    "PIN", "SWIFT_CODE", "UK_NATIONAL_HEALTH_SERVICE_NUMBER", "UK_NATIONAL_INSURANCE_NUMBER",
    "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER", "URL", "USERNAME", "US_BANK_ACCOUNT_NUMBER", "US_BANK_ROUTING_NUMBER",
    "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "US_PASSPORT_NUMBER", "US_SOCIAL_SECURITY_NUMBER",
    "VEHICLE_IDENTIFICATION_NUMBER",
)  # fmt: skip
_TOPIC_NAME_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_ !?.")


@dataclass(frozen=True)
class GuardrailPolicySubject:
    """A guardrail the gateway creates: its key and its policy (a ``guardrails.GuardrailPolicy``)."""

    name: str
    policy: Any


#: Rules over the guardrails the gateway creates (subject: GuardrailPolicySubject).
GUARDRAILS: RuleSet[GuardrailPolicySubject] = RuleSet("GATEWAY")
_BY_SUBJECT[GuardrailPolicySubject] = GUARDRAILS
_GUARDRAIL_SOURCE = (
    "botocore bedrock 2023-04-20 service-2.json CreateGuardrailRequest and its shapes; CloudFormation Template "
    "Reference AWS::Bedrock::Guardrail (aws-properties-bedrock-guardrail*.html)"
)


def _length(where: str, value: str, low: int, high: int) -> Iterable[str]:
    if not low <= len(value) <= high:
        yield f"{where} must be {low}-{high} characters, got {len(value)} ({value[:40]!r})"


@GUARDRAILS.rule(
    "GATEWAY.GUARDRAIL_MESSAGING",
    "A guardrail's blockedInputMessaging and blockedOutputsMessaging are 1-500 characters and its description 1-200",
    source=_GUARDRAIL_SOURCE + ": GuardrailBlockedMessaging {min 1, max 500}, GuardrailDescription {min 1, max 200}",
)
def _guardrail_messaging(subject: GuardrailPolicySubject) -> Iterable[str]:
    p, where = subject.policy, f"guardrail {subject.name!r}: policy"
    yield from _length(f"{where}.blocked_input_messaging", p.blocked_input_messaging, 1, 500)
    yield from _length(f"{where}.blocked_outputs_messaging", p.blocked_outputs_messaging, 1, 500)
    if p.description is not None:
        yield from _length(f"{where}.description", p.description, 1, 200)


@GUARDRAILS.rule(
    "GATEWAY.GUARDRAIL_CONTENT_FILTERS",
    "A guardrail's content policy holds 1-6 filters (one per type: SEXUAL, VIOLENCE, HATE, INSULTS, MISCONDUCT, "
    "PROMPT_ATTACK)",
    source=_GUARDRAIL_SOURCE + ": GuardrailContentFiltersConfig {min 1, max 6}, GuardrailContentFilterType enum; "
    "ContentPolicyConfig.FiltersConfig Minimum 1, Maximum 6",
)
def _guardrail_content_filters(subject: GuardrailPolicySubject) -> Iterable[str]:
    types = [f.type.value for f in subject.policy.content_filters]
    repeated = sorted({t for t in types if types.count(t) > 1})
    if repeated:
        yield (
            f"guardrail {subject.name!r}: policy.content_filters lists {', '.join(repeated)} more than once; "
            "give each filter type one entry (at most 6 filters)"
        )


@GUARDRAILS.rule(
    "GATEWAY.GUARDRAIL_TOPICS",
    "A guardrail denies at most 30 topics; a topic name is 1-100 characters of [0-9a-zA-Z-_ !?.], its definition "
    "1-200 characters, and it has at most 5 examples of 1-100 characters",
    source=_GUARDRAIL_SOURCE + ": GuardrailTopicsConfig {max 30}, GuardrailTopicName {min 1, max 100, pattern "
    "[0-9a-zA-Z-_ !?.]+}, GuardrailTopicDefinition {min 1, max 200}, GuardrailTopicExamples {max 5}, "
    "GuardrailTopicExample {min 1, max 100}",
)
def _guardrail_topics(subject: GuardrailPolicySubject) -> Iterable[str]:
    topics = subject.policy.denied_topics
    if len(topics) > 30:
        yield f"guardrail {subject.name!r}: policy.denied_topics has {len(topics)} topics, at most 30 are allowed"
    for i, t in enumerate(topics):
        where = f"guardrail {subject.name!r}: policy.denied_topics[{i}]"
        yield from _length(f"{where}.name", t.name, 1, 100)
        if not set(t.name) <= _TOPIC_NAME_CHARS:
            yield f"{where}.name may only contain letters, digits, spaces and -_!?., got {t.name!r}"
        yield from _length(f"{where}.definition", t.definition, 1, 200)
        if len(t.examples) > 5:
            yield f"{where}.examples has {len(t.examples)} examples, at most 5 are allowed"
        for j, e in enumerate(t.examples):
            yield from _length(f"{where}.examples[{j}]", e, 1, 100)


@GUARDRAILS.rule(
    "GATEWAY.GUARDRAIL_PII_TYPES",
    "A guardrail's PII entities must be types Bedrock knows (GuardrailPiiEntityType), one entry per type",
    source=_GUARDRAIL_SOURCE
    + ": GuardrailPiiEntityType enum (31 types, e.g. EMAIL, PHONE, US_SOCIAL_SECURITY_NUMBER); "
    "CloudFormation PiiEntityConfig.Type allowed values",
)
def _guardrail_pii(subject: GuardrailPolicySubject) -> Iterable[str]:
    types = [e.type for e in subject.policy.pii_entities]
    for i, t in enumerate(types):
        if t not in GUARDRAIL_PII_TYPES:
            yield (
                f"guardrail {subject.name!r}: policy.pii_entities[{i}].type {t!r} is not a Bedrock PII entity type; "
                f"use one of {', '.join(GUARDRAIL_PII_TYPES)}"
            )
    repeated = sorted({t for t in types if types.count(t) > 1})
    if repeated:
        yield f"guardrail {subject.name!r}: policy.pii_entities lists {', '.join(repeated)} more than once"


@GUARDRAILS.rule(
    "GATEWAY.GUARDRAIL_WORDS",
    "A guardrail blocks at most 10000 custom words or phrases, each 1-100 characters",
    source=_GUARDRAIL_SOURCE
    + ": GuardrailWordsConfig {min 1, max 10000}, GuardrailWordConfigTextString {min 1, max 100}",
)
def _guardrail_words(subject: GuardrailPolicySubject) -> Iterable[str]:
    words = subject.policy.blocked_words
    if len(words) > 10_000:
        yield f"guardrail {subject.name!r}: policy.blocked_words has {len(words)} entries, at most 10000 are allowed"
    for i, w in enumerate(words):
        yield from _length(f"guardrail {subject.name!r}: policy.blocked_words[{i}]", w, 1, 100)


# ----------------------------------------------------------------------------------------------------------------
# Prompt caching (subject: PromptCachingAlias).


def prompt_caching_models() -> tuple[str, ...]:
    """``data/prompt_caching.json``: the foundation models with explicit prompt caching."""
    return tuple(load_json(__package__, "prompt_caching.json")["models"])


@dataclass(frozen=True)
class PromptCachingAlias:
    """A Bedrock alias with ``prompt_caching=True`` and the foundation model behind it."""

    alias: str
    foundation_model_id: str


#: Rules over aliases with prompt caching (subject: PromptCachingAlias).
PROMPT_CACHING: RuleSet[PromptCachingAlias] = RuleSet("GATEWAY")
_BY_SUBJECT[PromptCachingAlias] = PROMPT_CACHING


@PROMPT_CACHING.rule(
    "GATEWAY.PROMPT_CACHING_MODEL",
    "prompt_caching=True makes the gateway send Converse cachePoint blocks; only models with prompt caching accept "
    "them (others fail the request), so the alias's model must be in data/prompt_caching.json",
    source="Bedrock User Guide 'Prompt caching for faster model inference' (prompt-caching.html: supported models); "
    "agentgateway PR #2751 (cachePoint to a non-caching model: 403 from Bedrock); data/prompt_caching.json (sources, "
    "as_of)",
)
def _prompt_caching_model(subject: PromptCachingAlias) -> Iterable[str]:
    fm = subject.foundation_model_id
    models = prompt_caching_models()
    if any(fm == m or fm.startswith((m + "-", m + ":")) for m in models):
        return
    yield (
        f"model alias {subject.alias!r}: prompt_caching=True needs a model with Bedrock prompt caching, but {fm!r} is "
        f"not in the table (data/prompt_caching.json: {', '.join(models)}); every request would fail. Drop "
        f"prompt_caching or pick one of those models"
    )


# ----------------------------------------------------------------------------------------------------------------
# Application inference profiles (subject: InferenceProfileSubject).

_TAG_RE = re.compile(r"^[a-zA-Z0-9\s._:/=+@-]*$")
_PROFILE_DESCRIPTION_RE = re.compile(r"^([0-9a-zA-Z:.][ _-]?)+$")


@dataclass(frozen=True)
class InferenceProfileSubject:
    """An alias's application inference profile: its tags and description."""

    alias: str
    tags: Any
    description: str | None


#: Rules over the application inference profiles the gateway creates (subject: InferenceProfileSubject).
INFERENCE_PROFILES: RuleSet[InferenceProfileSubject] = RuleSet("GATEWAY")
_BY_SUBJECT[InferenceProfileSubject] = INFERENCE_PROFILES


@INFERENCE_PROFILES.rule(
    "GATEWAY.INFERENCE_PROFILE_TAGS",
    "An application inference profile takes at most 200 tags; a key is 1-128 and a value 0-256 characters of "
    "letters, digits, spaces and ._:/=+@-, and keys starting with 'aws:' are reserved",
    source="botocore bedrock 2023-04-20 service-2.json CreateInferenceProfileRequest.tags: TagList {max 200}, TagKey "
    "{min 1, max 128, pattern [a-zA-Z0-9\\s._:/=+@-]*}, TagValue {max 256, same pattern}; AWS Tagging Best Practices "
    "'Tag naming limits and requirements' (the aws: prefix is reserved for AWS use)",
)
def _profile_tags(subject: InferenceProfileSubject) -> Iterable[str]:
    where = f"model alias {subject.alias!r}: application_inference_profile.tags"
    if not subject.tags:
        yield f"{where} is empty; give the profile at least one cost-allocation tag (that is what it is for)"
    if len(subject.tags) > 200:
        yield f"{where} has {len(subject.tags)} tags, at most 200 are allowed"
    for key, value in sorted(subject.tags.items()):
        if not 1 <= len(key) <= 128 or not _TAG_RE.match(key) or key.lower().startswith("aws:"):
            yield f"{where}: key {key!r} must be 1-128 letters, digits, spaces or ._:/=+@- and not start with 'aws:'"
        if not isinstance(value, str) or len(value) > 256 or not _TAG_RE.match(value):
            yield f"{where}: value of {key!r} must be at most 256 letters, digits, spaces or ._:/=+@-, got {value!r}"


@INFERENCE_PROFILES.rule(
    "GATEWAY.INFERENCE_PROFILE_DESCRIPTION",
    "An application inference profile's description is 1-200 characters matching ([0-9a-zA-Z:.][ _-]?)+",
    source="botocore bedrock 2023-04-20 service-2.json InferenceProfileDescription {min 1, max 200, pattern "
    "([0-9a-zA-Z:.][ _-]?)+}",
)
def _profile_description(subject: InferenceProfileSubject) -> Iterable[str]:
    d = subject.description
    if d is not None and (not 1 <= len(d) <= 200 or not _PROFILE_DESCRIPTION_RE.match(d)):
        yield (
            f"model alias {subject.alias!r}: application_inference_profile.description must be 1-200 letters, digits,"
            f" ':' and '.', with single spaces, '_' or '-' between them (no commas or other punctuation), got {d!r}"
        )


# ----------------------------------------------------------------------------------------------------------------
# Account-level enforced guardrails (subject: EnforcedGuardrailSubject).


@dataclass(frozen=True)
class EnforcedGuardrailSubject:
    """What ``AccountGuardrailEnforcement`` renders: the version and the model lists (``None``: all models)."""

    version: str
    included_models: tuple[str, ...] | None
    excluded_models: tuple[str, ...]


#: Rules over AWS::Bedrock::EnforcedGuardrailConfiguration (subject: EnforcedGuardrailSubject).
ENFORCED_GUARDRAILS: RuleSet[EnforcedGuardrailSubject] = RuleSet("GATEWAY")
_BY_SUBJECT[EnforcedGuardrailSubject] = ENFORCED_GUARDRAILS


@ENFORCED_GUARDRAILS.rule(
    "GATEWAY.ENFORCED_GUARDRAIL_CONFIG",
    "An enforced guardrail configuration names a numeric guardrail version (not DRAFT), and its ModelEnforcement "
    "requires IncludedModels (at least 1) and ExcludedModels (may be empty)",
    source="CloudFormation Template Reference AWS::Bedrock::EnforcedGuardrailConfiguration (GuardrailVersion: "
    "'Numerical guardrail version (not DRAFT)'; aws-properties-bedrock-enforcedguardrailconfiguration-modelenforcement: "
    "IncludedModels Required, Minimum 1; ExcludedModels Required, Minimum 0); aws-cdk-lib 2.275 "
    "CfnEnforcedGuardrailConfigurationProps",
)
def _enforced_guardrail(subject: EnforcedGuardrailSubject) -> Iterable[str]:
    v = subject.version
    if "${Token[" not in v and not (v.isdigit() and not v.startswith("0") and len(v) <= 8):
        yield f"guardrail_version must be a published version number like '1' (DRAFT cannot be enforced), got {v!r}"
    if subject.included_models is not None and not subject.included_models:
        yield "included_models must list at least one model ID (leave it out to enforce on every model)"
    if subject.excluded_models and subject.included_models is None:
        yield "excluded_models needs included_models too (CloudFormation's ModelEnforcement requires both lists)"


# Governance (keys, budgets): what the runtime sends to Bedrock and what the table is configured with
# (subject: _governance.GovernanceSubject).

#: Rules over the governance table and the requestMetadata the runtime sends (same GATEWAY family).
GOVERNANCE: RuleSet[Any] = RuleSet("GATEWAY")
#: Converse/ConverseStream ``requestMetadata`` limits (the runtime's governance.REQUEST_METADATA_* mirror them).
REQUEST_METADATA_MAX_PAIRS = 16
REQUEST_METADATA_MAX_LEN = 256
_REQUEST_METADATA_CHARS = re.compile(r"[a-zA-Z0-9\s:_@$#=/+,\-.]*")
#: DynamoDB ``TimeToLiveSpecification.AttributeName`` length.
TTL_ATTRIBUTE_MAX_LEN = 255


@GOVERNANCE.rule(
    "GATEWAY.REQUEST_METADATA",
    "Converse requestMetadata takes at most 16 pairs; keys are 1-256 and values 0-256 characters of "
    "[a-zA-Z0-9\\s:_@$#=/+,-.]: the gateway sends its keys and each team name as a value",
    source="botocore bedrock-runtime 2023-09-30 service-2.json shapes RequestMetadata (max 16), "
    "RequestMetadataKeyString (1-256, pattern [a-zA-Z0-9\\s:_@$#=/+,-.]{1,256}), RequestMetadataValueString "
    "(0-256, same characters)",
)
def _request_metadata(subject: Any) -> Iterable[str]:
    if len(subject.metadata_keys) > REQUEST_METADATA_MAX_PAIRS:
        yield f"the gateway would send {len(subject.metadata_keys)} requestMetadata pairs; Converse takes at most 16"
    for key in subject.metadata_keys:
        if not 1 <= len(key) <= REQUEST_METADATA_MAX_LEN or not _REQUEST_METADATA_CHARS.fullmatch(key):
            yield f"requestMetadata key {key!r} is not 1-256 characters of [a-zA-Z0-9 :_@$#=/+,-.]"
    for team in subject.team_names:
        if len(team) > REQUEST_METADATA_MAX_LEN or not _REQUEST_METADATA_CHARS.fullmatch(team) or not team:
            yield (
                f"governance team name {team!r} is sent as a Bedrock requestMetadata value, which must be 1-256 "
                f"characters of letters, digits, spaces and :_@$#=/+,-. (Converse rejects others): rename the team"
            )


@GOVERNANCE.rule(
    "GATEWAY.TTL_ATTRIBUTE",
    "The table's TTL attribute must be the attribute the runtime writes expiry epochs to, and a TTL attribute name is "
    "1-255 characters; DynamoDB deletes expired items only on a best-effort basis (typically within two days), so "
    "the runtime checks expiry itself",
    source="botocore dynamodb 2012-08-10 service-2.json TimeToLiveAttributeName (min 1, max 255); DynamoDB API "
    "Reference UpdateTimeToLive ('deletes expired items on a best-effort basis', 'typically within two days', "
    "'items that have expired and not been deleted will still show up in reads')",
)
def _ttl_attribute(subject: Any) -> Iterable[str]:
    from ._governance import TTL_ATTRIBUTE

    name = subject.ttl_attribute
    if not 1 <= len(name) <= TTL_ATTRIBUTE_MAX_LEN:
        yield f"TTL attribute name {name!r} must be 1-255 characters"
    if name != TTL_ATTRIBUTE:
        yield (
            f"TTL attribute {name!r} is not {TTL_ATTRIBUTE!r}, the attribute the gateway runtime writes "
            f"(lambda/gateway/budgets.py TTL_ATTRIBUTE): old counters and expired keys would never be deleted"
        )
