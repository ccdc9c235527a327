"""Pieces shared by the AWS stand-ins (Bedrock, SageMaker, Knowledge Bases).

* AWS event-stream binary framing (``application/vnd.amazon.eventstream``):
  :func:`encode_message` and helpers for events and in-stream exceptions.
* :class:`ScriptedStandIn`: a loopback HTTP server (ephemeral port) that serves
  queued behaviours (:meth:`~ScriptedStandIn.script`, else
  :attr:`~ScriptedStandIn.default`) and records every request it receives.
* :class:`StandInHandler`: request-handler base for REST-JSON routes
  ``POST /{prefix}/{name}/{operation}``: records the request, applies the
  behaviour's ``delay`` and ``error``, else calls :meth:`~StandInHandler.respond`;
  plus reply helpers (JSON bodies, ``x-amzn-ErrorType`` errors, chunked event streams).
"""

from __future__ import annotations

import json
import struct
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

REQUEST_ID = "00000000-0000-0000-0000-000000000000"


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


def event(event_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    """An ``:message-type: event`` message carrying ``payload``."""
    return encode_message({":event-type": event_type, ":content-type": content_type, ":message-type": "event"}, payload)


def exception(exception_type: str, body: dict) -> bytes:
    """An ``:message-type: exception`` message with a JSON body."""
    return encode_message(
        {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"},
        json.dumps(body).encode(),
    )


# --------------------------------------------------------------------------- server


class StandInHandler(BaseHTTPRequestHandler):
    """Base request handler for ``POST /{prefix}/{name}/{operation}`` routes.

    Subclasses set :attr:`prefix`, :attr:`operations` and :attr:`error_status`
    (AWS error code -> HTTP status) and implement :meth:`received` and
    :meth:`respond`.  ``standin`` is set per server.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    standin: ScriptedStandIn
    prefix: str
    operations: tuple[str, ...]
    error_status: dict[str, int] = {}

    def log_message(self, *args) -> None:
        pass

    def received(self, operation: str, name: str, body: dict) -> Any:
        """The record of one request (kept in ``standin.requests``)."""
        raise NotImplementedError

    def respond(self, received: Any, behaviour: Any) -> None:
        """Answer a request whose behaviour has no ``error``."""
        raise NotImplementedError

    def send_scripted_error(self, behaviour: Any) -> None:
        """Answer with ``behaviour.error`` (``{"message": ...}`` body)."""
        self.send_aws_error(
            behaviour.error, self.error_status.get(behaviour.error, 400), {"message": behaviour.error_message}
        )

    def do_POST(self) -> None:
        parts = self.path.split("?", 1)[0].split("/")  # ['', prefix, name, operation]
        body = self.read_body()
        if len(parts) != 4 or parts[1] != self.prefix or parts[3] not in self.operations:
            self.send_aws_error("UnknownOperationException", 404, {"message": "unknown route"})
            return
        received = self.received(parts[3], unquote(parts[2]), json.loads(body or b"{}"))
        behaviour = self.standin.next_behaviour(received)
        try:
            if behaviour.delay:
                time.sleep(behaviour.delay)
            if behaviour.error:
                self.send_scripted_error(behaviour)
            else:
                self.respond(received, behaviour)
        except OSError:  # the client gave up (e.g. read timeout)
            self.close_connection = True

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def send_body(self, status: int, content_type: str, body: bytes, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", REQUEST_ID)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, obj: Any, status: int = 200, extra: dict | None = None) -> None:
        self.send_body(status, "application/json", json.dumps(obj).encode(), extra)

    def send_aws_error(self, code: str, status: int, body: dict) -> None:
        """A REST-JSON error: HTTP status, ``x-amzn-ErrorType`` header and JSON body."""
        self.send_json(body, status, {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/"})

    def start_event_stream(self, extra: dict | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-amzn-RequestId", REQUEST_ID)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        """One HTTP/1.1 chunk (one event-stream message per chunk)."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_event_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001 (socketserver signature)
        """Clients (the gateway after a timeout) resetting connections is expected, not a traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class ScriptedStandIn:
    """A scriptable AWS stand-in on 127.0.0.1 (ephemeral port).

    Subclasses set :attr:`handler` (a :class:`StandInHandler` subclass) and
    :attr:`behaviour` (a dataclass; its default instance is used when nothing is
    scripted).  Handlers call :meth:`next_behaviour` with what they received.
    """

    handler: type[StandInHandler]
    behaviour: Callable[[], Any]
    name = "standin"

    def __init__(self) -> None:
        self._script: deque = deque()
        self._lock = threading.Lock()
        self.default = self.behaviour()
        self.requests: list = []
        handler = type(f"{type(self).__name__}Handler", (self.handler,), {"standin": self})
        self.server = _Server(("127.0.0.1", 0), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name=self.name)
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
            self.default = self.behaviour()

    def script(self, *behaviours) -> None:
        """Queue behaviours for the next requests (then :attr:`default` applies)."""
        with self._lock:
            self._script.extend(behaviours)

    def next_behaviour(self, received):
        """Record ``received`` and return the behaviour for it."""
        with self._lock:
            self.requests.append(received)
            return self._script.popleft() if self._script else self.default
