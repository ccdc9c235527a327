"""The construct side of the gateway's OpenAI surface (issue 11): the alias types and the GATEWAY_CONFIG
renderer in ``bedrock_gateway/aliases.py`` (``BedrockEmbeddingAlias``, ``BedrockModelAlias(reasoning=...)``,
``runtime_config(image_url_hosts=...)``), checked against what the runtime's ``config.py`` parses (the runtime
side is tested in tests/runtime/)."""

from __future__ import annotations

import importlib.util
import json
import sys

import aws_cdk as cdk
import pytest

from cdk_llm_serving import BedrockGatewayApi, BedrockModelAlias, GatewayLimits, PropsValidationError
from cdk_llm_serving.bedrock_gateway.aliases import (
    EMBEDDING_MODEL_PREFIXES,
    BedrockEmbeddingAlias,
    image_url_host_problems,
    model_problems,
    runtime_config,
    runtime_config_json,
)
from cdk_llm_serving.bedrock_gateway.rules import EXTENDED_THINKING_MODELS, REASONING, ReasoningAlias
from harness import REPO, expect_rule

HAIKU = BedrockModelAlias(alias="fast", model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0")


@pytest.fixture
def gateway_config(monkeypatch: pytest.MonkeyPatch):
    """The runtime's config module (lambda/gateway/config.py), loaded from the worktree."""
    spec = importlib.util.spec_from_file_location("gateway_config", REPO / "lambda" / "gateway" / "config.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _document(models, **kwargs) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(
        runtime_config_json(
            runtime_config(
                models=models,
                limits=GatewayLimits(),
                log_content=False,
                metrics_namespace="n",
                service_name="s",
                **kwargs,
            )
        )
    )


# --------------------------------------------------------------------------- rendering and the runtime contract


def test_defaults_render_exactly_as_before() -> None:
    """No new keys unless asked for: templates of existing gateways do not change."""
    document = _document([HAIKU])
    assert "imageUrlHosts" not in document and "reasoning" not in document["models"][0]


def test_the_runtime_parses_the_new_alias_kinds_and_fields(gateway_config) -> None:  # type: ignore[no-untyped-def]
    models = [
        HAIKU,
        BedrockModelAlias(alias="think", model_id="us.anthropic.claude-sonnet-4-5-20250929-v1:0", reasoning=True),
        BedrockEmbeddingAlias(alias="embed", model_id="amazon.titan-embed-text-v2:0"),
        BedrockEmbeddingAlias(alias="embed-co", model_id="cohere.embed-multilingual-v3"),
    ]
    document = _document(models, image_url_hosts=["images.example.com", "http://10.0.0.5:8080"])
    assert document["models"][2] == {
        "alias": "embed",
        "kind": "embedding",
        "target": {"type": "bedrock", "modelId": "amazon.titan-embed-text-v2:0"},
    }
    assert document["models"][1]["reasoning"] is True
    assert document["imageUrlHosts"] == ["images.example.com", "http://10.0.0.5:8080"]
    parsed = gateway_config.parse_config(document)
    assert [(m.alias, m.kind, m.reasoning) for m in parsed.models] == [
        ("fast", "chat", False),
        ("think", "chat", True),
        ("embed", "embedding", False),
        ("embed-co", "embedding", False),
    ]
    assert [m.embedding_family for m in parsed.models[2:]] == ["titan-v2", "cohere-v3"]
    assert parsed.image_url_hosts == ("images.example.com", "http://10.0.0.5:8080")


def test_construct_and_runtime_agree_on_the_embedding_models(gateway_config) -> None:  # type: ignore[no-untyped-def]
    assert set(EMBEDDING_MODEL_PREFIXES) == set(gateway_config.EMBEDDING_FAMILIES)
    for prefix in EMBEDDING_MODEL_PREFIXES:
        alias = BedrockEmbeddingAlias(alias="e", model_id=f"{prefix}:0")
        assert alias.problems() == []
        assert gateway_config.parse_config(_document([alias])).models[0].embedding_family is not None


# --------------------------------------------------------------------------- prop checks


@pytest.mark.parametrize("model_id", ["amazon.titan-embed-text-v1", "cohere.embed-v4:0", "amazon.titan-embed-text-v20"])
def test_embedding_alias_needs_a_model_the_runtime_can_call(model_id: str) -> None:
    (problem,) = BedrockEmbeddingAlias(alias="e", model_id=model_id).problems()
    assert "embedding alias 'e': model_id must be an embedding model the gateway can call" in problem
    assert repr(model_id) in problem


def test_embedding_alias_name_rule() -> None:
    (problem,) = BedrockEmbeddingAlias(alias="-bad", model_id="amazon.titan-embed-text-v2:0").problems()
    assert "alias must match" in problem


def test_embedding_aliases_are_part_of_the_allowlist() -> None:
    """BedrockGatewayApi routes POST /v1/embeddings and grants InvokeModel on embedding models, so an embedding
    alias is accepted; it still shares the alias namespace and the per-entry checks with the chat aliases."""
    embed = BedrockEmbeddingAlias(alias="embed", model_id="amazon.titan-embed-text-v2:0")
    assert model_problems([HAIKU, embed]) == []
    BedrockGatewayApi(cdk.Stack(cdk.App(), "S"), "Gw", models=[HAIKU, embed])
    clash = BedrockEmbeddingAlias(alias=HAIKU.alias, model_id="amazon.titan-embed-text-v2:0")
    assert model_problems([HAIKU, clash]) == [
        f"model alias {HAIKU.alias!r} appears more than once; aliases must be unique"
    ]
    bad = BedrockEmbeddingAlias(alias="e", model_id="amazon.titan-embed-text-v1")
    with pytest.raises(PropsValidationError, match="embedding alias 'e': model_id must be an embedding model"):
        BedrockGatewayApi(cdk.Stack(cdk.App(), "S"), "Gw", models=[HAIKU, bad])


@pytest.mark.parametrize(
    "hosts, bad",
    [
        (["images.example.com", "host:8443", "http://10.0.0.5:8080", "https://cdn.example.com"], []),
        (["https://cdn.example.com/images"], ["https://cdn.example.com/images"]),
        (["ftp://x.example.com", ""], ["ftp://x.example.com", ""]),
    ],
)
def test_image_url_hosts_entries(hosts: list[str], bad: list[str]) -> None:
    problems = image_url_host_problems(hosts)
    assert len(problems) == len(bad) and all(repr(b) in p for b, p in zip(bad, problems, strict=True))


def test_reasoning_must_be_a_bool() -> None:
    from cdk_llm_serving._types import PropsTypeError

    with pytest.raises(PropsTypeError, match=r"reasoning must be bool, got str 'yes'"):
        BedrockModelAlias(alias="a", model_id=HAIKU.model_id, reasoning="yes")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- GATEWAY.REASONING_MODEL


def test_reasoning_rule_rejects_models_without_extended_thinking() -> None:
    # Bedrock User Guide 'Extended thinking' (supported models) and Anthropic's extended-thinking page: only these
    # Claude models take thinking {type: enabled, budget_tokens}; Claude 4.7+ answer it with a 400.
    message = expect_rule(
        "GATEWAY.REASONING_MODEL",
        lambda: BedrockGatewayApi(
            cdk.Stack(cdk.App(), "S"),
            "Gw",
            models=[BedrockModelAlias(alias="nova", model_id="us.amazon.nova-pro-v1:0", reasoning=True)],
        ),
    )
    assert "'nova'" in message and "amazon.nova-pro-v1:0" in message and "Drop reasoning=True" in message
    for model in (
        "anthropic.claude-opus-4-7",
        "anthropic.claude-sonnet-4-7-20260101-v1:0",
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "meta.llama3-70b-instruct-v1:0",
    ):
        expect_rule("GATEWAY.REASONING_MODEL", REASONING.problems(ReasoningAlias("a", model)))


def test_reasoning_rule_accepts_the_listed_models_and_their_profiles() -> None:
    for model in EXTENDED_THINKING_MODELS:
        assert REASONING.problems(ReasoningAlias("a", f"{model}-v1:0")) == []
        assert REASONING.problems(ReasoningAlias("a", model)) == []
    alias = BedrockModelAlias(alias="think", model_id="global.anthropic.claude-sonnet-4-6", reasoning=True)
    assert alias.problems() == []
    BedrockGatewayApi(cdk.Stack(cdk.App(), "S"), "Gw", models=[alias])
