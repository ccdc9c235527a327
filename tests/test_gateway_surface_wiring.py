"""BedrockGatewayApi wires the runtime's OpenAI surface: POST /v1/embeddings and GET /v1/models/{model} routes,
embedding aliases (IAM, VPC endpoints), and a chat request validator that stays permissive for tools, structured
output and images (GatewaySurfaceStack and ChatStack of the session synthesis)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions as _assertions
from aws_cdk import aws_ec2 as ec2

import variants
from cdk_llm_serving import BedrockEmbeddingAlias, BedrockGatewayApi, GatewayAuth, GatewayEndpoint, PropsValidationError
from cdk_llm_serving.bedrock_gateway.catalogue import catalogue
from harness import Synthesis, as_list, cfn_text, flat_statements, resources


def _policy_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = [
        r["Properties"]
        for r in resources(template, "AWS::IAM::ManagedPolicy").values()
        if "generated from its model allowlist" in r["Properties"].get("Description", "")
    ]
    return flat_statements(policy["PolicyDocument"]["Statement"])


def _method(template: dict[str, Any], http_method: str, path_part: str) -> dict[str, Any]:
    parts = {lid: r["Properties"]["PathPart"] for lid, r in resources(template, "AWS::ApiGateway::Resource").items()}
    (method,) = [
        m["Properties"]
        for m in resources(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == http_method
        and parts.get(m["Properties"]["ResourceId"].get("Ref", "")) == path_part
    ]
    return method


def _model_schema(template: dict[str, Any], method: dict[str, Any]) -> dict[str, Any]:
    model_id = method["RequestModels"]["application/json"]["Ref"]
    schema: dict[str, Any] = resources(template, "AWS::ApiGateway::Model")[model_id]["Properties"]["Schema"]
    return schema


@pytest.fixture(scope="module")
def surface(synthesis: Synthesis) -> dict[str, Any]:
    return synthesis.templates["GatewaySurfaceStack"]


def test_embedding_models_get_invoke_model_only_on_their_own_region_arns(surface: dict[str, Any]) -> None:
    embedding = [s for s in _policy_statements(surface) if s["Sid"] == "InvokeEmbeddingModels"]
    assert sorted((s["Action"], cfn_text(s["Resource"])) for s in embedding) == sorted(
        ("bedrock:InvokeModel", f"arn:{{AWS::Partition}}:bedrock:{{AWS::Region}}::foundation-model/{m.model_id}")
        for m in variants.EMBEDDING_ALIASES
    )
    # No other statement names an embedding model (no streaming action, no other Region).
    others = [s for s in _policy_statements(surface) if s["Sid"] != "InvokeEmbeddingModels"]
    for m in variants.EMBEDDING_ALIASES:
        assert not [s for s in others if m.model_id in cfn_text(s["Resource"])]


def test_cohere_embedding_models_are_not_in_the_marketplace_grants(surface: dict[str, Any]) -> None:
    """The catalogue has no Marketplace product IDs for Cohere Embed (README documents the first-use subscription),
    so Subscribe stays limited to the chat models' products."""
    for m in variants.EMBEDDING_ALIASES:
        assert catalogue().marketplace_product_id(m.model_id) is None
    subscribe = [s for s in _policy_statements(surface) if s["Action"] == "aws-marketplace:Subscribe"]
    products = {
        p for s in subscribe for p in as_list(s["Condition"]["ForAnyValue:StringEquals"]["aws-marketplace:ProductId"])
    }
    assert products == {catalogue().marketplace_product_id(variants.GLOBAL_PROFILE.foundation_model_id)}


def test_embedding_aliases_reach_the_function_config(surface: dict[str, Any]) -> None:
    (fn,) = [
        r["Properties"] for r in resources(surface, "AWS::Lambda::Function").values() if "GATEWAY_CONFIG" in str(r)
    ]
    config = json.loads(cfn_text(fn["Environment"]["Variables"]["GATEWAY_CONFIG"]))
    embedding = [m for m in config["models"] if m.get("kind") == "embedding"]
    assert [(m["alias"], m["target"]["modelId"]) for m in embedding] == [
        (m.alias, m.model_id) for m in variants.EMBEDDING_ALIASES
    ]


def test_model_by_id_route_requires_its_path_parameter(surface: dict[str, Any]) -> None:
    method = _method(surface, "GET", "{model}")
    assert method["RequestParameters"] == {"method.request.path.model": True}
    assert "RequestValidatorId" in method
    assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
    assert method["Integration"]["ResponseTransferMode"] == "STREAM"


def test_embeddings_route_checks_its_body(surface: dict[str, Any]) -> None:
    method = _method(surface, "POST", "embeddings")
    chat = _method(surface, "POST", "completions")
    # Same integration and the same authorization as chat completions.
    for key in ("AuthorizationType", "AuthorizerId", "RequestValidatorId"):
        assert method[key] == chat[key]
    assert method["Integration"] == chat["Integration"]
    schema = _model_schema(surface, method)
    assert schema["required"] == ["model", "input"]
    props = schema["properties"]
    assert props["model"] == {"type": "string", "minLength": 1, "maxLength": 256}
    assert props["input"] == {"type": ["string", "array"], "maxItems": 96}
    assert props["dimensions"] == {"type": "integer"}
    assert props["encoding_format"] == {"type": "string", "enum": ["float", "base64"]}
    assert props["input_type"] == {"type": "string"} and props["user"] == {"type": "string"}


def test_chat_validator_accepts_tools_structured_output_and_images(synthesis: Synthesis) -> None:
    """The runtime checks tools, response_format, image parts and tool messages itself (OpenAI-shaped errors);
    API Gateway's model must not reject any of them: no closed objects, no schema for a message."""
    template = synthesis.templates["ChatStack"]
    schema = _model_schema(template, _method(template, "POST", "completions"))
    assert "additionalProperties" not in schema
    assert set(schema["properties"]) == {"model", "messages", "stream"}
    messages = schema["properties"]["messages"]
    assert "items" not in messages and set(messages) == {"type", "minItems", "maxItems"}
    text = str(schema)
    assert "additionalProperties" not in text and "enum" not in text


def test_private_gateway_with_only_embeddings_gets_a_bedrock_runtime_endpoint() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    gateway = BedrockGatewayApi(
        stack,
        "Gw",
        models=[BedrockEmbeddingAlias(alias="embed", model_id="amazon.titan-embed-text-v2:0")],
        auth=GatewayAuth.iam(),
        endpoint=GatewayEndpoint.private(vpc=_vpc(stack)),
    )
    assert set(gateway.runtime_vpc_endpoints) == {"bedrock-runtime"}


# --------------------------------------------------------------------------------------------------
# image_url_hosts


def _vpc(stack: cdk.Stack) -> ec2.Vpc:
    return ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )


def _build(**props: Any) -> BedrockGatewayApi:
    stack = cdk.Stack(cdk.App(), "S")
    if props.pop("private", None) is not None:
        props["endpoint"] = GatewayEndpoint.private(
            vpc=_vpc(stack), add_runtime_vpc_endpoints=props.pop("add_runtime_vpc_endpoints", True)
        )
        props["auth"] = GatewayAuth.iam()
    return BedrockGatewayApi(stack, "Gw", models=[variants.GLOBAL_PROFILE], **props)


def test_image_url_hosts_reach_the_function_config(surface: dict[str, Any]) -> None:
    (fn,) = [
        r["Properties"] for r in resources(surface, "AWS::Lambda::Function").values() if "GATEWAY_CONFIG" in str(r)
    ]
    config = json.loads(cfn_text(fn["Environment"]["Variables"]["GATEWAY_CONFIG"]))
    assert config["imageUrlHosts"] == list(variants.SURFACE_IMAGE_HOSTS)


def test_bad_image_url_hosts_are_named() -> None:
    with pytest.raises(PropsValidationError, match=r"image_url_hosts: 'https://cdn.example.com/images' must be a host"):
        _build(image_url_hosts=["images.example.com", "https://cdn.example.com/images"])


def test_image_url_hosts_count_towards_the_config_size() -> None:
    hosts = [f"{'h' * 60}{i}.example.com" for i in range(60)]
    with pytest.raises(PropsValidationError, match="image_url_hosts and cors_allowed_origins are too large"):
        _build(image_url_hosts=hosts)


def test_private_gateway_with_runtime_endpoints_cannot_fetch_image_urls() -> None:
    """Our own egress: with add_runtime_vpc_endpoints the function's group sends HTTPS to the VPC's CIDR only."""
    with pytest.raises(PropsValidationError, match="unreachable from a PRIVATE gateway with add_runtime_vpc_endpoints"):
        _build(private=True, image_url_hosts=["images.example.com"])


def test_private_gateway_through_nat_fetches_https_on_443_only() -> None:
    """Without the runtime endpoints the function's group allows egress on TCP 443 only."""
    with pytest.raises(PropsValidationError) as err:
        _build(
            private=True,
            add_runtime_vpc_endpoints=False,
            image_url_hosts=["images.example.com", "http://10.0.0.5", "cdn.example.com:8443"],
        )
    text = str(err.value)
    assert "'http://10.0.0.5' uses port 80" in text and "'cdn.example.com:8443' uses port 8443" in text
    assert "'images.example.com'" not in text
    _build(
        private=True,
        add_runtime_vpc_endpoints=False,
        image_url_hosts=["images.example.com", "https://x.example.com:443"],
    )


# --------------------------------------------------------------------------------------------------
# cors_allowed_origins


def _preflights(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    parts = {lid: r["Properties"]["PathPart"] for lid, r in resources(template, "AWS::ApiGateway::Resource").items()}
    return {
        parts[m["Properties"]["ResourceId"]["Ref"]]: m["Properties"]
        for m in resources(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    }


def test_each_model_route_has_an_unauthorized_mock_preflight(surface: dict[str, Any]) -> None:
    preflights = _preflights(surface)
    assert set(preflights) == {"completions", "embeddings", "models", "{model}"}
    for path, method in preflights.items():
        # The authorizer must not run: browsers send preflights without the Authorization header.
        assert method["AuthorizationType"] == "NONE" and "AuthorizerId" not in method
        assert method["Integration"]["Type"] == "MOCK"
        (response,) = method["Integration"]["IntegrationResponses"]
        params = response["ResponseParameters"]
        assert params["method.response.header.Access-Control-Allow-Origin"] == f"'{variants.SURFACE_CORS_ORIGIN}'"
        expected_method = "POST" if path in ("completions", "embeddings") else "GET"
        assert params["method.response.header.Access-Control-Allow-Methods"] == f"'{expected_method}'"
        headers = {
            h.lower() for h in params["method.response.header.Access-Control-Allow-Headers"].strip("'").split(",")
        }
        assert {"authorization", "content-type"} <= headers


def test_preflight_allows_the_headers_the_openai_sdk_sends(surface: dict[str, Any]) -> None:
    """The installed openai package's own request headers (platform, async, retry and timeout headers)."""
    import openai

    client = openai.OpenAI(base_url="https://example.invalid/v1", api_key="x")
    request = client._build_request(openai._base_client.FinalRequestOptions(method="post", url="/chat/completions"))
    sent = {
        h.lower()
        for h in request.headers
        if h.lower().startswith("x-stainless") or h.lower() in ("content-type", "authorization")
    }
    assert {"x-stainless-lang", "x-stainless-retry-count", "authorization"} <= sent
    for method in _preflights(surface).values():
        params = method["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        allowed = {
            h.lower() for h in params["method.response.header.Access-Control-Allow-Headers"].strip("'").split(",")
        }
        assert sent <= allowed, sent - allowed


def test_single_origin_reaches_gateway_responses_and_the_function(surface: dict[str, Any]) -> None:
    responses = resources(surface, "AWS::ApiGateway::GatewayResponse")
    assert responses
    for r in responses.values():
        headers = r["Properties"]["ResponseParameters"]
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{variants.SURFACE_CORS_ORIGIN}'"
    (fn,) = [
        r["Properties"] for r in resources(surface, "AWS::Lambda::Function").values() if "GATEWAY_CONFIG" in str(r)
    ]
    config = json.loads(cfn_text(fn["Environment"]["Variables"]["GATEWAY_CONFIG"]))
    assert config["corsAllowOrigins"] == [variants.SURFACE_CORS_ORIGIN]


def test_without_cors_there_is_no_preflight(synthesis: Synthesis) -> None:
    chat = synthesis.templates["ChatStack"]
    assert not _preflights(chat)
    for r in resources(chat, "AWS::ApiGateway::GatewayResponse").values():
        assert "gatewayresponse.header.Access-Control-Allow-Origin" not in r["Properties"].get("ResponseParameters", {})


def test_several_origins_leave_gateway_responses_without_the_header() -> None:
    gateway = _build(cors_allowed_origins=["https://a.example.com", "http://localhost:3000"])
    template = _assertions.Template.from_stack(cdk.Stack.of(gateway)).to_json()
    assert len(_preflights(template)) == 4
    for r in resources(template, "AWS::ApiGateway::GatewayResponse").values():
        assert "gatewayresponse.header.Access-Control-Allow-Origin" not in r["Properties"].get("ResponseParameters", {})


def test_cors_origins_count_towards_the_config_size() -> None:
    origins = [f"https://{'o' * 60}{i}.example.com" for i in range(60)]
    with pytest.raises(PropsValidationError, match="image_url_hosts and cors_allowed_origins are too large"):
        _build(cors_allowed_origins=origins)


@pytest.mark.parametrize(
    "origins, message",
    [
        (["https://app.example.com/"], "cors_allowed_origins: 'https://app.example.com/' must be an origin"),
        (["app.example.com"], "cors_allowed_origins: 'app.example.com' must be an origin"),
        (["*", "https://app.example.com"], "'*' allows every origin and cannot be combined"),
        ([], "cors_allowed_origins must name at least one origin"),
    ],
)
def test_bad_cors_origins_are_named(origins: list[str], message: str) -> None:
    with pytest.raises(PropsValidationError, match=message.replace("*", r"\*")):
        _build(cors_allowed_origins=origins)
