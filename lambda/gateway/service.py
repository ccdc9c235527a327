"""Transport-independent chat and embeddings service: validation, retrieval, backend call, response shaping.

The HTTP server (and any future transport) feeds it raw request bodies and a
:class:`telemetry.RequestRecord`; it returns OpenAI-shaped dicts (or an
iterator of chunk dicts for streams) and raises :class:`errors.GatewayError`
for anything the caller should see as an error.  Aliases with retrieval
settings first query their knowledge base (see :mod:`retrieval`); its latency
and result count go on the record, and the citations into the response.  The
backend call goes through :func:`fallback.call` (an alias's fallback list, before
any byte was sent).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Generator
from typing import Any, cast

import embeddings
import fallback
import governance as governance_mod
import images
import openai_compat
import retrieval
from backend import (
    REPORTED,
    Backend,
    CompletionStream,
    EmbeddingBackend,
    ReasoningDelta,
    ToolCallDelta,
    Usage,
    make_backends,
)
from config import GatewayConfig
from errors import GatewayError, invalid_request
from openai_compat import ChatRequest
from telemetry import RequestRecord, Telemetry


class ChatService:
    """Serves chat completions for the aliases allowlisted in ``config``."""

    def __init__(
        self,
        config: GatewayConfig,
        backends: dict[str, Backend | EmbeddingBackend] | None = None,
        telemetry: Telemetry | None = None,
        retriever: retrieval.Retriever | None = None,
        governance: governance_mod.Governance | None = None,
    ) -> None:
        self.config = config
        #: Identity, allowed aliases, budgets (``None`` without a ``governance`` config object).
        self.governance = governance if governance is not None else governance_mod.make_governance(config)
        self.backends: dict[str, Backend | EmbeddingBackend] = (
            backends if backends is not None else make_backends(config)
        )
        self.telemetry = telemetry or Telemetry(config)
        self.retriever = retriever if retriever is not None else retrieval.make_retriever(config)
        self._model_objects = {
            m.alias: {"id": m.alias, "object": "model", "created": 0, "owned_by": m.target.type} for m in config.models
        }
        self._models = {"object": "list", "data": list(self._model_objects.values())}

    def list_models(self) -> dict:
        """The ``/v1/models`` response."""
        return self._models

    def retrieve_model(self, alias: str) -> dict:
        """The ``/v1/models/{alias}`` response; 404 ``model_not_found`` for an unknown alias."""
        model = self._model_objects.get(alias)
        if model is None:
            raise GatewayError(
                404,
                f"The model '{alias}' does not exist or you do not have access to it.",
                type="invalid_request_error",
                code="model_not_found",
                param="model",
            )
        return model

    def _chat_backend(self, alias: str) -> Backend:
        """The backend of chat alias ``alias``.

        ``parse_chat_request`` only accepts chat aliases, and ``make_backends`` gives those a
        :class:`Backend`; the cast records that (it checks nothing at run time).
        """
        return cast(Backend, self.backends[alias])

    def _embedding_backend(self, alias: str) -> EmbeddingBackend:
        """The backend of embedding alias ``alias`` (``parse_embedding_request`` only accepts those)."""
        return cast(EmbeddingBackend, self.backends[alias])

    @staticmethod
    def _decode(body: bytes) -> Any:
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise invalid_request("The request body is not valid JSON.", code="invalid_json") from None

    def parse(self, body: bytes, record: RequestRecord) -> ChatRequest:
        """Decode and validate a request body; fills alias/model on ``record``.

        Images on allowlisted hosts are fetched here, before any model call.
        """
        request = openai_compat.parse_chat_request(self._decode(body), self.config)
        record.alias = request.alias
        record.model_id = request.model.target.display_id
        record.stream = request.stream
        record.guarded = request.model.guardrail is not None
        if self.config.log_content:
            record.prompt = {
                "system": list(request.system),
                "messages": [{"role": m.role, "content": m.text} for m in request.messages],
            }
        return resolve_images(request)

    def embed(self, body: bytes, record: RequestRecord) -> dict:
        """Serve one ``/v1/embeddings`` request and return the OpenAI response dict."""
        request = embeddings.parse_embedding_request(self._decode(body), self.config)
        record.alias = request.alias
        record.model_id = request.model.target.display_id
        self._authorize(request.alias, record)
        estimate = sum(len(text.encode()) for text in request.inputs) + governance_mod.MESSAGE_TOKENS
        reservation = self._reserve(request.alias, estimate, 0, record)
        try:
            result = self._embedding_backend(request.alias).embed(request)
        except BaseException:
            self._settle(reservation, request.alias, record, Usage())
            raise
        record.set_usage(Usage(result.input_tokens, 0))
        self._settle(reservation, request.alias, record, Usage(result.input_tokens, 0))
        return embeddings.response(request, result.vectors, result.input_tokens)

    def _retrieve(self, request: ChatRequest, record: RequestRecord) -> tuple[ChatRequest, list | None]:
        """Run the alias's retrieval step, if any: (augmented request, citations or None)."""
        settings = request.model.retrieval
        if settings is None:
            return request, None
        start = time.perf_counter_ns()
        try:
            if self.retriever is None:  # make_retriever creates one whenever an alias has retrieval settings
                raise AttributeError("'NoneType' object has no attribute 'retrieve'")
            passages = self.retriever.retrieve(settings, retrieval.query_text(request))
        finally:
            record.retrieval_ms = (time.perf_counter_ns() - start) / 1e6
        record.retrieval_results = len(passages)
        cited = retrieval.citations(passages)
        if self.config.log_content:
            record.citations = cited
        return retrieval.augment(request, passages), cited

    # -- governance hooks (no-ops without governance) --------------------------------

    def _authorize(self, alias: str, record: RequestRecord) -> None:
        """403 unless the caller's team and key may use ``alias`` (before retrieval or any model call)."""
        if self.governance is not None and record.principal is not None:
            self.governance.authorize(record.principal, alias)

    def _reserve(
        self, alias: str, input_tokens: int, max_tokens: int, record: RequestRecord
    ) -> governance_mod.Reservation | None:
        """Reserve the worst case on the caller's and team's budgets (429 ``insufficient_quota``)."""
        if self.governance is None or record.principal is None:
            return None
        reservation = self.governance.reserve(record.principal, alias, input_tokens, max_tokens)
        record.reservation = reservation
        return reservation

    def _admit(self, request: ChatRequest, record: RequestRecord) -> tuple[ChatRequest, Any]:
        """Reserve a chat request's budget; Bedrock calls get ``requestMetadata`` (team, caller hash, alias)."""
        estimate = governance_mod.estimate_input_tokens(request)
        reservation = self._reserve(request.alias, estimate, request.max_tokens, record)
        if reservation is not None and self.governance is not None and request.model.target.type == "bedrock":
            metadata = self.governance.request_metadata(record.principal, request.alias)
            request = dataclasses.replace(request, request_metadata=tuple(metadata.items()))
        return request, reservation

    def _usable(self, admitted: ChatRequest, record: RequestRecord) -> Callable[[ChatRequest], ChatRequest | None]:
        """Which fallback candidates of ``admitted`` this caller may be served by, within its reservation.

        With governance, a fallback alias is used only when the caller's team and key may use it, and only at no
        higher price than the requested alias (the reservation was priced on that alias); its ``max_tokens`` is
        clamped to the reserved one. So a fallback never spends more than the reservation holds.
        """

        def usable(candidate: ChatRequest) -> ChatRequest | None:
            if self.governance is None or record.principal is None:
                return candidate
            try:
                self.governance.authorize(record.principal, candidate.alias)
            except GatewayError:
                return None
            price, reserved = self.governance.price(candidate.alias), self.governance.price(admitted.alias)
            if price is not None and (reserved is None or price[0] > reserved[0] or price[1] > reserved[1]):
                return None
            return dataclasses.replace(candidate, max_tokens=min(candidate.max_tokens, admitted.max_tokens))

        return usable

    def _settle(self, reservation: Any, alias: str, record: RequestRecord, usage: Usage | None) -> None:
        """Settle to ``usage`` (``None``: unknown, keep the whole reservation); never raises."""
        if reservation is None or self.governance is None:
            return
        try:
            if usage is None:
                cost = self.governance.settle_worst_case(reservation)
            else:
                cost = self.governance.settle(reservation, alias, usage.input_tokens, usage.output_tokens)
            if self.governance.price(alias) is not None:
                record.cost_usd = cost
        except Exception:  # the reservation expires and is reclaimed; the answer is not lost
            self.telemetry.logger.exception("budget settle failed")

    def settle_open(self, record: RequestRecord) -> None:
        """Settle a reservation nothing settled yet (a stream whose generator never ran) to its worst case."""
        reservation = record.reservation
        if reservation is not None and not reservation.settled:
            self._settle(reservation, record.alias or "", record, None)

    def usage(self, record: RequestRecord, team: str | None) -> dict:
        """``GET /v1/usage``: the caller's usage and remaining budget (``team``: admins only)."""
        if self.governance is None or record.principal is None:
            raise GatewayError(
                404,
                "Usage is only available when the gateway has budgets.",
                code="unknown_url",
                type="invalid_request_error",
            )
        return self.governance.usage(record.principal, team)

    # -- chat ---------------------------------------------------------------------

    def complete(self, request: ChatRequest, record: RequestRecord) -> dict:
        """Run a non-streaming completion and return the ``chat.completion`` dict."""
        self._authorize(request.alias, record)
        request, cited = self._retrieve(request, record)
        request, reservation = self._admit(request, record)
        try:
            request, result = fallback.call(
                request,
                self.config,
                record,
                lambda r: self._chat_backend(r.alias).complete(r),
                self._usable(request, record),
            )
        except BaseException:
            self._settle(reservation, request.alias, record, Usage())  # the model billed nothing
            raise
        self._settle(reservation, request.alias, record, result.usage)
        record.stop_reason = result.stop_reason
        record.set_usage(result.usage)
        record.tool_calls = len(result.tool_calls)
        if self.config.log_content:
            record.completion = result.text
        return openai_compat.completion(
            request.alias,
            result.text,
            result.stop_reason,
            result.usage.input_tokens,
            result.usage.output_tokens,
            cited,
            token_source(result.usage),
            result.tool_calls,
            result.reasoning,
            cache_tokens(request, result.usage),
        )

    def stream(self, request: ChatRequest, record: RequestRecord) -> Generator[dict, None, None]:
        """Start a streamed completion.

        Retrieval and upstream errors that happen before the stream exists raise
        here (so the transport can still answer with a plain HTTP error).  The
        returned iterator yields ``chat.completion.chunk`` dicts (citations on the
        first); errors during iteration raise :class:`GatewayError`; closing it
        early closes the upstream stream.
        """
        self._authorize(request.alias, record)
        request, cited = self._retrieve(request, record)
        request, reservation = self._admit(request, record)
        try:
            request, upstream = fallback.call(
                request,
                self.config,
                record,
                lambda r: self._chat_backend(r.alias).stream(r),
                self._usable(request, record),
            )
        except BaseException:
            self._settle(reservation, request.alias, record, Usage())  # rejected before any event
            raise
        return self._chunks(request, upstream, record, cited, reservation)

    def _chunks(
        self,
        request: ChatRequest,
        upstream: CompletionStream,
        record: RequestRecord,
        cited: list | None,
        reservation: Any = None,
    ) -> Generator[dict, None, None]:
        """The chunks of a stream.  When it ends, breaks or the client goes away, the budget is settled: to the
        usage the model reported, or, when it reported none (a stream broken before Bedrock's ``metadata``
        event), to the whole reservation (Bedrock may have billed what it generated; the gateway cannot know)."""
        builder = openai_compat.ChunkBuilder(request.alias, request.include_usage)
        pieces: list[str] | None = [] if self.config.log_content else None
        try:
            yield builder.role(cited)
            for item in upstream:
                record.first_token()
                if type(item) is str:
                    if pieces is not None:
                        pieces.append(item)
                    yield builder.content(item)
                elif isinstance(item, ToolCallDelta):
                    if item.id is not None:
                        record.tool_calls += 1
                    yield builder.tool_call(item.index, item.id, item.name, item.arguments)
                elif isinstance(item, ReasoningDelta):
                    yield builder.reasoning(item.text)
            record.stop_reason = upstream.stop_reason
            yield builder.finish(upstream.stop_reason)
            if request.include_usage:
                usage = upstream.usage or Usage()
                yield builder.usage(
                    usage.input_tokens, usage.output_tokens, token_source(usage), cache_tokens(request, usage)
                )
        finally:
            upstream.close()
            if upstream.usage is not None:
                record.set_usage(upstream.usage)
            self._settle(reservation, request.alias, record, upstream.usage)
            if pieces is not None:
                record.completion = "".join(pieces)


def resolve_images(request: ChatRequest) -> ChatRequest:
    """``request`` with every remote image (:class:`images.ImageRef`) fetched and checked."""
    if not any(isinstance(p, images.ImageRef) for m in request.messages for p in m.parts):
        return request
    messages = tuple(
        dataclasses.replace(m, parts=tuple(images.fetch(p) if isinstance(p, images.ImageRef) else p for p in m.parts))
        for m in request.messages
    )
    return dataclasses.replace(request, messages=messages)


def cache_tokens(request: ChatRequest, usage: Usage) -> tuple[int, int] | None:
    """Prompt-cache ``(read, write)`` tokens for the client's ``usage``: on aliases with prompt caching, or
    whenever the model reported some."""
    if request.model.prompt_caching or usage.cache_read_tokens or usage.cache_write_tokens:
        return usage.cache_read_tokens, usage.cache_write_tokens
    return None


def token_source(usage: Usage) -> dict | None:
    """``usage.token_source`` for the client, or ``None`` when the backend reported both counts."""
    if usage.input_source == REPORTED and usage.output_source == REPORTED:
        return None
    return {"prompt_tokens": usage.input_source, "completion_tokens": usage.output_source}
