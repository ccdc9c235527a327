"""Gateway overhead benchmark (loopback only, no AWS).

Starts the Bedrock stand-in from ``tests/runtime`` in this process and the real
gateway (``lambda/gateway/server.py``) as a subprocess pointed at it through
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, then prints:

1. Non-streaming overhead: latency of client -> gateway -> stand-in minus
   client -> stand-in directly (same stubbed backend, same keep-alive
   ``http.client`` connection type), interleaved, p50/p99 over N requests.
   For context it also prints the share that is botocore's own client-side
   cost (boto3 ``converse`` vs a raw HTTP POST to the same stand-in).
2. Streaming first-byte delay: time from the stand-in writing its first text
   delta frame to the client receiving the first content chunk from the
   gateway (both timestamps from ``time.perf_counter_ns`` in this process).
3. Tool-calling stream: the same for a request with ``tools``, from the stand-in
   writing ``contentBlockStart.toolUse`` to the client receiving the first
   ``tool_calls`` delta (id and name).

Usage: python benchmarks/gateway_overhead.py [--requests 500] [--streams 200] [--tool-streams 200]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.dont_write_bytecode = True  # keep lambda/gateway (a Lambda asset) free of __pycache__
sys.path.insert(0, str(ROOT / "tests" / "runtime"))

from bedrock_standin import BedrockStandIn, Behaviour, ToolUse  # noqa: E402

MODEL_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
CONFIG = {
    "models": [
        {
            "alias": "bench",
            "target": {"type": "bedrock", "modelId": MODEL_ID},
            "maxTokensCap": 4096,
            "defaultMaxTokens": 1024,
        }
    ],
    "limits": {"maxMessages": 64, "maxTotalChars": 200000, "maxRequestBytes": 1048576},
    "logContent": False,
    "metricsNamespace": "Bench/Gateway",
    "serviceName": "bench-gateway",
}
MESSAGES = [{"role": "user", "content": "Say hello in one short sentence."}]
GATEWAY_BODY = json.dumps({"model": "bench", "messages": MESSAGES}).encode()
STREAM_BODY = json.dumps({"model": "bench", "messages": MESSAGES, "stream": True}).encode()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TOOL_STREAM_BODY = json.dumps({"model": "bench", "messages": MESSAGES, "stream": True, "tools": [WEATHER]}).encode()
DIRECT_BODY = json.dumps(
    {
        "messages": [{"role": "user", "content": [{"text": MESSAGES[0]["content"]}]}],
        "inferenceConfig": {"maxTokens": 1024},
    }
).encode()
HEADERS = {"Content-Type": "application/json"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gateway(standin_url: str, port: int, python: str) -> subprocess.Popen:
    env = dict(os.environ)
    for key in ("AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK", "AWS_ENDPOINT_URL"):
        env.pop(key, None)
    env.update(
        {
            "GATEWAY_CONFIG": json.dumps(CONFIG),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin_url,
            "AWS_ACCESS_KEY_ID": "AKIDBENCH",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            # Lets another interpreter (e.g. python3.13, the Lambda runtime) use this
            # venv's pure-Python boto3/botocore/powertools.
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p.endswith("site-packages")),
        }
    )
    proc = subprocess.Popen(
        [python, str(ROOT / "lambda" / "gateway" / "server.py")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("gateway did not become healthy: " + proc.stderr.read().decode())


def timed_post(conn: http.client.HTTPConnection, path: str, body: bytes) -> int:
    t0 = time.perf_counter_ns()
    conn.request("POST", path, body, HEADERS)
    resp = conn.getresponse()
    data = resp.read()
    elapsed = time.perf_counter_ns() - t0
    if resp.status != 200:
        raise SystemExit(f"{path}: HTTP {resp.status} {data[:200]!r}")
    return elapsed


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def bench_non_streaming(standin: BedrockStandIn, gw_port: int, n: int, warmup: int) -> None:
    sport = standin.server.server_address[1]
    direct = http.client.HTTPConnection("127.0.0.1", sport)
    via = http.client.HTTPConnection("127.0.0.1", gw_port)
    direct_path = f"/model/{quote(MODEL_ID, safe='')}/converse"
    d_ns, g_ns = [], []
    for i in range(warmup + n):  # interleave so drift affects both paths equally
        d = timed_post(direct, direct_path, DIRECT_BODY)
        g = timed_post(via, "/v1/chat/completions", GATEWAY_BODY)
        if i >= warmup:
            d_ns.append(d / 1e6)
            g_ns.append(g / 1e6)
    diffs = [g - d for g, d in zip(g_ns, d_ns, strict=True)]
    print(f"non-streaming, {n} requests after {warmup} warm-up (ms):")
    print(f"  direct to stand-in   p50 {pct(d_ns, 50):7.3f}  p99 {pct(d_ns, 99):7.3f}")
    print(f"  through gateway      p50 {pct(g_ns, 50):7.3f}  p99 {pct(g_ns, 99):7.3f}")
    print(
        f"  gateway overhead     p50 {pct(g_ns, 50) - pct(d_ns, 50):7.3f}  "
        f"p99 {pct(g_ns, 99) - pct(d_ns, 99):7.3f}  "
        f"(paired differences: p50 {pct(diffs, 50):.3f}, p99 {pct(diffs, 99):.3f}, "
        f"mean {statistics.fmean(diffs):.3f})"
    )
    direct.close()
    via.close()


def bench_botocore(standin: BedrockStandIn, gw_port: int, n: int, warmup: int) -> None:
    """Client-side cost of one boto3 ``converse`` call (serialize, SigV4, urllib3, parse), and the
    gateway's overhead against that baseline: an application calling Bedrock with the SDK directly."""
    sys.path.insert(0, str(ROOT / "lambda" / "gateway"))
    env = {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": standin.url,
        "AWS_ACCESS_KEY_ID": "AKIDBENCH",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import bedrock  # the gateway's own client factory (same Config)

        client = bedrock.make_client()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    params = {"modelId": MODEL_ID, **json.loads(DIRECT_BODY)}
    direct = http.client.HTTPConnection("127.0.0.1", standin.server.server_address[1])
    direct_path = f"/model/{quote(MODEL_ID, safe='')}/converse"
    via = http.client.HTTPConnection("127.0.0.1", gw_port)
    b_ns, d_ns, g_ns = [], [], []
    for i in range(warmup + n):  # interleaved: raw POST, SDK call, gateway
        d = timed_post(direct, direct_path, DIRECT_BODY)
        t0 = time.perf_counter_ns()
        client.converse(**params)
        b = time.perf_counter_ns() - t0
        g = timed_post(via, "/v1/chat/completions", GATEWAY_BODY)
        if i >= warmup:
            d_ns.append(d / 1e6)
            b_ns.append(b / 1e6)
            g_ns.append(g / 1e6)
    via.close()
    print(
        f"  of which botocore    p50 {pct(b_ns, 50) - pct(d_ns, 50):7.3f}  "
        f"(boto3 converse p50 {pct(b_ns, 50):.3f} vs raw POST p50 {pct(d_ns, 50):.3f}, "
        f"same stand-in, this process)"
    )
    sdk_diffs = [g - b for g, b in zip(g_ns, b_ns, strict=True)]
    print(
        f"  overhead vs SDK call p50 {pct(sdk_diffs, 50):7.3f}  p99 {pct(sdk_diffs, 99):7.3f}  "
        f"(gateway p50 {pct(g_ns, 50):.3f} vs boto3 converse straight to the stand-in p50 {pct(b_ns, 50):.3f}; "
        f"paired differences)"
    )
    direct.close()


def first_delta_ns(conn: http.client.HTTPConnection, body: bytes = STREAM_BODY, field: str = "content") -> int:
    """POST a streaming request; return perf_counter_ns when the first delta with ``field`` arrives."""
    conn.request("POST", "/v1/chat/completions", body, HEADERS)
    resp = conn.getresponse()
    buf = b""
    seen = None
    while data := resp.read1(65536):
        buf += data
        if seen is None:
            for frame in buf.split(b"\n\n")[:-1]:  # complete SSE frames only
                payload = frame.removeprefix(b"data: ")
                if payload != b"[DONE]" and json.loads(payload)["choices"][0]["delta"].get(field):
                    seen = time.perf_counter_ns()
                    break
    if seen is None or resp.status != 200:
        raise SystemExit(f"stream failed: HTTP {resp.status} {buf[:200]!r}")
    return seen


def bench_streaming(standin: BedrockStandIn, gw_port: int, n: int, warmup: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", gw_port)
    delays = []
    for i in range(warmup + n):
        standin.first_delta_ns.clear()
        received = first_delta_ns(conn)
        if i >= warmup:
            delays.append((received - standin.first_delta_ns[0]) / 1e6)
    print(f"streaming, {n} streams after {warmup} warm-up (ms):")
    print(
        f"  stand-in first delta -> client first content chunk  "
        f"p50 {pct(delays, 50):.3f}  p99 {pct(delays, 99):.3f}  max {max(delays):.3f}"
    )
    conn.close()


def bench_tool_streaming(standin: BedrockStandIn, gw_port: int, n: int, warmup: int) -> None:
    """Added time to the first tool-call delta: stand-in contentBlockStart.toolUse -> client tool_calls delta."""
    standin.default = Behaviour(chunks=[], tool_uses=[ToolUse("get_weather", {"city": "Paris"})])
    conn = http.client.HTTPConnection("127.0.0.1", gw_port)
    delays = []
    try:
        for i in range(warmup + n):
            standin.first_tool_ns.clear()
            received = first_delta_ns(conn, TOOL_STREAM_BODY, "tool_calls")
            if i >= warmup:
                delays.append((received - standin.first_tool_ns[0]) / 1e6)
    finally:
        standin.default = Behaviour()
        conn.close()
    print(f"tool-calling streaming, {n} streams after {warmup} warm-up (ms):")
    print(
        f"  stand-in contentBlockStart.toolUse -> client first tool_calls delta  "
        f"p50 {pct(delays, 50):.3f}  p99 {pct(delays, 99):.3f}  max {max(delays):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tool-streams", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument(
        "--gateway-python", default=sys.executable, help="interpreter for the gateway process (default: this one)"
    )
    args = parser.parse_args()
    standin = BedrockStandIn().start()
    port = free_port()
    gateway = start_gateway(standin.url, port, args.gateway_python)
    version = subprocess.run(
        [args.gateway_python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
    ).stdout.strip()
    print(f"gateway interpreter: {args.gateway_python} (Python {version})")
    try:
        bench_non_streaming(standin, port, args.requests, args.warmup)
        bench_botocore(standin, port, args.requests, args.warmup)
        bench_streaming(standin, port, args.streams, args.warmup)
        bench_tool_streaming(standin, port, args.tool_streams, args.warmup)
    finally:
        gateway.terminate()
        gateway.wait(5)
        standin.stop()


if __name__ == "__main__":
    main()
