"""Synth time of each stack against an empty CDK app, in the same process.

The first synth in a process pays Node/jsii warm-up (~2 s); it is reported separately and
excluded from the medians. Prints one line per app, milliseconds.
Usage: .venv/bin/python benchmarks/synth_time.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aws_cdk as cdk  # noqa: E402

from stacks import ChatSettings, ChatStack, InferentiaSettings, InferentiaStack, RagSettings, RagStack  # noqa: E402

sys.path.insert(0, str(REPO / "tests"))
import variants_sagemaker  # noqa: E402  (one small stack per SageMakerLlmEndpoint mode)

CONTEXT = json.loads((REPO / "cdk.json").read_text())["context"]


def _empty(app: cdk.App) -> None:
    """An app with no stacks: the fixed cost of App + synth."""


def _chat(app: cdk.App) -> None:
    ChatStack(app, "ChatStack", settings=ChatSettings.from_context(CONTEXT.get("chat")))


def _inferentia(app: cdk.App) -> None:
    InferentiaStack(app, "InferentiaStack", settings=InferentiaSettings.from_context(CONTEXT.get("inferentia")))


def _rag(app: cdk.App) -> None:
    RagStack(app, "RagStack", settings=RagSettings.from_context(CONTEXT.get("rag")))


def _variant(name: str) -> Callable[[cdk.App], None]:
    return lambda app: variants_sagemaker.VARIANTS[name](app, name)


APPS: dict[str, Callable[[cdk.App], None]] = {
    "empty app": _empty,
    "ChatStack": _chat,
    "InferentiaStack": _inferentia,
    "RagStack": _rag,
    **{name: _variant(name) for name in variants_sagemaker.VARIANTS},
}


def synth_ms(build: Callable[[cdk.App], None]) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        app = cdk.App(outdir=out, context=CONTEXT)
        build(app)
        app.synth()
        return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    print(f"first synth in process (warm-up, empty app): {synth_ms(_empty):.0f} ms")
    samples: dict[str, list[float]] = {name: [] for name in APPS}
    for _ in range(runs):  # interleaved so drift affects all apps alike
        for name, build in APPS.items():
            samples[name].append(synth_ms(build))
    base = statistics.median(samples["empty app"])
    for name, values in samples.items():
        med = statistics.median(values)
        print(
            f"{name:>24}: median {med:7.0f} ms  min {min(values):7.0f} ms  max {max(values):7.0f} ms"
            f"  (+{med - base:.0f} ms over empty app, {runs} runs)"
        )


if __name__ == "__main__":
    main()
