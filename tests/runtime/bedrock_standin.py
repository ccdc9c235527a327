"""A local stand-in for the Amazon Bedrock Runtime Converse APIs (loopback only).

Speaks the real wire protocol, so the gateway's unmodified boto3 client can
talk to it via ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``:

* ``POST /model/{modelId}/converse``        -> JSON ``ConverseResponse``
* ``POST /model/{modelId}/converse-stream`` -> ``application/vnd.amazon.eventstream``
  (AWS event-stream binary framing, one HTTP chunk per event)
* errors: HTTP status + ``x-amzn-ErrorType`` header + ``{"message": ...}`` body,
  or an in-stream ``:message-type: exception`` event.

Tests script behaviours with :meth:`BedrockStandIn.script`; every request
received is recorded in :attr:`BedrockStandIn.requests`.
"""

from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

#: HTTP status of each Bedrock Runtime error (from the service model).
ERROR_STATUS = {
    "AccessDeniedException": 403,
    "InternalServerException": 500,
    "ModelErrorException": 424,
    "ModelNotReadyException": 429,
    "ModelStreamErrorException": 424,
    "ModelTimeoutException": 408,
    "ResourceNotFoundException": 404,
    "ServiceQuotaExceededException": 400,
    "ServiceUnavailableException": 503,
    "ThrottlingException": 429,
    "ValidationException": 400,
}


# --------------------------------------------------------------------------- event stream

def encode_headers(headers: dict[str, str]) -> bytes:
    """Encode string-typed (type 7) event-stream headers."""
    out = bytearray()
    for name, value in headers.items():
        n, v = name.encode(), value.encode()
        out += struct.pack("!B", len(n)) + n + b"\x07" + struct.pack("!H", len(v)) + v
    return bytes(out)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """Encode one event-stream message: prelude, prelude CRC, headers, payload, message CRC."""
    h = encode_headers(headers)
    prelude = struct.pack("!II", 12 + len(h) + len(payload) + 4, len(h))
    head = prelude + struct.pack("!I", zlib.crc32(prelude))
    body = head + h + payload
    return body + struct.pack("!I", zlib.crc32(body))


def event(event_type: str, payload: dict) -> bytes:
    """An ``:message-type: event`` message with a JSON payload."""
    return encode_message(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(payload).encode())


def exception(exception_type: str, message: str) -> bytes:
    """An ``:message-type: exception`` message (e.g. ``modelStreamErrorException``)."""
    return encode_message(
        {":exception-type": exception_type, ":content-type": "application/json",
         ":message-type": "exception"},
        json.dumps({"message": message}).encode())


# --------------------------------------------------------------------------- behaviours

@dataclass
class Behaviour:
    """What the stand-in does for one request.

    ``error``: answer with this Bedrock exception (HTTP error) instead.
    ``stream_exception``: for converse-stream, send this in-stream exception
    after ``exception_after`` text chunks.  ``delay``: seconds to wait before
    responding; ``stall_after``/``stall``: pause mid-stream after N chunks.
    """

    chunks: list[str] = field(default_factory=lambda: ["Hello", ", ", "world", "!"])
    stop_reason: str = "end_turn"
    input_tokens: int = 11
    output_tokens: int = 4
    error: str | None = None
    error_message: str = "scripted error"
    stream_exception: str | None = None
    exception_after: int = 1
    delay: float = 0.0
    stall_after: int | None = None
    stall: float = 0.0


@dataclass
class Received:
    """One request as received by the stand-in."""

    operation: str
    model_id: str
    body: dict
    headers: dict


class BedrockStandIn:
    """A scriptable Bedrock Runtime server on 127.0.0.1 (ephemeral port)."""

    def __init__(self) -> None:
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self.default = Behaviour()
        self.requests: list[Received] = []
        #: perf_counter_ns() taken just before each stream's first text delta is written.
        self.first_delta_ns: list[int] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "BedrockStandIn":
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="bedrock-standin")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        """Forget scripted behaviours and recorded requests."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.first_delta_ns.clear()
            self.default = Behaviour()

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next requests (then :attr:`default` applies)."""
        with self._lock:
            self._script.extend(behaviours)

    def _next(self, received: Received) -> Behaviour:
        with self._lock:
            self.requests.append(received)
            return self._script.popleft() if self._script else self.default


def _make_handler(standin: BedrockStandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            parts = self.path.split("?", 1)[0].split("/")
            # ['', 'model', '<url-encoded id>', 'converse' | 'converse-stream']
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if len(parts) != 4 or parts[1] != "model" or parts[3] not in ("converse", "converse-stream"):
                self._error("UnknownOperationException", "unknown route", 404)
                return
            received = Received(parts[3], unquote(parts[2]), json.loads(body or b"{}"),
                                dict(self.headers))
            behaviour = standin._next(received)
            try:
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                if behaviour.error:
                    self._error(behaviour.error, behaviour.error_message,
                                ERROR_STATUS.get(behaviour.error, 400))
                elif received.operation == "converse":
                    self._converse(behaviour)
                else:
                    self._converse_stream(behaviour)
            except OSError:  # the client gave up (e.g. read timeout)
                self.close_connection = True

        def _send(self, status: int, content_type: str, body: bytes, extra: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, code: str, message: str, status: int) -> None:
            self._send(status, "application/json", json.dumps({"message": message}).encode(),
                       {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"})

        def _converse(self, b: Behaviour) -> None:
            resp = {
                "output": {"message": {"role": "assistant",
                                       "content": [{"text": "".join(b.chunks)}]}},
                "stopReason": b.stop_reason,
                "usage": {"inputTokens": b.input_tokens, "outputTokens": b.output_tokens,
                          "totalTokens": b.input_tokens + b.output_tokens},
                "metrics": {"latencyMs": 1},
            }
            self._send(200, "application/json", json.dumps(resp).encode())

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        def _converse_stream(self, b: Behaviour) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.amazon.eventstream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
            self.end_headers()
            self._chunk(event("messageStart", {"role": "assistant"}))
            for i, text in enumerate(b.chunks):
                if b.stream_exception and i == b.exception_after:
                    break
                if b.stall_after is not None and i == b.stall_after:
                    time.sleep(b.stall)
                frame = event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text}})
                if i == 0:
                    standin.first_delta_ns.append(time.perf_counter_ns())
                self._chunk(frame)
            if b.stream_exception:
                self._chunk(exception(b.stream_exception, b.error_message))
            else:
                self._chunk(event("contentBlockStop", {"contentBlockIndex": 0}))
                self._chunk(event("messageStop", {"stopReason": b.stop_reason}))
                self._chunk(event("metadata", {
                    "usage": {"inputTokens": b.input_tokens, "outputTokens": b.output_tokens,
                              "totalTokens": b.input_tokens + b.output_tokens},
                    "metrics": {"latencyMs": 1}}))
            self.wfile.write(b"0\r\n\r\n")

    return Handler
