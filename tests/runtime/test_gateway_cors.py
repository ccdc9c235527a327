"""CORS on the function's responses (``corsAllowOrigins``): the real gateway server on 127.0.0.1, driven by the
OpenAI SDK and raw HTTP; API Gateway answers the preflights, the function only adds Access-Control-Allow-Origin."""

from __future__ import annotations

import json

import openai
import pytest

from bedrock_standin import Behaviour
from gateway_harness import SINK, TEST_CONFIG, make_gateway
from test_gateway_http import USER, raw

APP = "https://app.example.com"


@pytest.fixture
def cors_gateway(standin, monkeypatch, request):
    cfg = json.loads(json.dumps(TEST_CONFIG))
    cfg["corsAllowOrigins"] = request.param
    srv = make_gateway(standin, cfg, monkeypatch, stream=SINK)
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _client(base: str, origin: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0, default_headers={"Origin": origin})


@pytest.mark.parametrize("cors_gateway", [[APP, "http://localhost:3000"]], indirect=True)
def test_allowed_origin_is_echoed_on_completions_streams_and_errors(cors_gateway, standin):
    standin.script(Behaviour(chunks=["Hi"]))
    response = _client(cors_gateway, APP).chat.completions.with_raw_response.create(model="chat-fast", messages=USER)
    assert response.headers["access-control-allow-origin"] == APP and response.headers["vary"] == "Origin"
    assert response.parse().choices[0].message.content == "Hi"

    standin.script(Behaviour(chunks=["Hel", "lo"]))
    body = json.dumps({"model": "chat-fast", "messages": USER, "stream": True}).encode()
    status, headers, _ = raw(cors_gateway, "POST", "/v1/chat/completions", body, {"Origin": "http://localhost:3000"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://localhost:3000"

    status, headers, data = raw(cors_gateway, "GET", "/v1/models/nope", headers={"Origin": APP})
    assert status == 404 and data["error"]["code"] == "model_not_found"
    assert headers["Access-Control-Allow-Origin"] == APP


@pytest.mark.parametrize("cors_gateway", [[APP]], indirect=True)
def test_other_origins_get_no_allow_origin(cors_gateway):
    response = _client(cors_gateway, "https://evil.example.com").models.with_raw_response.list()
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["vary"] == "Origin"  # a shared cache must not serve APP's answer to others
    status, headers, _ = raw(cors_gateway, "GET", "/v1/models")  # no Origin: not a browser
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


@pytest.mark.parametrize("cors_gateway", [["*"]], indirect=True)
def test_wildcard_allows_every_origin(cors_gateway):
    response = _client(cors_gateway, "https://any.example.org").models.with_raw_response.list()
    assert response.headers["access-control-allow-origin"] == "*"


def test_without_cors_no_header_is_sent(gateway):
    status, headers, _ = raw(gateway, "GET", "/v1/models", headers={"Origin": APP})
    assert status == 200 and "Access-Control-Allow-Origin" not in headers and "Vary" not in headers
