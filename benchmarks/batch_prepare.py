"""Bedrock batch runtime throughput: prepare (validate, convert, split, write job files) and collect (join outputs
on recordId, write results and OpenAI Batch output) on a generated file, in records per second, for both input formats.

The real handler functions (lambda/batch/handler.py ``prepare_run`` / ``collect_run``) run against a local S3 API
server (moto's, on 127.0.0.1; boto3 through ``AWS_ENDPOINT_URL_S3``), so the numbers include JSON work, boto3 and
the local HTTP round trips, but not S3's network latency or Lambda's CPU share (2048 MB ≈ 1.2 vCPU). Outputs are
generated in shuffled order with 1% error records, as Bedrock writes them; the per-job limits are the construct's
fallbacks (100-50,000 records, 1 GiB), so 100,000 records make 2 jobs. Median of --runs.

Usage: .venv/bin/python benchmarks/batch_prepare.py [--records 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import random
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "lambda" / "batch"))
sys.dont_write_bytecode = True  # keep lambda/batch free of __pycache__ (it is a Lambda asset)

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

import handler  # noqa: E402
import split  # noqa: E402

IN, OUT = "bench-in", "bench-out"
LIMITS = split.Limits(min_records=100, max_records=50_000, max_bytes=1024**3, sources={})


def _config(fmt: str) -> dict[str, Any]:
    return {
        "input_bucket": IN,
        "input_prefix": "input/",
        "runs_prefix": "runs/",
        "output_bucket": OUT,
        "input_format": fmt,
        "invocation_type": "Converse",
        "model_id": "us.amazon.nova-lite-v1:0",
        "job_name_prefix": "batch",
        "allow_invalid_records": False,
        "fallback_limits": {"min_records": 100, "max_records": 50000, "max_bytes": 1024**3},
        "batch_price": {"input_per_million": 0.03, "output_per_million": 0.12},
        "metrics_namespace": "Bench",
        "pipeline_name": "bench",
    }


def _line(fmt: str, n: int) -> str:
    prompt = f"Summarize ticket {n}: the customer reports that the export button does nothing on large reports."
    if fmt == "openai":
        body = {
            "model": "m",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}],
            "max_tokens": 200,
        }
        return json.dumps({"custom_id": f"ticket-{n}", "method": "POST", "url": "/v1/chat/completions", "body": body})
    model_input = {"messages": [{"role": "user", "content": [{"text": prompt}]}], "inferenceConfig": {"maxTokens": 200}}
    return json.dumps({"recordId": f"T{n:010d}", "modelInput": model_input})


def _outputs(s3: Any, prepared: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    jobs = []
    for part in prepared["parts"]:
        key = part["input_uri"].split(f"{IN}/", 1)[1]
        ids = [json.loads(line)["recordId"] for line in s3.get_object(Bucket=IN, Key=key)["Body"].iter_lines()]
        rng.shuffle(ids)
        lines = []
        for rid in ids:
            if rng.random() < 0.01:
                lines.append({"recordId": rid, "modelInput": {}, "error": {"errorCode": 400, "errorMessage": "bad"}})
            else:
                out = {
                    "output": {
                        "message": {"role": "assistant", "content": [{"text": "The export fails on large reports."}]}
                    },
                    "stopReason": "end_turn",
                    "usage": {"inputTokens": 30, "outputTokens": 9},
                }
                lines.append({"recordId": rid, "modelInput": {}, "modelOutput": out})
        prefix = part["output_uri"].split(f"{OUT}/", 1)[1]
        body = "\n".join(json.dumps(x) for x in lines).encode()
        s3.put_object(Bucket=OUT, Key=f"{prefix}job123/{key.rsplit('/', 1)[-1]}.out", Body=body)
        arn = "arn:aws:bedrock:us-east-1:111122223333:model-invocation-job/job123"
        jobs.append({"index": part["index"], "Job": {"JobArn": arn, "Status": "Completed", "Message": ""}})
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the local server's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(
        AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=IN)
    s3.create_bucket(Bucket=OUT)
    rng = random.Random(7)
    print(
        f"{args.records:,} records per run, median of {args.runs} runs (local S3 API server, {sys.version.split()[0]})"
    )
    print(
        f"{'format':<8} {'file MB':>8} {'prepare s':>10} {'prepare rec/s':>14} {'collect s':>10} {'collect rec/s':>14}"
    )
    try:
        for fmt in ("bedrock", "openai"):
            data = ("\n".join(_line(fmt, n) for n in range(args.records)) + "\n").encode()
            prepare_times, collect_times = [], []
            for run in range(args.runs):
                s3.put_object(Bucket=IN, Key=f"input/{fmt}.jsonl", Body=data)
                event = {"execution": f"bench-{fmt}-{run}", "input": {"input_key": f"input/{fmt}.jsonl"}}
                t0 = time.perf_counter()
                prepared = handler.prepare_run(s3, _config(fmt), event, limits=LIMITS)
                prepare_times.append(time.perf_counter() - t0)
                assert prepared["records"] == args.records and prepared["invalid"] == 0
                jobs = _outputs(s3, prepared, rng)
                t0 = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):  # the metrics line the function logs
                    summary = handler.collect_run(s3, _config(fmt), {"prepared": prepared, "jobs": jobs})
                collect_times.append(time.perf_counter() - t0)
                assert summary["records"] == args.records and summary["missing"] == 0
            p, c = statistics.median(prepare_times), statistics.median(collect_times)
            print(
                f"{fmt:<8} {len(data) / 1e6:>8.1f} {p:>10.2f} {args.records / p:>14,.0f} {c:>10.2f} {args.records / c:>14,.0f}"
            )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
