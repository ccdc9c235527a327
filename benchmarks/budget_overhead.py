"""Budget path benchmark (loopback only, no AWS): the latency the gateway's governance adds to a request.

Runs DynamoDB locally (moto in server mode, tests/runtime/moto_dynamodb.py) and times, with the gateway's own
``budgets.Budgets`` and a boto3 client configured as the gateway configures it (``upstream.make_client``):

1. reserve: one conditional ``UpdateItem`` per counter (caller and team: two), as before every model call;
2. settle: one ``UpdateItem`` per counter, as after every model call;
3. reserve + settle together, the whole budget path of one request.

Prints p50/p99 in milliseconds over N requests. Numbers are for moto on loopback (Python, one process, requests
serialized): they measure the gateway's code and the boto3 round trips, not DynamoDB's own latency in a Region, which
adds to them in production (four requests per model call). Run beside
benchmarks/gateway_overhead.py (``make bench``).

Usage: python benchmarks/budget_overhead.py [--requests 300]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.dont_write_bytecode = True  # keep lambda/gateway (a Lambda asset) free of __pycache__
sys.path.insert(0, str(ROOT / "tests" / "runtime"))
sys.path.insert(0, str(ROOT / "lambda" / "gateway"))

from moto_dynamodb import SerializedMotoServer, create_governance_table  # noqa: E402

TABLE = "bench-governance"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per DynamoDB call
    server = SerializedMotoServer()
    server.start()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_DYNAMODB": server.url,
        }
    )
    import budgets
    import upstream

    client = upstream.make_client("dynamodb")
    create_governance_table(client, TABLE)
    b = budgets.Budgets(client, TABLE)
    counters = [
        budgets.Counter("caller", "key:bench", budgets.Limit(tokens=10**12)),
        budgets.Counter("team", "bench", budgets.Limit(tokens=10**12, usd=10**6)),
    ]
    reserve_ms, settle_ms, total_ms = [], [], []
    for _ in range(20):  # warm up connections and moto
        b.settle(b.reserve(counters, 1100, 500), 100, 50)
    for _ in range(args.requests):
        t0 = time.perf_counter_ns()
        reservation = b.reserve(counters, 1100, 500)
        t1 = time.perf_counter_ns()
        b.settle(reservation, 120, 60)
        t2 = time.perf_counter_ns()
        reserve_ms.append((t1 - t0) / 1e6)
        settle_ms.append((t2 - t1) / 1e6)
        total_ms.append((t2 - t0) / 1e6)
    server.stop()
    print(f"Budget path (2 counters: caller + team), {args.requests} requests, moto DynamoDB on loopback:")
    for name, values in (("reserve", reserve_ms), ("settle", settle_ms), ("reserve + settle", total_ms)):
        print(f"  {name:<17} p50 {statistics.median(values):7.2f} ms   p99 {percentile(values, 0.99):7.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
