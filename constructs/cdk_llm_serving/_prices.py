"""Token prices: one type for every construct that estimates a cost (the gateway's budgets, batch run summaries)."""

from __future__ import annotations

from dataclasses import dataclass

from ._types import TypedOptions


@dataclass(frozen=True, kw_only=True)
class TokenPrice(TypedOptions):
    """A model's price in US dollars per million tokens.

    The gateway's budgets use on-demand prices per alias (``GatewayGovernance.prices``); ``BedrockBatchInference``
    uses batch prices (``batch_price``; by default its dated table, on-demand × the batch discount). Take the
    numbers from the Bedrock pricing page for the model and Region, and date them in your code.
    """

    input_per_million: float
    """USD per 1M input tokens (required)."""
    output_per_million: float
    """USD per 1M output tokens (required)."""
