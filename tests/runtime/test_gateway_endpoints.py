"""``GET /v1/models/{id}`` and ``POST /v1/embeddings`` end to end with the official OpenAI SDK.

Embeddings go to the Bedrock stand-in's InvokeModel with each family's body (Bedrock User Guide, model
parameters: Titan Text Embeddings V2 ``{inputText, dimensions, normalize}`` -> ``{embedding,
inputTextTokenCount}``; Cohere Embed v3 ``{texts, input_type, embedding_types}`` -> ``{embeddings: {float}}``
with the token count only in the ``x-amzn-bedrock-input-token-count`` header).
"""

from __future__ import annotations

import copy
import json
import struct

import openai
import pytest

from bedrock_standin import Behaviour, _vector
from config import ConfigError, parse_config
from gateway_harness import TEST_CONFIG
from test_gateway_http import USER, assert_openai_error, raw


def float32(values: list[float]) -> list[float]:
    return list(struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values)))


# --------------------------------------------------------------------------- models


def test_models_retrieve(client):
    model = client.models.retrieve("chat-fast")
    assert (model.id, model.object, model.owned_by) == ("chat-fast", "model", "bedrock")
    assert client.models.retrieve("embed-titan").id == "embed-titan"


def test_models_retrieve_unknown_is_an_openai_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("gpt-4o")
    assert info.value.code == "model_not_found" and "gpt-4o" in info.value.message


@pytest.mark.parametrize(
    "method, path, status, code",
    [
        ("GET", "/v1/models/", 404, "unknown_url"),
        ("POST", "/v1/models/chat-fast", 405, "method_not_allowed"),
        ("GET", "/v1/embeddings", 405, "method_not_allowed"),
        ("GET", "/v1/models/chat%2Dfast", 200, None),  # percent-encoded ids are decoded
    ],
)
def test_model_and_embedding_routes(gateway, method, path, status, code):
    got, headers, data = raw(gateway, method, path, b"{}" if method == "POST" else None)
    assert got == status
    if code:
        assert_openai_error(data, code=code)
    else:
        assert data["id"] == "chat-fast"


# --------------------------------------------------------------------------- embeddings


def test_titan_embeddings_with_the_sdks_default_base64(client, standin):
    resp = client.embeddings.create(model="embed-titan", input=["first text", "second one here"])
    assert [d.index for d in resp.data] == [0, 1] and resp.model == "embed-titan"
    assert resp.data[0].embedding == pytest.approx(float32(_vector("first text", 1024)))
    assert (resp.usage.prompt_tokens, resp.usage.total_tokens) == (5, 5)
    assert [r.body for r in standin.requests] == [
        {"inputText": "first text", "normalize": True},
        {"inputText": "second one here", "normalize": True},
    ]
    assert {r.operation for r in standin.requests} == {"invoke"}
    assert standin.requests[0].model_id == "amazon.titan-embed-text-v2:0"


def test_titan_dimensions_and_float_encoding(client, standin):
    resp = client.embeddings.create(model="embed-titan", input="hello", dimensions=256, encoding_format="float")
    assert resp.data[0].embedding == _vector("hello", 256)
    assert standin.requests[-1].body == {"inputText": "hello", "dimensions": 256, "normalize": True}


def test_cohere_embeddings_in_one_call_with_header_token_count(client, standin):
    texts = ["alpha beta", "gamma", "delta epsilon zeta"]
    resp = client.embeddings.create(
        model="embed-cohere", input=texts, encoding_format="float", extra_body={"input_type": "search_query"}
    )
    assert [d.embedding for d in resp.data] == [_vector(t, 1024) for t in texts]
    assert resp.usage.prompt_tokens == 6  # from x-amzn-bedrock-input-token-count
    (request,) = standin.requests
    assert request.body == {"texts": texts, "input_type": "search_query", "embedding_types": ["float"]}


@pytest.mark.parametrize(
    "body, param, code",
    [
        ({"model": "chat-fast", "input": "x"}, "model", "wrong_model_kind"),
        ({"model": "embed-titan", "input": "x", "dimensions": 300}, "dimensions", "invalid_value"),
        ({"model": "embed-cohere", "input": "x", "dimensions": 256}, "dimensions", "invalid_value"),
        ({"model": "embed-titan", "input": [[1, 2, 3]]}, "input", "unsupported_parameter"),
        ({"model": "embed-titan", "input": ""}, "input", "empty_content"),
        ({"model": "embed-titan", "input": []}, "input", "invalid_type"),
        ({"model": "embed-titan", "input": ["x"] * 97}, "input", "too_many_inputs"),
        ({"model": "embed-cohere", "input": "x" * 2049}, "input", "input_too_long"),
        ({"model": "embed-titan", "input": "x", "input_type": "search_query"}, "input_type", "unsupported_parameter"),
        ({"model": "embed-cohere", "input": "x", "input_type": "poetry"}, "input_type", "invalid_value"),
        ({"model": "embed-titan", "input": "x", "encoding_format": "int8"}, "encoding_format", "invalid_value"),
        ({"model": "embed-titan", "input": "x", "truncate": "END"}, "truncate", "unsupported_parameter"),
        ({"model": "nope", "input": "x"}, "model", "model_not_found"),
    ],
)
def test_invalid_embedding_requests(gateway, standin, body, param, code):
    status, _, data = raw(gateway, "POST", "/v1/embeddings", json.dumps(body).encode())
    assert status == (404 if code == "model_not_found" else 400)
    assert_openai_error(data, param=param, code=code)
    assert standin.requests == []


def test_chat_on_an_embedding_alias_is_a_400(client, standin):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="embed-titan", messages=USER)
    assert info.value.code == "wrong_model_kind" and "/v1/embeddings" in info.value.message


def test_embedding_inputs_count_against_the_character_limit(gateway, standin):
    status, _, data = raw(
        gateway,
        "POST",
        "/v1/embeddings",
        json.dumps({"model": "embed-titan", "input": ["x" * 1500, "y" * 1500]}).encode(),
    )
    assert status == 413 and data["error"]["code"] == "request_too_large"


@pytest.mark.parametrize(
    "error, status", [("ValidationException", 400), ("ThrottlingException", 429), ("AccessDeniedException", 502)]
)
def test_embedding_upstream_errors_are_mapped(client, standin, error, status):
    standin.script(Behaviour(error=error, error_message="Input is too long for requested model."))
    with pytest.raises(openai.APIStatusError) as info:
        client.embeddings.create(model="embed-titan", input="hello")
    assert info.value.status_code == status
    if status == 400:
        assert "Input is too long" in info.value.message


def test_embedding_requests_are_logged(client, standin, telemetry_lines):
    client.embeddings.create(model="embed-cohere", input=["a b", "c"])
    (log,) = telemetry_lines.wait_for(lambda d: d.get("message") == "request")
    assert (log["alias"], log["model_id"], log["input_tokens"], log["status"]) == (
        "embed-cohere",
        "cohere.embed-multilingual-v3",
        3,
        200,
    )


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            {"alias": "e", "kind": "embedding", "target": {"type": "bedrock", "modelId": "amazon.titan-embed-text-v1"}},
            "must target a Bedrock embedding model",
        ),
        (
            {"alias": "e", "kind": "embedding", "target": {"type": "sagemaker", "endpointName": "ep"}},
            "must target a Bedrock embedding model",
        ),
        (
            {
                "alias": "e",
                "kind": "embedding",
                "maxTokensCap": 5,
                "target": {"type": "bedrock", "modelId": "amazon.titan-embed-text-v2:0"},
            },
            "unknown key",
        ),
        ({"alias": "e", "kind": "rerank", "target": {"type": "bedrock", "modelId": "x.y"}}, "kind"),
        (
            {"alias": "e", "reasoning": True, "maxTokensCap": 5, "target": {"type": "sagemaker", "endpointName": "ep"}},
            "only supported on Bedrock",
        ),
        (
            {"alias": "e", "reasoning": "yes", "maxTokensCap": 5, "target": {"type": "bedrock", "modelId": "x.y"}},
            "boolean",
        ),
    ],
)
def test_config_rejects_bad_embedding_and_reasoning_entries(entry, message):
    raw_config = copy.deepcopy(TEST_CONFIG)
    raw_config["models"].append(entry)
    with pytest.raises(ConfigError, match=message):
        parse_config(raw_config)


def test_config_parses_embedding_and_reasoning_aliases():
    cfg = parse_config(TEST_CONFIG)
    assert (cfg.model("embed-titan").kind, cfg.model("embed-titan").embedding_family) == ("embedding", "titan-v2")
    assert cfg.model("embed-cohere").embedding_family == "cohere-v3"
    assert cfg.model("chat-think").reasoning and not cfg.model("chat-fast").reasoning
    assert cfg.model("chat-fast").kind == "chat" and cfg.model("chat-fast").embedding_family is None
