"""Unit tests: configuration, OpenAI request validation and Bedrock translation."""

from __future__ import annotations

import copy
import json

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

import bedrock
import openai_compat
from config import ConfigError, load_config, parse_config
from errors import GatewayError
from gateway_harness import TEST_CONFIG

CONFIG = parse_config(TEST_CONFIG)
USER = [{"role": "user", "content": "hi"}]


def parse(**body):
    return openai_compat.parse_chat_request(body, CONFIG)


# --------------------------------------------------------------------------- config


def test_config_parses_contract():
    cfg = load_config({"GATEWAY_CONFIG": json.dumps(TEST_CONFIG)})
    fast = cfg.model("chat-fast")
    assert fast.target.type == "bedrock"
    assert fast.target.model_id == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert (fast.max_tokens_cap, fast.default_max_tokens) == (4096, 1024)
    assert cfg.limits.max_messages == 8 and cfg.limits.max_request_bytes == 16384
    assert cfg.log_content is False
    assert (cfg.metrics_namespace, cfg.service_name) == ("Test/Gateway", "test-gateway")
    assert cfg.model("nope") is None


def test_config_missing_env_is_a_clear_error():
    with pytest.raises(ConfigError, match="GATEWAY_CONFIG is not set"):
        load_config({})


def test_config_unknown_target_type_fails_at_startup():
    raw = copy.deepcopy(TEST_CONFIG)
    raw["models"][0]["target"] = {"type": "vertex", "endpointName": "x"}
    with pytest.raises(ConfigError, match="unsupported target.type 'vertex'.*bedrock, sagemaker"):
        parse_config(raw)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c.pop("models"), "missing required key 'models'"),
        (lambda c: c.update(models=[]), "at least one model"),
        (lambda c: c["models"][0].pop("alias"), "models\\[0\\].alias"),
        (lambda c: c["models"][0]["target"].pop("modelId"), "target.modelId"),
        (lambda c: c["models"][0].update(maxTokensCap=0), "positive integer"),
        (lambda c: c["models"].append(copy.deepcopy(c["models"][0])), "duplicate model alias"),
        (lambda c: c.update(logContent="yes"), "logContent"),
    ],
)
def test_config_rejects_invalid_documents(mutate, message):
    raw = copy.deepcopy(TEST_CONFIG)
    mutate(raw)
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_config_rejects_non_json():
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config({"GATEWAY_CONFIG": "{nope"})


# --------------------------------------------------------------------------- validation

LONG = "x" * 1001  # two of these exceed maxTotalChars=2000


@pytest.mark.parametrize(
    "body, status, etype, param, code",
    [
        ([], 400, "invalid_request_error", None, "invalid_json"),
        ("text", 400, "invalid_request_error", None, "invalid_json"),
        ({"messages": USER}, 400, "invalid_request_error", "model", "missing_required_parameter"),
        ({"model": 7, "messages": USER}, 400, "invalid_request_error", "model", "invalid_type"),
        ({"model": "gpt-4o", "messages": USER}, 404, "invalid_request_error", "model", "model_not_found"),
        ({"model": "chat-fast"}, 400, "invalid_request_error", "messages", "missing_required_parameter"),
        ({"model": "chat-fast", "messages": "hi"}, 400, "invalid_request_error", "messages", "invalid_type"),
        ({"model": "chat-fast", "messages": []}, 400, "invalid_request_error", "messages", "empty_array"),
        ({"model": "chat-fast", "messages": USER * 9}, 400, "invalid_request_error", "messages", "too_many_messages"),
        ({"model": "chat-fast", "messages": ["hi"]}, 400, "invalid_request_error", "messages[0]", "invalid_type"),
        (
            {"model": "chat-fast", "messages": [{"role": "tool", "content": "x"}]},
            400,
            "invalid_request_error",
            "messages[0].tool_call_id",
            "missing_required_parameter",
        ),
        (
            {"model": "chat-fast", "messages": [{"role": "function", "content": "x"}]},
            400,
            "invalid_request_error",
            "messages[0].role",
            "invalid_value",
        ),
        (
            {"model": "chat-fast", "messages": [{"role": "user"}]},
            400,
            "invalid_request_error",
            "messages[0].content",
            "missing_required_parameter",
        ),
        (
            {"model": "chat-fast", "messages": [{"role": "user", "content": "  "}]},
            400,
            "invalid_request_error",
            "messages[0].content",
            "empty_content",
        ),
        (
            {"model": "chat-fast", "messages": [{"role": "user", "content": 5}]},
            400,
            "invalid_request_error",
            "messages[0].content",
            "invalid_type",
        ),
        (
            {
                "model": "chat-fast",
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}],
            },
            400,
            "invalid_request_error",
            "messages[0].content[0].image_url.url",
            "image_url_not_allowed",
        ),
        (
            {
                "model": "chat-fast",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}],
                    }
                ],
            },
            400,
            "invalid_request_error",
            "messages[0].content[0].type",
            "unsupported_parameter",
        ),
        (
            {"model": "chat-fast", "messages": [{"role": "user", "content": "x", "tool_calls": []}]},
            400,
            "invalid_request_error",
            "messages[0].tool_calls",
            "unsupported_parameter",
        ),
        (
            {"model": "chat-fast", "messages": [{"role": "assistant", "content": "x"}]},
            400,
            "invalid_request_error",
            "messages[0].role",
            "invalid_value",
        ),
        (
            {"model": "chat-fast", "messages": [{"role": "system", "content": "x"}]},
            400,
            "invalid_request_error",
            "messages",
            "invalid_value",
        ),
        (
            {"model": "chat-fast", "messages": [{"role": "user", "content": LONG}, {"role": "user", "content": LONG}]},
            413,
            "invalid_request_error",
            "messages",
            "request_too_large",
        ),
        (
            {"model": "chat-fast", "messages": USER, "max_tokens": 0},
            400,
            "invalid_request_error",
            "max_tokens",
            "invalid_value",
        ),
        (
            {"model": "chat-fast", "messages": USER, "max_tokens": "10"},
            400,
            "invalid_request_error",
            "max_tokens",
            "invalid_type",
        ),
        (
            {"model": "chat-fast", "messages": USER, "max_tokens": 10, "max_completion_tokens": 20},
            400,
            "invalid_request_error",
            "max_completion_tokens",
            "invalid_value",
        ),
        (
            {"model": "chat-fast", "messages": USER, "temperature": 2.5},
            400,
            "invalid_request_error",
            "temperature",
            "invalid_value",
        ),
        (
            {"model": "chat-fast", "messages": USER, "temperature": True},
            400,
            "invalid_request_error",
            "temperature",
            "invalid_type",
        ),
        (
            {"model": "chat-fast", "messages": USER, "top_p": 1.5},
            400,
            "invalid_request_error",
            "top_p",
            "invalid_value",
        ),
        (
            {"model": "chat-fast", "messages": USER, "stop": ["a", "b", "c", "d", "e"]},
            400,
            "invalid_request_error",
            "stop",
            "invalid_value",
        ),
        ({"model": "chat-fast", "messages": USER, "stop": [""]}, 400, "invalid_request_error", "stop", "invalid_value"),
        ({"model": "chat-fast", "messages": USER, "n": 2}, 400, "invalid_request_error", "n", "unsupported_parameter"),
        (
            {"model": "chat-fast", "messages": USER, "stream": "yes"},
            400,
            "invalid_request_error",
            "stream",
            "invalid_type",
        ),
        (
            {"model": "chat-fast", "messages": USER, "stream_options": {"include_usage": True}},
            400,
            "invalid_request_error",
            "stream_options",
            "invalid_value",
        ),
        ({"model": "chat-fast", "messages": USER, "user": 5}, 400, "invalid_request_error", "user", "invalid_type"),
        (
            {"model": "chat-fast", "messages": USER, "tools": [{"type": "function"}]},
            400,
            "invalid_request_error",
            "tools[0].function",
            "missing_required_parameter",
        ),
        (
            {"model": "chat-fast", "messages": USER, "response_format": {"type": "grammar"}},
            400,
            "invalid_request_error",
            "response_format.type",
            "invalid_value",
        ),
        ({"model": "chat-fast", "messages": USER, "seed": "1"}, 400, "invalid_request_error", "seed", "invalid_type"),
        (
            {"model": "chat-fast", "messages": USER, "top_logprobs": 2},
            400,
            "invalid_request_error",
            "top_logprobs",
            "unsupported_parameter",
        ),
        (
            {"model": "chat-fast", "messages": USER, "service_tier": "flex"},
            400,
            "invalid_request_error",
            "service_tier",
            "unsupported_parameter",
        ),
        (
            {"model": "chat-fast", "messages": USER, "store": True},
            400,
            "invalid_request_error",
            "store",
            "unsupported_parameter",
        ),
        (
            {"model": "chat-fast", "messages": USER, "logit_bias": {"1": 2}},
            400,
            "invalid_request_error",
            "logit_bias",
            "unsupported_parameter",
        ),
        (
            {"model": "chat-fast", "messages": USER, "frequency_penalty": 0.5},
            400,
            "invalid_request_error",
            "frequency_penalty",
            "unsupported_parameter",
        ),
        (
            {"model": "chat-fast", "messages": USER, "logprobs": True},
            400,
            "invalid_request_error",
            "logprobs",
            "unsupported_parameter",
        ),
    ],
)
def test_invalid_requests_are_rejected_in_openai_shape(body, status, etype, param, code):
    with pytest.raises(GatewayError) as info:
        openai_compat.parse_chat_request(body, CONFIG)
    err = info.value
    assert (err.status, err.type, err.param, err.code) == (status, etype, param, code)
    shape = err.to_dict()
    assert set(shape) == {"error"} and set(shape["error"]) == {"message", "type", "param", "code"}
    assert shape["error"]["message"]


def test_harmless_defaults_and_nulls_are_accepted():
    req = parse(
        model="chat-fast",
        messages=USER,
        n=1,
        frequency_penalty=0,
        presence_penalty=0.0,
        logprobs=False,
        tools=None,
        temperature=None,
        user="u-1",
    )
    assert req.alias == "chat-fast" and req.user == "u-1"
    req = parse(
        model="chat-fast",
        messages=USER,
        top_logprobs=0,
        service_tier="default",
        store=False,
        seed=3,
        metadata={},
        tools=[],
        tool_choice="auto",
        response_format={"type": "text"},
    )
    assert (req.tools, req.tool_choice, req.response_format) == ((), "auto", None)


def test_messages_are_merged_and_system_prompts_collected():
    req = parse(
        model="chat-fast",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "a"},
            {"role": "user", "content": [{"type": "text", "text": "b"}, {"type": "text", "text": "c"}]},
            {"role": "developer", "content": "no jokes"},
            {"role": "assistant", "content": "d"},
            {"role": "assistant", "content": "e"},
            {"role": "user", "content": "f", "name": "bob"},
        ],
    )
    assert req.system == ("be brief", "no jokes")
    assert [(m.role, m.text) for m in req.messages] == [("user", "a\n\nbc"), ("assistant", "d\n\ne"), ("user", "f")]
    assert req.total_chars == len("be brief" + "a" + "bc" + "no jokes" + "de" + "f")


@pytest.mark.parametrize(
    "alias, fields, expected",
    [
        ("chat-fast", {}, 1024),  # defaultMaxTokens
        ("chat-fast", {"max_tokens": 100}, 100),
        ("chat-fast", {"max_completion_tokens": 100}, 100),
        ("chat-fast", {"max_tokens": 50, "max_completion_tokens": 50}, 50),
        ("chat-fast", {"max_tokens": 100000}, 4096),  # capped
        ("chat-small", {}, 128),
        ("chat-small", {"max_completion_tokens": 1000}, 256),  # capped
    ],
)
def test_max_tokens_default_and_cap(alias, fields, expected):
    assert parse(model=alias, messages=USER, **fields).max_tokens == expected


def test_stream_flags_and_sampling_parameters():
    req = parse(
        model="chat-fast",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
        temperature=1.5,
        top_p=0.9,
        stop="END",
    )
    assert (req.stream, req.include_usage) == (True, True)
    assert (req.temperature, req.top_p, req.stop) == (1.5, 0.9, ("END",))


# --------------------------------------------------------------------------- responses


@pytest.mark.parametrize(
    "stop_reason, finish",
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("tool_use", "tool_calls"),
        ("malformed_model_output", "stop"),
        (None, "stop"),
    ],
)
def test_finish_reason_mapping(stop_reason, finish):
    assert openai_compat.finish_reason(stop_reason) == finish


def test_completion_shape():
    c = openai_compat.completion("chat-fast", "hi", "max_tokens", 3, 2)
    assert c["id"].startswith("chatcmpl-") and c["object"] == "chat.completion"
    assert c["model"] == "chat-fast"
    assert c["choices"][0]["message"] == {"role": "assistant", "content": "hi"}
    assert c["choices"][0]["finish_reason"] == "length"
    assert c["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


@pytest.mark.parametrize("include_usage", [False, True])
def test_chunk_shapes(include_usage):
    b = openai_compat.ChunkBuilder("chat-fast", include_usage)
    chunks = [b.role(), b.content("x"), b.finish("end_turn")]
    assert {c["id"] for c in chunks} == {b.id}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[1]["choices"][0]["delta"] == {"content": "x"}
    assert chunks[2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    if include_usage:
        assert all(c["usage"] is None for c in chunks)
        u = b.usage(1, 2)
        assert u["choices"] == [] and u["usage"]["total_tokens"] == 3
    else:
        assert all("usage" not in c for c in chunks)


# --------------------------------------------------------------------------- bedrock


def test_converse_params():
    req = parse(
        model="chat-fast",
        max_tokens=99999,
        temperature=0.2,
        top_p=0.5,
        stop=["X"],
        messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}],
    )
    assert bedrock.converse_params(req) == {
        "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "messages": [{"role": "user", "content": [{"text": "q"}]}],
        "system": [{"text": "sys"}],
        "inferenceConfig": {"maxTokens": 4096, "temperature": 0.2, "topP": 0.5, "stopSequences": ["X"]},
    }


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "upstream says no"}}, "Converse")


@pytest.mark.parametrize(
    "exc, status, etype, retry_after",
    [
        (_client_error("ThrottlingException"), 429, "rate_limit_exceeded", 2),
        (_client_error("ServiceQuotaExceededException"), 429, "rate_limit_exceeded", 2),
        (_client_error("throttlingException"), 429, "rate_limit_exceeded", 2),  # in-stream spelling
        (_client_error("ValidationException"), 400, "invalid_request_error", None),
        (_client_error("AccessDeniedException"), 502, "api_error", None),
        (_client_error("ResourceNotFoundException"), 502, "api_error", None),
        (_client_error("ModelNotReadyException"), 503, "service_unavailable", 5),
        (_client_error("ServiceUnavailableException"), 503, "service_unavailable", 5),
        (_client_error("ModelTimeoutException"), 504, "timeout", None),
        (_client_error("InternalServerException"), 502, "api_error", None),
        (_client_error("ModelErrorException"), 502, "api_error", None),
        (_client_error("modelStreamErrorException"), 502, "api_error", None),
        (ReadTimeoutError(endpoint_url="http://x"), 504, "timeout", None),
        (EndpointConnectionError(endpoint_url="http://x"), 502, "api_error", None),
    ],
)
def test_bedrock_error_mapping(exc, status, etype, retry_after):
    err = bedrock.map_error(exc, "model-x")
    assert (err.status, err.type, err.retry_after) == (status, etype, retry_after)


def test_access_denied_message_blames_deployment():
    err = bedrock.map_error(_client_error("AccessDeniedException"), "model-x")
    assert "IAM role" in err.message and "model-x" in err.message and "deployment" in err.message
