"""The deployed entry points: ``run.sh`` / ``server.py main()`` as real processes."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from gateway_harness import AWS_ENV, GATEWAY_DIR, TEST_CONFIG


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GATEWAY_"))}
    env.update(AWS_ENV)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # run.sh calls `python3`: make it this interpreter (with boto3 and Powertools installed).
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "config, message",
    [
        (None, "GATEWAY_CONFIG is not set"),
        ("{broken", "not valid JSON"),
        (
            json.dumps({**TEST_CONFIG, "models": [{**TEST_CONFIG["models"][0], "target": {"type": "vertex"}}]}),
            "unsupported target.type 'vertex'",
        ),
        (
            json.dumps({**TEST_CONFIG, "models": [{**TEST_CONFIG["models"][0], "target": {"type": "sagemaker"}}]}),
            "missing required key 'models[0].target.endpointName'",
        ),
    ],
)
def test_startup_fails_clearly_on_bad_config(config, message):
    env = _env() if config is None else _env(GATEWAY_CONFIG=config)
    proc = subprocess.run([str(GATEWAY_DIR / "run.sh")], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_sh_serves_health_and_models(standin):
    port = _free_port()
    env = _env(GATEWAY_CONFIG=json.dumps(TEST_CONFIG), PORT=str(port), AWS_ENDPOINT_URL_BEDROCK_RUNTIME=standin.url)
    env.pop("HOST", None)  # defaults to 127.0.0.1
    proc = subprocess.Popen([str(GATEWAY_DIR / "run.sh")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health")
                resp = conn.getresponse()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "gateway did not start"
                time.sleep(0.05)
        assert resp.status == 200 and json.loads(resp.read()) == {"status": "ok"}
        conn.request(
            "POST",
            "/v1/chat/completions",
            json.dumps({"model": "chat-fast", "messages": [{"role": "user", "content": "hi"}]}),
        )
        resp = conn.getresponse()
        assert resp.status == 200
        assert json.loads(resp.read())["choices"][0]["message"]["content"] == "Hello, world!"
        conn.close()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    assert any(d.get("message") == "gateway listening" and d.get("port") == port for d in lines)
    assert any(d.get("message") == "request" and d.get("status") == 200 for d in lines)
