"""Session fixtures shared by the infrastructure tests."""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest  # noqa: E402

from harness import Synthesis, synthesize  # noqa: E402


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """Every stack, synthesized once per session (cdk-nag plugins attached)."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))
