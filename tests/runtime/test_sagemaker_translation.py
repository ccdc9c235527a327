"""Unit tests: SageMaker/retrieval configuration, SageMaker translation and the shared upstream helpers."""

from __future__ import annotations

import copy
import json

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

import openai_compat
import sagemaker
import upstream
from config import ConfigError, Retrieval, Target, parse_config
from errors import GatewayError
from gateway_harness import AWS_ENV, TEST_CONFIG
from sagemaker_standin import NO_CAPACITY_MESSAGE

CONFIG = parse_config(TEST_CONFIG)
USER = [{"role": "user", "content": "hi"}]


def parse(**body):
    return openai_compat.parse_chat_request(body, CONFIG)


def with_model(**fields) -> dict:
    """TEST_CONFIG with models[0] replaced by a SageMaker alias updated with ``fields``."""
    raw = copy.deepcopy(TEST_CONFIG)
    raw["models"][0] = {
        "alias": "x",
        "target": {"type": "sagemaker", "endpointName": "ep"},
        "maxTokensCap": 100,
        **fields,
    }
    return raw


# --------------------------------------------------------------------------- config


def test_config_parses_sagemaker_and_retrieval_contract():
    plain = CONFIG.model("sm-chat")
    assert plain.target == Target("sagemaker", endpoint_name="llm-endpoint")
    assert plain.target.display_id == "llm-endpoint" and plain.retrieval is None
    adapter = CONFIG.model("sm-adapter-b")
    assert (adapter.target.endpoint_name, adapter.target.inference_component_name) == ("lora-endpoint", "adapter-b")
    assert adapter.target.display_id == "lora-endpoint/adapter-b"
    assert CONFIG.model("rag").retrieval == Retrieval("ABCDEFGHIJ", 3)
    assert CONFIG.model("rag-bedrock").retrieval == Retrieval("KB12345678", 5)  # default count
    assert CONFIG.model("rag-bedrock").target.display_id == CONFIG.model("chat-fast").target.model_id
    assert CONFIG.model("chat-fast").retrieval is None


def test_config_accepts_the_documented_example_and_nulls():
    raw = with_model(
        target={"type": "sagemaker", "endpointName": "my-endpoint", "inferenceComponentName": "adapter-a"},
        maxTokensCap=2048,
        defaultMaxTokens=512,
        retrieval={"knowledgeBaseId": "ABCDEFGHIJ", "numberOfResults": 5},
    )
    model = parse_config(raw).model("x")
    assert model.target.display_id == "my-endpoint/adapter-a" and model.retrieval.number_of_results == 5
    raw = with_model(
        target={"type": "sagemaker", "endpointName": "e" * 63, "inferenceComponentName": None}, retrieval=None
    )
    model = parse_config(raw).model("x")
    assert model.target.inference_component_name is None and model.retrieval is None
    raw = with_model(retrieval={"knowledgeBaseId": "0123456789", "numberOfResults": None})
    assert parse_config(raw).model("x").retrieval == Retrieval("0123456789", 5)


@pytest.mark.parametrize("kind", ["lmi", "tgi", "vllm", "custom", None])
def test_config_parses_container_kind(kind):
    raw = with_model(target={"type": "sagemaker", "endpointName": "ep", "containerKind": kind})
    assert parse_config(raw).model("x").target.container_kind == kind
    assert CONFIG.model("sm-chat").target.container_kind is None  # absent: unknown container


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"target": {"type": "sagemaker"}}, "missing required key 'models\\[0\\].target.endpointName'"),
        ({"target": {"type": "sagemaker", "endpointName": ""}}, "not a valid SageMaker name"),
        ({"target": {"type": "sagemaker", "endpointName": "-ep"}}, "not a valid SageMaker name"),
        ({"target": {"type": "sagemaker", "endpointName": "ep-"}}, "not a valid SageMaker name"),
        ({"target": {"type": "sagemaker", "endpointName": "my_endpoint"}}, "not a valid SageMaker name"),
        ({"target": {"type": "sagemaker", "endpointName": "e" * 64}}, "at most 63"),
        ({"target": {"type": "sagemaker", "endpointName": 7}}, "wrong type"),
        (
            {"target": {"type": "sagemaker", "endpointName": "ep", "inferenceComponentName": "a.b"}},
            "inferenceComponentName' \\('a.b'\\) is not a valid SageMaker name",
        ),
        ({"target": {"type": "sagemaker", "endpointName": "ep", "inferenceComponentName": 3}}, "wrong type"),
        (
            {"target": {"type": "sagemaker", "endpointName": "ep", "inferenceComponent": "a"}},
            "unknown key\\(s\\) \\['inferenceComponent'\\] in 'models\\[0\\].target'",
        ),
        ({"target": {"type": "sagemaker", "endpointName": "ep", "modelId": "m"}}, "unknown key"),
        ({"target": {"type": "bedrock", "modelId": "m", "endpointName": "ep"}}, "unknown key"),
        ({"target": {"type": "Sagemaker", "endpointName": "ep"}}, "unsupported target.type 'Sagemaker'"),
        (
            {"target": {"type": "sagemaker", "endpointName": "ep", "containerKind": "LMI"}},
            "'models\\[0\\].target.containerKind' \\('LMI'\\) must be one of lmi, tgi, vllm, custom",
        ),
        ({"target": {"type": "sagemaker", "endpointName": "ep", "containerKind": 1}}, "wrong type"),
        ({"target": {"type": "bedrock", "modelId": "m", "containerKind": "lmi"}}, "unknown key"),
        ({"retrieval": {}}, "missing required key 'models\\[0\\].retrieval.knowledgeBaseId'"),
        ({"retrieval": "ABCDEFGHIJ"}, "'models\\[0\\].retrieval' has the wrong type"),
        ({"retrieval": {"knowledgeBaseId": "ABCDEFGHI"}}, "exactly 10 letters and digits"),
        ({"retrieval": {"knowledgeBaseId": "ABCDEFGHIJK"}}, "exactly 10 letters and digits"),
        ({"retrieval": {"knowledgeBaseId": "ABCDE-GHIJ"}}, "exactly 10 letters and digits"),
        (
            {"retrieval": {"knowledgeBaseId": "arn:aws:bedrock:us-east-1:123456789012:knowledge-base/ABCDEFGHIJ"}},
            "exactly 10 letters and digits",
        ),
        ({"retrieval": {"knowledgeBaseId": "ABCDEFGHIJ", "numberOfResults": 0}}, "positive integer"),
        ({"retrieval": {"knowledgeBaseId": "ABCDEFGHIJ", "numberOfResults": 101}}, "between 1 and 100"),
        ({"retrieval": {"knowledgeBaseId": "ABCDEFGHIJ", "numberOfResults": 2.5}}, "wrong type"),
        ({"retrieval": {"knowledgeBaseId": "ABCDEFGHIJ", "numberOfResults": True}}, "wrong type"),
        ({"retrieval": {"knowledgeBaseId": "ABCDEFGHIJ", "topK": 3}}, "unknown key\\(s\\) \\['topK'\\]"),
    ],
)
def test_config_rejects_bad_sagemaker_and_retrieval_entries(fields, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(with_model(**fields))


# --------------------------------------------------------------------------- requests


def test_request_body_and_invoke_params():
    req = parse(
        model="sm-adapter-a",
        max_tokens=99999,
        temperature=1.5,
        top_p=0.5,
        stop="X",
        messages=[
            {"role": "system", "content": "s1"},
            {"role": "user", "content": "q"},
            {"role": "system", "content": "s2"},
        ],
    )
    assert sagemaker.request_body(req, stream=False) == {
        "messages": [{"role": "system", "content": "s1\n\ns2"}, {"role": "user", "content": "q"}],
        "max_tokens": 1024,
        "temperature": 1.5,
        "top_p": 0.5,
        "stop": ["X"],
        "stream": False,
    }
    params = sagemaker.invoke_params(req, stream=True)
    assert {k: v for k, v in params.items() if k != "Body"} == {
        "EndpointName": "lora-endpoint",
        "InferenceComponentName": "adapter-a",
        "ContentType": "application/json",
        "Accept": "application/json",
    }
    body = json.loads(params["Body"])
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    "alias, top_p, sent",
    [
        ("sm-tgi", 1, None),
        ("sm-tgi", 1.0, None),
        ("sm-tgi", 0.99, 0.99),  # TGI: 0 < top_p < 1
        ("sm-vllm", 1, 1),
        ("sm-lmi", 1, 1),
        ("sm-chat", 1, 1),
        ("sm-chat", 0, 0),  # unknown kind: unchanged
    ],
)
def test_top_p_per_container_kind(alias, top_p, sent):
    body = sagemaker.request_body(parse(model=alias, messages=USER, top_p=top_p), stream=False)
    assert body.get("top_p") == sent


@pytest.mark.parametrize("alias, engine", [("sm-tgi", "TGI"), ("sm-vllm", "vLLM"), ("sm-lmi", "LMI")])
def test_top_p_zero_is_a_client_error_for_known_containers(alias, engine):
    with pytest.raises(GatewayError) as info:
        sagemaker.invoke_params(parse(model=alias, messages=USER, top_p=0), stream=True)
    err = info.value
    assert (err.status, err.type, err.code, err.param) == (400, "invalid_request_error", "invalid_value", "top_p")
    assert engine in err.message


def test_body_limit_is_invoke_endpoints():
    """botocore sagemaker-runtime service-2.json: BodyBlob max 6291456 (InvokeEndpoint and the stream)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    for op in ("InvokeEndpoint", "InvokeEndpointWithResponseStream"):
        assert model.operation_model(op).input_shape.members["Body"].metadata["max"] == sagemaker.MAX_BODY_BYTES
    big = openai_compat.parse_chat_request(
        {"model": "sm-chat", "messages": [{"role": "user", "content": "x" * sagemaker.MAX_BODY_BYTES}]},
        parse_config({**TEST_CONFIG, "limits": {"maxTotalChars": 10_000_000}}),
    )
    with pytest.raises(GatewayError) as info:
        sagemaker.invoke_params(big, stream=False)
    assert (info.value.status, info.value.code) == (413, "request_too_large")


def test_invoke_params_without_component_and_unicode():
    req = parse(model="sm-chat", messages=[{"role": "user", "content": "Grüße 🚀"}])
    params = sagemaker.invoke_params(req, stream=False)
    assert "InferenceComponentName" not in params
    assert "Grüße 🚀".encode() in params["Body"]  # UTF-8, not \\u escapes
    assert json.loads(params["Body"]) == {
        "messages": [{"role": "user", "content": "Grüße 🚀"}],
        "max_tokens": 512,
        "stream": False,
    }


# --------------------------------------------------------------------------- responses


def test_parse_completion():
    raw = json.dumps(
        {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        }
    )
    c = sagemaker.parse_completion(raw.encode(), "ep")
    assert (c.text, c.stop_reason, c.usage.input_tokens, c.usage.output_tokens) == ("hi", "max_tokens", 5, 2)
    assert (c.usage.input_source, c.usage.output_source) == ("reported", "reported")
    c = sagemaker.parse_completion(b'{"choices": [{"message": {"content": null}}], "usage": null}', "ep")
    assert (c.text, c.stop_reason, c.usage.input_tokens, c.usage.output_tokens) == ("", None, 0, 0)
    raw = b'{"choices": [{"message": {"content": "twelve chars"}, "finish_reason": "eos_token"}]}'
    c = sagemaker.parse_completion(raw, "ep", prompt_chars=9)
    assert (c.stop_reason, c.usage.input_tokens, c.usage.output_tokens) == ("end_turn", 3, 3)
    assert (c.usage.input_source, c.usage.output_source) == ("estimated", "estimated")


def test_estimate_tokens_rounds_up():
    assert [sagemaker.estimate_tokens(n) for n in (0, 1, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 3]


@pytest.mark.parametrize(
    "raw, code",
    [
        (b"nope", "upstream_bad_response"),
        (b'{"choices": [{"message": {"content": 5}}]}', "upstream_bad_response"),
        (b'{"object": "error", "message": "bad", "code": 400}', "invalid_request"),
        (b'{"error": {"message": "bad", "code": 500}}', "upstream_model_error"),
        (b'{"code": 424, "error": "exception occurred during rolling batch inference"}', "upstream_model_error"),
        (b'{"choices": [{"message": {"content": "partial"}, "finish_reason": "abort"}]}', "upstream_model_error"),
        (b'{"choices": [{"message": {"content": "partial"}, "finish_reason": "error"}]}', "upstream_model_error"),
    ],
)
def test_parse_completion_failures(raw, code):
    with pytest.raises(GatewayError) as info:
        sagemaker.parse_completion(raw, "ep")
    assert info.value.code == code


@pytest.mark.parametrize("finish", ["stop", "length", "content_filter", "tool_calls"])
def test_backend_stop_reason_inverts_finish_reason(finish):
    assert openai_compat.finish_reason(openai_compat.backend_stop_reason(finish)) == finish


@pytest.mark.parametrize(
    "finish, stop",
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "content_filtered"),
        ("tool_calls", "tool_use"),
        ("eos_token", "end_turn"),
        ("stop_sequence", "stop_sequence"),
        ("abort", "abort"),
        (None, None),
        ("", None),
    ],
)
def test_backend_stop_reason(finish, stop):
    assert openai_compat.backend_stop_reason(finish) == stop


def test_line_splitter_reassembles_fragments():
    data = 'data: {"a": "ü"}\r\n\r\n{"b": 1}\nlast'.encode()
    for size in range(1, len(data) + 1):
        splitter = sagemaker.LineSplitter()
        lines = []
        for i in range(0, len(data), size):
            lines += splitter.feed(data[i : i + size])
        lines += splitter.flush()
        assert lines == ['data: {"a": "ü"}'.encode(), b"", b'{"b": 1}', b"last"], size
    assert sagemaker.LineSplitter().flush() == []


@pytest.mark.parametrize(
    "line, expected",
    [
        (b'data: {"x": 1}', {"x": 1}),
        (b'data:{"x": 1}', {"x": 1}),
        (b'  {"x": 1}  ', {"x": 1}),
        (b"data: [DONE]", sagemaker.DONE),
        (b"", None),
        (b": ping", None),
        (b"event: message", None),
        (b"id: 7", None),
        (b"retry: 10", None),
    ],
)
def test_parse_line(line, expected):
    result = sagemaker.parse_line(line, "ep")
    assert result is expected if expected is sagemaker.DONE or expected is None else result == expected


@pytest.mark.parametrize("line", [b"data: {oops", b"data: [1]", b"{not json", b"\xff"])
def test_parse_line_rejects_garbage(line):
    with pytest.raises(GatewayError) as info:
        sagemaker.parse_line(line, "ep")
    assert (info.value.status, info.value.code) == (502, "upstream_bad_response")


@pytest.mark.parametrize(
    "raw, message",
    [
        ('{"object": "error", "message": "too long", "code": 400}', "too long"),
        ('{"error": {"message": "nested", "type": "BadRequestError"}}', "nested"),
        ('{"error": "tgi style", "error_type": "validation"}', "tgi style"),
        ('{"detail": "fastapi style"}', "fastapi style"),
        (
            '{"detail": [{"loc": ["body", "messages"], "msg": "field required", "input": {"secret": 1}},'
            ' {"msg": "too long", "input": "secret prompt"}]}',
            "field required; too long",
        ),
        ('{"something": "else"}', '{"something": "else"}'),
        ("plain text\n", "plain text"),
        (b'{"message": "bytes"}', "bytes"),
        ("x" * 5000, "x" * 1000 + "..."),
    ],
)
def test_container_message(raw, message):
    assert sagemaker.container_message(raw) == message


# --------------------------------------------------------------------------- errors


def _error(code: str, message: str | None = "upstream says no", **fields) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, **fields}, "InvokeEndpoint")


@pytest.mark.parametrize(
    "exc, status, code, retry_after, metric",
    [
        (_error("ThrottlingException", None), 429, "rate_limit_exceeded", 2, "ThrottlingException"),
        (_error("ModelNotReadyException"), 503, "model_not_ready", 5, "ModelNotReadyException"),
        (_error("ServiceUnavailable"), 503, "service_unavailable", 5, "ServiceUnavailable"),
        (_error("ValidationError", NO_CAPACITY_MESSAGE), 503, "model_scaling_up", 30, "NoCapacity"),
        (_error("ValidationError", "Inference Component has no capacity"), 503, "model_scaling_up", 30, "NoCapacity"),
        (
            _error("ValidationError", "Endpoint ep of account 1 not found."),
            502,
            "upstream_model_not_found",
            None,
            "ValidationError",
        ),
        (_error("ValidationError", "other"), 502, "upstream_rejected", None, "ValidationError"),
        (_error("AccessDeniedException"), 502, "upstream_access_denied", None, "AccessDeniedException"),
        (_error("InternalFailure"), 502, "upstream_error", None, "InternalFailure"),
        (_error("InternalDependencyException"), 502, "upstream_error", None, "InternalDependencyException"),
        (_error("ModelStreamError"), 502, "upstream_error", None, "ModelStreamError"),
        # ErrorCode ModelInvocationTimeExceeded (service-2.json ModelStreamError): botocore 1.44 drops it from
        # the exception, so the wording decides; a future botocore that keeps it is covered too.
        (
            _error("ModelStreamError", "Model did not complete sending the inference response in the allotted time."),
            504,
            "upstream_timeout",
            None,
            "ModelInvocationTimeExceeded",
        ),
        (
            _error("ModelStreamError", "anything", ErrorCode="ModelInvocationTimeExceeded"),
            504,
            "upstream_timeout",
            None,
            "ModelInvocationTimeExceeded",
        ),
        (
            _error("ModelStreamError", "timed out?", ErrorCode="StreamBroken"),
            502,
            "upstream_error",
            None,
            "ModelStreamError",
        ),
        (_error("InternalStreamFailure"), 502, "upstream_error", None, "InternalStreamFailure"),
        (
            _error("ModelError", OriginalStatusCode=400, OriginalMessage='{"message": "too long"}'),
            400,
            "invalid_request",
            None,
            "ModelError",
        ),
        (
            _error("ModelError", OriginalStatusCode=422, OriginalMessage='{"error": "Input validation error"}'),
            400,
            "invalid_request",
            None,
            "ModelError",
        ),
        (
            _error("ModelError", OriginalStatusCode=413, OriginalMessage="too large"),
            413,
            "request_too_large",
            None,
            "ModelError",
        ),
        (
            _error("ModelError", OriginalStatusCode=404, OriginalMessage="The model `a` does not exist."),
            502,
            "upstream_model_not_found",
            None,
            "ModelError",
        ),
        (
            _error("ModelError", OriginalStatusCode=424, OriginalMessage='{"code": 424, "error": "engine died"}'),
            502,
            "upstream_model_error",
            None,
            "ModelError",
        ),
        (
            _error(
                "ModelError",
                OriginalStatusCode=424,
                OriginalMessage='{"error": "Request failed during generation", "error_type": "generation"}',
            ),
            502,
            "upstream_model_error",
            None,
            "ModelError",
        ),
        (
            _error(
                "ModelError",
                OriginalStatusCode=424,
                OriginalMessage='{"code": 424, "error": "Input parsing failed: LoRA adapter a not found in registry"}',
            ),
            502,
            "upstream_model_not_found",
            None,
            "AdapterNotFound",
        ),
        (
            _error("ModelError", OriginalStatusCode=408, OriginalMessage="slow"),
            504,
            "upstream_timeout",
            None,
            "ModelError",
        ),
        (
            _error("ModelError", OriginalStatusCode=429, OriginalMessage="busy"),
            429,
            "rate_limit_exceeded",
            2,
            "ModelError",
        ),
        (
            _error("ModelError", OriginalStatusCode=500, OriginalMessage="boom"),
            502,
            "upstream_model_error",
            None,
            "ModelError",
        ),
        (
            _error(
                "ModelError",
                'Received server error (0) from primary with message "Your invocation timed '
                'out while waiting for a response from container primary."',
            ),
            504,
            "upstream_timeout",
            None,
            "ModelError",
        ),
        (_error("ModelError", "no status at all"), 502, "upstream_model_error", None, "ModelError"),
        (ReadTimeoutError(endpoint_url="http://x"), 504, "upstream_timeout", None, "ReadTimeoutError"),
        (ConnectTimeoutError(endpoint_url="http://x"), 504, "upstream_timeout", None, "ConnectTimeoutError"),
        (
            EndpointConnectionError(endpoint_url="http://x"),
            502,
            "upstream_unreachable",
            None,
            "EndpointConnectionError",
        ),
    ],
)
def test_sagemaker_error_mapping(exc, status, code, retry_after, metric):
    err = sagemaker.map_error(exc, "ep/adapter")
    assert (err.status, err.code, err.retry_after, err.metric_type) == (status, code, retry_after, metric)
    assert err.status != 500
    if status in (400, 413):
        assert err.type == "invalid_request_error"


def test_container_4xx_message_reaches_the_client():
    err = sagemaker.map_error(
        _error("ModelError", OriginalStatusCode=400, OriginalMessage='{"message": "context length is 4096"}'), "ep"
    )
    assert err.message == "The model rejected the request: context length is 4096"


def test_access_denied_names_the_endpoint_and_blames_deployment():
    err = sagemaker.map_error(_error("AccessDeniedException"), "ep/adapter-a")
    assert "IAM role" in err.message and "'ep/adapter-a'" in err.message and "deployment" in err.message


@pytest.mark.parametrize(
    "line, status, code",
    [
        # TGI's event always says 422; the message (InferError Display, infer/mod.rs) gives the real status.
        (
            b'data: {"error": {"message": "Input validation error: `top_p` must be > 0.0 and < 1.0", '
            b'"http_status_code": 422}}',
            400,
            "invalid_request",
        ),
        (
            b'data: {"error": {"message": "Request failed during generation: boom", "http_status_code": 422}}',
            502,
            "upstream_model_error",
        ),
        (b'data: {"error": {"message": "Model is overloaded", "http_status_code": 422}}', 429, "rate_limit_exceeded"),
        (
            b'data: {"error": {"message": "Incomplete generation", "http_status_code": 422}}',
            502,
            "upstream_model_error",
        ),
        (b'{"code": 424, "error": "exception occurred during rolling batch inference"}', 502, "upstream_model_error"),
        (b'{"error": {"message": "bad", "type": "BadRequestError", "code": 400}}', 400, "invalid_request"),
    ],
)
def test_in_stream_error_objects(line, status, code):
    with pytest.raises(GatewayError) as info:
        list(sagemaker.SageMakerStream(iter([{"PayloadPart": {"Bytes": line}}]), "ep"))
    assert (info.value.status, info.value.code) == (status, code)


# --------------------------------------------------------------------------- upstream helpers


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, 120.0),
        ({"GATEWAY_BEDROCK_READ_TIMEOUT": "300"}, 300.0),
        ({"GATEWAY_UPSTREAM_READ_TIMEOUT": "42", "GATEWAY_BEDROCK_READ_TIMEOUT": "300"}, 42.0),
        ({"GATEWAY_UPSTREAM_READ_TIMEOUT": "", "GATEWAY_BEDROCK_READ_TIMEOUT": "7"}, 7.0),
    ],
)
def test_upstream_settings_precedence(monkeypatch, env, expected):
    for prefix in upstream.ENV_PREFIXES:
        monkeypatch.delenv(prefix + "READ_TIMEOUT", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert upstream.setting("READ_TIMEOUT", upstream.DEFAULT_READ_TIMEOUT) == expected


@pytest.mark.parametrize("configured, invoke", [("600", 70.0), ("30", 30.0)])
def test_invoke_endpoint_read_timeout_is_capped(monkeypatch, configured, invoke):
    """InvokeEndpoint: containers must answer within 60 s, the API reference recommends a 70 s socket
    timeout; the stream client keeps the generation timeout (it bounds each part, not the stream)."""
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GATEWAY_BEDROCK_READ_TIMEOUT", configured)
    backend = sagemaker.SageMakerBackend()
    assert backend.client.meta.config.read_timeout == invoke
    assert backend.stream_client.meta.config.read_timeout == float(configured)


@pytest.mark.parametrize("service", ["bedrock-runtime", "sagemaker-runtime", "bedrock-agent-runtime"])
def test_every_client_shares_timeouts_and_retries(monkeypatch, service):
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GATEWAY_UPSTREAM_CONNECT_TIMEOUT", "3")
    monkeypatch.setenv("GATEWAY_BEDROCK_READ_TIMEOUT", "300")
    monkeypatch.setenv("GATEWAY_UPSTREAM_MAX_ATTEMPTS", "4")
    client = upstream.make_client(service)
    cfg = client.meta.config
    assert (cfg.connect_timeout, cfg.read_timeout) == (3.0, 300.0)
    assert cfg.retries["total_max_attempts"] == 4
    assert cfg.user_agent.startswith(upstream.USER_AGENT)
