"""Amazon Bedrock backend using the Converse / ConverseStream APIs.

The ``bedrock-runtime`` client comes from :func:`upstream.make_client` (shared
timeouts/retries: ``GATEWAY_UPSTREAM_*`` or ``GATEWAY_BEDROCK_*``; endpoint
override ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``).  Errors are mapped with
:data:`_ERRORS` (see :func:`upstream.map_error`).
"""

from __future__ import annotations

from typing import Iterator

import upstream
from botocore.exceptions import ClientError
from backend import Completion, Usage
from errors import GatewayError
from upstream import ErrorSpec

MODEL_NOT_FOUND = ErrorSpec(
    502, "api_error", "upstream_model_not_found",
    "The gateway cannot use {target} in this account/region (check model access and the model id): {detail} "
    "This is a deployment problem, not a problem with your request.")

# Bedrock error code (lower-cased) -> how clients see it.
_ERRORS: dict[str, ErrorSpec] = {
    "throttlingexception": upstream.THROTTLED,
    "servicequotaexceededexception": upstream.QUOTA_EXCEEDED,
    "validationexception": upstream.REJECTED,
    "accessdeniedexception": upstream.ACCESS_DENIED,
    "resourcenotfoundexception": MODEL_NOT_FOUND,
    "modelnotreadyexception": upstream.NOT_READY,
    "serviceunavailableexception": upstream.UNAVAILABLE,
    "modeltimeoutexception": upstream.TIMED_OUT,
}

# ValidationException messages that blame the model ID the deployment configured, not the request:
# an unknown ID or a profile called from a Region outside its geography ("The provided model identifier
# is invalid."), and a model that only runs through an inference profile ("Invocation of model ID ...
# with on-demand throughput isn't supported. Retry your request with the ID or ARN of an inference profile").
_MODEL_ID_MESSAGES = ("model identifier is invalid", "with on-demand throughput isn")


def _is_model_id_rejection(exc: Exception) -> bool:
    if not isinstance(exc, ClientError):
        return False
    code, message = upstream.client_error_parts(exc)
    return code.lower() == "validationexception" and any(m in message.lower() for m in _MODEL_ID_MESSAGES)


def make_client(**overrides):
    """Create a ``bedrock-runtime`` client (see :func:`upstream.make_client`)."""
    return upstream.make_client("bedrock-runtime", **overrides)


def map_error(exc: Exception, model_id: str) -> GatewayError:
    """Translate a botocore exception into a :class:`GatewayError`.

    A ValidationException about the model ID itself is a deployment problem (502), not a bad request.
    """
    if _is_model_id_rejection(exc):
        return upstream.map_error(exc, {"validationexception": MODEL_NOT_FOUND}, f"model '{model_id}'")
    return upstream.map_error(exc, _ERRORS, f"model '{model_id}'")


def converse_params(request) -> dict:
    """Build Converse/ConverseStream keyword arguments from a ChatRequest."""
    inference = {"maxTokens": request.max_tokens}
    if request.temperature is not None:
        inference["temperature"] = request.temperature
    if request.top_p is not None:
        inference["topP"] = request.top_p
    if request.stop:
        inference["stopSequences"] = list(request.stop)
    params = {
        "modelId": request.model.target.model_id,
        "messages": [{"role": m.role, "content": [{"text": m.text}]} for m in request.messages],
        "inferenceConfig": inference,
    }
    if request.system:
        params["system"] = [{"text": s} for s in request.system]
    return params


def _usage(raw: dict | None) -> Usage:
    raw = raw or {}
    return Usage(int(raw.get("inputTokens", 0)), int(raw.get("outputTokens", 0)))


class BedrockStream(upstream.UpstreamStream):
    """Adapts a ConverseStream event stream to :class:`backend.CompletionStream`."""

    def __init__(self, event_stream, model_id: str) -> None:
        super().__init__(event_stream)
        self._model_id = model_id

    def _map_error(self, exc: Exception) -> GatewayError:
        return map_error(exc, self._model_id)

    def _texts(self) -> Iterator[str]:
        for event in self._events:
            delta = event.get("contentBlockDelta")
            if delta is not None:
                text = delta.get("delta", {}).get("text")
                if text:
                    yield text
            elif "messageStop" in event:
                self.stop_reason = event["messageStop"].get("stopReason")
            elif "metadata" in event:
                self.usage = _usage(event["metadata"].get("usage"))


class BedrockBackend:
    """Backend for ``target.type == "bedrock"``."""

    def __init__(self, client=None) -> None:
        self.client = client or make_client()

    def complete(self, request) -> Completion:
        """Call Converse and return the whole completion."""
        params = converse_params(request)
        with upstream.mapped_errors(lambda exc: map_error(exc, params["modelId"])):
            resp = self.client.converse(**params)
        blocks = resp.get("output", {}).get("message", {}).get("content", [])
        text = "".join(b["text"] for b in blocks if "text" in b)
        return Completion(text, resp.get("stopReason"), _usage(resp.get("usage")))

    def stream(self, request) -> BedrockStream:
        """Call ConverseStream; HTTP-level errors raise here, before any event."""
        params = converse_params(request)
        with upstream.mapped_errors(lambda exc: map_error(exc, params["modelId"])):
            resp = self.client.converse_stream(**params)
        return BedrockStream(resp["stream"], params["modelId"])
