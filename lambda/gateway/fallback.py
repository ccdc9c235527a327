"""Per-alias fallback: when an alias's model is throttled, unavailable, not ready or times out, the request goes to
the next alias of its ``fallback`` list (GATEWAY_CONFIG), in order.

Only before the first byte reaches the client: a non-streamed call is retried while it has produced nothing, a
stream only while opening it (``Backend.stream`` raises HTTP-level errors before any event; once the stream is
open the server has sent its headers, and an error inside it ends that stream as usual, never on another model).
Client errors (400s), deployment problems (502s) and gateway errors are never retried on another model.

Each fallback is recorded on the request (``RequestRecord.fallbacks``: the alias that failed and why), which
:mod:`telemetry` logs and emits as the ``Fallback`` metric (dimensions ``ModelAlias`` and ``FallbackReason``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

from config import GatewayConfig, ModelConfig
from errors import GatewayError
from openai_compat import ChatRequest
from telemetry import RequestRecord

T = TypeVar("T")

#: Statuses of upstream failures worth another model: throttled or over quota (429), unavailable or not ready
#: (503), timed out (504) — see ``upstream.THROTTLED``, ``UNAVAILABLE``, ``NOT_READY``, ``TIMED_OUT``.
FALLBACK_STATUSES = frozenset({429, 503, 504})


def should_fall_back(err: GatewayError) -> bool:
    """Whether ``err`` (raised before any byte was sent) may be retried on the next alias."""
    return err.status in FALLBACK_STATUSES and not err.is_deployment_problem


def retarget(request: ChatRequest, model: ModelConfig) -> ChatRequest | None:
    """``request`` for fallback alias ``model`` (its token cap and default apply), or ``None`` when that alias
    cannot serve it (reasoning asked for, but the alias has no reasoning)."""
    if request.reasoning_effort is not None and not model.reasoning:
        return None
    max_tokens = (
        min(request.max_tokens, model.max_tokens_cap) if request.max_tokens_requested else model.default_max_tokens
    )
    return dataclasses.replace(request, model=model, max_tokens=max_tokens)


def candidates(
    request: ChatRequest, config: GatewayConfig, usable: Callable[[ChatRequest], ChatRequest | None] | None = None
) -> list[ChatRequest]:
    """The request, then the same request for each usable alias of its fallback list (``usable`` may veto or
    adjust a fallback candidate: the caller's allowed aliases and budget reservation, see ``service``)."""
    out = [request]
    for name in request.model.fallback:
        model = config.model(name)
        retargeted = retarget(request, model) if model is not None else None
        if retargeted is not None and usable is not None:
            retargeted = usable(retargeted)
        if retargeted is not None:
            out.append(retargeted)
    return out


def call(
    request: ChatRequest,
    config: GatewayConfig,
    record: RequestRecord,
    start: Callable[[ChatRequest], T],
    usable: Callable[[ChatRequest], ChatRequest | None] | None = None,
) -> tuple[ChatRequest, T]:
    """``start(request)``, falling back along the alias's list on :func:`should_fall_back` errors; returns the
    request that succeeded (its ``model`` is the alias that served it) and ``start``'s result. The last error is
    raised when every candidate failed."""
    attempts = candidates(request, config, usable)
    for i, candidate in enumerate(attempts):
        try:
            result = start(candidate)
        except GatewayError as err:
            if i == len(attempts) - 1 or not should_fall_back(err):
                raise
            record.fallbacks.append((candidate.alias, err.metric_type or str(err.status)))
            continue
        if i:
            record.served_by = candidate.alias
            record.model_id = candidate.model.target.display_id
        return candidate, result
    raise AssertionError("unreachable: candidates() always holds the request itself")  # pragma: no cover
