"""Amazon SageMaker backend: OpenAI-style chat completions on a real-time endpoint.

Calls ``sagemaker-runtime`` InvokeEndpoint (whole completions) and
InvokeEndpointWithResponseStream (streams), adding ``InferenceComponentName``
when the alias targets an inference component (e.g. one LoRA adapter of a
shared base model: several aliases may point at one endpoint).  The client
comes from :func:`upstream.make_client` (timeouts/retries ``GATEWAY_UPSTREAM_*``
or ``GATEWAY_BEDROCK_*``; endpoint override ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``).

Request body (ContentType and Accept ``application/json``): an OpenAI
chat-completions request, the schema LMI (djl-inference >= 0.29), the AWS vLLM
SageMaker DLC and TGI's messages API accept on ``/invocations``::

    {"messages": [...], "max_tokens": N, "temperature"?, "top_p"?, "stop"?,
     "stream": bool, "stream_options": {"include_usage": true}}   # stream_options: streams only

System prompts are joined with a blank line into one leading ``system`` message
(many chat templates accept only one).

Responses are OpenAI ``chat.completion`` objects.  Streams: PayloadPart bytes
are arbitrary slices of the container's output, reassembled into lines by
:class:`LineSplitter`; a line is SSE (``data: {...}``, ``data: [DONE]``; blank
lines, comments and other SSE fields are ignored) or a bare JSON chunk (LMI
jsonlines).  finish_reason is mapped back with
:func:`openai_compat.backend_stop_reason`; usage comes from the usage chunk,
else 0.  A container error object (``{"error": ...}`` or ``{"object": "error"}``)
fails the request like a ModelError with the same status.

Errors (:func:`map_error`; Retry-After in seconds):

=================================================  ===========================================
ThrottlingException                                429 rate_limit_exceeded, Retry-After 2
ModelError, container 429                          429 rate_limit_exceeded, Retry-After 2
ModelError, container 4xx (e.g. prompt too long)   400 invalid_request_error, container's message
ModelError, container 408 / "timed out"            504 timeout
ModelError, container 5xx or no status             502 api_error ``upstream_model_error``
ValidationError "... no capacity ..."              503 service_unavailable ``model_scaling_up``,
(inference component scaled to zero / busy)        Retry-After 30
ValidationError "... not found"                    502 api_error ``upstream_model_not_found``
any other ValidationError                          502 api_error ``upstream_rejected``
ModelNotReadyException                             503 service_unavailable, Retry-After 5
ServiceUnavailable                                 503 service_unavailable, Retry-After 5
AccessDeniedException                              502 api_error ``upstream_access_denied``
InternalFailure, InternalDependencyException,      502 api_error ``upstream_error``
ModelStreamError, InternalStreamFailure, others
read / connect timeout                             504 timeout
endpoint unreachable                               502 api_error ``upstream_unreachable``
unparseable container output                       502 api_error ``upstream_bad_response``
=================================================  ===========================================

SageMaker's own ValidationError is about the envelope the gateway built (endpoint,
component, size), never about the caller's messages (the container reports those
as ModelError 4xx), hence 502 rather than 400.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from botocore.exceptions import ClientError

import upstream
from backend import Completion, Usage
from errors import GatewayError
from openai_compat import backend_stop_reason
from upstream import ErrorSpec

JSON = "application/json"
#: Retry-After while an inference component scales up from zero (takes minutes).
WAKE_RETRY_AFTER = 30
#: Longest container error message passed on to clients.
MAX_DETAIL_CHARS = 1000

NO_CAPACITY = ErrorSpec(503, "service_unavailable", "model_scaling_up",
                        "The model has no capacity right now (it may be scaling up from zero); "
                        "retry in a minute.", WAKE_RETRY_AFTER)
NOT_FOUND = ErrorSpec(502, "api_error", "upstream_model_not_found",
                      "The gateway cannot find {target}. This is a deployment problem, "
                      "not a problem with your request.")
ENVELOPE_REJECTED = ErrorSpec(502, "api_error", "upstream_rejected",
                              "SageMaker rejected the gateway's call to {target}. This is a "
                              "deployment problem, not a problem with your request.")
MODEL_FAILED = ErrorSpec(502, "api_error", "upstream_model_error",
                         "The model on {target} failed to handle the request; retry the request.")

# SageMaker Runtime error code (lower-cased) -> how clients see it (ModelError and
# ValidationError are classified by their content in map_error).
_ERRORS: dict[str, ErrorSpec] = {
    "throttlingexception": upstream.THROTTLED,
    "modelnotreadyexception": upstream.NOT_READY,
    "serviceunavailable": upstream.UNAVAILABLE,
    "accessdeniedexception": upstream.ACCESS_DENIED,
}


def make_client(**overrides):
    """Create a ``sagemaker-runtime`` client (see :func:`upstream.make_client`)."""
    return upstream.make_client("sagemaker-runtime", **overrides)


# --------------------------------------------------------------------------- errors

def _target(display_id: str) -> str:
    return f"SageMaker endpoint '{display_id}'"


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_DETAIL_CHARS else text[:MAX_DETAIL_CHARS] + "..."


def container_message(raw: Any) -> str:
    """A readable message from a container error body (OpenAI/vLLM, TGI, LMI JSON, or text)."""
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return _clip(raw)
    if isinstance(raw, dict):
        for key in ("message", "error", "detail"):
            value = raw.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            elif isinstance(value, list):  # FastAPI/pydantic: only the messages, never the echoed input
                value = "; ".join(str(d["msg"]) for d in value if isinstance(d, dict) and "msg" in d)
            if isinstance(value, str) and value.strip():
                return _clip(value)
        return _clip(json.dumps(raw))
    return _clip(str(raw))


def _status(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def container_error(status: int | None, detail: str, display_id: str,
                    metric_type: str = "ModelError") -> GatewayError:
    """The error for a container that answered ``status`` with ``detail`` (see table above)."""
    if status == 429:
        spec = upstream.THROTTLED
    elif status == 408 or (not status and "timed out" in detail.lower()):
        spec = upstream.TIMED_OUT
    elif status is not None and 400 <= status < 500:
        spec = upstream.REJECTED
    else:
        spec = MODEL_FAILED
    return spec.error(_target(display_id), "The model service", detail, metric_type)


def map_error(exc: Exception, display_id: str) -> GatewayError:
    """Translate a botocore exception from sagemaker-runtime into a :class:`GatewayError`."""
    if isinstance(exc, ClientError):
        code, message = upstream.client_error_parts(exc)
        if code == "ModelError":
            original = exc.response.get("OriginalMessage")
            status = _status(exc.response.get("OriginalStatusCode"))
            if not status and "timed out" in message.lower():
                return container_error(None, message, display_id)
            return container_error(status, container_message(original) if original else message,
                                   display_id)
        if code == "ValidationError":
            lowered = message.lower()
            if "no capacity" in lowered:
                return NO_CAPACITY.error(_target(display_id), "", message, "NoCapacity")
            spec = NOT_FOUND if "not found" in lowered else ENVELOPE_REJECTED
            return spec.error(_target(display_id), "", message, code)
    return upstream.map_error(exc, _ERRORS, _target(display_id))


def _bad_response(display_id: str, why: str) -> GatewayError:
    return GatewayError(502, f"{_target(display_id)} returned a response the gateway could not "
                             f"understand ({why}).", type="api_error", code="upstream_bad_response",
                        metric_type="BadModelResponse")


def _raise_if_error(obj: dict, display_id: str) -> None:
    """Raise for a container error object (vLLM ``{"error": {...}}``/``{"object": "error"}``, TGI)."""
    if obj.get("error") is None and obj.get("object") != "error":
        return
    error = obj.get("error")
    status = _status(obj.get("code"))
    if isinstance(error, dict):
        status = _status(error.get("code")) or status
    raise container_error(status, container_message(obj), display_id)


# --------------------------------------------------------------------------- requests

def request_body(request, stream: bool) -> dict:
    """The OpenAI chat-completions body sent to the container."""
    messages = []
    if request.system:
        messages.append({"role": "system", "content": "\n\n".join(request.system)})
    messages.extend({"role": m.role, "content": m.text} for m in request.messages)
    body: dict[str, Any] = {"messages": messages, "max_tokens": request.max_tokens}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop"] = list(request.stop)
    body["stream"] = stream
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def invoke_params(request, stream: bool) -> dict:
    """Keyword arguments for InvokeEndpoint / InvokeEndpointWithResponseStream."""
    target = request.model.target
    params = {
        "EndpointName": target.endpoint_name,
        "Body": json.dumps(request_body(request, stream), ensure_ascii=False).encode(),
        "ContentType": JSON,
        "Accept": JSON,
    }
    if target.inference_component_name:
        params["InferenceComponentName"] = target.inference_component_name
    return params


# --------------------------------------------------------------------------- responses

def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))


def _choices(obj: dict, display_id: str) -> list[dict]:
    choices = obj.get("choices")
    if choices is None:
        return []
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise _bad_response(display_id, "'choices' is not a list of objects")
    return choices


def parse_completion(raw: bytes, display_id: str) -> Completion:
    """Parse a non-streaming ``chat.completion`` response body."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise _bad_response(display_id, "not JSON") from None
    if not isinstance(data, dict):
        raise _bad_response(display_id, "not a JSON object")
    _raise_if_error(data, display_id)
    choices = _choices(data, display_id)
    if not choices:
        raise _bad_response(display_id, "no choices")
    message = choices[0].get("message")
    text = message.get("content") if isinstance(message, dict) else None
    if not isinstance(text, (str, type(None))):
        raise _bad_response(display_id, "message content is not text")
    return Completion(text or "", backend_stop_reason(choices[0].get("finish_reason")),
                      _usage(data.get("usage")))


class LineSplitter:
    """Reassembles lines from arbitrary byte fragments (``\\n`` or ``\\r\\n`` endings)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Add a fragment; return the lines it completed (without line endings)."""
        if b"\n" not in data:
            self._pending += data
            return []
        *lines, self._pending = (self._pending + data).split(b"\n")
        return [line.rstrip(b"\r") for line in lines]

    def flush(self) -> list[bytes]:
        """The unterminated last line, if any (call once the input has ended)."""
        rest, self._pending = self._pending.rstrip(b"\r"), b""
        return [rest] if rest.strip() else []


#: :func:`parse_line` result for ``data: [DONE]``.
DONE: dict = {}


def parse_line(line: bytes, display_id: str) -> dict | None:
    """One line of container output -> chunk dict, :data:`DONE`, or ``None`` (nothing)."""
    try:
        text = line.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise _bad_response(display_id, "invalid UTF-8") from None
    if text.startswith("data:"):
        text = text[5:].strip()
        if text == "[DONE]":
            return DONE
    elif not text.startswith("{"):
        return None  # blank line, SSE comment (':') or another SSE field (event:, id:, retry:)
    try:
        obj = json.loads(text)
    except ValueError:
        raise _bad_response(display_id, "a stream line is not JSON") from None
    if not isinstance(obj, dict):
        raise _bad_response(display_id, "a stream line is not a JSON object")
    return obj


class SageMakerStream(upstream.UpstreamStream):
    """Adapts an InvokeEndpointWithResponseStream body to :class:`backend.CompletionStream`."""

    def __init__(self, event_stream, display_id: str) -> None:
        super().__init__(event_stream)
        self._display_id = display_id
        self._done = False

    def _map_error(self, exc: Exception) -> GatewayError:
        return map_error(exc, self._display_id)

    def _texts(self) -> Iterator[str]:
        lines = LineSplitter()
        for event in self._events:
            part = event.get("PayloadPart")
            if part:
                for line in lines.feed(part.get("Bytes") or b""):
                    yield from self._line(line)
        for line in lines.flush():
            yield from self._line(line)

    def _line(self, line: bytes) -> Iterator[str]:
        if self._done:
            return
        chunk = parse_line(line, self._display_id)
        if chunk is DONE:
            self._done = True
        elif chunk is not None:
            _raise_if_error(chunk, self._display_id)
            if chunk.get("usage"):
                self.usage = _usage(chunk["usage"])
            for choice in _choices(chunk, self._display_id):
                delta = choice.get("delta")
                text = delta.get("content") if isinstance(delta, dict) else None
                if text and isinstance(text, str):
                    yield text
                if choice.get("finish_reason"):
                    self.stop_reason = backend_stop_reason(choice["finish_reason"])


class SageMakerBackend:
    """Backend for ``target.type == "sagemaker"``."""

    def __init__(self, client=None) -> None:
        self.client = client or make_client()

    def complete(self, request) -> Completion:
        """Call InvokeEndpoint and parse the whole ``chat.completion``."""
        display_id = request.model.target.display_id
        with upstream.mapped_errors(lambda exc: map_error(exc, display_id)):
            resp = self.client.invoke_endpoint(**invoke_params(request, stream=False))
            raw = resp["Body"].read()
        return parse_completion(raw, display_id)

    def stream(self, request) -> SageMakerStream:
        """Call InvokeEndpointWithResponseStream; HTTP-level errors raise here, before any part."""
        display_id = request.model.target.display_id
        with upstream.mapped_errors(lambda exc: map_error(exc, display_id)):
            resp = self.client.invoke_endpoint_with_response_stream(**invoke_params(request, stream=True))
        return SageMakerStream(resp["Body"], display_id)
