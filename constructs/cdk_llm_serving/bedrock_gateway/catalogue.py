"""The dated catalogue of Bedrock model IDs, inference profiles, Marketplace product IDs and
profile geographies shipped as ``data/bedrock_models.json`` (sources and date in the file).

Pure Python (no CDK): the construct, the rules and the tests read it through :func:`catalogue`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from .._data import load_json


def _matches(region: str, spec: dict[str, Any]) -> bool:
    if region in spec.get("regions", ()):
        return True
    if any(region.startswith(p) for p in spec.get("except_prefixes", ())):
        return False
    return any(region.startswith(p) for p in spec.get("prefixes", ()))


@dataclass(frozen=True)
class BedrockCatalogue:
    """Read-only view of ``data/bedrock_models.json``."""

    raw: dict[str, Any]

    @property
    def as_of(self) -> str:
        """Date the catalogue was compiled (YYYY-MM-DD)."""
        return str(self.raw["as_of"])

    def is_known_model(self, foundation_model_id: str) -> bool:
        return foundation_model_id in self._models

    @property
    def _models(self) -> frozenset[str]:
        return frozenset(self.raw["foundation_models"])

    @staticmethod
    def provider(foundation_model_id: str) -> str:
        """``anthropic`` for ``anthropic.claude-...``."""
        return foundation_model_id.split(".", 1)[0]

    def is_marketplace_model(self, foundation_model_id: str) -> bool:
        """Whether the model is sold through AWS Marketplace (every provider but those AWS lists as not)."""
        return self.provider(foundation_model_id) not in self.raw["non_marketplace_providers"]

    def marketplace_product_id(self, foundation_model_id: str) -> str | None:
        """The model's AWS Marketplace product ID (``aws-marketplace:ProductId``), if catalogued."""
        product: str | None = self.raw["marketplace_product_ids"].get(foundation_model_id)
        return product

    def profile_geos(self, foundation_model_id: str) -> tuple[dict[str, list[str] | None], bool] | None:
        """``(geography -> source Regions or None, complete)`` of the model's system-defined profiles, if catalogued."""
        entry = self.raw["inference_profiles"].get(foundation_model_id)
        if not isinstance(entry, dict):
            return None
        return entry["geos"], bool(entry["complete"])

    def geography_contains(self, geo: str, region: str) -> bool:
        """Whether ``region`` can be a source Region of ``geo``'s profiles."""
        spec = self.raw["geographies"].get(geo)
        return isinstance(spec, dict) and _matches(region, spec)

    def geographies_of(self, region: str) -> list[str]:
        """The geographic (not ``global``) profile prefixes ``region`` belongs to, e.g. ``['eu']`` for eu-west-1."""
        return [
            geo
            for geo, spec in self.raw["geographies"].items()
            if geo not in ("global", "_about") and isinstance(spec, dict) and _matches(region, spec)
        ]


@cache
def catalogue() -> BedrockCatalogue:
    """The catalogue shipped with the library (read once per process)."""
    return BedrockCatalogue(load_json(__package__, "bedrock_models.json"))
