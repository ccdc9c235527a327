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
