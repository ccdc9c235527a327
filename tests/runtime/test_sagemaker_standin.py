"""The SageMaker stand-in's containers speak their source's wire format (what the gateway tests rely on).

Read through boto3 exactly as the gateway reads it, but without the gateway: the raw container output.
Sources are cited in sagemaker_standin's module docstring.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import sagemaker as sagemaker_backend
from gateway_harness import AWS_ENV
from sagemaker_standin import Behaviour


@pytest.fixture
def runtime(sagemaker, monkeypatch):
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker.url)
    return sagemaker_backend.make_client()


def _stream(runtime, endpoint: str, **body) -> bytes:
    payload = json.dumps(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "stream_options": {"include_usage": True},
            **body,
        }
    ).encode()
    resp = runtime.invoke_endpoint_with_response_stream(
        EndpointName=endpoint, Body=payload, ContentType="application/json"
    )
    return b"".join(e["PayloadPart"]["Bytes"] for e in resp["Body"] if "PayloadPart" in e)


def test_lmi_rolling_batch_streams_token_lines_without_usage_or_done(runtime, sagemaker):
    sagemaker.script(Behaviour(chunks=["a", "b"]))
    lines = _stream(runtime, "lmi-endpoint").decode().splitlines()
    objs = [json.loads(line) for line in lines]  # bare JSON lines only: no "data:", no [DONE]
    assert [o["choices"][0]["delta"]["content"] for o in objs] == ["a", "b", ""]  # "" = end-of-sequence token
    assert objs[0]["choices"][0]["delta"]["role"] == "assistant" and "role" not in objs[1]["choices"][0]["delta"]
    assert [o["choices"][0]["finish_reason"] for o in objs] == [None, None, "eos_token"]
    assert all("usage" not in o for o in objs)  # stream_options is ignored


def test_lmi_rolling_batch_failure_replaces_the_chunk_without_newline(runtime, sagemaker):
    sagemaker.script(
        Behaviour(
            chunks=["a", "b"],
            error_after=1,
            container_error={"code": 424, "error": "exception occurred during rolling batch inference"},
        )
    )
    data = _stream(runtime, "lmi-endpoint")
    assert data.endswith(b'"exception occurred during rolling batch inference"}')


def test_lmi_async_is_vllm_with_data_stripped_and_done_as_empty_line(runtime, sagemaker):
    data = _stream(runtime, "lmi-async-endpoint")
    assert data.endswith(b"}\n\n") and b"data:" not in data and b"[DONE]" not in data
    objs = [json.loads(line) for line in data.decode().splitlines() if line]
    assert objs[-1]["choices"] == [] and objs[-1]["usage"]["total_tokens"] == 13


def test_tgi_streams_sse_with_a_usage_chunk_and_done(runtime, sagemaker):
    frames = _stream(runtime, "tgi-endpoint").decode().split("\n\n")
    assert frames[-2:] == ["data: [DONE]", ""]
    objs = [json.loads(f[6:]) for f in frames[:-2]]
    assert all(o["choices"][0]["delta"]["role"] == "assistant" for o in objs[:-1])
    assert objs[-2]["choices"][0] == {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert objs[-1]["choices"] == [] and objs[-1]["usage"]["total_tokens"] == 13


def test_tgi_rejects_top_p_one_in_the_stream_and_as_422(runtime, sagemaker):
    frames = _stream(runtime, "tgi-endpoint", top_p=1.0).decode().split("\n\n")
    assert json.loads(frames[0][6:]) == {
        "error": {"message": "Input validation error: `top_p` must be > 0.0 and < 1.0", "http_status_code": 422}
    }
    assert frames[1] == "data: [DONE]"
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(
            EndpointName="tgi-endpoint",
            ContentType="application/json",
            Body=json.dumps({"messages": [], "top_p": 1.0}).encode(),
        )
    assert info.value.response["OriginalStatusCode"] == 422


@pytest.mark.parametrize(
    "endpoint, status", [("vllm-endpoint", 400), ("lmi-async-endpoint", 400), ("lmi-endpoint", 424)]
)
def test_vllm_engines_reject_top_p_zero(runtime, endpoint, status):
    with pytest.raises(ClientError) as info:
        _stream(runtime, endpoint, top_p=0)
    assert (info.value.response["Error"]["Code"], info.value.response["OriginalStatusCode"]) == ("ModelError", status)


def test_vllm_streams_sse_with_null_usage_until_the_usage_chunk(runtime, sagemaker):
    frames = _stream(runtime, "vllm-endpoint").decode().split("\n\n")
    assert frames[-2:] == ["data: [DONE]", ""]
    objs = [json.loads(f[6:]) for f in frames[:-2]]
    assert objs[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(o["usage"] is None for o in objs[:-1]) and objs[-1]["usage"]["total_tokens"] == 13
