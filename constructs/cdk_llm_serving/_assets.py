"""Locate the Lambda runtime code that the constructs deploy.

In an installed wheel the runtime ships inside the package (``cdk_llm_serving/_lambda/<name>``,
mapped there by the wheel build). In a source checkout it lives in the repository's top-level
``lambda/<name>`` directory, beside the constructs. The wheel test proves the first location,
every other test the second.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def runtime_dir(name: str) -> str:
    """Absolute path of the runtime directory ``name`` (e.g. ``"gateway"``)."""
    candidates = (
        _PACKAGE_DIR / "_lambda" / name,  # installed wheel
        _PACKAGE_DIR.parent.parent / "lambda" / name,  # source checkout: constructs/cdk_llm_serving -> repo root
    )
    for candidate in candidates:
        if candidate.is_dir():
            return str(candidate)
    raise FileNotFoundError(f"runtime code {name!r} not found in any of: {', '.join(map(str, candidates))}")
