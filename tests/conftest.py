"""Session fixtures shared by the infrastructure tests."""

from __future__ import annotations

import json
import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from pathlib import Path  # noqa: E402

# Every ``cdk.App()`` in the tests synthesizes with cdk.json's feature flags, as the CLI and
# ``cdk init`` apps do: the CLI passes context through this variable and App reads it. It must
# be set before aws_cdk is imported: that import spawns the jsii kernel (Node), which copies
# the environment once. harness.feature_flags() is the same selection, for subprocesses.
_CONTEXT = json.loads((Path(__file__).resolve().parent.parent / "cdk.json").read_text())["context"]
os.environ["CDK_CONTEXT_JSON"] = json.dumps({k: v for k, v in _CONTEXT.items() if k.startswith("@aws-cdk")})

import pytest  # noqa: E402

from harness import Synthesis, synthesize  # noqa: E402


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """Every stack, synthesized once per session (cdk-nag plugins attached)."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))
