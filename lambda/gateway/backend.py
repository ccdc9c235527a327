"""Backend interface: what the gateway needs from a model provider.

A backend turns a :class:`~openai_compat.ChatRequest` into a completion,
either whole (:meth:`Backend.complete`) or streamed (:meth:`Backend.stream`).
A stream yields text deltas (``str``), :class:`ReasoningDelta` and
:class:`ToolCallDelta` items in the order the model produced them.
Embedding aliases have an :class:`EmbeddingBackend` instead.
Failures are raised as :class:`~errors.GatewayError`.  Stop reasons use the
Bedrock Converse vocabulary (``end_turn``, ``max_tokens``, ...), which
:func:`openai_compat.finish_reason` maps for callers.

Implementations: :mod:`bedrock` (Converse) and :mod:`sagemaker` (real-time
endpoints and inference components, e.g. LoRA adapters).  A new provider plugs
in by implementing this protocol and registering in :data:`BACKENDS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from config import EMBEDDING, GatewayConfig
from openai_compat import ToolCall

#: Where a token count comes from (:class:`Usage` ``input_source``/``output_source``).
REPORTED = "reported"
"""The model service reported it (Bedrock usage, a container's ``usage`` object)."""
COUNTED = "counted"
"""Counted by the gateway from the streamed output (e.g. LMI's one JSON line per generated token)."""
ESTIMATED = "estimated"
"""Estimated by the gateway from characters (the container reported nothing countable)."""


@dataclass(frozen=True)
class Usage:
    """Token counts of one completion, and where each count comes from."""

    input_tokens: int = 0
    output_tokens: int = 0
    input_source: str = REPORTED
    output_source: str = REPORTED
    #: Prompt-cache tokens (Bedrock ``cacheReadInputTokens`` / ``cacheWriteInputTokens``), not in ``input_tokens``.
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class Completion:
    """A whole (non-streamed) completion."""

    text: str
    stop_reason: str | None
    usage: Usage
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's reasoning text (never part of the answer's content)."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of tool call ``index`` (0, 1, ... in call order): the first piece of a call has
    its ``id`` and ``name``, later pieces fragments of its JSON ``arguments``."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


#: What a :class:`CompletionStream` yields.
StreamItem = str | ReasoningDelta | ToolCallDelta


class CompletionStream(Protocol):
    """Iterate for deltas; ``stop_reason``/``usage`` are set once exhausted."""

    stop_reason: str | None
    usage: Usage | None

    def __iter__(self) -> Iterator[StreamItem]: ...

    def close(self) -> None:
        """Release the upstream connection (safe to call more than once)."""


class Backend(Protocol):
    """A model provider behind one or more aliases."""

    def complete(self, request) -> Completion: ...

    def stream(self, request) -> CompletionStream:
        """Start a streamed completion; errors before the first event raise here."""


@dataclass(frozen=True)
class Embeddings:
    """The vectors of one embeddings request (one per input, in order) and its input tokens."""

    vectors: list[list[float]]
    input_tokens: int


class EmbeddingBackend(Protocol):
    """A provider of embedding models."""

    def embed(self, request) -> Embeddings: ...


#: (alias kind, target.type) -> (module, class) implementing :class:`Backend` or
#: :class:`EmbeddingBackend`; imported on first use.
BACKENDS = {
    ("chat", "bedrock"): ("bedrock", "BedrockBackend"),
    ("chat", "sagemaker"): ("sagemaker", "SageMakerBackend"),
    (EMBEDDING, "bedrock"): ("bedrock", "BedrockEmbeddingBackend"),
}


def make_backends(config: GatewayConfig) -> dict[str, Backend | EmbeddingBackend]:
    """Create one backend per alias, sharing clients between aliases of the same kind and type."""
    shared: dict[tuple[str, str], Backend | EmbeddingBackend] = {}
    backends: dict[str, Backend | EmbeddingBackend] = {}
    for model in config.models:
        key = (model.kind, model.target.type)
        if key not in shared:
            if key not in BACKENDS:  # config.py already rejects these; keep the guard explicit.
                raise ValueError(f"unsupported {model.kind} target type {model.target.type!r}")
            module, name = BACKENDS[key]
            shared[key] = getattr(importlib.import_module(module), name)()
        backends[model.alias] = shared[key]
    return backends
