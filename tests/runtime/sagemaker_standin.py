"""A local stand-in for Amazon SageMaker Runtime with an OpenAI-style LLM container (loopback only).

Speaks the real REST-JSON wire protocol, so the gateway's unmodified boto3
client can talk to it via ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``:

* ``POST /endpoints/{EndpointName}/invocations`` -> the container's JSON body
  (an OpenAI ``chat.completion``, like vLLM/LMI/TGI answer).
* ``POST /endpoints/{EndpointName}/invocations-response-stream`` ->
  ``application/vnd.amazon.eventstream`` of ``PayloadPart`` events whose bytes
  are slices of the container's streamed output: SSE (``data: {...}`` lines and
  ``data: [DONE]``, like vLLM/TGI) or JSON lines (LMI).  By default one part per
  line; ``part_size`` re-slices the output at arbitrary byte offsets, splitting
  lines and multi-byte characters across parts.
* The inference component arrives in ``X-Amzn-SageMaker-Inference-Component``.
* Errors: HTTP status + ``x-amzn-ErrorType`` + JSON body; ``ModelError`` carries
  ``OriginalStatusCode``/``OriginalMessage``/``LogStreamArn`` like the real
  service.  In-stream failures are ``ModelStreamError``/``InternalStreamFailure``
  exception events, or a container error object written as a stream line.

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
    "UpdateInferenceComponentRuntimeConfig API.")
LOG_STREAM_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/standin"


@dataclass
class Behaviour:
    """What the stand-in (SageMaker + container) does for one request.

    ``error``: answer with this SageMaker error; for ``ModelError`` the
    container's ``original_status``/``original_message`` are included.
    ``stream_error``: in-stream exception event type sent after ``error_after``
    text chunks; ``container_error``: an error object the container writes
    instead (as a stream line after ``error_after`` chunks, or as a 200 body).
    ``fmt``: ``"sse"`` or ``"jsonlines"``.  ``body``/``lines``: raw container
    output overriding the generated one (non-streaming body / streamed lines).
    """

    chunks: list[str] = field(default_factory=lambda: ["Hello", ", ", "world", "!"])
    finish_reason: str | None = "stop"
    prompt_tokens: int = 9
    completion_tokens: int = 4
    send_usage: bool = True
    fmt: str = "sse"
    part_size: int | None = None
    error: str | None = None
    error_message: str = "scripted error"
    original_status: int | None = None
    original_message: str | None = None
    stream_error: str | None = None
    container_error: dict | None = None
    error_after: int = 1
    body: bytes | None = None
    lines: list[bytes] | None = None
    delay: float = 0.0
    stall_after: int | None = None
    stall: float = 0.0


@dataclass
class Received:
    """One request as received by the stand-in."""

    operation: str
    endpoint_name: str
    inference_component: str | None
    body: dict
    headers: dict


def _chunk(choices: list, with_usage: bool, **extra) -> dict:
    obj = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 0,
           "model": "standin-model", "choices": choices, **extra}
    if with_usage and "usage" not in obj:
        obj["usage"] = None  # vLLM sends "usage": null until the usage chunk
    return obj


def stream_objects(b: Behaviour, include_usage: bool) -> list[dict]:
    """The chunk objects a vLLM-style container streams: role, texts, finish, usage."""
    objs = [_chunk([{"index": 0, "delta": {"role": "assistant", "content": ""},
                     "finish_reason": None}], include_usage)]
    objs += [_chunk([{"index": 0, "delta": {"content": t}, "finish_reason": None}], include_usage)
             for t in b.chunks]
    objs.append(_chunk([{"index": 0, "delta": {}, "finish_reason": b.finish_reason}], include_usage))
    if include_usage and b.send_usage:
        objs.append(_chunk([], True, usage=_usage(b)))
    return objs


def _usage(b: Behaviour) -> dict:
    return {"prompt_tokens": b.prompt_tokens, "completion_tokens": b.completion_tokens,
            "total_tokens": b.prompt_tokens + b.completion_tokens}


def encode_line(obj: dict | str, fmt: str) -> bytes:
    """One container output line (SSE event or JSON line)."""
    text = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    return f"data: {text}\n\n".encode() if fmt == "sse" else f"{text}\n".encode()


def completion_body(b: Behaviour) -> dict:
    """The non-streaming ``chat.completion`` a container answers."""
    body = {"id": "chatcmpl-standin", "object": "chat.completion", "created": 0,
            "model": "standin-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(b.chunks)},
                         "logprobs": None, "finish_reason": b.finish_reason}]}
    if b.send_usage:
        body["usage"] = _usage(b)
    return body


def model_error_body(b: Behaviour) -> dict:
    """A ModelError body like SageMaker's (container status and body passed through)."""
    if b.original_status is None:
        return {"ErrorCode": "MODEL_ERROR", "Message": b.error_message, "LogStreamArn": LOG_STREAM_ARN}
    kind = "client" if b.original_status < 500 else "server"
    original = b.original_message or b.error_message
    return {
        "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
        "LogStreamArn": LOG_STREAM_ARN,
        "Message": f'Received {kind} error ({b.original_status}) from primary with message '
                   f'"{original}". See the endpoint logs for more information.',
        "OriginalMessage": original,
        "OriginalStatusCode": b.original_status,
    }


class _Handler(StandInHandler):
    standin: "SageMakerStandIn"
    prefix = "endpoints"
    operations = ("invocations", "invocations-response-stream")
    error_status = ERROR_STATUS

    def received(self, operation: str, name: str, body: dict) -> Received:
        return Received(operation, name, self.headers.get("X-Amzn-SageMaker-Inference-Component"),
                        body, dict(self.headers))

    def send_scripted_error(self, behaviour: Behaviour) -> None:
        if behaviour.error == "ModelError":
            self.send_aws_error("ModelError", 424, model_error_body(behaviour))
        else:
            super().send_scripted_error(behaviour)

    def respond(self, received: Received, behaviour: Behaviour) -> None:
        if received.operation == "invocations":
            self._invoke(behaviour)
        else:
            self._invoke_stream(behaviour, received.body)

    def _invoke(self, b: Behaviour) -> None:
        if b.body is not None:
            self.send_body(200, "application/json", b.body)
        else:
            self.send_json(b.container_error or completion_body(b),
                           extra={"x-Amzn-Invoked-Production-Variant": "AllTraffic"})

    def _segments(self, b: Behaviour, request: dict) -> list[bytes]:
        if b.lines is not None:
            return list(b.lines)
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        objs = stream_objects(b, include_usage)
        if b.container_error is not None or b.stream_error:
            objs = objs[:1 + b.error_after]
        lines = [encode_line(o, b.fmt) for o in objs]
        if b.container_error is not None:
            lines.append(encode_line(b.container_error, b.fmt))
        if b.fmt == "sse" and not b.stream_error:
            lines.append(encode_line("[DONE]", "sse"))
        return lines

    def _invoke_stream(self, b: Behaviour, request: dict) -> None:
        segments = self._segments(b, request)
        if b.part_size:
            data = b"".join(segments)
            segments = [data[i:i + b.part_size] for i in range(0, len(data), b.part_size)]
        content_type = "text/event-stream" if b.fmt == "sse" else "application/jsonlines"
        self.start_event_stream({"X-Amzn-SageMaker-Content-Type": content_type,
                                 "x-Amzn-Invoked-Production-Variant": "AllTraffic"})
        for i, segment in enumerate(segments):
            if b.stall_after is not None and i == 1 + b.stall_after:
                time.sleep(b.stall)
            self.write_chunk(event("PayloadPart", segment, "application/octet-stream"))
        if b.stream_error:
            self.write_chunk(exception(b.stream_error, {"Message": b.error_message,
                                                        "ErrorCode": "StreamBroken"}))
        self.end_event_stream()


class SageMakerStandIn(ScriptedStandIn):
    """A scriptable SageMaker Runtime server on 127.0.0.1 (ephemeral port)."""

    handler = _Handler
    behaviour = Behaviour
    name = "sagemaker-standin"
