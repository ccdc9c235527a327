"""The construct side of the gateway's SageMaker contract: the container kind in GATEWAY_CONFIG and the
SageMaker body-size rule (the runtime side is tested in tests/runtime/test_sagemaker_*.py)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from dataclasses import dataclass

import aws_cdk as cdk
import botocore.session
import pytest

from cdk_llm_serving import (
    BedrockGatewayApi,
    BedrockModelAlias,
    ContainerKind,
    GatewayLimits,
    LlmContainer,
    SageMakerModelAlias,
)
from cdk_llm_serving._types import PropsTypeError
from cdk_llm_serving.bedrock_gateway.aliases import runtime_config, runtime_config_json
from cdk_llm_serving.bedrock_gateway.rules import SAGEMAKER_MAX_BODY_BYTES, SAGEMAKER_RULES, SageMakerLimitsSubject
from harness import REPO, expect_rule

BEDROCK = BedrockModelAlias(alias="fast", model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0")
SM = SageMakerModelAlias(alias="sm", endpoint_name="my-endpoint")


def _build(**kwargs):  # type: ignore[no-untyped-def]
    return BedrockGatewayApi(cdk.Stack(cdk.App(), "S"), "Gw", **kwargs)


# --------------------------------------------------------------------------- GATEWAY.SAGEMAKER_BODY_LIMIT


def test_body_limit_rule_rejects_more_than_invoke_endpoint_accepts() -> None:
    # botocore sagemaker-runtime 2017-05-13 service-2.json: BodyBlob {max: 6291456} is the Body of
    # InvokeEndpoint and InvokeEndpointWithResponseStream (serverless: 4 MB, SageMaker Developer Guide).
    message = expect_rule(
        "GATEWAY.SAGEMAKER_BODY_LIMIT",
        lambda: _build(models=[BEDROCK, SM], limits=GatewayLimits(max_request_bytes=SAGEMAKER_MAX_BODY_BYTES + 1)),
    )
    assert "'sm'" in message and "6291457" in message and "max_request_bytes=...) to 6291456 or less" in message
    expect_rule(
        "GATEWAY.SAGEMAKER_BODY_LIMIT", SAGEMAKER_RULES.problems(SageMakerLimitsSubject(10_485_760, ("a", "b")))
    )


def test_body_limit_rule_accepts_the_limit_and_bedrock_only_gateways() -> None:
    assert SAGEMAKER_RULES.problems(SageMakerLimitsSubject(SAGEMAKER_MAX_BODY_BYTES, ("sm",))) == []
    assert SAGEMAKER_RULES.problems(SageMakerLimitsSubject(10_485_760, ())) == []  # no SageMaker alias
    _build(models=[BEDROCK, SM])  # the default 1 MiB
    _build(models=[BEDROCK, SM], limits=GatewayLimits(max_request_bytes=SAGEMAKER_MAX_BODY_BYTES))


def test_body_limit_is_botocores_and_the_runtimes() -> None:
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    for operation in ("InvokeEndpoint", "InvokeEndpointWithResponseStream"):
        body = model.operation_model(operation).input_shape.members["Body"]
        assert body.metadata["max"] == SAGEMAKER_MAX_BODY_BYTES
    runtime = (REPO / "lambda" / "gateway" / "sagemaker.py").read_text()
    (value,) = re.findall(r"^MAX_BODY_BYTES = ([\d_]+)$", runtime, re.M)
    assert int(value) == SAGEMAKER_MAX_BODY_BYTES


# --------------------------------------------------------------------------- container kind


@dataclass(frozen=True)
class _Endpoint:
    container: LlmContainer | None = None
    endpoint_name: str = "my-endpoint"
    endpoint_arn: str = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-endpoint"


@pytest.mark.parametrize(
    ("container", "kind"),
    [
        (LlmContainer.lmi(), ContainerKind.LMI),
        (LlmContainer.tgi(), ContainerKind.TGI),
        (LlmContainer.vllm(), ContainerKind.VLLM),
        (None, None),  # an object without a container (e.g. ImportedLlmEndpoint): unknown
    ],
)
def test_for_endpoint_takes_the_container_kind(container: LlmContainer | None, kind: ContainerKind | None) -> None:
    alias = SageMakerModelAlias.for_endpoint(alias="a", endpoint=_Endpoint(container))
    assert alias.container_kind is kind
    target = alias.to_runtime()["target"]
    assert target.get("containerKind") == (kind.value if kind else None)
    # An explicit kind wins over the endpoint's.
    explicit = SageMakerModelAlias.for_endpoint(
        alias="a", endpoint=_Endpoint(container), container_kind=ContainerKind.CUSTOM
    )
    assert explicit.to_runtime()["target"]["containerKind"] == "custom"


def test_container_kind_must_be_a_container_kind() -> None:
    with pytest.raises(PropsTypeError) as info:
        SageMakerModelAlias(alias="sm", endpoint_name="e", container_kind="tgi")  # type: ignore[arg-type]
    assert "container_kind must be ContainerKind or None, got str 'tgi' (use ContainerKind.TGI)" in str(info.value)


def test_the_runtime_parses_every_kind_the_construct_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("gateway_config", REPO / "lambda" / "gateway" / "config.py")
    assert spec and spec.loader
    gateway_config = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, gateway_config)  # dataclasses look their module up
    spec.loader.exec_module(gateway_config)
    models = [SageMakerModelAlias(alias=k.value, endpoint_name="ep", container_kind=k) for k in ContainerKind]
    document = runtime_config_json(
        runtime_config(
            models=[*models, SM], limits=GatewayLimits(), log_content=False, metrics_namespace="n", service_name="s"
        )
    )
    parsed = gateway_config.parse_config(json.loads(document))
    assert {m.alias: m.target.container_kind for m in parsed.models} == {
        "lmi": "lmi",
        "tgi": "tgi",
        "vllm": "vllm",
        "custom": "custom",
        "sm": None,
    }
