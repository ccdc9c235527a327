"""Invalid props and settings fail at synth with messages that say what to change."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from cdk_llm_serving import BedrockGatewayApi, BedrockModelAlias, GatewayAuth, GatewayLimits, PropsValidationError
from stacks import ChatSettings

GOOD = BedrockModelAlias(alias="ok", model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0")


def _build(**kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("models", [GOOD])
    return BedrockGatewayApi(cdk.Stack(cdk.App(), "S"), "Gw", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"models": []}, "models must contain at least one BedrockModelAlias"),
        ({"models": [GOOD, GOOD]}, "model alias 'ok' appears more than once"),
        ({"models": [BedrockModelAlias(alias="bad alias", model_id=GOOD.model_id)]}, "alias must match"),
        (
            {"models": [BedrockModelAlias(alias="a", model_id="arn:aws:bedrock:us-east-1::foundation-model/x.y")]},
            "must be a model or inference profile ID, not an ARN",
        ),
        ({"models": [BedrockModelAlias(alias="a", model_id="claude")]}, "is not a Bedrock model ID like"),
        (
            {"models": [BedrockModelAlias(alias="a", model_id=GOOD.model_id, max_tokens_cap=100, default_max_tokens=200)]},
            "default_max_tokens must be between 1 and max_tokens_cap (100), got 200",
        ),
        ({"models": [BedrockModelAlias(alias="a", model_id=GOOD.model_id, max_tokens_cap=0)]}, "max_tokens_cap must be between 1"),
        ({"limits": GatewayLimits(max_request_bytes=20_000_000)}, "API Gateway's 10 MB payload limit"),
        ({"limits": GatewayLimits(max_messages=0)}, "limits.max_messages must be between 1 and 10000, got 0"),
        ({"generation_timeout": cdk.Duration.minutes(20)}, "generation_timeout must be between 30 seconds and 15 minutes"),
        ({"generation_timeout": cdk.Duration.seconds(5)}, "got 5 seconds"),
        ({"throttling_rate_limit": 0}, "throttling_rate_limit must be positive"),
        ({"throttling_burst_limit": 10_000}, "throttling_burst_limit must be between 1 and 5000"),
        ({"reserved_concurrency": 0}, "reserved_concurrency must be at least 1"),
        ({"memory_size": 64}, "memory_size must be between 128 and 10240 MiB, got 64"),
        ({"stage_name": "prod v1"}, "stage_name may contain only letters"),
        ({"waf_rate_limit_per_ip": 10}, "waf_rate_limit_per_ip must be between 100"),
        ({"metrics_namespace": "AWS/Bedrock"}, "not start with 'AWS/'"),
        (
            {"models": [BedrockModelAlias(alias=f"alias-{i:03d}-" + "x" * 40, model_id=GOOD.model_id) for i in range(40)]},
            "too large for the function's environment",
        ),
    ],
)
def test_invalid_gateway_props(kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PropsValidationError) as info:
        _build(**kwargs)
    assert message in str(info.value)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(PropsValidationError) as info:
        _build(memory_size=1, throttling_rate_limit=-1, reserved_concurrency=0)
    assert len(info.value.problems) == 3
    assert "3 problem(s)" in str(info.value)


def test_grant_invoke_requires_iam_auth() -> None:
    gw = _build(auth=GatewayAuth.cognito())
    with pytest.raises(ValueError, match="grant_invoke only applies to GatewayAuth.iam"):
        gw.grant_invoke(gw.role)


def test_unauthenticated_mode_warns_at_synth() -> None:
    gw = _build(auth=GatewayAuth.none_for_development())
    from aws_cdk.assertions import Annotations, Match

    Annotations.from_stack(cdk.Stack.of(gw)).has_warning("*", Match.string_like_regexp("WITHOUT authentication"))


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"auth": "apikey"}, "setting 'auth' must be one of cognito, iam, none, got 'apikey'"),
        ({"thrtotling_rate_limit": 5}, "unknown setting 'thrtotling_rate_limit'; known settings:"),
        ({"throttling_burst_limit": "40"}, "setting 'throttling_burst_limit' must be int, got \"40\""),
        ({"reserved_concurrency": True}, "setting 'reserved_concurrency' must be int or NoneType, got true"),
        ({"log_retention_days": 31}, "setting 'log_retention_days' must be one of 1, 3, 5"),
        ({"models": []}, "setting 'models' must be a non-empty list"),
        ({"models": [{"alias": "x"}]}, "models[0] must be an object with at least 'alias' and 'model_id'"),
        ({"models": [{"alias": "x", "model_id": "a.b", "cap": 3}]}, "models[0] has unknown key(s) ['cap']"),
        ('{"auth": ', "not valid JSON"),
        ([1, 2], "must be a JSON object, got list"),
    ],
)
def test_invalid_chat_context(context, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PropsValidationError) as info:
        ChatSettings.from_context(context)
    assert message in str(info.value)


def test_chat_context_parses_models_and_json_strings() -> None:
    settings = ChatSettings.from_context(
        '{"auth": "iam", "models": [{"alias": "m", "model_id": "eu.amazon.nova-lite-v1:0", "max_tokens_cap": 512, "default_max_tokens": 256}]}'
    )
    assert settings.auth == "iam"
    assert settings.models == (
        BedrockModelAlias(alias="m", model_id="eu.amazon.nova-lite-v1:0", max_tokens_cap=512, default_max_tokens=256),
    )
    assert ChatSettings.from_context(None) == ChatSettings()


def test_chat_context_bad_model_fails_in_the_construct() -> None:
    settings = ChatSettings.from_context({"models": [{"alias": "m", "model_id": "nope"}]})
    from stacks import ChatStack

    with pytest.raises(PropsValidationError, match="model alias 'm': model_id 'nope' is not a Bedrock model ID"):
        ChatStack(cdk.App(), "Chat", settings=settings)
