"""HTTP/1.1 front end: an OpenAI-compatible API on the standard library's HTTP server.

Routes::

    POST /v1/chat/completions   (JSON, or SSE with chunked transfer encoding)
    POST /v1/embeddings         (embedding aliases)
    GET  /v1/models
    GET  /v1/models/{id}        (404 model_not_found for an unknown alias)
    GET  /v1/usage[?team=x]     (governance: the caller's usage and remaining budget; ?team= admins only)
    GET  /health                -> {"status": "ok"}  (Lambda Web Adapter readiness)

Run with ``python3 server.py``; ``HOST`` (default 127.0.0.1) and ``PORT``
(default 8080) choose the listening address, ``GATEWAY_CONFIG`` the models.
Every error, including unexpected ones, is answered in OpenAI's error shape.  An error
that only a change to the deployment can fix (``errors.DEPLOYMENT_ERROR_CODES``: model
access, an invalid model ID, IAM) carries ``x-should-retry: false``, which the OpenAI SDKs
obey instead of retrying the 502.  With ``corsAllowOrigins`` configured, every response to a
request whose ``Origin`` is allowed carries ``Access-Control-Allow-Origin`` (preflights are
answered by API Gateway).  With ``governance`` configured, every route but ``/health`` first resolves
the caller (:mod:`identity`; 401 ``invalid_api_key`` without a valid identity).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Generator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

import identity
from config import ConfigError, GatewayConfig, load_config
from errors import GatewayError, invalid_request
from service import ChatService
from telemetry import RequestRecord

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"
MODEL_PREFIX = "/v1/models/"
USAGE_PATH = "/v1/usage"
ROUTES = {
    CHAT_PATH: "POST",
    EMBEDDINGS_PATH: "POST",
    "/v1/models": "GET",
    USAGE_PATH: "GET",
    "/health": "GET",
}
#: Routes that read a request body.
BODY_ROUTES = frozenset({CHAT_PATH, EMBEDDINGS_PATH})
DONE_FRAME = b"data: [DONE]\n\n"
LAST_CHUNK = b"0\r\n\r\n"
#: Unwanted request bodies up to this size are read and discarded (see _skip_body).
DRAIN_LIMIT = 8 * 1024 * 1024


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _chunk(payload: bytes) -> bytes:
    """Frame ``payload`` as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _sse(obj: object) -> bytes:
    return b"data: " + _dumps(obj) + b"\n\n"


def _request_id(header: str | None) -> str | None:
    """Lambda request id from the Web Adapter's ``x-amzn-lambda-context`` header."""
    if not header:
        return None
    try:
        return json.loads(header).get("request_id")
    except (ValueError, AttributeError):
        return None


def _error_headers(err: GatewayError) -> dict[str, str] | None:
    headers: dict[str, str] = {}
    if err.retry_after is not None:
        headers["Retry-After"] = str(err.retry_after)
    if err.is_deployment_problem:
        headers["x-should-retry"] = "false"  # openai _base_client._should_retry obeys it
    return headers or None


def _route(path: str) -> str | None:
    """The method ``path`` answers to (``/v1/models/{id}`` included), or ``None``."""
    if path.startswith(MODEL_PREFIX) and len(path) > len(MODEL_PREFIX):
        return "GET"
    return ROUTES.get(path)


class GatewayHandler(BaseHTTPRequestHandler):
    """Request handler; the :class:`ChatService` lives on ``self.server.service``."""

    protocol_version = "HTTP/1.1"
    server_version = "llm-gateway/1"
    sys_version = ""
    disable_nagle_algorithm = True  # TCP_NODELAY: SSE frames leave immediately.
    #: Annotations only (no runtime effect): the server is always a :class:`GatewayServer`, and
    #: typeshed does not declare the header buffer that ``send_header`` fills.
    server: GatewayServer
    _headers_buffer: list[bytes]

    # -- plumbing ----------------------------------------------------------------

    def log_message(self, format: str, *args) -> None:
        """Silence the default stderr access log; telemetry logs one JSON line per request."""

    def send_response(self, code: int, message: str | None = None) -> None:
        """Status line and common headers; ``Access-Control-Allow-Origin`` for an allowed browser origin."""
        super().send_response(code, message)
        origins = self.server.service.config.cors_allow_origins
        if not origins:
            return
        if "*" in origins:
            self.send_header("Access-Control-Allow-Origin", "*")
            return
        self.send_header("Vary", "Origin")  # the answer depends on the request's Origin (caches must key on it)
        headers = getattr(self, "headers", None)  # not yet parsed when the request line is bad
        origin = headers.get("Origin") if headers is not None else None
        if origin is not None and origin in origins:
            self.send_header("Access-Control-Allow-Origin", origin)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer protocol-level errors (bad request line, ...) in OpenAI shape too."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # unparseable request line: answer as HTTP/1.1
            self.request_version = self.protocol_version
        etype = "invalid_request_error" if code < 500 else "server_error"
        self._send_json(code, GatewayError(code, message or "Bad request", type=etype).to_dict())

    def _send_json(self, status: int, obj: object, headers: dict[str, str] | None = None) -> None:
        body = _dumps(obj)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        # Equivalent to end_headers() + write(body), but as a single send(): one
        # packet on the wire instead of two for small responses.
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(body)
        self.flush_headers()

    def _send_error(self, err: GatewayError) -> None:
        self._send_json(err.status, err.to_dict(), _error_headers(err))

    def _dispatch(self) -> None:
        path = self.path.split("?", 1)[0]
        method = _route(path)
        if not (path in BODY_ROUTES and self.command == "POST"):
            self._skip_body()  # only chat completions and embeddings read a body
        if method is None:
            self._send_error(GatewayError(404, f"Unknown route {self.command} {path}.", code="unknown_url"))
        elif method != self.command:
            self._send_json(
                405,
                GatewayError(
                    405, f"Method {self.command} is not allowed on {path}.", code="method_not_allowed"
                ).to_dict(),
                {"Allow": method},
            )
        elif path == "/health":
            self._send_json(200, {"status": "ok"})
        elif not self._identify():
            return
        elif path == USAGE_PATH:
            self._usage()
        elif path == "/v1/models":
            self._send_json(200, self.server.service.list_models())
        elif path.startswith(MODEL_PREFIX):
            try:
                self._send_json(200, self.server.service.retrieve_model(unquote(path[len(MODEL_PREFIX) :])))
            except GatewayError as err:
                self._send_error(err)
        elif path == EMBEDDINGS_PATH:
            self._serve(self.server.service.embed)
        else:
            self._serve(self._chat)

    def _identify(self) -> bool:
        """Resolve the caller (governance only); answer 401 and return False when there is none."""
        self._principal: identity.Caller | None = None
        governance = self.server.service.governance
        if governance is None:
            return True
        try:
            # Lower-cased names: behind the Lambda Web Adapter headers arrive lower-cased (HTTP/2 style).
            self._principal = governance.identify({k.lower(): v for k, v in self.headers.items()})
        except GatewayError as err:
            self._send_error(err)
            return False
        return True

    def _record(self) -> RequestRecord:
        """A new request record, carrying the caller (team as a metric dimension, the caller only as a hash)."""
        record = RequestRecord(_request_id(self.headers.get("x-amzn-lambda-context")))
        principal = getattr(self, "_principal", None)
        if principal is not None:
            record.principal = principal
            record.team = principal.team
            record.caller = identity.caller_hash(principal)
        return record

    def _usage(self) -> None:
        """``GET /v1/usage[?team=<name>]``."""
        query = parse_qs(self.path.partition("?")[2])
        team = query.get("team", [None])[0]
        record = self._record()
        try:
            self._send_json(200, self.server.service.usage(record, team))
        except GatewayError as err:
            self._send_error(err)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    # -- chat completions --------------------------------------------------------

    def _skip_body(self) -> None:
        """Discard a request body we will not process, so the connection stays usable.

        Closing a socket with unread input makes the kernel send a reset, which can
        destroy the error response before the client reads it; so small-enough
        bodies are drained, anything else (or a chunked body) ends the connection.
        """
        length = self.headers.get("Content-Length")
        if "Transfer-Encoding" in self.headers or (length and not length.isdigit()):
            self.close_connection = True
            return
        remaining = int(length or 0)
        if remaining > DRAIN_LIMIT:
            self.close_connection = True
            return
        while remaining > 0:
            data = self.rfile.read(min(remaining, 65536))
            if not data:
                self.close_connection = True
                return
            remaining -= len(data)

    def _read_body(self, max_bytes: int) -> bytes:
        """Read the request body, enforcing Content-Length and the size limit."""
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise invalid_request("A Content-Length header is required.", code="length_required", status=411)
        if not length.isdigit():
            self.close_connection = True
            raise invalid_request("Invalid Content-Length header.", code="invalid_request")
        size = int(length)
        if size > max_bytes:
            self._skip_body()
            raise invalid_request(
                f"Request body is {size} bytes; the limit is {max_bytes}.", code="request_too_large", status=413
            )
        return self.rfile.read(size)

    def _internal_error(self, exc: Exception) -> GatewayError:
        """Log an unexpected exception (with traceback) and wrap it for the client."""
        self.server.service.telemetry.logger.exception("unhandled error serving request")
        return GatewayError(
            500,
            "The gateway hit an internal error.",
            type="server_error",
            code="internal_error",
            metric_type=type(exc).__name__,
        )

    def _chat(self, body: bytes, record: RequestRecord) -> dict | None:
        """Serve one chat completion: the ``chat.completion`` dict, or ``None`` once a stream was sent."""
        service = self.server.service
        request = service.parse(body, record)
        if request.stream:
            chunks = service.stream(request, record)  # upstream errors raise before any byte
            self._write_stream(chunks, record)
            return None
        return service.complete(request, record)

    def _serve(self, handle: Callable[[bytes, RequestRecord], dict | None]) -> None:
        """Read the body, run ``handle`` and answer with its dict (or its error).

        Telemetry is finished *before* the last bytes of the response go out: in
        Lambda the execution environment may be frozen as soon as the response is
        complete, so anything written afterwards could be delayed or lost.
        """
        service = self.server.service
        record = self._record()
        try:
            body = self._read_body(service.config.limits.max_request_bytes)
            payload = handle(body, record)
            if payload is None:  # streamed
                return
            status, headers = 200, None
        except GatewayError as err:
            record.fail(err)
            status, payload, headers = err.status, err.to_dict(), _error_headers(err)
        except Exception as exc:  # our bug: answer in OpenAI shape, never with a traceback
            internal = self._internal_error(exc)
            record.fail(internal)
            self.close_connection = True
            status, payload, headers = internal.status, internal.to_dict(), None
        finally:
            service.settle_open(record)  # a no-op unless a reservation was left open
            service.telemetry.finish(record)  # idempotent: a no-op if already finished
        try:
            self._send_json(status, payload, headers)
        except OSError:  # the client is gone; nothing left to tell it
            self.close_connection = True

    def _send(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except OSError as exc:
            raise _ClientDisconnected from exc

    def _write_stream(self, chunks: Generator[dict, None, None], record: RequestRecord) -> None:
        """Send ``chunks`` as Server-Sent Events (one HTTP chunk per frame).

        Once the 200 header is out, a failure becomes a final ``data: {"error": ...}``
        frame (no ``[DONE]``) and the connection is closed.  A client disconnect
        closes the upstream stream; the request is recorded as status 499.
        """
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        finish = self.server.service.telemetry.finish
        try:
            try:
                for chunk in chunks:
                    self._send(_chunk(_sse(chunk)))
                finish(record)
                self._send(_chunk(DONE_FRAME) + LAST_CHUNK)
                return
            except _ClientDisconnected:
                raise
            except GatewayError as err:
                failure = err
            except Exception as exc:
                failure = self._internal_error(exc)
            record.fail(failure)
            finish(record)
            self.close_connection = True
            self._send(_chunk(_sse(failure.to_dict())) + LAST_CHUNK)
        except _ClientDisconnected:
            self.close_connection = True
            if not record.finished:
                record.status = 499
                record.error_type = "ClientDisconnected"
        finally:
            chunks.close()  # closes the upstream stream (and records its usage, settles the budget) first
            self.server.service.settle_open(record)  # the generator never ran: settle to the reservation
            finish(record)


class _ClientDisconnected(Exception):
    """The client closed the connection while we were writing to it."""


class GatewayServer(ThreadingHTTPServer):
    """Threaded HTTP server holding the shared :class:`ChatService`."""

    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001 (socketserver signature)
        """A client resetting an idle keep-alive connection is routine, not a traceback in the logs."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    def __init__(self, address: tuple[str, int], service: ChatService) -> None:
        self.service = service
        super().__init__(address, GatewayHandler)


def make_server(
    config: GatewayConfig, host: str = "127.0.0.1", port: int = 0, service: ChatService | None = None
) -> GatewayServer:
    """Create (bind, not yet serve) a gateway server; ``port=0`` picks a free port."""
    return GatewayServer((host, port), service or ChatService(config))


def start_in_thread(server: GatewayServer) -> threading.Thread:
    """Serve ``server`` in a daemon thread (stop with ``server.shutdown()``)."""
    thread = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
    thread.start()
    return thread


def main() -> int:
    """Entry point: load GATEWAY_CONFIG, bind HOST:PORT and serve forever."""
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"gateway start-up failed: {exc}", file=sys.stderr, flush=True)
        return 2
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    server = make_server(config, host, port)
    server.service.telemetry.logger.info(
        "gateway listening",
        extra={"host": host, "port": server.server_address[1], "models": [m.alias for m in config.models]},
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # pragma: no cover
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
