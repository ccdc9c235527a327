"""Guardrails, prompt caching and fallback, through the openai SDK against the real server, Bedrock at the wire.

Shapes from botocore bedrock-runtime 2023-09-30 service-2.json: ``GuardrailConfiguration`` (Converse) and
``GuardrailStreamConfiguration`` (ConverseStream, with ``streamProcessingMode``), ``CachePointBlock`` in
``SystemContentBlock`` and ``Tool``, ``TokenUsage.cacheReadInputTokens``/``cacheWriteInputTokens``, and
``StopReason`` ``guardrail_intervened``.
"""

from __future__ import annotations

import openai
import pytest

from bedrock_standin import GUARDRAIL_BLOCKED, Behaviour
from gateway_harness import LineSink, OutputLines, make_gateway

GUARDRAIL_ARN = "arn:aws:bedrock:us-east-1:123456789012:guardrail/abcd1234efgh"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
GUARDED = {"identifier": GUARDRAIL_ARN, "version": "3", "trace": "disabled", "streamProcessingMode": "sync"}
CONFIG = {
    "models": [
        {
            "alias": "guarded",
            "target": {"type": "bedrock", "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
            "maxTokensCap": 4096,
            "defaultMaxTokens": 1024,
            "guardrail": GUARDED,
            "fallback": ["guarded-backup"],
        },
        {
            "alias": "guarded-backup",
            "target": {"type": "bedrock", "modelId": "amazon.nova-lite-v1:0"},
            "maxTokensCap": 512,
            "defaultMaxTokens": 256,
            "guardrail": GUARDED,
        },
        {
            "alias": "cached",
            "target": {"type": "bedrock", "modelId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
            "maxTokensCap": 4096,
            "defaultMaxTokens": 1024,
            "promptCaching": True,
        },
        {
            "alias": "plain",
            "target": {"type": "bedrock", "modelId": "amazon.nova-micro-v1:0"},
            "maxTokensCap": 1024,
            "defaultMaxTokens": 512,
            "fallback": ["plain-backup-1", "plain-backup-2"],
        },
        {
            "alias": "profiled",
            "target": {"type": "bedrock", "modelId": PROFILE_ARN},
            "maxTokensCap": 1024,
            "defaultMaxTokens": 256,
        },
        {
            "alias": "plain-backup-1",
            "target": {"type": "bedrock", "modelId": "amazon.nova-lite-v1:0"},
            "maxTokensCap": 1024,
        },
        {
            "alias": "plain-backup-2",
            "target": {"type": "bedrock", "modelId": "amazon.nova-pro-v1:0"},
            "maxTokensCap": 1024,
        },
    ],
    "metricsNamespace": "Test/Governance",
    "serviceName": "test-governance",
}
USER = [{"role": "user", "content": "hi"}]
SINK = LineSink()


@pytest.fixture(scope="module")
def governance_server(standin_server):
    with pytest.MonkeyPatch.context() as mp:
        srv = make_gateway(standin_server, CONFIG, mp, stream=SINK)
        yield srv
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def client(governance_server, standin):
    host, port = governance_server.server_address[:2]
    SINK.take()
    with openai.OpenAI(base_url=f"http://{host}:{port}/v1", api_key="x", max_retries=0, timeout=10) as c:
        yield c


@pytest.fixture
def lines():
    return OutputLines(SINK.take)


def _metric_docs(lines: OutputLines, name: str) -> list[dict]:
    """EMF documents carrying metric ``name``, single-value lists (Powertools' rendering) unwrapped."""
    docs = lines.wait_for(
        lambda d: "_aws" in d and any(m["Name"] == name for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"])
    )
    return [{k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in d.items()} for d in docs]


# --------------------------------------------------------------------------- guardrails


@pytest.mark.parametrize("stream", [False, True])
def test_every_call_of_a_guarded_alias_carries_its_guardrail(client, standin, stream):
    resp = client.chat.completions.create(model="guarded", messages=USER, stream=stream)
    list(resp) if stream else None
    (req,) = standin.requests
    expected = {"guardrailIdentifier": GUARDRAIL_ARN, "guardrailVersion": "3", "trace": "disabled"}
    if stream:  # GuardrailStreamConfiguration adds streamProcessingMode
        expected["streamProcessingMode"] = "sync"
    assert req.body["guardrailConfig"] == expected


def test_an_unguarded_alias_sends_no_guardrail(client, standin):
    client.chat.completions.create(model="plain", messages=USER)
    assert "guardrailConfig" not in standin.requests[0].body


def test_blocked_content_is_a_content_filter_finish_and_a_metric(client, standin, lines):
    standin.script(Behaviour(guardrail_intervenes=True))
    resp = client.chat.completions.create(model="guarded", messages=USER)
    assert resp.choices[0].finish_reason == "content_filter"
    assert resp.choices[0].message.content == GUARDRAIL_BLOCKED
    (doc,) = _metric_docs(lines, "GuardrailIntervened")
    assert doc["GuardrailIntervened"] == 1 and doc["ModelAlias"] == "guarded"


def test_blocked_stream_ends_with_content_filter(client, standin, lines):
    standin.script(Behaviour(guardrail_intervenes=True))
    chunks = list(client.chat.completions.create(model="guarded", messages=USER, stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "content_filter"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == GUARDRAIL_BLOCKED
    assert _metric_docs(lines, "GuardrailIntervened")[0]["GuardrailIntervened"] == 1


def test_passing_content_counts_zero_interventions(client, standin, lines):
    client.chat.completions.create(model="guarded", messages=USER)
    assert _metric_docs(lines, "GuardrailIntervened")[0]["GuardrailIntervened"] == 0


# --------------------------------------------------------------------------- prompt caching


TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]


def test_cache_points_follow_the_system_prompt_and_the_tools(client, standin):
    client.chat.completions.create(
        model="cached", messages=[{"role": "system", "content": "You are terse."}, *USER], tools=TOOLS
    )
    body = standin.requests[0].body
    assert body["system"] == [{"text": "You are terse."}, {"cachePoint": {"type": "default"}}]
    assert body["toolConfig"]["tools"][-1] == {"cachePoint": {"type": "default"}}
    assert [t["toolSpec"]["name"] for t in body["toolConfig"]["tools"][:-1]] == ["lookup"]


def test_no_cache_points_on_an_alias_without_caching(client, standin):
    client.chat.completions.create(model="plain", messages=[{"role": "system", "content": "x"}, *USER], tools=TOOLS)
    body = standin.requests[0].body
    assert "cachePoint" not in str(body)


@pytest.mark.parametrize("stream", [False, True])
def test_cache_tokens_are_reported_in_openai_usage(client, standin, lines, stream):
    standin.script(Behaviour(input_tokens=20, output_tokens=4, cache_read_tokens=1500, cache_write_tokens=30))
    kwargs = {"stream_options": {"include_usage": True}} if stream else {}
    resp = client.chat.completions.create(
        model="cached", messages=[{"role": "system", "content": "long"}, *USER], stream=stream, **kwargs
    )
    usage = [c for c in resp][-1].usage if stream else resp.usage
    # OpenAI's prompt_tokens includes cached tokens; Bedrock reports them apart from inputTokens.
    assert usage.prompt_tokens == 20 + 1500 + 30 and usage.completion_tokens == 4
    assert usage.total_tokens == 1554
    assert usage.prompt_tokens_details.cached_tokens == 1500
    assert usage.prompt_tokens_details.cache_write_tokens == 30  # a field of the SDK's PromptTokensDetails
    doc = _metric_docs(lines, "CacheReadInputTokens")[0]
    assert doc["CacheReadInputTokens"] == 1500 and doc["CacheWriteInputTokens"] == 30 and doc["InputTokens"] == 20


# --------------------------------------------------------------------------- fallback


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "error", ["ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException", "ModelTimeoutException"]
)
def test_a_failing_first_target_falls_back_to_the_next_alias(client, standin, lines, error, stream):
    standin.script(Behaviour(error=error), Behaviour(chunks=["from ", "backup"]))
    resp = client.chat.completions.create(model="plain", messages=USER, stream=stream)
    text = (
        "".join(c.choices[0].delta.content or "" for c in resp if c.choices)
        if stream
        else resp.choices[0].message.content
    )
    assert text == "from backup"
    assert [r.model_id for r in standin.requests] == ["amazon.nova-micro-v1:0", "amazon.nova-lite-v1:0"]
    (doc,) = _metric_docs(lines, "Fallback")
    assert doc["ModelAlias"] == "plain" and doc["FallbackReason"] == error and doc["Fallback"] == 1
    (log,) = lines.wait_for(lambda d: d.get("message") == "request")
    assert log["served_by"] == "plain-backup-1" and log["fallbacks"] == [{"alias": "plain", "reason": error}]


def test_fallback_goes_down_the_list_in_order(client, standin):
    standin.script(Behaviour(error="ThrottlingException"), Behaviour(error="ThrottlingException"), Behaviour())
    resp = client.chat.completions.create(model="plain", messages=USER)
    assert resp.choices[0].message.content == "Hello, world!" and resp.model == "plain-backup-2"
    assert [r.model_id for r in standin.requests] == [
        "amazon.nova-micro-v1:0",
        "amazon.nova-lite-v1:0",
        "amazon.nova-pro-v1:0",
    ]


def test_the_last_error_is_returned_when_every_target_fails(client, standin):
    standin.script(*[Behaviour(error="ThrottlingException")] * 3)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="plain", messages=USER)
    assert len(standin.requests) == 3


def test_a_throttle_after_the_first_chunk_is_not_retried(client, standin):
    standin.script(Behaviour(stream_exception="throttlingException", exception_after=1))
    got: list[str] = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(model="plain", messages=USER, stream=True):
            if chunk.choices:
                got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "Hello" and len(standin.requests) == 1  # no second model after bytes were sent


@pytest.mark.parametrize("error", ["ValidationException", "AccessDeniedException"])
def test_client_and_deployment_errors_do_not_fall_back(client, standin, error):
    standin.script(Behaviour(error=error, error_message="temperature must be <= 1"))
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="plain", messages=USER)
    assert len(standin.requests) == 1


def test_the_fallback_alias_applies_its_own_cap_and_guardrail(client, standin):
    standin.script(Behaviour(error="ThrottlingException"), Behaviour())
    client.chat.completions.create(model="guarded", messages=USER, max_tokens=4000)
    first, second = standin.requests
    assert first.body["inferenceConfig"]["maxTokens"] == 4000
    assert second.body["inferenceConfig"]["maxTokens"] == 512  # guarded-backup's cap
    assert second.body["guardrailConfig"]["guardrailIdentifier"] == GUARDRAIL_ARN


# --------------------------------------------------------------------------- application inference profiles


@pytest.mark.parametrize("stream", [False, True])
def test_an_alias_with_a_profile_calls_converse_with_the_profile_arn(client, standin, stream):
    resp = client.chat.completions.create(model="profiled", messages=USER, stream=stream)
    list(resp) if stream else None
    assert standin.requests[0].model_id == PROFILE_ARN  # botocore sends it URL-encoded in the path


# --------------------------------------------------------------------------- GATEWAY_CONFIG contract


def _config_with(**entry):
    base = {"alias": "x", "target": {"type": "bedrock", "modelId": "amazon.nova-micro-v1:0"}, "maxTokensCap": 64}
    return {"models": [{**base, **entry}, {**base, "alias": "y"}]}


@pytest.mark.parametrize(
    "entry, fragment",
    [
        ({"guardrail": {"identifier": "Bad Id", "version": "1"}}, "guardrail ID or ARN"),
        ({"guardrail": {"identifier": "abc123", "version": "v1"}}, "a number or DRAFT"),
        ({"guardrail": {"identifier": "abc123", "version": "1", "trace": "on"}}, "'models[0].guardrail.trace'"),
        ({"guardrail": {"identifier": "abc123", "version": "1", "mode": "sync"}}, "unknown key(s) ['mode']"),
        ({"promptCaching": "yes"}, "'models[0].promptCaching' must be a boolean"),
        ({"fallback": ["nope"]}, "fallback of 'x' names ['nope']"),
        ({"fallback": ["x"]}, "fallback of 'x' names ['x']"),
    ],
)
def test_invalid_governance_config_fails_start_up(entry, fragment):
    from config import ConfigError, parse_config

    with pytest.raises(ConfigError) as info:
        parse_config(_config_with(**entry))
    assert fragment in str(info.value)


def test_governance_config_is_parsed():
    from config import Guardrail, parse_config

    parsed = parse_config(
        _config_with(guardrail={"identifier": GUARDRAIL_ARN, "version": "2"}, promptCaching=True, fallback=["y"])
    )
    model = parsed.model("x")
    assert model.guardrail == Guardrail(GUARDRAIL_ARN, "2", "disabled", "sync")
    assert model.prompt_caching is True and model.fallback == ("y",)
