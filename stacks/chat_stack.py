"""ChatStack: the public chat/assistant pattern (seed 001 §5.1).

Bedrock models with streaming, behind API Gateway + Lambda as thin orchestration, with strong
rate limiting and token caps to manage cost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_llm_serving import (
    BedrockGatewayApi,
    BedrockModelAlias,
    Budget,
    BudgetPeriod,
    ContentFilter,
    ContentFilterType,
    FilterStrength,
    GatewayAuth,
    GatewayAuthMode,
    GatewayGovernance,
    GatewayGuardrail,
    GatewayLimits,
    GuardrailPolicy,
    PiiAction,
    PiiEntity,
    PropsValidationError,
)
from cdk_llm_serving._types import PropsTypeError
from cdk_llm_serving.bedrock_gateway.construct import props_problems

from ._common import alarm_topic
from .settings import settings_from_context

#: Public-chat defaults: a fast and a strong model, both on US cross-Region inference profiles.
DEFAULT_CHAT_MODELS: tuple[BedrockModelAlias, ...] = (
    BedrockModelAlias(
        alias="chat-fast",
        model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0",
        max_tokens_cap=4096,
        default_max_tokens=1024,
    ),
    BedrockModelAlias(
        alias="chat-smart",
        model_id="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        max_tokens_cap=8192,
        default_max_tokens=2048,
    ),
    BedrockModelAlias(
        alias="chat-lite",
        model_id="us.amazon.nova-lite-v1:0",
        max_tokens_cap=4096,
        default_max_tokens=1024,
    ),
)

#: ChatStack's default guardrail (setting ``guardrail``): harmful-content and prompt-attack filters on prompts and
#: answers, e-mail addresses and phone numbers seen by the model but anonymized in its answers.
DEFAULT_CHAT_GUARDRAIL = GatewayGuardrail.create(
    name="Chat",
    policy=GuardrailPolicy(
        blocked_input_messaging="Sorry, I can't help with that request.",
        blocked_outputs_messaging="Sorry, I can't provide that response.",
        description="ChatStack default guardrail: content filters, prompt attacks, PII in answers",
        content_filters=[
            *(
                ContentFilter(type=t, input_strength=FilterStrength.MEDIUM, output_strength=FilterStrength.MEDIUM)
                for t in (
                    ContentFilterType.SEXUAL,
                    ContentFilterType.VIOLENCE,
                    ContentFilterType.HATE,
                    ContentFilterType.INSULTS,
                    ContentFilterType.MISCONDUCT,
                )
            ),
            # Prompt attacks are an input-only filter: its output strength stays NONE.
            ContentFilter(
                type=ContentFilterType.PROMPT_ATTACK,
                input_strength=FilterStrength.HIGH,
                output_strength=FilterStrength.NONE,
            ),
        ],
        pii_entities=[
            PiiEntity(type=t, action=PiiAction.ANONYMIZE, input_action=PiiAction.NONE) for t in ("EMAIL", "PHONE")
        ],
    ),
)

_AUTH_MODES = {m.value: m for m in GatewayAuthMode}
_PERIODS = {p.value: p for p in BudgetPeriod}
_RETENTION = {
    d: getattr(logs.RetentionDays, n)
    for d, n in {
        1: "ONE_DAY",
        3: "THREE_DAYS",
        5: "FIVE_DAYS",
        7: "ONE_WEEK",
        14: "TWO_WEEKS",
        30: "ONE_MONTH",
        60: "TWO_MONTHS",
        90: "THREE_MONTHS",
        180: "SIX_MONTHS",
        365: "ONE_YEAR",
    }.items()
}


@dataclass(frozen=True, kw_only=True)
class ChatSettings:
    """Settings of :class:`ChatStack`, read from cdk.json context ``chat``."""

    models: tuple[BedrockModelAlias, ...] = DEFAULT_CHAT_MODELS
    """Model allowlist. Context form: ``[{"alias", "model_id", "max_tokens_cap"?, "default_max_tokens"?}]``.
    Default: chat-fast (Claude Haiku 4.5), chat-smart (Claude Sonnet 4.5), chat-lite (Nova Lite), US profiles."""
    auth: str = "cognito"
    """``cognito`` (a user pool is created), ``iam``, ``api_keys`` (gateway API keys, created with
    ``scripts/gateway_keys.py``) or ``none`` (development only). Default: cognito"""
    throttling_rate_limit: float = 20
    """Stage-wide requests per second. Default: 20"""
    throttling_burst_limit: int = 40
    """Stage-wide burst. Default: 40"""
    waf_rate_limit_per_ip: int = 300
    """Requests per IP per 5 minutes before WAF answers 429. Default: 300"""
    reserved_concurrency: int | None = None
    """Reserved concurrency of the gateway function. Default: none"""
    max_messages: int = 64
    """Most messages per request. Default: 64"""
    max_total_chars: int = 100_000
    """Most characters of message text per request. Default: 100000"""
    generation_timeout_seconds: int = 300
    """Longest a generation may stream. Default: 300"""
    log_retention_days: int = 30
    """Retention of function and access logs (1, 3, 5, 7, 14, 30, 60, 90, 180, 365). Default: 30"""
    log_content: bool = False
    """Log prompts and completions. Default: false"""
    guardrail: bool = True
    """Apply :data:`DEFAULT_CHAT_GUARDRAIL` (a Bedrock guardrail the stack creates, required by the gateway's IAM
    policy) to every model alias that has no guardrail of its own; ``false`` serves the models unguarded.
    Default: true"""
    budgets: bool = True
    """Keys, budgets and usage (``GatewayGovernance``: a DynamoDB table, ``GET /v1/usage``); false removes them,
    except with ``auth: api_keys``, which needs them. Default: true"""
    budget_period: str = "day"
    """When budgets reset: ``day`` or ``month`` (UTC). Default: day"""
    team_budget_tokens: int | None = 2_000_000
    """Tokens per period of each team (``default`` holds callers in no team). Default: 2000000"""
    caller_budget_tokens: int | None = 200_000
    """Tokens per period of each Cognito or IAM caller (API keys have their own). Default: 200000"""

    def problems(self) -> list[str]:
        """Allowed values, and the gateway's own props checks on the props these settings give it (the model
        allowlist, the limits, throttling, WAF and timeout ranges), named as settings."""
        out: list[str] = []
        if self.auth not in _AUTH_MODES:
            out.append(f"setting 'auth' must be one of {', '.join(_AUTH_MODES)}, got {self.auth!r}")
        if self.budget_period not in _PERIODS:
            out.append(f"setting 'budget_period' must be one of {', '.join(_PERIODS)}, got {self.budget_period!r}")
        if self.log_retention_days not in _RETENTION:
            out.append(
                f"setting 'log_retention_days' must be one of {', '.join(map(str, _RETENTION))}, got {self.log_retention_days}"
            )
        try:
            props = self._checked_props()
        except PropsTypeError as exc:  # settings built in code with a wrong type (the context parser checks types)
            return out + exc.problems
        return out + [_in_setting_terms(p) for p in props_problems(props)]

    @classmethod
    def from_context(cls, raw: Any) -> ChatSettings:
        """Parse and check the ``chat`` context value; every problem is reported at once: names and types,
        allowed values, and the gateway's own checks of the props the settings give it."""
        problems: list[str] = []
        settings = settings_from_context(
            cls, raw, context_key="chat", parsers={"models": parse_bedrock_models}, problems=problems
        )
        problems += settings.problems()
        if problems:
            raise PropsValidationError("cdk.json context 'chat'", problems)
        return settings

    def gateway_props(self) -> dict[str, Any]:
        """The ``BedrockGatewayApi`` props these settings give (the stack adds its alarm topic); the others keep the
        construct's defaults."""
        retention = _RETENTION[self.log_retention_days]
        return {**self._checked_props(), "auth": self.gateway_auth, "log_retention": retention}

    def _checked_props(self) -> dict[str, Any]:
        """The props whose values the gateway checks (``auth`` and ``log_retention_days`` are checked here)."""
        return {
            "models": self.guarded_models(),
            "limits": GatewayLimits(max_messages=self.max_messages, max_total_chars=self.max_total_chars),
            "throttling_rate_limit": self.throttling_rate_limit,
            "throttling_burst_limit": self.throttling_burst_limit,
            "waf_rate_limit_per_ip": self.waf_rate_limit_per_ip,
            "reserved_concurrency": self.reserved_concurrency,
            "generation_timeout": cdk.Duration.seconds(self.generation_timeout_seconds),
            "log_content": self.log_content,
            "governance": self.governance,
        }

    def guarded_models(self) -> tuple[BedrockModelAlias, ...]:
        """``models``, each with :data:`DEFAULT_CHAT_GUARDRAIL` unless it has a guardrail (or ``guardrail`` is false)."""
        if self.guardrail is not True:
            return tuple(self.models)
        return tuple(
            m if m.guardrail is not None else dataclasses.replace(m, guardrail=DEFAULT_CHAT_GUARDRAIL)
            for m in self.models
        )

    @property
    def governance(self) -> GatewayGovernance | None:
        """The gateway's governance from the budget settings (``None`` with ``budgets: false``)."""
        if not self.budgets and self.auth != GatewayAuthMode.API_KEYS.value:
            return None
        return GatewayGovernance(
            period=_PERIODS.get(self.budget_period, BudgetPeriod.DAY),
            team_budget=Budget(tokens=self.team_budget_tokens) if self.team_budget_tokens is not None else None,
            caller_budget=Budget(tokens=self.caller_budget_tokens) if self.caller_budget_tokens is not None else None,
        )

    @property
    def gateway_auth(self) -> GatewayAuth:
        mode = _AUTH_MODES[self.auth]
        if mode is GatewayAuthMode.IAM:
            return GatewayAuth.iam()
        if mode is GatewayAuthMode.NONE:
            return GatewayAuth.none_for_development()
        if mode is GatewayAuthMode.API_KEYS:
            return GatewayAuth.api_keys()
        return GatewayAuth.cognito()


#: Gateway prop names in the gateway's messages -> the ChatStack settings that set them.
_SETTING_NAMES = (
    ("limits.max_messages", "max_messages"),
    ("limits.max_total_chars", "max_total_chars"),
    ("generation_timeout", "generation_timeout_seconds"),
    ("governance.team_budget.tokens", "team_budget_tokens"),
    ("governance.caller_budget.tokens", "caller_budget_tokens"),
)


def _in_setting_terms(problem: str) -> str:
    for prop, setting in _SETTING_NAMES:
        if problem.startswith(f"{prop} "):
            return f"{setting}{problem[len(prop) :]}"
    return problem


def parse_bedrock_models(raw: Any, problems: list[str]) -> tuple[BedrockModelAlias, ...] | None:
    """Context form of a Bedrock allowlist → aliases; problems are appended, not raised. ``None`` (the setting keeps
    its default) when no entry is usable; entries with wrong names or types are left out."""
    allowed = {"alias", "model_id", "max_tokens_cap", "default_max_tokens"}
    if not isinstance(raw, list) or not raw:
        problems.append('setting \'models\' must be a non-empty list of {"alias": ..., "model_id": ...} objects')
        return None
    out: list[BedrockModelAlias] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or not {"alias", "model_id"} <= set(item):
            problems.append(f"models[{i}] must be an object with at least 'alias' and 'model_id'")
            continue
        unknown = set(item) - allowed
        if unknown:
            problems.append(f"models[{i}] has unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
            continue
        try:
            out.append(BedrockModelAlias(**item))
        except PropsTypeError as exc:
            problems.extend(f"models[{i}].{p}" for p in exc.problems)
    return tuple(out) or None


class ChatStack(cdk.Stack):
    """Public chat: an OpenAI-compatible streaming API over Bedrock with caps, throttles, WAF and alarms."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: ChatSettings | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault(
            "description", "cdk-llm-serving: public chat API (OpenAI-compatible, streaming) over Amazon Bedrock"
        )
        super().__init__(scope, construct_id, **kwargs)
        settings = settings or ChatSettings()
        problems = settings.problems()  # settings built in code skip from_context: check them here too
        if problems:
            raise PropsValidationError("ChatStack settings", problems)
        self.settings = settings
        # Alarm notifications: subscribe on-call email/chat to this topic after deploying.
        self.alarm_topic = alarm_topic(self, "ChatStack")
        self.gateway = BedrockGatewayApi(self, "Gateway", **settings.gateway_props(), alarm_topic=self.alarm_topic)
        gw = self.gateway
        cdk.CfnOutput(self, "ApiUrl", value=gw.url, description="Stage invoke URL")
        cdk.CfnOutput(self, "OpenAIBaseUrl", value=gw.openai_base_url, description="base_url for OpenAI SDKs")
        cdk.CfnOutput(self, "AuthMode", value=gw.auth_mode.value, description="How callers authenticate")
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn, description="Subscribe to get alarms")
        cdk.CfnOutput(self, "ModelAliases", value=",".join(m.alias for m in settings.models))
        if gw.governance_table is not None:
            cdk.CfnOutput(
                self,
                "GovernanceTableName",
                value=gw.governance_table.table_name,
                description="scripts/gateway_keys.py --table <this>: API keys, budgets, usage",
            )
        if gw.user_pool is not None:
            cdk.CfnOutput(self, "UserPoolId", value=gw.user_pool.user_pool_id)
        if gw.user_pool_client is not None:
            cdk.CfnOutput(self, "UserPoolClientId", value=gw.user_pool_client.user_pool_client_id)
