"""End-to-end tests of SageMaker aliases: the real gateway server driven by the official OpenAI SDK.

SageMaker Runtime is replaced at the wire by ``sagemaker_standin.py`` (reached
through ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``), which plays both the service
(REST-JSON, event streams, errors) and an OpenAI-style LLM container.
"""

from __future__ import annotations

import json

import openai
import pytest

from gateway_harness import SINK, TEST_CONFIG, make_gateway
from sagemaker_standin import NO_CAPACITY_MESSAGE, STREAM_TIMEOUT_MESSAGE, Behaviour, generation_failure
from test_gateway_http import assert_openai_error, raw, stream_frames

USER = [{"role": "user", "content": "Say hello"}]


def _stream_frames(gateway: str) -> list[str]:
    return stream_frames(gateway, model="sm-chat")


def _text(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# --------------------------------------------------------------------------- happy paths


def test_non_streaming_completion(client, sagemaker, standin):
    resp = client.chat.completions.create(
        model="sm-chat",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": "no jokes"},
            *USER,
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "Again"},
        ],
        temperature=0.3,
        top_p=0.9,
        stop=["END"],
        max_tokens=100000,
    )
    assert resp.object == "chat.completion" and resp.model == "sm-chat"
    assert resp.choices[0].message.content == "Hello, world!"
    assert resp.choices[0].finish_reason == "stop"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (9, 4, 13)
    assert "citations" not in (resp.model_extra or {})  # no retrieval on this alias
    (req,) = sagemaker.requests
    assert (req.operation, req.endpoint_name, req.inference_component) == ("invocations", "llm-endpoint", None)
    assert req.headers["Content-Type"] == "application/json" and req.headers["Accept"] == "application/json"
    assert req.headers["Authorization"].startswith("AWS4-HMAC-SHA256")
    assert "/sagemaker/aws4_request" in req.headers["Authorization"]
    assert req.body == {
        "messages": [
            {"role": "system", "content": "be brief\n\nno jokes"},
            {"role": "user", "content": "Say hello"},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "Again"},
        ],
        "max_tokens": 2048,  # capped by maxTokensCap
        "temperature": 0.3,
        "top_p": 0.9,
        "stop": ["END"],
        "stream": False,
    }
    assert standin.requests == []  # Bedrock untouched


@pytest.mark.parametrize("alias", ["sm-vllm", "sm-lmi-async", "sm-tgi"])
def test_streaming_with_usage(client, sagemaker, alias):
    """vLLM, LMI async and TGI honour stream_options.include_usage: their usage chunk is passed on."""
    sagemaker.script(
        Behaviour(chunks=["Hel", "lo", " there"], finish_reason="length", prompt_tokens=7, completion_tokens=3)
    )
    chunks = list(
        client.chat.completions.create(model=alias, messages=USER, stream=True, stream_options={"include_usage": True})
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert _text(chunks) == "Hello there"
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 10
    assert "token_source" not in (chunks[-1].usage.model_extra or {})  # reported by the container
    assert len({c.id for c in chunks}) == 1
    (req,) = sagemaker.requests
    assert req.operation == "invocations-response-stream"
    assert req.body["stream"] is True and req.body["stream_options"] == {"include_usage": True}
    assert req.headers["X-Amzn-SageMaker-Accept"] == "application/json"


def test_lmi_rolling_batch_stream_counts_tokens(client, sagemaker, telemetry_lines):
    """LMI rolling batch streams one JSON line per token and no usage (djl-serving 0.34
    output_formatter.py _jsonlines_chat_output_formatter): completion tokens are counted, prompt
    tokens estimated, and both are flagged (the old gateway answered 0/0)."""
    sagemaker.script(Behaviour(chunks=["Hel", "lo", " there"], finish_reason="length"))
    chunks = list(
        client.chat.completions.create(
            model="sm-lmi", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    assert _text(chunks) == "Hello there"
    usage = chunks[-1].usage
    # "Say hello" is 9 characters: ceil(9 / 4) = 3 estimated prompt tokens; 3 token lines counted.
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 3, 6)
    assert usage.model_extra["token_source"] == {"prompt_tokens": "estimated", "completion_tokens": "counted"}
    (log,) = telemetry_lines.wait_for(lambda d: d.get("message") == "request")
    assert (log["input_tokens"], log["output_tokens"]) == (3, 3)
    assert (log["input_tokens_source"], log["output_tokens_source"]) == ("estimated", "counted")
    (emf,) = telemetry_lines.wait_for(lambda d: "_aws" in d and "Requests" in d)
    # Counted tokens stay in OutputTokens; estimated ones go to their own metric, not InputTokens.
    assert (emf["InputTokens"], emf["OutputTokens"], emf["EstimatedInputTokens"]) == ([0.0], [3.0], [3.0])
    assert emf["EstimatedOutputTokens"] == [0.0]


def test_reported_usage_is_not_flagged(client, sagemaker, telemetry_lines):
    client.chat.completions.create(model="sm-lmi", messages=USER)  # LMI reports usage when not streaming
    (log,) = telemetry_lines.wait_for(lambda d: d.get("message") == "request")
    assert (log["input_tokens_source"], log["output_tokens_source"]) == ("reported", "reported")
    (emf,) = telemetry_lines.wait_for(lambda d: "_aws" in d and "Requests" in d)
    assert "EstimatedInputTokens" not in emf and emf["InputTokens"] == [9.0]


def test_stream_options_always_requested_upstream(gateway, sagemaker, telemetry_lines):
    """Usage is asked for upstream even when the client does not want it (telemetry needs it)."""
    frames = _stream_frames(gateway)
    assert frames[-1] == "data: [DONE]"
    payloads = [json.loads(f[6:]) for f in frames[:-1]]
    assert all("usage" not in p for p in payloads)
    assert sagemaker.requests[0].body["stream_options"] == {"include_usage": True}
    (log,) = telemetry_lines.wait_for(lambda d: d.get("message") == "request")
    assert (log["input_tokens"], log["output_tokens"]) == (9, 4)


@pytest.mark.parametrize("part_size", [1, 2, 3, 5, 7, 64])
@pytest.mark.parametrize(
    "alias, total_tokens",
    [
        ("sm-vllm", 13),
        ("sm-lmi-async", 13),
        ("sm-tgi", 13),
        ("sm-lmi", 3 + 6),  # no usage: 3 estimated prompt tokens + 6 counted token lines
    ],
)
def test_fragments_split_across_payload_parts(client, sagemaker, part_size, alias, total_tokens):
    """PayloadParts cut lines (and multi-byte UTF-8 characters) at arbitrary offsets."""
    pieces = ["Grüße", ", ", "日本語", " 🚀", "\nnew line", " {json} data: [DONE]"]
    sagemaker.script(Behaviour(chunks=pieces, part_size=part_size, finish_reason="length"))
    chunks = list(
        client.chat.completions.create(model=alias, messages=USER, stream=True, stream_options={"include_usage": True})
    )
    assert _text(chunks) == "".join(pieces)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.total_tokens == total_tokens


@pytest.mark.parametrize(
    "lines, text",
    [
        # SSE with comments, event/id fields, CRLF endings and no space after "data:".
        (
            [
                b": keep-alive\r\n\r\n",
                b"event: message\r\nid: 1\r\n",
                b'data:{"choices":[{"index":0,"delta":{"content":"a"}}]}\r\n\r\n',
                b'data: {"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"stop"}]}\n\n',
                b"data: [DONE]\n\n",
                b'data: {"choices":[{"index":0,"delta":{"content":"ignored"}}]}\n\n',
            ],
            "ab",
        ),
        # JSON lines without a trailing newline at the very end.
        (
            [
                b'{"choices":[{"index":0,"delta":{"content":"x"}}]}\n',
                b'{"choices":[{"index":0,"delta":{"content":"y"},"finish_reason":"eos_token"}]}',
            ],
            "xy",
        ),
    ],
)
def test_stream_line_variants(client, sagemaker, lines, text):
    sagemaker.script(Behaviour(lines=lines))
    chunks = list(client.chat.completions.create(model="sm-chat", messages=USER, stream=True))
    assert _text(chunks) == text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_missing_usage_is_estimated_and_flagged(client, sagemaker):
    """A container that reports no usage: estimated (4 characters per token) or counted, and flagged."""
    sagemaker.script(Behaviour(send_usage=False), Behaviour(send_usage=False))
    resp = client.chat.completions.create(model="sm-chat", messages=USER)
    assert resp.choices[0].message.content == "Hello, world!"
    # ceil(len("Say hello") / 4) = 3, ceil(len("Hello, world!") / 4) = 4
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (3, 4)
    assert resp.usage.model_extra["token_source"] == {"prompt_tokens": "estimated", "completion_tokens": "estimated"}
    chunks = list(
        client.chat.completions.create(
            model="sm-chat", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (3, 4)  # 4 text chunks
    assert chunks[-1].usage.model_extra["token_source"] == {
        "prompt_tokens": "estimated",
        "completion_tokens": "counted",
    }


@pytest.mark.parametrize(
    "finish, expected",
    [
        ("stop", "stop"),
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("eos_token", "stop"),
        ("stop_sequence", "stop"),
        (None, "stop"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_finish_reasons_round_trip(client, sagemaker, finish, expected, stream):
    sagemaker.script(Behaviour(finish_reason=finish))
    result = client.chat.completions.create(model="sm-chat", messages=USER, stream=stream)
    if stream:
        finals = [c.choices[0].finish_reason for c in result if c.choices and c.choices[0].finish_reason]
        assert finals == [expected]
    else:
        assert result.choices[0].finish_reason == expected


@pytest.mark.parametrize("alias", ["sm-vllm", "sm-lmi", "sm-lmi-async", "sm-tgi"])
@pytest.mark.parametrize("stream", [False, True])
def test_each_container_ends_with_stop(client, sagemaker, alias, stream):
    """Each kind's own end-of-sequence finish_reason (LMI eos_token, TGI/vLLM stop) is "stop"."""
    result = client.chat.completions.create(model=alias, messages=USER, stream=stream)
    if stream:
        chunks = list(result)
        assert _text(chunks) == "Hello, world!"
        assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    else:
        assert (result.choices[0].message.content, result.choices[0].finish_reason) == ("Hello, world!", "stop")


@pytest.mark.parametrize("finish", ["abort", "error"])
def test_aborted_generation_is_an_error_not_a_stop(client, gateway, sagemaker, finish):
    """vLLM's "abort" (passed through by LMI) and LMI's "error" mean the answer is incomplete
    (djl-serving rolling_batch_vllm_utils.py FINISH_REASON_MAPPER, rolling_batch.py): a retryable
    502, never finish_reason "stop" (the old gateway said "stop")."""
    sagemaker.script(Behaviour(finish_reason=finish))
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="sm-lmi", messages=USER)
    assert info.value.status_code == 502 and info.value.body["code"] == "upstream_model_error"
    assert f"finish_reason '{finish}'" in info.value.message
    sagemaker.script(Behaviour(finish_reason=finish))
    frames = stream_frames(gateway, model="sm-lmi")
    assert "data: [DONE]" not in frames
    texts = [json.loads(f[6:])["choices"][0]["delta"].get("content") for f in frames[:-1]]
    assert "".join(texts) == "Hello, world!"
    assert_openai_error(json.loads(frames[-1][6:]), etype="api_error", code="upstream_model_error")


# --------------------------------------------------------------------------- per-container requests


@pytest.mark.parametrize("stream", [False, True])
def test_tgi_top_p_one_is_left_out(client, sagemaker, stream):
    """TGI rejects top_p >= 1.0 (router/src/validation.rs); 1 means no nucleus filtering, TGI's default."""
    result = client.chat.completions.create(model="sm-tgi", messages=USER, top_p=1, stream=stream)
    text = _text(result) if stream else result.choices[0].message.content
    assert text == "Hello, world!"
    assert "top_p" not in sagemaker.requests[0].body
    client.chat.completions.create(model="sm-tgi", messages=USER, top_p=0.9)
    assert sagemaker.requests[1].body["top_p"] == 0.9


@pytest.mark.parametrize("alias", ["sm-tgi", "sm-vllm", "sm-lmi", "sm-lmi-async"])
@pytest.mark.parametrize("stream", [False, True])
def test_top_p_zero_is_rejected_before_the_call(client, sagemaker, alias, stream):
    """TGI (validation.rs), vLLM (sampling_params.py) and LMI's vLLM engine reject top_p = 0; LMI says so
    with a 424 (input_parser.py), which is no client error. The gateway answers 400 itself."""
    with pytest.raises(openai.BadRequestError) as info:
        result = client.chat.completions.create(model=alias, messages=USER, top_p=0, stream=stream)
        list(result) if stream else None
    assert (info.value.body["code"], info.value.body["param"]) == ("invalid_value", "top_p")
    assert "temperature" in info.value.message
    assert sagemaker.requests == []


def test_top_p_unchanged_for_an_unknown_container(client, sagemaker):
    client.chat.completions.create(model="sm-chat", messages=USER, top_p=1)
    assert sagemaker.requests[0].body["top_p"] == 1


def test_tgi_in_stream_validation_error_is_a_client_error(gateway, sagemaker):
    """TGI reports a stream's validation errors inside the 200 stream as
    {"error": {"message", "http_status_code": 422}} (infer/mod.rs): a 400, not a 502 "retry"."""
    sagemaker.script(Behaviour(container="tgi"))
    frames = stream_frames(gateway, model="sm-chat", top_p=1)  # unknown kind: top_p=1 reaches TGI
    assert "data: [DONE]" not in frames
    error = json.loads(frames[-1][6:])
    assert_openai_error(error, etype="invalid_request_error", code="invalid_request")
    assert "`top_p` must be > 0.0 and < 1.0" in error["error"]["message"]


def test_body_over_the_invoke_endpoint_limit_is_413(standin, sagemaker, monkeypatch):
    """InvokeEndpoint accepts at most 6291456 bytes (botocore BodyBlob max): 413 before any call."""
    config = json.loads(json.dumps(TEST_CONFIG))
    config["limits"] = {"maxRequestBytes": 10_485_760, "maxTotalChars": 10_000_000}
    srv = make_gateway(standin, config, monkeypatch, stream=SINK, sagemaker=sagemaker)
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        text = "ü" * 3_200_000  # 3.2 M characters, 6.4 MB of UTF-8 once sent to the container
        for stream in (False, True):
            status, _, data = raw(
                base,
                "POST",
                "/v1/chat/completions",
                json.dumps(
                    {"model": "sm-chat", "stream": stream, "messages": [{"role": "user", "content": text}]},
                    ensure_ascii=False,
                ).encode(),
            )
            assert status == 413
            assert_openai_error(data, etype="invalid_request_error", param="messages", code="request_too_large")
            assert "6291456" in data["error"]["message"]
        assert sagemaker.requests == []
    finally:
        srv.shutdown()
        srv.server_close()


# --------------------------------------------------------------------------- adapter routing


@pytest.mark.parametrize("stream", [False, True])
def test_adapters_route_to_their_inference_components(client, sagemaker, stream):
    for alias in ("sm-adapter-a", "sm-adapter-b", "sm-adapter-a", "sm-chat"):
        result = client.chat.completions.create(model=alias, messages=USER, stream=stream)
        if stream:
            list(result)
    assert [(r.endpoint_name, r.inference_component) for r in sagemaker.requests] == [
        ("lora-endpoint", "adapter-a"),
        ("lora-endpoint", "adapter-b"),
        ("lora-endpoint", "adapter-a"),
        ("llm-endpoint", None),
    ]
    assert all(r.body["max_tokens"] == 256 for r in sagemaker.requests[:3])  # per-alias defaults
    assert sagemaker.requests[3].body["max_tokens"] == 512


def test_request_log_uses_endpoint_display_id(client, sagemaker, telemetry_lines):
    client.chat.completions.create(model="sm-adapter-b", messages=USER)
    (log,) = telemetry_lines.wait_for(lambda d: d.get("message") == "request")
    assert log["alias"] == "sm-adapter-b" and log["model_id"] == "lora-endpoint/adapter-b"
    assert (log["status"], log["input_tokens"], log["output_tokens"]) == (200, 9, 4)
    assert log["stop_reason"] == "end_turn"
    assert "retrieval_ms" not in log


# --------------------------------------------------------------------------- upstream faults


@pytest.mark.parametrize(
    "behaviour, status, etype, code, retry_after, message",
    [
        (
            Behaviour(error="ThrottlingException", error_message=None),
            429,
            "rate_limit_exceeded",
            "rate_limit_exceeded",
            "2",
            "Rate limit",
        ),
        (Behaviour(error="ModelNotReadyException"), 503, "service_unavailable", "model_not_ready", "5", None),
        (Behaviour(error="ServiceUnavailable"), 503, "service_unavailable", "service_unavailable", "5", None),
        (
            Behaviour(error="ValidationError", error_message=NO_CAPACITY_MESSAGE),
            503,
            "service_unavailable",
            "model_scaling_up",
            "30",
            "scaling up from zero",
        ),
        (
            Behaviour(
                error="ValidationError", error_message="Endpoint llm-endpoint of account 123456789012 not found."
            ),
            502,
            "api_error",
            "upstream_model_not_found",
            None,
            "deployment problem",
        ),
        (
            Behaviour(error="ValidationError", error_message="Something about the envelope"),
            502,
            "api_error",
            "upstream_rejected",
            None,
            "deployment problem",
        ),
        (Behaviour(error="AccessDeniedException"), 502, "api_error", "upstream_access_denied", None, "IAM role"),
        (Behaviour(error="InternalFailure"), 502, "api_error", "upstream_error", None, None),
        (Behaviour(error="InternalDependencyException"), 502, "api_error", "upstream_error", None, None),
        (
            Behaviour(
                error="ModelError",
                original_status=400,
                original_message=json.dumps(
                    {
                        "object": "error",
                        "type": "BadRequestError",
                        "code": 400,
                        "message": "This model's maximum context length is 4096 "
                        "tokens. However, you requested 5000 tokens.",
                    }
                ),
            ),
            400,
            "invalid_request_error",
            "invalid_request",
            None,
            "maximum context length is 4096",
        ),
        (
            Behaviour(
                error="ModelError",
                original_status=422,
                original_message=json.dumps(
                    {"error": "Input validation error: `inputs` too long", "error_type": "validation"}
                ),
            ),
            400,
            "invalid_request_error",
            "invalid_request",
            None,
            "Input validation error",
        ),
        (
            Behaviour(error="ModelError", original_status=400, original_message="plain text problem"),
            400,
            "invalid_request_error",
            "invalid_request",
            None,
            "plain text problem",
        ),
        (
            Behaviour(error="ModelError", original_status=429, original_message='{"error": "overloaded"}'),
            429,
            "rate_limit_exceeded",
            "rate_limit_exceeded",
            "2",
            None,
        ),
        (
            Behaviour(error="ModelError", original_status=413, original_message='{"error": "payload too large"}'),
            413,
            "invalid_request_error",
            "request_too_large",
            None,
            "payload too large",
        ),
        # LMI answers 424 for engine failures (rolling_batch.py), TGI for generation errors (server.rs):
        # not the caller's fault, so a retryable 502 (the old gateway said 400 "rejected the request").
        (
            Behaviour(
                error="ModelError",
                original_status=424,
                original_message=json.dumps(
                    {"code": 424, "error": "exception occurred during rolling batch inference"}
                ),
            ),
            502,
            "api_error",
            "upstream_model_error",
            None,
            "retry",
        ),
        (
            Behaviour(
                error="ModelError",
                original_status=424,
                original_message=json.dumps(
                    {"error": "Request failed during generation: CUDA out of memory", "error_type": "generation"}
                ),
            ),
            502,
            "api_error",
            "upstream_model_error",
            None,
            "retry",
        ),
        # LMI async: an adapter missing from its registry is a deployment problem (vllm_async_service.py).
        (
            Behaviour(
                error="ModelError",
                original_status=424,
                original_message=json.dumps(
                    {
                        "code": 424,
                        "error": "Input parsing failed: LoRA adapter adapter-a "
                        "not found in registry. Available adapters: []",
                    }
                ),
            ),
            502,
            "api_error",
            "upstream_model_not_found",
            None,
            "deployment problem",
        ),
        # vLLM: an unknown model (adapter) name is 404 "The model `x` does not exist." (serving_engine.py).
        (
            Behaviour(
                error="ModelError",
                original_status=404,
                original_message=json.dumps(
                    {
                        "error": {
                            "message": "The model `adapter-a` does not exist.",
                            "type": "NotFoundError",
                            "param": "model",
                            "code": 404,
                        }
                    }
                ),
            ),
            502,
            "api_error",
            "upstream_model_not_found",
            None,
            "deployment problem",
        ),
        (
            Behaviour(error="ModelError", original_status=500, original_message='{"error": "CUDA out of memory"}'),
            502,
            "api_error",
            "upstream_model_error",
            None,
            None,
        ),
        (
            Behaviour(error="ModelError", original_status=503, original_message="busy"),
            502,
            "api_error",
            "upstream_model_error",
            None,
            None,
        ),
        (
            Behaviour(
                error="ModelError",
                error_message='Received server error (0) from primary with message "Your invocation timed '
                'out while waiting for a response from container primary."',
            ),
            504,
            "timeout",
            "upstream_timeout",
            None,
            None,
        ),
        (Behaviour(error="SomethingNew"), 502, "api_error", "upstream_error", None, None),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_errors_are_mapped(client, sagemaker, behaviour, status, etype, code, retry_after, message, stream):
    sagemaker.script(behaviour)
    with pytest.raises(openai.APIStatusError) as info:
        list(
            client.chat.completions.create(model="sm-adapter-a", messages=USER, stream=stream)
        ) if stream else client.chat.completions.create(model="sm-adapter-a", messages=USER)
    exc = info.value
    assert exc.status_code == status
    assert (exc.body["type"], exc.body["code"]) == (etype, code)
    assert exc.response.headers.get("retry-after") == retry_after
    if message:
        assert message in exc.message
    assert "123456789012" not in exc.message  # account ids stay out of client messages
    assert "CUDA" not in exc.message  # container 5xx details stay out of client messages
    assert len(sagemaker.requests) == 1  # max attempts is 1 in tests: no hidden retries


def test_no_capacity_metrics_name_the_cause(client, sagemaker, telemetry_lines):
    sagemaker.script(Behaviour(error="ValidationError", error_message=NO_CAPACITY_MESSAGE))
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="sm-adapter-a", messages=USER)
    typed = telemetry_lines.wait_for(lambda d: "_aws" in d and d.get("ErrorType") == "NoCapacity")
    assert typed and typed[0]["ModelAlias"] == "sm-adapter-a"


def test_read_timeout_is_504(client, sagemaker):
    sagemaker.script(Behaviour(delay=1.3))  # gateway read timeout is 1 s in tests
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="sm-chat", messages=USER)
    assert info.value.status_code == 504 and info.value.body["type"] == "timeout"


def test_unreachable_endpoint_is_502(standin, sagemaker, knowledge_base, monkeypatch):
    srv = make_gateway(
        standin, json.loads(json.dumps(TEST_CONFIG)), monkeypatch, stream=SINK, knowledge_base=knowledge_base
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://127.0.0.1:9")  # discard port
    import sagemaker as sagemaker_backend

    srv.service.backends["sm-chat"].client = sagemaker_backend.make_client()
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        status, _, data = raw(
            base, "POST", "/v1/chat/completions", json.dumps({"model": "sm-chat", "messages": USER}).encode()
        )
        assert status == 502
        assert_openai_error(data, etype="api_error", code="upstream_unreachable")
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize(
    "body, why",
    [
        (b"<html>oops</html>", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"choices": []}', "no choices"),
        (b'{"choices": "nope"}', "not a list"),
        (b'{"generated_text": "legacy schema"}', "no choices"),
    ],
)
def test_unparseable_container_response_is_502(client, sagemaker, body, why):
    sagemaker.script(Behaviour(body=body))
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="sm-chat", messages=USER)
    assert info.value.status_code == 502 and info.value.body["code"] == "upstream_bad_response"
    assert why in info.value.message


def test_container_error_object_in_200_body(client, sagemaker):
    sagemaker.script(Behaviour(container_error={"error": {"message": "bad stop", "code": 400}}))
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="sm-chat", messages=USER)
    assert "bad stop" in info.value.message


# --------------------------------------------------------------------------- mid-stream faults


@pytest.mark.parametrize(
    "behaviour, etype, code",
    [
        (
            Behaviour(chunks=["a", "b", "c"], stream_error="ModelStreamError", error_after=2),
            "api_error",
            "upstream_error",
        ),
        (
            Behaviour(chunks=["a", "b", "c"], stream_error="InternalStreamFailure", error_after=2),
            "api_error",
            "upstream_error",
        ),
        (
            Behaviour(
                chunks=["a", "b", "c"],
                error_after=2,
                container_error={"object": "error", "message": "engine died", "code": 500},
            ),
            "api_error",
            "upstream_model_error",
        ),
        (
            Behaviour(
                chunks=["a", "b", "c"],
                error_after=2,
                container="lmi-async",
                container_error={"error": {"message": "prompt too long", "code": 400}},
            ),
            "invalid_request_error",
            "invalid_request",
        ),
        # LMI rolling batch: {"code": 424, ...} replaces the chunk, no trailing newline (Request.java).
        (
            Behaviour(
                chunks=["a", "b", "c"], error_after=2, container="lmi", container_error=generation_failure("lmi")
            ),
            "api_error",
            "upstream_model_error",
        ),
        # TGI: every in-stream error says http_status_code 422; a generation error is still the model's failure.
        (
            Behaviour(
                chunks=["a", "b", "c"], error_after=2, container="tgi", container_error=generation_failure("tgi")
            ),
            "api_error",
            "upstream_model_error",
        ),
        (
            Behaviour(
                chunks=["a", "b", "c"],
                error_after=2,
                container="tgi",
                container_error={"error": {"message": "Model is overloaded", "http_status_code": 422}},
            ),
            "rate_limit_exceeded",
            "rate_limit_exceeded",
        ),
        (
            Behaviour(
                chunks=["a", "b", "c"],
                error_after=2,
                container="tgi",
                container_error={
                    "error": {
                        "message": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096",
                        "http_status_code": 422,
                    }
                },
            ),
            "invalid_request_error",
            "invalid_request",
        ),
        # SageMaker's ModelStreamError with ErrorCode ModelInvocationTimeExceeded is a timeout.
        (
            Behaviour(
                chunks=["a", "b", "c"],
                stream_error="ModelStreamError",
                error_after=2,
                stream_error_code="ModelInvocationTimeExceeded",
                error_message=STREAM_TIMEOUT_MESSAGE,
            ),
            "timeout",
            "upstream_timeout",
        ),
        (
            Behaviour(chunks=["a", "b", "c"], error_after=2, container_error={"error": "overloaded", "code": 429}),
            "rate_limit_exceeded",
            "rate_limit_exceeded",
        ),
        (
            Behaviour(
                lines=[
                    b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n',
                    b'data: {"choices":[{"index":0,"delta":{"content":"b"}}]}\n\n',
                    b"data: {truncated\n\n",
                ]
            ),
            "api_error",
            "upstream_bad_response",
        ),
        (
            Behaviour(
                lines=[
                    b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n',
                    b'data: {"choices":[{"index":0,"delta":{"content":"b"}}]}\n\n',
                    b"\xff\xfe\n",
                ]
            ),
            "api_error",
            "upstream_bad_response",
        ),
    ],
)
def test_mid_stream_errors_become_error_frame(gateway, sagemaker, telemetry_lines, behaviour, etype, code):
    sagemaker.script(behaviour)
    frames = _stream_frames(gateway)
    assert "data: [DONE]" not in frames
    contents = [json.loads(f[6:])["choices"][0]["delta"].get("content") for f in frames[:-1]]
    assert contents == ["", "a", "b"]
    error = json.loads(frames[-1].removeprefix("data: "))
    assert_openai_error(error, etype=etype, code=code)
    (log,) = telemetry_lines.wait_for(lambda d: d.get("message") == "request")
    assert log["status"] >= 400 and log["error_type"]


def test_mid_stream_error_via_sdk(client, sagemaker):
    sagemaker.script(Behaviour(chunks=["a", "b"], stream_error="ModelStreamError", error_after=1, part_size=3))
    received = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(model="sm-adapter-a", messages=USER, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "a"]


def test_mid_stream_stall_times_out(gateway, sagemaker):
    sagemaker.script(Behaviour(chunks=["a", "b"], stall_after=1, stall=1.3))
    frames = _stream_frames(gateway)
    assert "data: [DONE]" not in frames
    assert_openai_error(json.loads(frames[-1][6:]), etype="timeout", code="upstream_timeout")
