"""Backend interface: what the gateway needs from a model provider.

A backend turns a :class:`~openai_compat.ChatRequest` into a completion,
either whole (:meth:`Backend.complete`) or streamed (:meth:`Backend.stream`).
Failures are raised as :class:`~errors.GatewayError`.  Stop reasons use the
Bedrock Converse vocabulary (``end_turn``, ``max_tokens``, ...), which
:func:`openai_compat.finish_reason` maps for callers.

Implementations: :mod:`bedrock` (Converse) and :mod:`sagemaker` (real-time
endpoints and inference components, e.g. LoRA adapters).  A new provider plugs
in by implementing this protocol and registering in :data:`BACKENDS`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Iterator, Protocol

from config import GatewayConfig


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


@dataclass(frozen=True)
class Completion:
    """A whole (non-streamed) completion."""

    text: str
    stop_reason: str | None
    usage: Usage


class CompletionStream(Protocol):
    """Iterate for text deltas; ``stop_reason``/``usage`` are set once exhausted."""

    stop_reason: str | None
    usage: Usage | None

    def __iter__(self) -> Iterator[str]: ...

    def close(self) -> None:
        """Release the upstream connection (safe to call more than once)."""


class Backend(Protocol):
    """A model provider behind one or more aliases."""

    def complete(self, request) -> Completion: ...

    def stream(self, request) -> CompletionStream:
        """Start a streamed completion; errors before the first event raise here."""


#: target.type -> (module, class) implementing :class:`Backend`; imported on first use.
BACKENDS = {
    "bedrock": ("bedrock", "BedrockBackend"),
    "sagemaker": ("sagemaker", "SageMakerBackend"),
}


def make_backends(config: GatewayConfig) -> dict[str, Backend]:
    """Create one backend per alias, sharing clients between aliases of the same type."""
    shared: dict[str, Backend] = {}
    backends: dict[str, Backend] = {}
    for model in config.models:
        kind = model.target.type
        if kind not in shared:
            if kind not in BACKENDS:  # config.py already rejects unknown types; keep the guard explicit.
                raise ValueError(f"unsupported target type {kind!r}")
            module, name = BACKENDS[kind]
            shared[kind] = getattr(importlib.import_module(module), name)()
        backends[model.alias] = shared[kind]
    return backends
