"""Transport-independent chat service: validation, retrieval, backend call, response shaping.

The HTTP server (and any future transport) feeds it raw request bodies and a
:class:`telemetry.RequestRecord`; it returns OpenAI-shaped dicts (or an
iterator of chunk dicts for streams) and raises :class:`errors.GatewayError`
for anything the caller should see as an error.  Aliases with retrieval
settings first query their knowledge base (see :mod:`retrieval`); its latency
and result count go on the record, and the citations into the response.
"""

from __future__ import annotations

import json
import time
from typing import Iterator

import openai_compat
import retrieval
from backend import REPORTED, Backend, CompletionStream, Usage, make_backends
from config import GatewayConfig
from errors import invalid_request
from openai_compat import ChatRequest
from telemetry import RequestRecord, Telemetry


class ChatService:
    """Serves chat completions for the aliases allowlisted in ``config``."""

    def __init__(self, config: GatewayConfig, backends: dict[str, Backend] | None = None,
                 telemetry: Telemetry | None = None,
                 retriever: retrieval.Retriever | None = None) -> None:
        self.config = config
        self.backends = backends if backends is not None else make_backends(config)
        self.telemetry = telemetry or Telemetry(config)
        self.retriever = retriever if retriever is not None else retrieval.make_retriever(config)
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
        record.model_id = request.model.target.display_id
        record.stream = request.stream
        if self.config.log_content:
            record.prompt = {"system": list(request.system),
                             "messages": [{"role": m.role, "content": m.text} for m in request.messages]}
        return request

    def _retrieve(self, request: ChatRequest, record: RequestRecord) -> tuple[ChatRequest, list | None]:
        """Run the alias's retrieval step, if any: (augmented request, citations or None)."""
        settings = request.model.retrieval
        if settings is None:
            return request, None
        start = time.perf_counter_ns()
        try:
            passages = self.retriever.retrieve(settings, retrieval.query_text(request))
        finally:
            record.retrieval_ms = (time.perf_counter_ns() - start) / 1e6
        record.retrieval_results = len(passages)
        cited = retrieval.citations(passages)
        if self.config.log_content:
            record.citations = cited
        return retrieval.augment(request, passages), cited

    def complete(self, request: ChatRequest, record: RequestRecord) -> dict:
        """Run a non-streaming completion and return the ``chat.completion`` dict."""
        request, cited = self._retrieve(request, record)
        result = self.backends[request.alias].complete(request)
        record.stop_reason = result.stop_reason
        record.set_usage(result.usage)
        if self.config.log_content:
            record.completion = result.text
        return openai_compat.completion(request.alias, result.text, result.stop_reason,
                                        result.usage.input_tokens, result.usage.output_tokens, cited,
                                        token_source(result.usage))

    def stream(self, request: ChatRequest, record: RequestRecord) -> Iterator[dict]:
        """Start a streamed completion.

        Retrieval and upstream errors that happen before the stream exists raise
        here (so the transport can still answer with a plain HTTP error).  The
        returned iterator yields ``chat.completion.chunk`` dicts (citations on the
        first); errors during iteration raise :class:`GatewayError`; closing it
        early closes the upstream stream.
        """
        request, cited = self._retrieve(request, record)
        upstream = self.backends[request.alias].stream(request)
        return self._chunks(request, upstream, record, cited)

    def _chunks(self, request: ChatRequest, upstream: CompletionStream,
                record: RequestRecord, cited: list | None) -> Iterator[dict]:
        builder = openai_compat.ChunkBuilder(request.alias, request.include_usage)
        pieces: list[str] | None = [] if self.config.log_content else None
        try:
            yield builder.role(cited)
            for text in upstream:
                record.first_token()
                if pieces is not None:
                    pieces.append(text)
                yield builder.content(text)
            record.stop_reason = upstream.stop_reason
            yield builder.finish(upstream.stop_reason)
            if request.include_usage:
                usage = upstream.usage or Usage()
                yield builder.usage(usage.input_tokens, usage.output_tokens, token_source(usage))
        finally:
            upstream.close()
            if upstream.usage is not None:
                record.set_usage(upstream.usage)
            if pieces is not None:
                record.completion = "".join(pieces)


def token_source(usage: Usage) -> dict | None:
    """``usage.token_source`` for the client, or ``None`` when the backend reported both counts."""
    if usage.input_source == REPORTED and usage.output_source == REPORTED:
        return None
    return {"prompt_tokens": usage.input_source, "completion_tokens": usage.output_source}
