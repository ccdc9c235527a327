"""LoraAdapterFleet at scale: synth time and template size for 10, 100 and 500 adapters, and the cost model.

Synth: one fleet (LoraStack's shape: 4 nested adapter stacks, no per-adapter alarms) per app, in one process,
after a warm-up synth; median of --runs. Size: the fleet's stack plus its nested adapter stacks (bytes of the
synthesized JSON), and the largest single template. Growth is linear when the per-adapter increments match.
Cost: compare_with_dedicated for 1, 10, 100, 500 adapters with the library defaults (the README's table).

Usage: .venv/bin/python benchmarks/lora_fleet.py [--runs N] [--counts 10,100,500]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402

from cdk_llm_serving import AdapterStore, LoraAdapter, LoraAdapterFleet, ModelSource  # noqa: E402
from cdk_llm_serving.lora_fleet import cost_table  # noqa: E402


def synth(adapters: int) -> tuple[float, int, int, int]:
    """(milliseconds, total template bytes, largest template bytes, templates) for one fleet of ``adapters``."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        app = cdk.App(outdir=out)
        stack = cdk.Stack(app, "Bench")
        bucket = s3.Bucket.from_bucket_name(stack, "Weights", "example-llm-weights")
        LoraAdapterFleet(
            stack,
            "Fleet",
            base_model=ModelSource.s3_prefix(bucket, "base/"),
            adapter_store=AdapterStore(bucket, "adapters/"),
            adapters=[LoraAdapter(name=f"tenant-{i:04d}") for i in range(adapters)],
        )
        app.synth()
        elapsed = (time.perf_counter() - start) * 1000
        sizes = [p.stat().st_size for p in Path(out).glob("*.template.json")]
        # Check the templates are what they claim: valid JSON.
        for p in Path(out).glob("*.template.json"):
            json.loads(p.read_text())
        return elapsed, sum(sizes), max(sizes), len(sizes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--counts", default="10,100,500")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    print(f"warm-up synth (10 adapters): {synth(10)[0]:.0f} ms")
    samples: dict[int, list[float]] = {n: [] for n in counts}
    sizes: dict[int, tuple[int, int, int]] = {}
    for _ in range(args.runs):  # interleaved so drift affects every size alike
        for n in counts:
            ms, total, largest, files = synth(n)
            samples[n].append(ms)
            sizes[n] = (total, largest, files)
    print(
        f"\n{'adapters':>8} | {'synth median':>12} | {'templates':>9} | {'total bytes':>11} | {'largest':>9} | per-adapter increment"
    )
    previous: tuple[int, float, int] | None = None
    for n in counts:
        med = statistics.median(samples[n])
        total, largest, files = sizes[n]
        increment = ""
        if previous is not None:
            pn, pms, pbytes = previous
            increment = f"{(med - pms) / (n - pn):.1f} ms, {(total - pbytes) / (n - pn):.0f} B"
        print(f"{n:>8} | {med:>9.0f} ms | {files:>9} | {total:>11,} | {largest:>9,} | {increment}")
        previous = (n, med, total)
    print(
        f"({args.runs} runs each; 4 nested adapter stacks; CloudFormation limits: 500 resources and 1 MB per template)\n"
    )
    print(
        "Hourly cost, fleet vs one dedicated endpoint per adapter (LoraAdapterFleet.compare_with_dedicated defaults):\n"
    )
    print(cost_table((1, 10, 100, 500)))


if __name__ == "__main__":
    main()
