"""Data files shipped inside the package (``<subpackage>/data/*.json``), read once per process."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_json(package: str, name: str) -> dict[str, Any]:
    """``data/<name>`` of ``package``, parsed (works from the repository and from an installed wheel)."""
    data: dict[str, Any] = json.loads(resources.files(package).joinpath("data", name).read_text(encoding="utf-8"))
    return data
