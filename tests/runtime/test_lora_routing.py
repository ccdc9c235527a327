"""LoraStack end to end: the GATEWAY_CONFIG that LoraStack deploys, run by the real gateway on 127.0.0.1 and
driven by the official OpenAI SDK, with SageMaker Runtime replaced at the wire by a stand-in that knows exactly
which inference components the fleet deploys.

The stand-in plays the fleet's endpoint: a request naming one of the fleet's adapter components (or the base
component) is answered by "that adapter" (the reply names it); any other endpoint or component gets SageMaker's
``ValidationError`` ("... not found"). Bedrock aliases of the same gateway go to the Bedrock stand-in.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway_harness import LineSink, make_gateway
from sagemaker_standin import Behaviour, Received, SageMakerStandIn

REPO = Path(__file__).resolve().parents[2]
USER = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(scope="module")
def lora_stack():
    """LoraStack as `cdk synth` builds it from cdk.json (synthesized without cdk-nag: only its config matters)."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from stacks import LoraSettings, LoraStack
    from test_lora_fleet import gateway_config  # tests/ (the infrastructure tests) is on sys.path

    context = json.loads((REPO / "cdk.json").read_text())["context"]
    stack = LoraStack(cdk.App(context=context), "LoraStack", settings=LoraSettings.from_context(context.get("lora")))
    return stack, gateway_config(Template.from_stack(stack).to_json())


class FleetStandIn(SageMakerStandIn):
    """SageMaker Runtime for one fleet: only its endpoint and inference components exist."""

    def __init__(self, endpoint_name: str, components: set[str]) -> None:
        super().__init__()
        self.endpoint_name = endpoint_name
        self.components = components

    def next_behaviour(self, received: Received):
        super().next_behaviour(received)  # records the request
        if received.endpoint_name != self.endpoint_name:
            return Behaviour(error="ValidationError", error_message=f"Endpoint {received.endpoint_name} not found.")
        if received.inference_component not in self.components:
            return Behaviour(
                error="ValidationError", error_message=f"Inference Component {received.inference_component} not found."
            )
        # The fleet's container is LMI with the async vLLM handler (LlmContainer.lmi(lora=...)).
        return Behaviour(chunks=["Hello from ", received.inference_component], container="lmi-async")


@pytest.fixture(scope="module")
def fleet(lora_stack):
    stack, _ = lora_stack
    server = FleetStandIn(
        stack.fleet.endpoint_name, {stack.fleet.inference_component_name, *stack.fleet.adapter_component_names.values()}
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lora_client(lora_stack, standin_server, fleet):
    from openai import OpenAI

    _, config = lora_stack
    with pytest.MonkeyPatch.context() as mp:
        srv = make_gateway(standin_server, config, mp, stream=LineSink(), sagemaker=fleet)
        host, port = srv.server_address[:2]
        with OpenAI(base_url=f"http://{host}:{port}/v1", api_key="x", max_retries=0, timeout=10) as client:
            yield client
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def fresh(fleet, standin):
    fleet.reset()
    yield
    fleet.reset()


def _adapter_aliases(stack) -> dict[str, str]:
    """Gateway alias → inference component name, from LoraStack's own settings and fleet."""
    components = stack.fleet.adapter_component_names
    return {a.gateway_alias: components[a.name] for a in stack.settings.adapters if a.gateway}


def test_deployed_config_routes_every_adapter_alias_to_its_component(lora_stack):
    stack, config = lora_stack
    targets = {m["alias"]: m["target"] for m in config["models"]}
    for alias, component in _adapter_aliases(stack).items():
        assert targets[alias] == {
            "type": "sagemaker",
            "endpointName": stack.fleet.endpoint_name,
            "inferenceComponentName": component,
            "containerKind": "lmi",
        }
    assert targets[stack.settings.base_alias]["inferenceComponentName"] == stack.fleet.inference_component_name
    bedrock = {m.alias for m in stack.settings.bedrock_models}
    assert bedrock and all(targets[a]["type"] == "bedrock" for a in bedrock)


@pytest.mark.parametrize("stream", [False, True])
def test_adapter_aliases_reach_their_adapters(lora_stack, lora_client, fleet, standin, fresh, stream):
    stack, _ = lora_stack
    aliases = _adapter_aliases(stack)
    assert len(aliases) >= 2
    for alias, component in aliases.items():
        result = lora_client.chat.completions.create(model=alias, messages=USER, stream=stream)
        if stream:
            text = "".join(c.choices[0].delta.content or "" for c in result if c.choices)
        else:
            text = result.choices[0].message.content
        assert text == f"Hello from {component}", alias
        last = fleet.requests[-1]
        assert (last.endpoint_name, last.inference_component) == (stack.fleet.endpoint_name, component)
        assert last.operation == ("invocations-response-stream" if stream else "invocations")
    assert len(fleet.requests) == len(aliases)
    assert standin.requests == []  # Bedrock untouched


def test_bedrock_and_adapter_aliases_side_by_side(lora_stack, lora_client, fleet, standin, fresh):
    stack, _ = lora_stack
    bedrock_alias = stack.settings.bedrock_models[0].alias
    adapter_alias, component = next(iter(_adapter_aliases(stack).items()))
    assert (
        lora_client.chat.completions.create(model=bedrock_alias, messages=USER).choices[0].message.content
        == "Hello, world!"
    )
    assert (
        lora_client.chat.completions.create(model=adapter_alias, messages=USER).choices[0].message.content
        == f"Hello from {component}"
    )
    base = lora_client.chat.completions.create(model=stack.settings.base_alias, messages=USER)
    assert base.choices[0].message.content == f"Hello from {stack.fleet.inference_component_name}"
    (bedrock_request,) = standin.requests
    assert bedrock_request.model_id == stack.settings.bedrock_models[0].model_id
    assert [r.inference_component for r in fleet.requests] == [component, stack.fleet.inference_component_name]
    listed = {m.id for m in lora_client.models.list()}
    assert {bedrock_alias, adapter_alias, stack.settings.base_alias} <= listed


def test_unknown_alias_never_reaches_the_fleet(lora_client, fleet, standin, fresh):
    import openai

    with pytest.raises(openai.NotFoundError):
        lora_client.chat.completions.create(model="not-an-adapter", messages=USER)
    assert fleet.requests == [] and standin.requests == []


def test_standin_rejects_components_the_fleet_does_not_deploy(lora_stack, fleet):
    """The stand-in's check itself: a component name the fleet does not deploy is SageMaker's "not found"."""
    stack, _ = lora_stack
    unknown = Received("invocations", stack.fleet.endpoint_name, "some-other-adapter", {}, {})
    assert fleet.next_behaviour(unknown).error == "ValidationError"
    wrong_endpoint = Received("invocations", "other-endpoint", stack.fleet.inference_component_name, {}, {})
    assert "Endpoint other-endpoint not found" in fleet.next_behaviour(wrong_endpoint).error_message
    fleet.reset()
