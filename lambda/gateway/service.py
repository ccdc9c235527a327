"""Transport-independent chat service: validation, backend call, response shaping.

The HTTP server (and any future transport) feeds it raw request bodies and a
:class:`telemetry.RequestRecord`; it returns OpenAI-shaped dicts (or an
iterator of chunk dicts for streams) and raises :class:`errors.GatewayError`
for anything the caller should see as an error.
"""

from __future__ import annotations

import json
from typing import Iterator

import openai_compat
from backend import Backend, CompletionStream, make_backends
from config import GatewayConfig
from errors import invalid_request
from openai_compat import ChatRequest
from telemetry import RequestRecord, Telemetry


class ChatService:
    """Serves chat completions for the aliases allowlisted in ``config``."""

    def __init__(self, config: GatewayConfig, backends: dict[str, Backend] | None = None,
                 telemetry: Telemetry | None = None) -> None:
        self.config = config
        self.backends = backends if backends is not None else make_backends(config)
        self.telemetry = telemetry or Telemetry(config)
        self._models = {
            "object": "list",
            "data": [{"id": m.alias, "object": "model", "created": 0,
                      "owned_by": m.target.type} for m in config.models],
        }

    def list_models(self) -> dict:
        """The ``/v1/models`` response."""
        return self._models

    def parse(self, body: bytes, record: RequestRecord) -> ChatRequest:
        """Decode and validate a request body; fills alias/model on ``record``."""
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise invalid_request("The request body is not valid JSON.", code="invalid_json") from None
        request = openai_compat.parse_chat_request(data, self.config)
        record.alias = request.alias
        record.model_id = request.model.target.model_id
        record.stream = request.stream
        if self.config.log_content:
            record.prompt = {"system": list(request.system),
                             "messages": [{"role": m.role, "content": m.text} for m in request.messages]}
        return request

    def complete(self, request: ChatRequest, record: RequestRecord) -> dict:
        """Run a non-streaming completion and return the ``chat.completion`` dict."""
        result = self.backends[request.alias].complete(request)
        record.stop_reason = result.stop_reason
        record.input_tokens = result.usage.input_tokens
        record.output_tokens = result.usage.output_tokens
        if self.config.log_content:
            record.completion = result.text
        return openai_compat.completion(request.alias, result.text, result.stop_reason,
                                        result.usage.input_tokens, result.usage.output_tokens)

    def stream(self, request: ChatRequest, record: RequestRecord) -> Iterator[dict]:
        """Start a streamed completion.

        Upstream errors that happen before the stream exists raise here (so the
        transport can still answer with a plain HTTP error).  The returned
        iterator yields ``chat.completion.chunk`` dicts; errors during iteration
        raise :class:`GatewayError`; closing it early closes the upstream stream.
        """
        upstream = self.backends[request.alias].stream(request)
        return self._chunks(request, upstream, record)

    def _chunks(self, request: ChatRequest, upstream: CompletionStream,
                record: RequestRecord) -> Iterator[dict]:
        builder = openai_compat.ChunkBuilder(request.alias, request.include_usage)
        pieces: list[str] | None = [] if self.config.log_content else None
        try:
            yield builder.role()
            for text in upstream:
                record.first_token()
                if pieces is not None:
                    pieces.append(text)
                yield builder.content(text)
            record.stop_reason = upstream.stop_reason
            yield builder.finish(upstream.stop_reason)
            if request.include_usage:
                usage = upstream.usage
                yield builder.usage(usage.input_tokens if usage else 0,
                                    usage.output_tokens if usage else 0)
        finally:
            upstream.close()
            if upstream.usage is not None:
                record.input_tokens = upstream.usage.input_tokens
                record.output_tokens = upstream.usage.output_tokens
            if pieces is not None:
                record.completion = "".join(pieces)
