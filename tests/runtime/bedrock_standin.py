"""A local stand-in for the Amazon Bedrock Runtime Converse APIs (loopback only).

Speaks the real wire protocol, so the gateway's unmodified boto3 client can
talk to it via ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``:

* ``POST /model/{modelId}/converse``        -> JSON ``ConverseResponse``
* ``POST /model/{modelId}/converse-stream`` -> ``application/vnd.amazon.eventstream``
  (AWS event-stream binary framing, one HTTP chunk per event)
* errors: HTTP status + ``x-amzn-ErrorType`` header + ``{"message": ...}`` body,
  or an in-stream ``:message-type: exception`` event.

Tests script behaviours with :meth:`BedrockStandIn.script`; every request
received is recorded in :attr:`BedrockStandIn.requests`.  The event-stream
encoder and server plumbing live in :mod:`standin_common`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import standin_common
from standin_common import ScriptedStandIn, StandInHandler

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


def event(event_type: str, payload: dict) -> bytes:
    """An ``:message-type: event`` message with a JSON payload."""
    return standin_common.event(event_type, json.dumps(payload).encode())


def exception(exception_type: str, message: str) -> bytes:
    """An ``:message-type: exception`` message (e.g. ``modelStreamErrorException``)."""
    return standin_common.exception(exception_type, {"message": message})


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


class _Handler(StandInHandler):
    standin: "BedrockStandIn"
    prefix = "model"
    operations = ("converse", "converse-stream")
    error_status = ERROR_STATUS

    def received(self, operation: str, name: str, body: dict) -> Received:
        return Received(operation, name, body, dict(self.headers))

    def respond(self, received: Received, behaviour: Behaviour) -> None:
        if received.operation == "converse":
            self._converse(behaviour)
        else:
            self._converse_stream(behaviour)

    def _converse(self, b: Behaviour) -> None:
        self.send_json({
            "output": {"message": {"role": "assistant", "content": [{"text": "".join(b.chunks)}]}},
            "stopReason": b.stop_reason,
            "usage": {"inputTokens": b.input_tokens, "outputTokens": b.output_tokens,
                      "totalTokens": b.input_tokens + b.output_tokens},
            "metrics": {"latencyMs": 1},
        })

    def _converse_stream(self, b: Behaviour) -> None:
        self.start_event_stream()
        self.write_chunk(event("messageStart", {"role": "assistant"}))
        for i, text in enumerate(b.chunks):
            if b.stream_exception and i == b.exception_after:
                break
            if b.stall_after is not None and i == b.stall_after:
                time.sleep(b.stall)
            frame = event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text}})
            if i == 0:
                self.standin.first_delta_ns.append(time.perf_counter_ns())
            self.write_chunk(frame)
        if b.stream_exception:
            self.write_chunk(exception(b.stream_exception, b.error_message))
        else:
            self.write_chunk(event("contentBlockStop", {"contentBlockIndex": 0}))
            self.write_chunk(event("messageStop", {"stopReason": b.stop_reason}))
            self.write_chunk(event("metadata", {
                "usage": {"inputTokens": b.input_tokens, "outputTokens": b.output_tokens,
                          "totalTokens": b.input_tokens + b.output_tokens},
                "metrics": {"latencyMs": 1}}))
        self.end_event_stream()


class BedrockStandIn(ScriptedStandIn):
    """A scriptable Bedrock Runtime server on 127.0.0.1 (ephemeral port)."""

    handler = _Handler
    behaviour = Behaviour
    name = "bedrock-standin"

    def __init__(self) -> None:
        #: perf_counter_ns() taken just before each stream's first text delta is written.
        self.first_delta_ns: list[int] = []
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self.first_delta_ns.clear()
