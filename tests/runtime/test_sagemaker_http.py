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
from sagemaker_standin import NO_CAPACITY_MESSAGE, Behaviour
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
        messages=[{"role": "system", "content": "be brief"}, {"role": "developer", "content": "no jokes"},
                  *USER, {"role": "assistant", "content": "Hi"}, {"role": "user", "content": "Again"}],
        temperature=0.3, top_p=0.9, stop=["END"], max_tokens=100000)
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
        "messages": [{"role": "system", "content": "be brief\n\nno jokes"},
                     {"role": "user", "content": "Say hello"},
                     {"role": "assistant", "content": "Hi"},
                     {"role": "user", "content": "Again"}],
        "max_tokens": 2048,  # capped by maxTokensCap
        "temperature": 0.3, "top_p": 0.9, "stop": ["END"], "stream": False,
    }
    assert standin.requests == []  # Bedrock untouched


@pytest.mark.parametrize("fmt", ["sse", "jsonlines"])
def test_streaming_with_usage(client, sagemaker, fmt):
    sagemaker.script(Behaviour(chunks=["Hel", "lo", " there"], finish_reason="length",
                               prompt_tokens=7, completion_tokens=3, fmt=fmt))
    chunks = list(client.chat.completions.create(model="sm-chat", messages=USER, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert _text(chunks) == "Hello there"
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 10
    assert len({c.id for c in chunks}) == 1
    (req,) = sagemaker.requests
    assert req.operation == "invocations-response-stream"
    assert req.body["stream"] is True and req.body["stream_options"] == {"include_usage": True}
    assert req.headers["X-Amzn-SageMaker-Accept"] == "application/json"


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
@pytest.mark.parametrize("fmt", ["sse", "jsonlines"])
def test_fragments_split_across_payload_parts(client, sagemaker, part_size, fmt):
    """PayloadParts cut lines (and multi-byte UTF-8 characters) at arbitrary offsets."""
    pieces = ["Grüße", ", ", "日本語", " 🚀", "\nnew line", " {json} data: [DONE]"]
    sagemaker.script(Behaviour(chunks=pieces, part_size=part_size, fmt=fmt, finish_reason="length"))
    chunks = list(client.chat.completions.create(model="sm-chat", messages=USER, stream=True,
                                                 stream_options={"include_usage": True}))
    assert _text(chunks) == "".join(pieces)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.total_tokens == 13


@pytest.mark.parametrize("lines, text", [
    # SSE with comments, event/id fields, CRLF endings and no space after "data:".
    ([b": keep-alive\r\n\r\n", b"event: message\r\nid: 1\r\n",
      b'data:{"choices":[{"index":0,"delta":{"content":"a"}}]}\r\n\r\n',
      b'data: {"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"stop"}]}\n\n',
      b"data: [DONE]\n\n", b'data: {"choices":[{"index":0,"delta":{"content":"ignored"}}]}\n\n'], "ab"),
    # JSON lines without a trailing newline at the very end.
    ([b'{"choices":[{"index":0,"delta":{"content":"x"}}]}\n',
      b'{"choices":[{"index":0,"delta":{"content":"y"},"finish_reason":"eos_token"}]}'], "xy"),
])
def test_stream_line_variants(client, sagemaker, lines, text):
    sagemaker.script(Behaviour(lines=lines))
    chunks = list(client.chat.completions.create(model="sm-chat", messages=USER, stream=True))
    assert _text(chunks) == text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_missing_usage_counts_as_zero(client, sagemaker):
    sagemaker.script(Behaviour(send_usage=False), Behaviour(send_usage=False))
    resp = client.chat.completions.create(model="sm-chat", messages=USER)
    assert resp.usage.total_tokens == 0 and resp.choices[0].message.content == "Hello, world!"
    chunks = list(client.chat.completions.create(model="sm-chat", messages=USER, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].usage.total_tokens == 0


@pytest.mark.parametrize("finish, expected", [
    ("stop", "stop"), ("length", "length"), ("content_filter", "content_filter"),
    ("eos_token", "stop"), ("stop_sequence", "stop"), (None, "stop"), ("abort", "stop"),
])
@pytest.mark.parametrize("stream", [False, True])
def test_finish_reasons_round_trip(client, sagemaker, finish, expected, stream):
    sagemaker.script(Behaviour(finish_reason=finish))
    result = client.chat.completions.create(model="sm-chat", messages=USER, stream=stream)
    if stream:
        finals = [c.choices[0].finish_reason for c in result if c.choices and c.choices[0].finish_reason]
        assert finals == [expected]
    else:
        assert result.choices[0].finish_reason == expected


# --------------------------------------------------------------------------- adapter routing

@pytest.mark.parametrize("stream", [False, True])
def test_adapters_route_to_their_inference_components(client, sagemaker, stream):
    for alias in ("sm-adapter-a", "sm-adapter-b", "sm-adapter-a", "sm-chat"):
        result = client.chat.completions.create(model=alias, messages=USER, stream=stream)
        if stream:
            list(result)
    assert [(r.endpoint_name, r.inference_component) for r in sagemaker.requests] == [
        ("lora-endpoint", "adapter-a"), ("lora-endpoint", "adapter-b"),
        ("lora-endpoint", "adapter-a"), ("llm-endpoint", None)]
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

@pytest.mark.parametrize("behaviour, status, etype, code, retry_after, message", [
    (Behaviour(error="ThrottlingException", error_message=None), 429, "rate_limit_exceeded",
     "rate_limit_exceeded", "2", "Rate limit"),
    (Behaviour(error="ModelNotReadyException"), 503, "service_unavailable", "model_not_ready", "5", None),
    (Behaviour(error="ServiceUnavailable"), 503, "service_unavailable", "service_unavailable", "5", None),
    (Behaviour(error="ValidationError", error_message=NO_CAPACITY_MESSAGE), 503, "service_unavailable",
     "model_scaling_up", "30", "scaling up from zero"),
    (Behaviour(error="ValidationError",
               error_message="Endpoint llm-endpoint of account 123456789012 not found."),
     502, "api_error", "upstream_model_not_found", None, "deployment problem"),
    (Behaviour(error="ValidationError", error_message="Something about the envelope"),
     502, "api_error", "upstream_rejected", None, "deployment problem"),
    (Behaviour(error="AccessDeniedException"), 502, "api_error", "upstream_access_denied", None, "IAM role"),
    (Behaviour(error="InternalFailure"), 502, "api_error", "upstream_error", None, None),
    (Behaviour(error="InternalDependencyException"), 502, "api_error", "upstream_error", None, None),
    (Behaviour(error="ModelError", original_status=400,
               original_message=json.dumps({"object": "error", "type": "BadRequestError", "code": 400,
                                            "message": "This model's maximum context length is 4096 "
                                                       "tokens. However, you requested 5000 tokens."})),
     400, "invalid_request_error", "invalid_request", None, "maximum context length is 4096"),
    (Behaviour(error="ModelError", original_status=422,
               original_message=json.dumps({"error": "Input validation error: `inputs` too long",
                                            "error_type": "validation"})),
     400, "invalid_request_error", "invalid_request", None, "Input validation error"),
    (Behaviour(error="ModelError", original_status=400, original_message="plain text problem"),
     400, "invalid_request_error", "invalid_request", None, "plain text problem"),
    (Behaviour(error="ModelError", original_status=429, original_message='{"error": "overloaded"}'),
     429, "rate_limit_exceeded", "rate_limit_exceeded", "2", None),
    (Behaviour(error="ModelError", original_status=500, original_message='{"error": "CUDA out of memory"}'),
     502, "api_error", "upstream_model_error", None, None),
    (Behaviour(error="ModelError", original_status=503, original_message="busy"),
     502, "api_error", "upstream_model_error", None, None),
    (Behaviour(error="ModelError",
               error_message='Received server error (0) from primary with message "Your invocation timed '
                             'out while waiting for a response from container primary."'),
     504, "timeout", "upstream_timeout", None, None),
    (Behaviour(error="SomethingNew"), 502, "api_error", "upstream_error", None, None),
])
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_errors_are_mapped(client, sagemaker, behaviour, status, etype, code, retry_after,
                                    message, stream):
    sagemaker.script(behaviour)
    with pytest.raises(openai.APIStatusError) as info:
        list(client.chat.completions.create(model="sm-adapter-a", messages=USER, stream=stream)
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
    srv = make_gateway(standin, json.loads(json.dumps(TEST_CONFIG)), monkeypatch, stream=SINK,
                       knowledge_base=knowledge_base)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://127.0.0.1:9")  # discard port
    import sagemaker as sagemaker_backend
    srv.service.backends["sm-chat"].client = sagemaker_backend.make_client()
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        status, _, data = raw(base, "POST", "/v1/chat/completions",
                              json.dumps({"model": "sm-chat", "messages": USER}).encode())
        assert status == 502
        assert_openai_error(data, etype="api_error", code="upstream_unreachable")
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("body, why", [
    (b"<html>oops</html>", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"choices": []}', "no choices"),
    (b'{"choices": "nope"}', "not a list"),
    (b'{"generated_text": "legacy schema"}', "no choices"),
])
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

@pytest.mark.parametrize("behaviour, etype, code", [
    (Behaviour(chunks=["a", "b", "c"], stream_error="ModelStreamError", error_after=2),
     "api_error", "upstream_error"),
    (Behaviour(chunks=["a", "b", "c"], stream_error="InternalStreamFailure", error_after=2),
     "api_error", "upstream_error"),
    (Behaviour(chunks=["a", "b", "c"], error_after=2,
               container_error={"object": "error", "message": "engine died", "code": 500}),
     "api_error", "upstream_model_error"),
    (Behaviour(chunks=["a", "b", "c"], error_after=2, fmt="jsonlines",
               container_error={"error": {"message": "prompt too long", "code": 400}}),
     "invalid_request_error", "invalid_request"),
    (Behaviour(chunks=["a", "b", "c"], error_after=2, container_error={"error": "overloaded", "code": 429}),
     "rate_limit_exceeded", "rate_limit_exceeded"),
    (Behaviour(lines=[b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n',
                      b'data: {"choices":[{"index":0,"delta":{"content":"b"}}]}\n\n', b"data: {truncated\n\n"]),
     "api_error", "upstream_bad_response"),
    (Behaviour(lines=[b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n',
                      b'data: {"choices":[{"index":0,"delta":{"content":"b"}}]}\n\n', b"\xff\xfe\n"]),
     "api_error", "upstream_bad_response"),
])
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
    sagemaker.script(Behaviour(chunks=["a", "b"], stream_error="ModelStreamError", error_after=1,
                               part_size=3))
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
