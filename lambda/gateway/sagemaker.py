"""Amazon SageMaker backend: OpenAI-style chat completions on a real-time endpoint.

Calls ``sagemaker-runtime`` InvokeEndpoint (whole completions) and
InvokeEndpointWithResponseStream (streams), adding ``InferenceComponentName``
when the alias targets an inference component (e.g. one LoRA adapter of a
shared base model: several aliases may point at one endpoint).  Clients come
from :func:`upstream.make_client` (timeouts/retries ``GATEWAY_UPSTREAM_*`` or
``GATEWAY_BEDROCK_*``; endpoint override ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``);
the InvokeEndpoint client's read timeout is capped at :data:`INVOKE_READ_TIMEOUT`
(SageMaker gives a container 60 s to answer a non-streaming call).

Request body (ContentType and Accept ``application/json``): an OpenAI
chat-completions request, the schema LMI (djl-inference >= 0.29), the AWS vLLM
SageMaker DLC and TGI's messages API accept on ``/invocations``::

    {"messages": [...], "max_tokens": N, "temperature"?, "top_p"?, "stop"?,
     "stream": bool, "stream_options": {"include_usage": true}}   # stream_options: streams only

System prompts are joined with a blank line into one leading ``system`` message
(many chat templates accept only one).  Assistant ``tool_calls``, ``tool`` messages and
images (as base64 data URLs) are forwarded in OpenAI's shape.  ``tools``,
``tool_choice``, ``parallel_tool_calls`` (only when false) go to the containers that
speak OpenAI tool calling (:data:`TOOL_KINDS`: vLLM, LMI with the vLLM engine; both
need the server's tool parser enabled, see the README), ``response_format`` to vLLM
(:data:`RESPONSE_FORMAT_KINDS`); elsewhere they are a 400 before any call.
``tool_calls`` and ``reasoning_content`` (vLLM's reasoning parser; newer vLLM names it
``reasoning``) of the answer come back in OpenAI's shape; a finish_reason of ``stop``
next to tool calls (LMI reports ``eos_token``) becomes ``tool_calls``.  Per container kind (``containerKind`` of
the target): TGI rejects ``top_p`` >= 1 (router/src/validation.rs), so 1 is left
out (it means "no nucleus filtering", TGI's default); TGI, vLLM and LMI (vLLM
engine) reject ``top_p`` = 0, which is a 400 here before any call.  A body over
:data:`MAX_BODY_BYTES` is a 413 before any call.

Responses are OpenAI ``chat.completion`` objects.  Streams: PayloadPart bytes
are arbitrary slices of the container's output, reassembled into lines by
:class:`LineSplitter`; a line is SSE (``data: {...}``, ``data: [DONE]``; blank
lines, comments and other SSE fields are ignored: vLLM, TGI) or a bare JSON chunk
(LMI).  finish_reason is mapped back with :func:`openai_compat.backend_stop_reason`;
``abort`` (vLLM, passed on by LMI) and ``error`` (LMI) fail the request as a 502:
the answer is incomplete.  A container error object (``{"error": ...}``,
``{"object": "error"}``, LMI's ``{"code": 424, "error": ...}``, TGI's
``{"error": {"message", "http_status_code"}}``) fails the request like a
ModelError with the same status.

Usage: the container's ``usage`` object (``usage.source`` = reported).  LMI in
rolling-batch mode (the default ``LlmContainer.lmi()``) streams no usage at all
and ignores ``stream_options`` (djl-serving 0.34 ``output_formatter.py``
``_jsonlines_chat_output_formatter``): then completion tokens are *counted* (one
streamed text chunk per token: LMI writes one JSON line per generated token) and
prompt tokens *estimated* (:data:`CHARS_PER_TOKEN` characters per token); a
non-streamed answer without usage gets both estimated.  :class:`backend.Usage`
carries which.

Errors (:func:`map_error`; Retry-After in seconds):

=================================================  ===========================================
ThrottlingException                                429 rate_limit_exceeded, Retry-After 2
ModelError, container 429                          429 rate_limit_exceeded, Retry-After 2
ModelError, container 400 / 422 (prompt too long)  400 invalid_request_error, container's message
ModelError, container 413                          413 invalid_request_error ``request_too_large``
ModelError, container 408 / "timed out"            504 timeout
ModelError, container 404 (vLLM: unknown model),   502 api_error ``upstream_model_not_found``
"LoRA adapter ... not found in registry" (LMI)     (a deployment problem)
ModelError, container 424 (LMI engine failure,     502 api_error ``upstream_model_error``
TGI generation error), other 4xx, 5xx, no status   (retry)
ValidationError "... no capacity ..."              503 service_unavailable ``model_scaling_up``,
(inference component scaled to zero / busy)        Retry-After 30
ValidationError "... not found"                    502 api_error ``upstream_model_not_found``
any other ValidationError                          502 api_error ``upstream_rejected``
ModelNotReadyException                             503 service_unavailable, Retry-After 5
ServiceUnavailable                                 503 service_unavailable, Retry-After 5
AccessDeniedException                              502 api_error ``upstream_access_denied``
ModelStreamError ModelInvocationTimeExceeded       504 timeout ``upstream_timeout``
InternalFailure, InternalDependencyException,      502 api_error ``upstream_error``
ModelStreamError (StreamBroken),
InternalStreamFailure, others
read / connect timeout                             504 timeout
endpoint unreachable                               502 api_error ``upstream_unreachable``
unparseable container output                       502 api_error ``upstream_bad_response``
=================================================  ===========================================

LMI answers 424 for engine failures (djl-serving 0.34 ``rolling_batch.py``
``stop_on_any_exception``) and for input parsing failures (``input_parser.py``,
``huggingface.py``; ``vllm_async_service.py``, including an adapter missing from its
registry), TGI for generation errors (``server.rs`` ``From<InferError>``): not the
caller's fault (the gateway validates every parameter it sends), hence 502.  TGI reports every
in-stream error with ``http_status_code`` 422; its message prefix tells a
validation error from a generation error or overload (``infer/mod.rs``), and the
status is taken from that.  SageMaker's own ValidationError is about the envelope
the gateway built (endpoint, component, size), never about the caller's messages
(the container reports those as ModelError 4xx), hence 502 rather than 400.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

import upstream
from backend import COUNTED, ESTIMATED, Completion, ReasoningDelta, StreamItem, ToolCallDelta, Usage
from errors import GatewayError, invalid_request
from images import Image
from openai_compat import TOOL_ROLE, Text, ToolCall, backend_stop_reason
from upstream import ErrorSpec

JSON = "application/json"
#: Retry-After while an inference component scales up from zero (takes minutes).
WAKE_RETRY_AFTER = 30
#: Longest container error message passed on to clients.
MAX_DETAIL_CHARS = 1000
#: Largest request body InvokeEndpoint(WithResponseStream) accepts, bytes (botocore
#: sagemaker-runtime 2017-05-13 service-2.json, shape ``BodyBlob``: max 6291456).
#: Serverless endpoints accept 4 MB ("Invoke a serverless endpoint"); SageMaker enforces that.
MAX_BODY_BYTES = 6_291_456
#: Read timeout of the InvokeEndpoint client, seconds: "A customer's model containers must
#: respond to requests within 60 seconds ... the SDK socket timeout should be set to be 70
#: seconds" (InvokeEndpoint API reference).  Streams keep the configured read timeout.
INVOKE_READ_TIMEOUT = 70.0
#: Characters per token for estimates of token counts the container does not report
#: (the usual rule of thumb for English text; rough for code and other languages).
CHARS_PER_TOKEN = 4
#: finish_reason values of an incomplete generation: vLLM's ``abort`` (LMI maps it through)
#: and LMI's ``error`` (djl-serving 0.34 rolling_batch_vllm_utils.py FINISH_REASON_MAPPER,
#: rolling_batch.py).
FAILED_FINISH_REASONS = frozenset({"abort", "error"})
#: Container kinds whose engine rejects ``top_p`` <= 0: TGI (validation.rs: ``top_p <= 0.0 ||
#: top_p >= 1.0``), vLLM (SamplingParams: ``top_p must be in (0, 1]``) and LMI (vLLM engine;
#: rolling batch answers 424 "Input Parsing failed", input_parser.py / huggingface.py).
POSITIVE_TOP_P_KINDS = {"tgi": "TGI", "vllm": "vLLM", "lmi": "LMI (vLLM engine)"}
#: Container kinds that take OpenAI ``tools``: vLLM (``--enable-auto-tool-choice --tool-call-parser``)
#: and LMI with the vLLM engine (``OPTION_ENABLE_AUTO_TOOL_CHOICE``/``OPTION_TOOL_CALL_PARSER``;
#: djl-serving serving/docs/lmi/user_guides/tool_calling.md: "Tool calling is currently supported in
#: LMI through the vLLM backend only").
TOOL_KINDS = {"vllm": "vLLM", "lmi": "LMI"}
#: Container kinds that take OpenAI ``response_format`` (vLLM's structured outputs).
RESPONSE_FORMAT_KINDS = {"vllm": "vLLM"}
#: LMI's message when an adapter inference component's adapter is not loaded (vllm_async_service.py).
ADAPTER_NOT_REGISTERED = "not found in registry"
#: TGI in-stream error messages (``InferError`` Display, infer/mod.rs) -> the HTTP status TGI
#: gives the same error outside a stream (server.rs ``From<InferError>``); others are 422.
TGI_STREAM_ERRORS = (
    ("Request failed during generation", 424),
    ("Model is overloaded", 429),
    ("Incomplete generation", 500),
    ("Stream event serialization error", 500),
)

NO_CAPACITY = ErrorSpec(
    503,
    "service_unavailable",
    "model_scaling_up",
    "The model has no capacity right now (it may be scaling up from zero); retry in a minute.",
    WAKE_RETRY_AFTER,
)
NOT_FOUND = ErrorSpec(
    502,
    "api_error",
    "upstream_model_not_found",
    "The gateway cannot find {target}. This is a deployment problem, not a problem with your request.",
)
ENVELOPE_REJECTED = ErrorSpec(
    502,
    "api_error",
    "upstream_rejected",
    "SageMaker rejected the gateway's call to {target}. This is a deployment problem, not a problem with your request.",
)
MODEL_FAILED = ErrorSpec(
    502, "api_error", "upstream_model_error", "The model on {target} failed to handle the request; retry the request."
)
GENERATION_ABORTED = ErrorSpec(
    502,
    "api_error",
    "upstream_model_error",
    "The model on {target} stopped before finishing the answer (finish_reason '{detail}'); retry the request.",
)
TOO_LARGE = ErrorSpec(
    413, "invalid_request_error", "request_too_large", "The request is too large for the model: {detail}"
)
STREAM_TIMED_OUT = ErrorSpec(
    504, "timeout", "upstream_timeout", "The model took too long to stream its answer; ask for fewer tokens."
)

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


def container_error(status: int | None, detail: str, display_id: str, metric_type: str = "ModelError") -> GatewayError:
    """The error for a container that answered ``status`` with ``detail`` (see table above)."""
    if ADAPTER_NOT_REGISTERED in detail:
        return NOT_FOUND.error(_target(display_id), "", detail, "AdapterNotFound")
    if status == 429:
        spec = upstream.THROTTLED
    elif status == 408 or (not status and "timed out" in detail.lower()):
        spec = upstream.TIMED_OUT
    elif status in (400, 422):
        spec = upstream.REJECTED
    elif status == 413:
        spec = TOO_LARGE
    elif status == 404:
        spec = NOT_FOUND
    else:  # 424 (LMI engine failure, TGI generation error), other 4xx, 5xx, no status
        spec = MODEL_FAILED
    return spec.error(_target(display_id), "The model service", detail, metric_type)


def _stream_error_code(exc: ClientError) -> str:
    """``ErrorCode`` of a ModelStreamError, if botocore kept it (1.44 keeps only Code and Message)."""
    for where in (exc.response, exc.response.get("Error", {})):
        code = where.get("ErrorCode")
        if isinstance(code, str):
            return code
    return ""


def _stream_timed_out(exc: ClientError, message: str) -> bool:
    """Whether a ModelStreamError is ``ModelInvocationTimeExceeded`` (by code, else by its wording)."""
    code = _stream_error_code(exc)
    if code:
        return code == "ModelInvocationTimeExceeded"
    lowered = message.lower()
    return any(w in lowered for w in ("modelinvocationtimeexceeded", "allotted time", "timed out", "timeout"))


def map_error(exc: Exception, display_id: str) -> GatewayError:
    """Translate a botocore exception from sagemaker-runtime into a :class:`GatewayError`."""
    if isinstance(exc, ClientError):
        code, message = upstream.client_error_parts(exc)
        if code == "ModelError":
            original = exc.response.get("OriginalMessage")
            status = _status(exc.response.get("OriginalStatusCode"))
            if not status and "timed out" in message.lower():
                return container_error(None, message, display_id)
            return container_error(status, container_message(original) if original else message, display_id)
        if code == "ValidationError":
            lowered = message.lower()
            if "no capacity" in lowered:
                return NO_CAPACITY.error(_target(display_id), "", message, "NoCapacity")
            spec = NOT_FOUND if "not found" in lowered else ENVELOPE_REJECTED
            return spec.error(_target(display_id), "", message, code)
        if code == "ModelStreamError" and _stream_timed_out(exc, message):
            return STREAM_TIMED_OUT.error(_target(display_id), "", message, "ModelInvocationTimeExceeded")
    return upstream.map_error(exc, _ERRORS, _target(display_id))


def _bad_response(display_id: str, why: str) -> GatewayError:
    return GatewayError(
        502,
        f"{_target(display_id)} returned a response the gateway could not understand ({why}).",
        type="api_error",
        code="upstream_bad_response",
        metric_type="BadModelResponse",
    )


def _tgi_stream_status(message: str) -> int:
    """The status of a TGI in-stream error (always sent as ``http_status_code`` 422), by its message."""
    for prefix, status in TGI_STREAM_ERRORS:
        if message.startswith(prefix):
            return status
    return 422


def _raise_if_error(obj: dict, display_id: str) -> None:
    """Raise for a container error object (vLLM ``{"error": {...}}``/``{"object": "error"}``,
    LMI ``{"code": 424, "error": "..."}``, TGI ``{"error": ...}``)."""
    if obj.get("error") is None and obj.get("object") != "error":
        return
    error = obj.get("error")
    status = _status(obj.get("code"))
    message = container_message(obj)
    if isinstance(error, dict):
        if "http_status_code" in error:  # TGI's OpenAI error event (infer/mod.rs into_openai_event)
            status = _tgi_stream_status(message)
        else:
            status = _status(error.get("code")) or status
    raise container_error(status, message, display_id)


def _check_finish(finish: Any, display_id: str) -> None:
    """Raise for a finish_reason that means the answer is incomplete (``abort``, ``error``)."""
    if finish in FAILED_FINISH_REASONS:
        raise GENERATION_ABORTED.error(_target(display_id), "", finish, "GenerationAborted")


# --------------------------------------------------------------------------- requests


def _top_p(request) -> float | None:
    """``top_p`` as the alias's container accepts it (see :data:`POSITIVE_TOP_P_KINDS`)."""
    top_p, kind = request.top_p, request.model.target.container_kind
    if top_p is None:
        return None
    if kind in POSITIVE_TOP_P_KINDS and top_p <= 0:
        raise invalid_request(
            f"'top_p' must be greater than 0 for model '{request.alias}' (its serving container, "
            f"{POSITIVE_TOP_P_KINDS[kind]}, rejects 0); for greedy decoding set 'temperature' to 0.",
            param="top_p",
            code="invalid_value",
        )
    if kind == "tgi" and top_p >= 1:
        return None  # TGI rejects 1.0; leaving it out is TGI's default, no nucleus filtering
    return top_p


def _content(message) -> str | list:
    if not message.images:
        return message.text
    parts: list[dict] = []
    for part in message.parts:
        if isinstance(part, Text):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, Image):
            url = f"data:image/{part.format};base64,{base64.b64encode(part.data).decode()}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def _message(message) -> dict:
    if message.role == TOOL_ROLE:
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    out: dict[str, Any] = {"role": message.role, "content": _content(message)}
    if message.tool_calls:
        out["content"] = message.text or None
        out["tool_calls"] = [c.to_dict() for c in message.tool_calls]
    return out


def _unsupported(request, field: str, kinds: dict[str, str]) -> GatewayError:
    kind = request.model.target.container_kind
    where = f"its serving container ({kind})" if kind else "its serving container (unknown to the gateway)"
    return invalid_request(
        f"'{field}' is not supported on model '{request.alias}': {where} is not one the gateway forwards "
        f"{field} to ({', '.join(kinds.values())}).",
        param=field,
        code="unsupported_parameter",
    )


def _tool_fields(request) -> dict[str, Any]:
    """``tools``/``tool_choice``/``parallel_tool_calls``/``response_format`` for the container."""
    kind = request.model.target.container_kind
    fields: dict[str, Any] = {}
    if request.tool_choice == "none" and kind not in TOOL_KINDS:
        pass  # tools the caller forbids using: nothing to forward
    elif request.tools or request.tool_choice != "auto":
        if kind not in TOOL_KINDS:
            raise _unsupported(request, "tools", TOOL_KINDS)
        fields["tools"] = []
        for tool in request.tools:
            function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
            if tool.description:
                function["description"] = tool.description
            if tool.strict is not None:
                function["strict"] = tool.strict
            fields["tools"].append({"type": "function", "function": function})
        if request.tool_choice == "function":
            fields["tool_choice"] = {"type": "function", "function": {"name": request.tool_name}}
        else:
            fields["tool_choice"] = request.tool_choice
        if not request.parallel_tool_calls:
            fields["parallel_tool_calls"] = False
    fmt = request.response_format
    if fmt is not None:
        if kind not in RESPONSE_FORMAT_KINDS:
            raise _unsupported(request, "response_format", RESPONSE_FORMAT_KINDS)
        if fmt.type == "json_object":
            fields["response_format"] = {"type": "json_object"}
        else:
            spec: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema}
            if fmt.description:
                spec["description"] = fmt.description
            if fmt.strict is not None:
                spec["strict"] = fmt.strict
            fields["response_format"] = {"type": "json_schema", "json_schema": spec}
    return fields


def request_body(request, stream: bool) -> dict:
    """The OpenAI chat-completions body sent to the container."""
    messages = []
    if request.system:
        messages.append({"role": "system", "content": "\n\n".join(request.system)})
    messages.extend(_message(m) for m in request.messages)
    body: dict[str, Any] = {"messages": messages, "max_tokens": request.max_tokens}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    top_p = _top_p(request)
    if top_p is not None:
        body["top_p"] = top_p
    if request.stop:
        body["stop"] = list(request.stop)
    body.update(_tool_fields(request))
    body["stream"] = stream
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def invoke_params(request, stream: bool) -> dict:
    """Keyword arguments for InvokeEndpoint / InvokeEndpointWithResponseStream."""
    target = request.model.target
    body = json.dumps(request_body(request, stream), ensure_ascii=False).encode()
    if len(body) > MAX_BODY_BYTES:
        raise invalid_request(
            f"The request is {len(body)} bytes once sent to model '{request.alias}'; SageMaker accepts "
            f"at most {MAX_BODY_BYTES} bytes. Send fewer or shorter messages.",
            param="messages",
            code="request_too_large",
            status=413,
        )
    params = {
        "EndpointName": target.endpoint_name,
        "Body": body,
        "ContentType": JSON,
        "Accept": JSON,
    }
    if target.inference_component_name:
        params["InferenceComponentName"] = target.inference_component_name
    return params


# --------------------------------------------------------------------------- responses


def estimate_tokens(chars: int) -> int:
    """Tokens in ``chars`` characters of text at :data:`CHARS_PER_TOKEN` (rounded up)."""
    return -(-chars // CHARS_PER_TOKEN)


def prompt_chars(request) -> int:
    """Characters of message text sent to the container (system prompts and tool calls included)."""
    return (
        sum(map(len, request.system))
        + sum(len(m.text) for m in request.messages)
        + sum(len(c.arguments) for m in request.messages for c in m.tool_calls)
    )


def _usage(raw: dict) -> Usage:
    return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))


def _choices(obj: dict, display_id: str) -> list[dict]:
    choices = obj.get("choices")
    if choices is None:
        return []
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise _bad_response(display_id, "'choices' is not a list of objects")
    return choices


def parse_completion(raw: bytes, display_id: str, prompt_chars: int = 0) -> Completion:
    """Parse a non-streaming ``chat.completion`` response body (usage estimated if absent,
    from ``prompt_chars`` and the answer's length)."""
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
    if not isinstance(message, dict):
        message = {}
    text = message.get("content")
    if not isinstance(text, (str, type(None))):
        raise _bad_response(display_id, "message content is not text")
    text = text or ""
    calls = _tool_calls(message.get("tool_calls"), display_id)
    reasoning = _reasoning(message)
    finish = choices[0].get("finish_reason")
    _check_finish(finish, display_id)
    raw_usage = data.get("usage")
    if isinstance(raw_usage, dict):
        usage = _usage(raw_usage)
    else:
        generated = len(text) + sum(len(c.arguments) for c in calls)
        usage = Usage(estimate_tokens(prompt_chars), estimate_tokens(generated), ESTIMATED, ESTIMATED)
    return Completion(text, _stop_reason(finish, bool(calls)), usage, calls, reasoning)


def _stop_reason(finish: str | None, called: bool) -> str | None:
    """The backend stop reason; a normal end next to tool calls means the model called them."""
    stop = backend_stop_reason(finish)
    return "tool_use" if called and stop in ("end_turn", None) else stop


def _reasoning(obj: dict) -> str | None:
    """``reasoning_content`` (vLLM's reasoning parser; ``reasoning`` in newer vLLM)."""
    for key in ("reasoning_content", "reasoning"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _tool_calls(raw: Any, display_id: str) -> tuple[ToolCall, ...]:
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise _bad_response(display_id, "'tool_calls' is not a list")
    calls = []
    for call in raw:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _bad_response(display_id, "a tool call has no function name")
        arguments = function.get("arguments")
        if isinstance(arguments, (dict, list)):
            arguments = json.dumps(arguments, ensure_ascii=False)
        calls.append(ToolCall(str(call.get("id") or ""), function["name"], arguments or "{}"))
    return tuple(calls)


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

    def __init__(self, event_stream, display_id: str, prompt_chars: int = 0) -> None:
        super().__init__(event_stream)
        self._display_id = display_id
        self._prompt_chars = prompt_chars
        self._done = False
        self._text_chunks = 0
        self._called = False

    def _map_error(self, exc: Exception) -> GatewayError:
        return map_error(exc, self._display_id)

    def _texts(self) -> Iterator[StreamItem]:
        lines = LineSplitter()
        for event in self._events:
            part = event.get("PayloadPart")
            if part:
                for line in lines.feed(part.get("Bytes") or b""):
                    yield from self._line(line)
        for line in lines.flush():
            yield from self._line(line)
        if self.usage is None:  # e.g. LMI rolling batch: one JSON line per token, no usage
            self.usage = Usage(estimate_tokens(self._prompt_chars), self._text_chunks, ESTIMATED, COUNTED)

    def _line(self, line: bytes) -> Iterator[StreamItem]:
        if self._done:
            return
        chunk = parse_line(line, self._display_id)
        if chunk is DONE:
            self._done = True
        elif chunk is not None:
            _raise_if_error(chunk, self._display_id)
            if isinstance(chunk.get("usage"), dict):
                self.usage = _usage(chunk["usage"])
            for choice in _choices(chunk, self._display_id):
                delta = choice.get("delta")
                if not isinstance(delta, dict):
                    delta = {}
                text = delta.get("content")
                if text and isinstance(text, str):
                    self._text_chunks += 1
                    yield text
                reasoning = _reasoning(delta)
                if reasoning:
                    self._text_chunks += 1
                    yield ReasoningDelta(reasoning)
                if delta.get("tool_calls"):
                    yield from self._tool_deltas(delta["tool_calls"])
                finish = choice.get("finish_reason")
                if finish:
                    _check_finish(finish, self._display_id)
                    self.stop_reason = _stop_reason(finish, self._called)

    def _tool_deltas(self, raw: Any) -> Iterator[ToolCallDelta]:
        """OpenAI ``delta.tool_calls`` entries (vLLM's shape) -> :class:`ToolCallDelta`."""
        if not isinstance(raw, list):
            raise _bad_response(self._display_id, "'tool_calls' is not a list")
        for entry in raw:
            if not isinstance(entry, dict) or not isinstance(entry.get("index", 0), int):
                raise _bad_response(self._display_id, "a tool call delta has no index")
            raw_function = entry.get("function")
            function = raw_function if isinstance(raw_function, dict) else {}
            arguments = function.get("arguments") or ""
            self._text_chunks += 1
            if entry.get("id"):
                self._called = True
                yield ToolCallDelta(entry.get("index", 0), entry["id"], function.get("name") or "", arguments)
            elif arguments:
                yield ToolCallDelta(entry.get("index", 0), arguments=arguments)


def make_invoke_client(**overrides):
    """The InvokeEndpoint client: read timeout at most :data:`INVOKE_READ_TIMEOUT`."""
    configured = upstream.setting("READ_TIMEOUT", upstream.DEFAULT_READ_TIMEOUT)
    overrides.setdefault("read_timeout", min(configured, INVOKE_READ_TIMEOUT))
    return make_client(**overrides)


class SageMakerBackend:
    """Backend for ``target.type == "sagemaker"``.

    ``client`` serves InvokeEndpoint (read timeout capped, see :func:`make_invoke_client`),
    ``stream_client`` InvokeEndpointWithResponseStream (the configured read timeout, which
    bounds the wait for each part, not the whole stream).
    """

    def __init__(self, client=None, stream_client=None) -> None:
        self.client = client or make_invoke_client()
        self.stream_client = stream_client or make_client()

    def complete(self, request) -> Completion:
        """Call InvokeEndpoint and parse the whole ``chat.completion``."""
        display_id = request.model.target.display_id
        params = invoke_params(request, stream=False)
        with upstream.mapped_errors(lambda exc: map_error(exc, display_id)):
            resp = self.client.invoke_endpoint(**params)
            raw = resp["Body"].read()
        return parse_completion(raw, display_id, prompt_chars(request))

    def stream(self, request) -> SageMakerStream:
        """Call InvokeEndpointWithResponseStream; HTTP-level errors raise here, before any part."""
        display_id = request.model.target.display_id
        params = invoke_params(request, stream=True)
        with upstream.mapped_errors(lambda exc: map_error(exc, display_id)):
            resp = self.stream_client.invoke_endpoint_with_response_stream(**params)
        return SageMakerStream(resp["Body"], display_id, prompt_chars(request))
