"""End-to-end tests: the real gateway server driven by the official OpenAI SDK.

Bedrock is replaced by the wire-compatible stand-in (``bedrock_standin.py``)
reached through ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``.
"""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlparse

import openai
import pytest

from bedrock_standin import Behaviour
from gateway_harness import SINK, TEST_CONFIG, make_gateway

HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
USER = [{"role": "user", "content": "Say hello"}]


def raw(
    base: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict | None = None,
    content_length: bool = True,
):
    """Send one raw HTTP request; return (status, headers, parsed JSON or raw bytes)."""
    u = urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.putrequest(method, path)
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    if body is not None and content_length and "Content-Length" not in (headers or {}):
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    if body:
        conn.send(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    try:
        data = json.loads(data)
    except ValueError:
        pass
    return resp.status, resp.headers, data


def assert_openai_error(data, etype=None, param=None, code=None):
    assert set(data) == {"error"}
    err = data["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    if etype:
        assert err["type"] == etype
    if param:
        assert err["param"] == param
    if code:
        assert err["code"] == code


# --------------------------------------------------------------------------- happy paths


def test_non_streaming_completion(client, standin):
    resp = client.chat.completions.create(
        model="chat-fast", messages=[{"role": "system", "content": "be brief"}, *USER], temperature=0.3, stop=["END"]
    )
    assert resp.object == "chat.completion" and resp.id.startswith("chatcmpl-")
    assert resp.model == "chat-fast"
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].message.content == "Hello, world!"
    assert resp.choices[0].finish_reason == "stop"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (11, 4, 15)
    (req,) = standin.requests
    assert req.operation == "converse"
    assert req.model_id == HAIKU  # URL-encoded ':' decoded by the stand-in
    assert req.headers["Authorization"].startswith("AWS4-HMAC-SHA256")
    assert req.body == {
        "messages": [{"role": "user", "content": [{"text": "Say hello"}]}],
        "system": [{"text": "be brief"}],
        "inferenceConfig": {"maxTokens": 1024, "temperature": 0.3, "stopSequences": ["END"]},
    }


@pytest.mark.parametrize(
    "stop_reason, finish",
    [
        ("max_tokens", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("stop_sequence", "stop"),
    ],
)
def test_finish_reasons(client, standin, stop_reason, finish):
    standin.script(Behaviour(stop_reason=stop_reason))
    resp = client.chat.completions.create(model="chat-fast", messages=USER)
    assert resp.choices[0].finish_reason == finish


@pytest.mark.parametrize(
    "alias, kwargs, sent",
    [
        ("chat-fast", {"max_tokens": 100000}, 4096),
        ("chat-fast", {"max_completion_tokens": 77}, 77),
        ("chat-fast", {}, 1024),
        ("chat-small", {"max_tokens": 5000}, 256),
    ],
)
def test_max_tokens_is_capped_upstream(client, standin, alias, kwargs, sent):
    client.chat.completions.create(model=alias, messages=USER, **kwargs)
    assert standin.requests[-1].body["inferenceConfig"]["maxTokens"] == sent


def test_streaming_with_usage(client, standin):
    standin.script(Behaviour(chunks=["Hel", "lo", " there"], stop_reason="max_tokens", input_tokens=7, output_tokens=3))
    stream = client.chat.completions.create(
        model="chat-fast", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello there"
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 10
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1
    assert standin.requests[-1].operation == "converse-stream"


def test_streaming_wire_format(gateway, standin):
    body = json.dumps({"model": "chat-fast", "messages": USER, "stream": True}).encode()
    status, headers, data = raw(gateway, "POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["Transfer-Encoding"] == "chunked"
    frames = data.decode().split("\n\n")
    assert frames[-1] == "" and frames[-2] == "data: [DONE]"
    payloads = [json.loads(f.removeprefix("data: ")) for f in frames[:-2]]
    assert all("usage" not in p for p in payloads)  # include_usage not requested
    assert payloads[-1]["choices"][0]["finish_reason"] == "stop"
    assert "".join(p["choices"][0]["delta"].get("content", "") for p in payloads) == "Hello, world!"


def test_models_list(client):
    models = client.models.list()
    assert [(m.id, m.object, m.owned_by) for m in models.data] == [
        ("chat-fast", "model", "bedrock"),
        ("chat-small", "model", "bedrock"),
        ("sm-chat", "model", "sagemaker"),
        ("sm-adapter-a", "model", "sagemaker"),
        ("sm-adapter-b", "model", "sagemaker"),
        ("rag", "model", "sagemaker"),
        ("rag-bedrock", "model", "bedrock"),
        ("sm-lmi", "model", "sagemaker"),
        ("sm-lmi-async", "model", "sagemaker"),
        ("sm-tgi", "model", "sagemaker"),
        ("sm-vllm", "model", "sagemaker"),
        ("sm-vllm-plain", "model", "sagemaker"),
        ("chat-think", "model", "bedrock"),
        ("embed-titan", "model", "bedrock"),
        ("embed-cohere", "model", "bedrock"),
    ]


def test_health_and_keep_alive(gateway):
    u = urlparse(gateway)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    for _ in range(3):  # same connection reused
        conn.request("GET", "/health")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == {"status": "ok"}
    conn.request(
        "POST",
        "/v1/chat/completions",
        json.dumps({"model": "chat-fast", "messages": USER}),
        {"Content-Type": "application/json"},
    )
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["choices"][0]["message"]["content"]
    conn.close()


# --------------------------------------------------------------------------- caller errors


def test_unknown_model_is_404(client, standin):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert info.value.status_code == 404
    assert info.value.code == "model_not_found" and info.value.param == "model"
    assert standin.requests == []


def test_unsupported_parameter_via_sdk(client, standin):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chat-fast", messages=USER, frequency_penalty=0.5)
    assert info.value.code == "unsupported_parameter" and info.value.param == "frequency_penalty"
    assert standin.requests == []


def test_oversize_body_via_sdk_is_413(client, standin):
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="chat-fast", messages=[{"role": "user", "content": "x" * 20000}])
    assert info.value.status_code == 413
    assert standin.requests == []


DEEP = b"[" * 100000 + b"]" * 100000


@pytest.mark.parametrize(
    "method, path, body, headers, status, code",
    [
        ("POST", "/v1/chat/completions", b"{not json", {}, 400, "invalid_json"),
        ("POST", "/v1/chat/completions", b"\xff\xfe\x00garbage", {}, 400, "invalid_json"),
        ("POST", "/v1/chat/completions", DEEP[:4000] + DEEP[-4000:], {}, 400, "invalid_json"),
        ("POST", "/v1/chat/completions", b"[1, 2]", {}, 400, "invalid_json"),
        ("POST", "/v1/chat/completions", b'"hello"', {}, 400, "invalid_json"),
        ("POST", "/v1/chat/completions", b"", {}, 400, "invalid_json"),
        (
            "POST",
            "/v1/chat/completions",
            b'{"model": "chat-fast", "messages": [{"role": "user"}]}',
            {},
            400,
            "missing_required_parameter",
        ),
        ("POST", "/v1/chat/completions", b"{}", {"Content-Length": "1000000000"}, 413, "request_too_large"),
        ("POST", "/v1/chat/completions", b"{}", {"Content-Length": "-5"}, 400, "invalid_request"),
        ("POST", "/v1/chat/completions", None, {}, 411, "length_required"),
        ("GET", "/v1/chat/completions", None, {}, 405, "method_not_allowed"),
        ("POST", "/v1/models", b"{}", {}, 405, "method_not_allowed"),
        ("GET", "/v1/nope", None, {}, 404, "unknown_url"),
        ("DELETE", "/", None, {}, 404, "unknown_url"),
    ],
)
def test_malformed_http_requests_never_5xx(gateway, standin, method, path, body, headers, status, code):
    got, _, data = raw(gateway, method, path, body, headers)
    assert got == status
    assert_openai_error(data, code=code)
    assert standin.requests == []


def test_garbage_request_line_gets_openai_error(gateway):
    u = urlparse(gateway)
    with socket.create_connection((u.hostname, u.port), timeout=5) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") or head.startswith(b"HTTP/1.0 400")
    assert_openai_error(json.loads(body), etype="invalid_request_error")


def test_oversize_drained_body_keeps_connection_usable(gateway):
    u = urlparse(gateway)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("POST", "/v1/chat/completions", b"x" * 20000, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 413
    assert_openai_error(json.loads(resp.read()), code="request_too_large")
    conn.request("GET", "/health")
    assert conn.getresponse().status == 200
    conn.close()


# --------------------------------------------------------------------------- upstream faults


@pytest.mark.parametrize(
    "error, status, etype, retry_after",
    [
        ("ThrottlingException", 429, "rate_limit_exceeded", "2"),
        ("ServiceQuotaExceededException", 429, "rate_limit_exceeded", "2"),
        ("ValidationException", 400, "invalid_request_error", None),
        ("AccessDeniedException", 502, "api_error", None),
        ("ResourceNotFoundException", 502, "api_error", None),
        ("ModelNotReadyException", 503, "service_unavailable", "5"),
        ("ServiceUnavailableException", 503, "service_unavailable", "5"),
        ("ModelTimeoutException", 504, "timeout", None),
        ("InternalServerException", 502, "api_error", None),
        ("ModelErrorException", 502, "api_error", None),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_errors_are_mapped(client, standin, error, status, etype, retry_after, stream):
    standin.script(Behaviour(error=error, error_message="temperature must be <= 1"))
    with pytest.raises(openai.APIStatusError) as info:
        result = client.chat.completions.create(model="chat-fast", messages=USER, stream=stream)
        list(result)
    exc = info.value
    assert exc.status_code == status
    assert exc.body["type"] == etype
    assert exc.response.headers.get("retry-after") == retry_after
    if error == "ValidationException":
        assert "temperature must be <= 1" in exc.message
    if error == "AccessDeniedException":
        assert "IAM role" in exc.message and HAIKU in exc.message


def test_read_timeout_is_504(client, standin):
    standin.script(Behaviour(delay=1.3))  # gateway read timeout is 1 s in tests
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="chat-fast", messages=USER)
    assert info.value.status_code == 504 and info.value.body["type"] == "timeout"


def test_unreachable_backend_is_502(standin, monkeypatch):
    cfg = json.loads(json.dumps(TEST_CONFIG))
    srv = make_gateway(standin, cfg, monkeypatch, stream=SINK)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9")  # discard port
    import bedrock

    srv.service.backends["chat-fast"].client = bedrock.make_client()
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        status, _, data = raw(
            base, "POST", "/v1/chat/completions", json.dumps({"model": "chat-fast", "messages": USER}).encode()
        )
        assert status == 502
        assert_openai_error(data, etype="api_error", code="upstream_unreachable")
    finally:
        srv.shutdown()
        srv.server_close()


def stream_frames(gateway: str, model: str = "chat-fast", messages: list = USER, **body) -> list[str]:
    """POST a streaming request; return the SSE frames (``data: ...``) of the 200 response."""
    payload = json.dumps({"model": model, "messages": messages, "stream": True, **body}).encode()
    status, _, data = raw(gateway, "POST", "/v1/chat/completions", payload)
    assert status == 200
    return [f for f in data.decode().split("\n\n") if f]


@pytest.mark.parametrize(
    "exception, etype",
    [
        ("modelStreamErrorException", "api_error"),
        ("throttlingException", "rate_limit_exceeded"),
        ("internalServerException", "api_error"),
    ],
)
def test_mid_stream_exception_becomes_error_frame(gateway, standin, exception, etype):
    standin.script(Behaviour(chunks=["a", "b", "c"], stream_exception=exception, exception_after=2))
    frames = stream_frames(gateway)
    assert "data: [DONE]" not in frames
    contents = [json.loads(f[6:])["choices"][0]["delta"].get("content") for f in frames[:-1]]
    assert contents == ["", "a", "b"]
    error = json.loads(frames[-1].removeprefix("data: "))
    assert_openai_error(error, etype=etype)


def test_mid_stream_exception_via_sdk(client, standin):
    standin.script(Behaviour(chunks=["a", "b"], stream_exception="modelStreamErrorException", exception_after=1))
    received = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(model="chat-fast", messages=USER, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "a"]


def test_mid_stream_stall_times_out(gateway, standin):
    standin.script(Behaviour(chunks=["a", "b"], stall_after=1, stall=1.3))
    frames = stream_frames(gateway)
    assert "data: [DONE]" not in frames
    assert_openai_error(json.loads(frames[-1][6:]), etype="timeout", code="upstream_timeout")


def test_internal_bug_is_openai_shaped_500(standin, monkeypatch, telemetry_lines):
    class Broken:
        def complete(self, request):
            raise RuntimeError("boom")

    import server as gateway_server
    from config import parse_config
    from service import ChatService
    from telemetry import Telemetry

    cfg = parse_config(TEST_CONFIG)
    service = ChatService(cfg, backends={"chat-fast": Broken()}, telemetry=Telemetry(cfg, SINK))
    srv = gateway_server.make_server(cfg, service=service)
    gateway_server.start_in_thread(srv)
    try:
        status, _, data = raw(
            f"http://127.0.0.1:{srv.server_address[1]}",
            "POST",
            "/v1/chat/completions",
            json.dumps({"model": "chat-fast", "messages": USER}).encode(),
        )
        assert status == 500
        assert_openai_error(data, etype="server_error", code="internal_error")
        assert "boom" not in json.dumps(data) and "Traceback" not in json.dumps(data)
        assert telemetry_lines.wait_for(lambda d: d.get("message") == "unhandled error serving request")
    finally:
        srv.shutdown()
        srv.server_close()


def test_client_disconnect_mid_stream_closes_upstream(gateway, standin, telemetry_lines):
    standin.script(Behaviour(chunks=["a", "b", "c"], stall_after=1, stall=0.3))
    u = urlparse(gateway)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("POST", "/v1/chat/completions", json.dumps({"model": "chat-fast", "messages": USER, "stream": True}))
    resp = conn.getresponse()
    assert resp.status == 200
    assert b'"content":""' in resp.read1(65536)
    conn.sock.close()  # hang up before the stream finishes
    conn.close()
    lines = telemetry_lines.wait_for(
        lambda d: d.get("message") == "request" and d.get("error_type") == "ClientDisconnected"
    )
    assert lines and lines[0]["status"] == 499
    assert telemetry_lines.wait_for(lambda d: "_aws" in d and d.get("ErrorType") == "ClientDisconnected")


# --------------------------------------------------------------------------- telemetry


def test_emf_metrics_and_request_log(client, standin, telemetry_lines):
    secret = "purple-elephant-4711"
    standin.script(Behaviour(chunks=["classified-answer-0815"]))
    client.chat.completions.create(model="chat-fast", messages=[{"role": "user", "content": secret}])
    emf = telemetry_lines.wait_for(lambda d: "_aws" in d and d.get("ModelAlias") == "chat-fast")
    assert emf, "no EMF document on stdout"
    doc = emf[0]
    meta = doc["_aws"]["CloudWatchMetrics"][0]
    assert meta["Namespace"] == "Test/Gateway"
    assert ["ModelAlias", "service"] in meta["Dimensions"]
    names = {m["Name"] for m in meta["Metrics"]}
    assert {"Requests", "Errors", "Throttles", "InputTokens", "OutputTokens", "Latency"} <= names
    assert doc["Requests"] == [1.0] and doc["InputTokens"] == [11.0] and doc["Errors"] == [0.0]
    (log,) = telemetry_lines.wait_for(lambda d: d.get("message") == "request")
    assert log["alias"] == "chat-fast" and log["model_id"] == HAIKU and log["status"] == 200
    assert log["input_tokens"] == 11 and log["stop_reason"] == "end_turn" and log["latency_ms"] > 0
    assert secret not in telemetry_lines.text and "classified-answer-0815" not in telemetry_lines.text


def test_streaming_metrics_include_ttft(client, standin, telemetry_lines):
    list(client.chat.completions.create(model="chat-fast", messages=USER, stream=True))
    emf = telemetry_lines.wait_for(lambda d: "_aws" in d and "TimeToFirstToken" in d)
    assert emf and emf[0]["TimeToFirstToken"][0] > 0 and emf[0]["OutputTokens"] == [4.0]


def test_throttle_metrics_carry_error_type(client, standin, telemetry_lines):
    standin.script(Behaviour(error="ThrottlingException"))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="chat-fast", messages=USER)
    main = telemetry_lines.wait_for(lambda d: "_aws" in d and "Throttles" in d)
    assert main[0]["Throttles"] == [1.0] and main[0]["Errors"] == [1.0]
    typed = telemetry_lines.wait_for(lambda d: "_aws" in d and d.get("ErrorType") == "ThrottlingException")
    assert typed and typed[0]["Errors"] == [1.0]


def test_rejected_request_metrics_use_unknown_alias(gateway, telemetry_lines):
    raw(gateway, "POST", "/v1/chat/completions", b"{oops")
    emf = telemetry_lines.wait_for(lambda d: "_aws" in d and "Requests" in d)
    assert emf[0]["ModelAlias"] == "unknown" and emf[0]["Errors"] == [1.0]


def test_log_content_opt_in_goes_to_stdout(standin, monkeypatch, stdout_lines):
    cfg = json.loads(json.dumps(TEST_CONFIG))
    cfg["logContent"] = True
    cfg["serviceName"] = "test-gateway-content"  # own Powertools logger, default stdout
    srv = make_gateway(standin, cfg, monkeypatch)
    try:
        body = json.dumps(
            {"model": "chat-fast", "messages": [{"role": "user", "content": "opt-in-prompt-42"}]}
        ).encode()
        status, _, _ = raw(f"http://127.0.0.1:{srv.server_address[1]}", "POST", "/v1/chat/completions", body)
        assert status == 200
        assert stdout_lines.wait_for(lambda d: "_aws" in d)  # EMF is written after the log line
        (log,) = stdout_lines.wait_for(lambda d: d.get("message") == "request")
        assert log["service"] == "test-gateway-content"
        assert log["prompt"]["messages"][0]["content"] == "opt-in-prompt-42"
        assert log["completion"] == "Hello, world!"
    finally:
        srv.shutdown()
        srv.server_close()


def test_connection_reset_between_requests_is_not_a_traceback(gateway_server, capsys):
    """A client that resets an idle keep-alive connection leaves no traceback on stderr."""
    import socket
    import struct
    import time

    host, port = gateway_server.server_address[:2]
    sock = socket.create_connection((host, port))
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200" in sock.recv(4096)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close -> RST
    sock.close()
    time.sleep(0.2)
    assert "Traceback" not in capsys.readouterr().err


# --------------------------------------------------------------------------- what clients send by default


def test_default_values_clients_send_are_accepted(client, standin):
    """Agent frameworks and SDK helpers send OpenAI's defaults explicitly; none of them may turn into a 400,
    nor change what Bedrock receives.  ``seed`` and ``metadata`` are accepted and ignored."""
    history = [
        *USER,
        {
            "role": "assistant",
            "content": "Hi!",
            "annotations": [],
            "refusal": None,
            "tool_calls": [],
            "function_call": None,
            "audio": None,
        },
        {"role": "user", "content": "Again"},
    ]
    resp = client.chat.completions.create(
        model="chat-fast",
        messages=history,
        response_format={"type": "text"},
        tools=[],
        tool_choice="none",
        parallel_tool_calls=True,
        top_logprobs=0,
        logprobs=False,
        service_tier="auto",
        store=False,
        metadata={"app": "tests"},
        seed=7,
        n=1,
        frequency_penalty=0,
        presence_penalty=0,
        reasoning_effort="none",
        user="u-1",
    )
    assert resp.choices[0].message.content == "Hello, world!"
    assert standin.requests[-1].body == {
        "messages": [
            {"role": "user", "content": [{"text": "Say hello"}]},
            {"role": "assistant", "content": [{"text": "Hi!"}]},
            {"role": "user", "content": [{"text": "Again"}]},
        ],
        "inferenceConfig": {"maxTokens": 1024},
    }
