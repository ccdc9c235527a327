"""A local stand-in for Amazon SageMaker Runtime with an LLM container behind it (loopback only).

Speaks the real REST-JSON wire protocol, so the gateway's unmodified boto3
client can talk to it via ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``:

* ``POST /endpoints/{EndpointName}/invocations`` -> the container's JSON body.
* ``POST /endpoints/{EndpointName}/invocations-response-stream`` ->
  ``application/vnd.amazon.eventstream`` of ``PayloadPart`` events whose bytes
  are slices of the container's streamed output.  By default one part per
  line; ``part_size`` re-slices the output at arbitrary byte offsets, splitting
  lines and multi-byte characters across parts.
* The inference component arrives in ``X-Amzn-SageMaker-Inference-Component``.
* Errors: HTTP status + ``x-amzn-ErrorType`` + JSON body; ``ModelError`` carries
  ``OriginalStatusCode``/``OriginalMessage``/``LogStreamArn`` like the real
  service.  In-stream failures are ``ModelStreamError``/``InternalStreamFailure``
  exception events (``{"Message", "ErrorCode"}`` payload), or a container error
  object written into the stream.

The container follows the source of the four kinds the project deploys
(:data:`CONTAINERS`; ``Behaviour.container``, else :attr:`SageMakerStandIn.containers`
by endpoint name, else ``vllm``):

``lmi``: LMI 0.34 rolling batch (``LlmContainer.lmi()``; djl-serving 0.34.0-dlc)
    Streams bare JSON lines, one ``chat.completion.chunk`` per generated token
    (``output_formatter.py`` ``_jsonlines_chat_output_formatter``; ``request.py``
    ``get_next_token``): the first carries ``role``, the last ``finish_reason``
    (``eos_token`` on an extra empty-text chunk, or ``length`` on the last token;
    ``rolling_batch_vllm_utils.py`` FINISH_REASON_MAPPER).  No ``usage``, no
    ``[DONE]``, ``stream_options`` ignored.  A failure replaces the chunk with
    ``{"code": 424, "error": ...}`` without a trailing newline
    (``engines/python/.../Request.java``); before the first token it is HTTP 424.
    ``top_p`` <= 0 fails input parsing (vLLM SamplingParams, built in ``vllm_chat_utils.py``):
    424 "Input Parsing failed. ..." (``input_parser.py``, ``huggingface.py``).
    Non-streaming: ``chat.completion`` with usage (``_json_chat_output_formatter``).
``lmi-async``: LMI 0.34 async vLLM handler (``LlmContainer.lmi(lora=...)``)
    vLLM's SSE with ``data: `` stripped into JSON lines and ``[DONE]`` turned into
    an empty line (``request_response_utils.py`` ``vllm_stream_output_formatter``,
    ``async_utils.py`` ``_create_output``); usage honoured.  Errors from vLLM come
    back as HTTP 400 ``{"code": 400, "error": ...}``; input parsing failures (an
    adapter missing from the registry) as 424 (``vllm_async_service.py``).
``tgi``: TGI 3.3.6 messages API
    SSE ``data: {...}`` per token (delta ``{"role", "content"}``), the end-of-sequence
    chunk with empty content and ``finish_reason``, then with ``include_usage`` a
    usage chunk with ``choices: []`` (``router/src/chat.rs``), then ``data: [DONE]``
    (``server.rs``).  Errors during a stream, validation included, are an event
    ``{"error": {"message", "http_status_code": 422}}`` followed by ``[DONE]``
    (``infer/mod.rs`` ``into_openai_event``).  ``top_p`` must be > 0 and < 1
    (``validation.rs``): 422 ``{"error": "Input validation error: ...",
    "error_type": "validation"}`` outside a stream.
``vllm``: AWS vLLM DLC (``vllm/entrypoints/sagemaker``, OpenAI server)
    SSE: a role chunk, content chunks, a finish chunk, with ``include_usage``
    ``"usage": null`` on every chunk and a usage chunk, ``data: [DONE]``.
    ``top_p`` must be in (0, 1] (``sampling_params.py``): HTTP 400
    ``{"error": {"message", "type", "param", "code": 400}}``.

Tool calling (vLLM and LMI async, which passes vLLM's output through; LMI rolling batch for
whole answers): with ``Behaviour.tool_calls`` the container answers with OpenAI ``tool_calls``
(``content`` null, finish_reason ``tool_calls``; LMI rolling batch: ``eos_token``, as in
djl-serving's tool_calling.md sample).  Streamed, vLLM sends a chunk with each call's
``index``, ``id``, ``type`` and ``function.name`` (empty arguments), then argument fragments
(``vllm/entrypoints/openai/serving_chat.py``).  A request with ``tools`` and ``tool_choice``
``auto`` (vLLM's default when tools are given) to a container whose endpoint is not in
:attr:`SageMakerStandIn.tool_parsers` fails like vLLM without ``--enable-auto-tool-choice``:
HTTP 400 ``"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to
be set``.  ``Behaviour.reasoning`` is sent as ``reasoning_content`` (vLLM's reasoning parser).

Tests script behaviours with :meth:`SageMakerStandIn.script`; every request is
recorded in :attr:`SageMakerStandIn.requests` (endpoint, inference component, body).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from standin_common import ScriptedStandIn, StandInHandler, event, exception

#: HTTP status of each SageMaker Runtime error (service model; throttling and
#: access denied are AWS common errors, answered with 400).
ERROR_STATUS = {
    "AccessDeniedException": 400,
    "InternalDependencyException": 530,
    "InternalFailure": 500,
    "ModelError": 424,
    "ModelNotReadyException": 429,
    "ServiceUnavailable": 503,
    "ThrottlingException": 400,
    "ValidationError": 400,
}
#: The real wording when an inference component has no copies (scaled to zero).
NO_CAPACITY_MESSAGE = (
    "Inference Component has no capacity to process this request. ApplicationAutoScaling may be "
    "in-progress (if configured) or try to increase the capacity by invoking "
    "UpdateInferenceComponentRuntimeConfig API."
)
#: ModelStreamError wording for ErrorCode ModelInvocationTimeExceeded, as quoted from AWS re:Post in
#: review-2026-12/I §F5 (not verified against a real endpoint).
STREAM_TIMEOUT_MESSAGE = "Model did not complete sending the inference response in the allotted time."
LOG_STREAM_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/standin"

#: Container kinds the stand-in plays (see the module docstring).
CONTAINERS = ("lmi", "lmi-async", "tgi", "vllm")
#: ``Behaviour.finish_reason`` default: the container's own end-of-sequence value.
EOS = "<eos>"
_EOS_FINISH = {"lmi": "eos_token", "lmi-async": "stop", "tgi": "stop", "vllm": "stop"}
#: LMI rolling batch's message for any engine exception (rolling_batch.py stop_on_any_exception).
LMI_ENGINE_FAILURE = "exception occurred during rolling batch inference"


@dataclass
class Behaviour:
    """What the stand-in (SageMaker + container) does for one request.

    ``container``: which container answers (:data:`CONTAINERS`; default: by endpoint).
    ``chunks``: the generated tokens.  ``error``: answer with this SageMaker error;
    for ``ModelError`` the container's ``original_status``/``original_message`` are
    included.  ``stream_error``: in-stream exception event type (with
    ``stream_error_code`` for ModelStreamError) sent after ``error_after`` tokens;
    ``container_error``: an error object the container writes instead (into the
    stream after ``error_after`` tokens, or as a 200 body).  ``send_usage=False``:
    a container that never reports usage.  ``body``/``lines``: raw container output
    overriding the generated one (non-streaming body / streamed lines).
    """

    chunks: list[str] = field(default_factory=lambda: ["Hello", ", ", "world", "!"])
    finish_reason: str | None = EOS
    prompt_tokens: int = 9
    completion_tokens: int = 4
    send_usage: bool = True
    container: str | None = None
    part_size: int | None = None
    error: str | None = None
    error_message: str = "scripted error"
    original_status: int | None = None
    original_message: str | None = None
    stream_error: str | None = None
    stream_error_code: str = "StreamBroken"
    container_error: dict | None = None
    error_after: int = 1
    body: bytes | None = None
    lines: list[bytes] | None = None
    delay: float = 0.0
    stall_after: int | None = None
    stall: float = 0.0
    tool_calls: list[dict] = field(default_factory=list)
    reasoning: str | None = None


@dataclass
class Received:
    """One request as received by the stand-in."""

    operation: str
    endpoint_name: str
    inference_component: str | None
    body: dict
    headers: dict


def _usage(b: Behaviour) -> dict:
    return {
        "prompt_tokens": b.prompt_tokens,
        "completion_tokens": b.completion_tokens,
        "total_tokens": b.prompt_tokens + b.completion_tokens,
    }


def _finish(b: Behaviour, kind: str) -> str | None:
    return _EOS_FINISH[kind] if b.finish_reason == EOS else b.finish_reason


def generation_failure(kind: str, message: str = "CUDA out of memory") -> dict:
    """The error object ``kind`` writes into a stream when generation fails."""
    if kind == "lmi":
        return {"code": 424, "error": LMI_ENGINE_FAILURE}
    if kind == "tgi":
        return {"error": {"message": f"Request failed during generation: {message}", "http_status_code": 422}}
    return {"error": {"message": message, "type": "InternalServerError", "param": None, "code": 500}}


# --------------------------------------------------------------------------- chunk objects


def _vllm_chunk(choices: list, with_usage: bool, **extra) -> dict:
    obj = {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "standin-model",
        "choices": choices,
        **extra,
    }
    if with_usage and "usage" not in obj:
        obj["usage"] = None  # vLLM sends "usage": null until the usage chunk
    return obj


def _call_id(n: int) -> str:
    return f"chatcmpl-tool-standin{n}"


def vllm_objects(b: Behaviour, kind: str, include_usage: bool) -> list[dict]:
    """vLLM (DLC or LMI async): role chunk, one chunk per token, tool call chunks, finish chunk, usage chunk."""

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return _vllm_chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], include_usage)

    objs = [chunk({"role": "assistant", "content": ""})]
    if b.reasoning:
        objs.append(chunk({"reasoning_content": b.reasoning}))
    objs += [chunk({"content": t}) for t in b.chunks]
    for n, call in enumerate(b.tool_calls):
        objs.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": n,
                            "id": _call_id(n),
                            "type": "function",
                            "function": {"name": call["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        arguments = call["arguments"]
        for i in range(0, len(arguments), 8):
            objs.append(chunk({"tool_calls": [{"index": n, "function": {"arguments": arguments[i : i + 8]}}]}))
    objs.append(chunk({}, "tool_calls" if b.tool_calls else _finish(b, kind)))
    if include_usage and b.send_usage:
        objs.append(_vllm_chunk([], True, usage=_usage(b)))
    return objs


def tgi_objects(b: Behaviour, include_usage: bool) -> list[dict]:
    """TGI: one chunk per token, the end-of-sequence token (empty content) with finish_reason, usage."""

    def chunk(text: str, finish: str | None) -> dict:
        return {
            "object": "chat.completion.chunk",
            "id": "",
            "created": 0,
            "model": "standin-model",
            "system_fingerprint": "3.3.6-sha-standin",
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": text}, "logprobs": None, "finish_reason": finish}
            ],
            "usage": None,
        }

    finish = _finish(b, "tgi")
    objs = [chunk(t, None) for t in b.chunks]
    if finish == "length" and objs:
        objs[-1]["choices"][0]["finish_reason"] = finish
    else:
        objs.append(chunk("", finish))
    if include_usage and b.send_usage:
        objs.append(
            {
                "object": "chat.completion.chunk",
                "id": "",
                "created": 0,
                "model": "standin-model",
                "system_fingerprint": "3.3.6-sha-standin",
                "choices": [],
                "usage": _usage(b),
            }
        )
    return objs


def lmi_objects(b: Behaviour) -> list[dict]:
    """LMI rolling batch: one chunk per token (role on the first, finish_reason on the last), no usage."""
    finish = _finish(b, "lmi")
    tokens = list(b.chunks)
    if finish != "length":
        tokens.append("")  # the end-of-sequence token has no text (skip_special_tokens)
    objs = []
    for i, text in enumerate(tokens):
        delta = {"content": text}
        if i == 0:
            delta["role"] = "assistant"
        objs.append(
            {
                "id": "chatcmpl-140000000000",
                "object": "chat.completion.chunk",
                "created": 0,
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "logprobs": None,
                        "finish_reason": finish if i == len(tokens) - 1 else None,
                    }
                ],
            }
        )
    return objs


def stream_objects(b: Behaviour, kind: str, include_usage: bool) -> list[dict]:
    """The chunk objects container ``kind`` streams for ``b``."""
    if kind == "lmi":
        return lmi_objects(b)
    if kind == "tgi":
        return tgi_objects(b, include_usage)
    return vllm_objects(b, kind, include_usage)


def _leading(kind: str) -> int:
    """Chunks before the first token (vLLM's role chunk)."""
    return 1 if kind in ("vllm", "lmi-async") else 0


def encode_line(obj: dict | str, kind: str) -> bytes:
    """One container output line: SSE event (TGI, vLLM) or JSON line (LMI)."""
    text = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    return f"{text}\n".encode() if kind.startswith("lmi") else f"data: {text}\n\n".encode()


def done_line(kind: str) -> bytes | None:
    """The end-of-stream marker: ``data: [DONE]``, LMI async's empty line, or none (LMI rolling batch)."""
    return {"lmi": None, "lmi-async": b"\n"}.get(kind, b"data: [DONE]\n\n")


def completion_body(b: Behaviour, kind: str) -> dict:
    """The non-streaming ``chat.completion`` container ``kind`` answers."""
    message: dict = {"role": "assistant", "content": "".join(b.chunks)}
    finish = _finish(b, kind)
    if b.reasoning:
        message["reasoning_content"] = b.reasoning
    if b.tool_calls:
        message["content"] = None if kind != "lmi" else ""
        message["tool_calls"] = [
            {"id": _call_id(n), "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for n, c in enumerate(b.tool_calls)
        ]
        finish = "eos_token" if kind == "lmi" else "tool_calls"
    body = {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": 0,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
    }
    if kind != "lmi":
        body["model"] = "standin-model"
    if b.send_usage:
        body["usage"] = _usage(b)
    return body


AUTO_TOOL_CHOICE_ERROR = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'


def rejection(kind: str, request: dict, tool_parser: bool = False) -> tuple[int, dict] | None:
    """(status, body) when container ``kind`` rejects the request's parameters before generating."""
    if request.get("tools") and request.get("tool_choice", "auto") == "auto" and not tool_parser:
        if kind == "vllm":  # vllm/entrypoints/openai/serving_chat.py
            return 400, {
                "error": {"message": AUTO_TOOL_CHOICE_ERROR, "type": "BadRequestError", "param": None, "code": 400}
            }
        if kind.startswith("lmi"):
            return 400, {"code": 400, "error": AUTO_TOOL_CHOICE_ERROR}
    top_p = request.get("top_p")
    if top_p is None:
        return None
    if kind == "tgi" and not 0 < top_p < 1:  # router/src/validation.rs
        return 422, {"error": "Input validation error: `top_p` must be > 0.0 and < 1.0", "error_type": "validation"}
    if kind != "tgi" and not 0 < top_p <= 1:  # vllm/sampling_params.py _verify_args
        message = f"top_p must be in (0, 1], got {float(top_p)}."
        if kind == "vllm":
            return 400, {"error": {"message": message, "type": "BadRequestError", "param": "top_p", "code": 400}}
        if kind == "lmi-async":
            return 400, {"code": 400, "error": message}
        return 424, {"code": 424, "error": f"Input Parsing failed. Ensure that the request payload is valid. {message}"}
    return None


def model_error_body(status: int | None, message: str, original: str | None = None) -> dict:
    """A ModelError body like SageMaker's (container status and body passed through)."""
    if status is None:
        return {"ErrorCode": "MODEL_ERROR", "Message": message, "LogStreamArn": LOG_STREAM_ARN}
    kind = "client" if status < 500 else "server"
    original = original or message
    return {
        "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
        "LogStreamArn": LOG_STREAM_ARN,
        "Message": f"Received {kind} error ({status}) from primary with message "
        f'"{original}". See the endpoint logs for more information.',
        "OriginalMessage": original,
        "OriginalStatusCode": status,
    }


class _Handler(StandInHandler):
    standin: SageMakerStandIn
    prefix = "endpoints"
    operations = ("invocations", "invocations-response-stream")
    error_status = ERROR_STATUS

    def received(self, operation: str, name: str, body: dict) -> Received:
        return Received(
            operation, name, self.headers.get("X-Amzn-SageMaker-Inference-Component"), body, dict(self.headers)
        )

    def send_scripted_error(self, behaviour: Behaviour) -> None:
        if behaviour.error == "ModelError":
            self._model_error(behaviour.original_status, behaviour.error_message, behaviour.original_message)
        else:
            super().send_scripted_error(behaviour)

    def _model_error(self, status: int | None, message: str, original: str | None = None) -> None:
        self.send_aws_error("ModelError", 424, model_error_body(status, message, original))

    def respond(self, received: Received, behaviour: Behaviour) -> None:
        kind = behaviour.container or self.standin.containers.get(received.endpoint_name, "vllm")
        assert kind in CONTAINERS, kind
        stream = received.operation != "invocations"
        rejected = rejection(kind, received.body, received.endpoint_name in self.standin.tool_parsers)
        if rejected and not (stream and kind == "tgi"):
            status, body = rejected
            self._model_error(status, "container error", json.dumps(body))
        elif stream:
            self._invoke_stream(behaviour, kind, received.body, rejected)
        else:
            self._invoke(behaviour, kind)

    def _invoke(self, b: Behaviour, kind: str) -> None:
        if b.body is not None:
            self.send_body(200, "application/json", b.body)
        else:
            self.send_json(
                b.container_error or completion_body(b, kind), extra={"x-Amzn-Invoked-Production-Variant": "AllTraffic"}
            )

    def _segments(self, b: Behaviour, kind: str, request: dict, rejected: tuple | None) -> list[bytes]:
        if b.lines is not None:
            return list(b.lines)
        done = done_line(kind)
        if rejected:  # TGI: validation errors of a stream arrive in the stream (server.rs)
            message = rejected[1]["error"]
            return [encode_line({"error": {"message": message, "http_status_code": 422}}, kind), done]
        include_usage = kind != "lmi" and bool((request.get("stream_options") or {}).get("include_usage"))
        objs = stream_objects(b, kind, include_usage)
        if b.container_error is not None or b.stream_error:
            objs = objs[: _leading(kind) + b.error_after]
        lines = [encode_line(o, kind) for o in objs]
        if b.container_error is not None:
            if kind == "lmi":  # Request.java replaces the chunk; no newline after it
                lines.append(json.dumps(b.container_error).encode())
            else:
                lines.append(encode_line(b.container_error, kind))
        if done is not None and not b.stream_error:
            lines.append(done)
        return lines

    def _invoke_stream(self, b: Behaviour, kind: str, request: dict, rejected: tuple | None) -> None:
        segments = self._segments(b, kind, request, rejected)
        if b.part_size:
            data = b"".join(segments)
            segments = [data[i : i + b.part_size] for i in range(0, len(data), b.part_size)]
        content_type = "application/jsonlines" if kind.startswith("lmi") else "text/event-stream"
        self.start_event_stream(
            {"X-Amzn-SageMaker-Content-Type": content_type, "x-Amzn-Invoked-Production-Variant": "AllTraffic"}
        )
        for i, segment in enumerate(segments):
            if b.stall_after is not None and i == _leading(kind) + b.stall_after:
                time.sleep(b.stall)
            self.write_chunk(event("PayloadPart", segment, "application/octet-stream"))
        if b.stream_error:
            self.write_chunk(exception(b.stream_error, {"Message": b.error_message, "ErrorCode": b.stream_error_code}))
        self.end_event_stream()


class SageMakerStandIn(ScriptedStandIn):
    """A scriptable SageMaker Runtime server on 127.0.0.1 (ephemeral port).

    :attr:`containers` maps endpoint names to the container kind behind them
    (unlisted endpoints run ``vllm``); it survives :meth:`reset`.
    """

    handler = _Handler
    behaviour = Behaviour
    name = "sagemaker-standin"

    def __init__(self) -> None:
        super().__init__()
        self.containers: dict[str, str] = {}
        #: Endpoints whose container runs with a tool-call parser (vLLM ``--enable-auto-tool-choice``).
        self.tool_parsers: set[str] = set()
