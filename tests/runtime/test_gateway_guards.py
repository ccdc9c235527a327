"""Runtime properties the other tests only observe indirectly (December 2026 test-strength review):

- telemetry is finished *before* the last bytes of a response go out (server._chat: Lambda may freeze the
  environment as soon as the response is complete), streaming and not (mutant R15);
- a streamed token reaches the client while the backend is still generating (mutant R04b);
- the body-size limit is exact: ``max_request_bytes`` is accepted, one byte more is 413 (mutant R08).

The real gateway server, the official OpenAI SDK and the Bedrock stand-in, as in test_gateway_http.py.
"""

from __future__ import annotations

import json
import threading
import time

import openai
import pytest

from bedrock_standin import Behaviour
from gateway_harness import TEST_CONFIG
from test_gateway_http import USER, assert_openai_error, raw


@pytest.fixture
def events(gateway_server, monkeypatch):
    """What the session gateway does, in order: ``("finish", record facts)`` when telemetry is finished
    (the first, effective call per record) and ``("write", bytes)`` for every write to the client."""
    from server import GatewayHandler

    log: list[tuple[str, object]] = []
    lock = threading.Lock()
    telemetry = gateway_server.service.telemetry
    finish, send, send_json = telemetry.finish, GatewayHandler._send, GatewayHandler._send_json

    def record_finish(record):
        effective = not record.finished
        finish(record)
        if effective:
            with lock:
                log.append(("finish", {"status": record.status, "output_tokens": record.output_tokens}))

    def record_send(self, data):
        with lock:
            log.append(("write", data))
        send(self, data)

    def record_send_json(self, status, obj, headers=None):
        with lock:
            log.append(("write", json.dumps(obj).encode()))
        send_json(self, status, obj, headers)

    monkeypatch.setattr(telemetry, "finish", record_finish)
    monkeypatch.setattr(GatewayHandler, "_send", record_send)
    monkeypatch.setattr(GatewayHandler, "_send_json", record_send_json)
    return log


def _wait_for_finish(log: list, timeout: float = 3.0) -> None:
    """The handler thread may still be running after the client has the whole response."""
    deadline = time.monotonic() + timeout
    while not any(kind == "finish" for kind, _ in log) and time.monotonic() < deadline:
        time.sleep(0.01)


def _finish_before_last_write(log: list) -> dict:
    _wait_for_finish(log)
    kinds = [kind for kind, _ in log]
    assert kinds.count("finish") == 1, kinds
    assert kinds[-1] == "write" and kinds.index("finish") < len(kinds) - 1, (
        f"telemetry must be finished before the last write (Lambda may freeze right after it): {kinds}"
    )
    return log[kinds.index("finish")][1]  # type: ignore[return-value]


def test_streaming_telemetry_is_finished_before_the_done_frame(client, standin, events):
    chunks = list(client.chat.completions.create(model="chat-fast", messages=USER, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello, world!"
    facts = _finish_before_last_write(events)
    assert facts == {"status": 200, "output_tokens": 4}  # usage was known when it was recorded
    assert b"data: [DONE]" in events[-1][1]  # the last write carries [DONE] and the chunked terminator


def test_failed_stream_telemetry_is_finished_before_the_error_frame(client, standin, events):
    standin.script(Behaviour(chunks=["a", "b"], stream_exception="modelStreamErrorException", exception_after=1))
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="chat-fast", messages=USER, stream=True))
    facts = _finish_before_last_write(events)
    assert facts["status"] != 200
    assert b'"error"' in events[-1][1]


def test_completion_telemetry_is_finished_before_the_response(client, standin, events):
    client.chat.completions.create(model="chat-fast", messages=USER)
    assert _finish_before_last_write(events) == {"status": 200, "output_tokens": 4}


def test_error_telemetry_is_finished_before_the_response(client, standin, events):
    standin.script(Behaviour(error="ThrottlingException"))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="chat-fast", messages=USER)
    assert _finish_before_last_write(events)["status"] == 429


def test_first_token_reaches_the_client_while_the_backend_still_generates(client, standin):
    # The stand-in sends "a", then stalls 0.6 s (below the tests' 1 s upstream read timeout) before "b".
    stall = 0.6
    standin.script(Behaviour(chunks=["a", "b"], stall_after=1, stall=stall))
    arrived: dict[str, float] = {}
    for chunk in client.chat.completions.create(model="chat-fast", messages=USER, stream=True):
        content = chunk.choices[0].delta.content if chunk.choices else None
        if content:
            arrived.setdefault(content, time.monotonic())
    assert set(arrived) == {"a", "b"}
    # Buffered deltas would arrive together, after the stall; streamed ones a stall apart.
    assert arrived["b"] - arrived["a"] > stall * 2 / 3, arrived


LIMIT = TEST_CONFIG["limits"]["maxRequestBytes"]


def _body_of(size: int) -> bytes:
    """A valid chat completion request of exactly ``size`` bytes (JSON allows trailing whitespace)."""
    body = json.dumps({"model": "chat-fast", "messages": USER}).encode()
    assert len(body) < size
    return body + b" " * (size - len(body))


def test_a_body_of_exactly_the_limit_is_accepted(gateway, standin):
    status, _, data = raw(gateway, "POST", "/v1/chat/completions", _body_of(LIMIT))
    assert status == 200, data
    assert data["choices"][0]["message"]["content"] == "Hello, world!"


def test_one_byte_over_the_limit_is_413(gateway, standin):
    status, _, data = raw(gateway, "POST", "/v1/chat/completions", _body_of(LIMIT + 1))
    assert status == 413
    assert_openai_error(data, etype="invalid_request_error", code="request_too_large")
    assert standin.requests == []
