"""Fine-grained assertions of intent for BedrockGatewayApi as composed in ChatStack and the variants."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Template

import variants
from cdk_llm_serving import (
    AccountGuardrailEnforcement,
    BedrockGatewayApi,
    BedrockModelAlias,
    GatewayAuth,
    GatewayEndpoint,
    GatewayGuardrail,
    SageMakerModelAlias,
)
from cdk_llm_serving.bedrock_gateway.layers import POWERTOOLS_LAYER_VERSION, WEB_ADAPTER_LAYER_VERSION
from harness import Synthesis, cfn_text, lambda_functions, one, resources
from stacks import DEFAULT_CHAT_MODELS, ChatSettings

_flatten = cfn_text  # CloudFormation strings with {Ref} placeholders


def _gateway_function(template: dict[str, Any]) -> dict[str, Any]:
    (fn,) = lambda_functions(template).values()
    return fn["Properties"]


def _gateway_policy_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    policies = [
        r["Properties"]
        for r in resources(template, "AWS::IAM::ManagedPolicy").values()
        if "generated from its model allowlist" in r["Properties"].get("Description", "")
    ]
    assert len(policies) == 1
    return policies[0]["PolicyDocument"]["Statement"]


@pytest.fixture(scope="module")
def chat(synthesis: Synthesis) -> dict[str, Any]:
    return synthesis.templates["ChatStack"]


def test_bedrock_permissions_are_exactly_the_allowlist(chat: dict[str, Any]) -> None:
    statements = _gateway_policy_statements(chat)
    bedrock = [s for s in statements if any(a.startswith("bedrock:") for a in _as_list(s["Action"]))]
    # ChatStack guards every alias with its default guardrail: the two invoke actions (allowed only with the
    # guardrail, denied without it) and ApplyGuardrail on that guardrail; nothing else of Bedrock.
    apply = [s for s in bedrock if _as_list(s["Action"]) == ["bedrock:ApplyGuardrail"]]
    assert len(apply) == 1 and "GuardrailArn" in json.dumps(apply[0]["Resource"])
    bedrock = [s for s in bedrock if s not in apply]
    for s in bedrock:
        assert sorted(_as_list(s["Action"])) == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    by_sid = {s["Sid"].removesuffix("WithGuardrail"): s for s in bedrock}
    assert set(by_sid) == {
        "InvokeInferenceProfiles",
        "InvokeModelsThroughProfiles",
        "DenyGuardedModelsWithoutGuardrail",
    }
    for sid in ("InvokeInferenceProfiles", "InvokeModelsThroughProfiles"):
        assert "bedrock:GuardrailIdentifier" in by_sid[sid]["Condition"]["StringEquals"]
    assert by_sid["DenyGuardedModelsWithoutGuardrail"]["Effect"] == "Deny"

    profiles = sorted(_flatten(r) for r in _as_list(by_sid["InvokeInferenceProfiles"]["Resource"]))
    expected_profiles = sorted(
        f"arn:{{AWS::Partition}}:bedrock:{{AWS::Region}}:{{AWS::AccountId}}:inference-profile/{m.model_id}"
        for m in DEFAULT_CHAT_MODELS
    )
    assert profiles == expected_profiles

    models = sorted(_flatten(r) for r in _as_list(by_sid["InvokeModelsThroughProfiles"]["Resource"]))
    assert models == sorted(
        f"arn:{{AWS::Partition}}:bedrock:*::foundation-model/{m.foundation_model_id}" for m in DEFAULT_CHAT_MODELS
    )
    # Foundation-model grants only count when the call comes through one of our profiles.
    condition = by_sid["InvokeModelsThroughProfiles"]["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"]
    assert sorted(_flatten(c) for c in condition) == expected_profiles


#: Statements that AWS requires on "*" (no resource-level permissions): X-Ray, EC2 Describe* for VPC functions, and
#: AWS Marketplace (first call of a third-party model; Subscribe is limited by aws-marketplace:ProductId).
_WILDCARD_SIDS = {
    "WriteTraces",
    "DescribeVpcNetworkInterfaces",
    "ViewMarketplaceSubscriptions",
    "SubscribeToAllowlistedModelsOnFirstUse",
}


def test_only_xray_and_ec2_describe_use_a_wildcard_resource(synthesis: Synthesis) -> None:
    for name, template in synthesis.templates.items():
        if not resources(template, "AWS::IAM::ManagedPolicy") or not any(
            "generated from its model allowlist" in r["Properties"].get("Description", "")
            for r in resources(template, "AWS::IAM::ManagedPolicy").values()
        ):
            continue  # not a gateway stack (InferentiaStack's wildcards are covered in test_inferentia.py)
        for s in _gateway_policy_statements(template):
            if "*" in _as_list(s["Resource"]):
                assert s["Sid"] in _WILDCARD_SIDS, f"{name}: wildcard resource in {s['Sid']}"
                if s["Sid"] == "DescribeVpcNetworkInterfaces":
                    assert sorted(_as_list(s["Action"])) == ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
                if s["Sid"] == "SubscribeToAllowlistedModelsOnFirstUse":
                    assert _as_list(s["Action"]) == ["aws-marketplace:Subscribe"]
                    assert set(s["Condition"]) == {"ForAnyValue:StringEquals"}


def test_no_full_access_managed_policies(synthesis: Synthesis) -> None:
    for name, template in synthesis.templates.items():
        assert "FullAccess" not in json.dumps(template), name


def test_direct_foundation_model_is_granted_in_own_region_only(synthesis: Synthesis) -> None:
    statements = _gateway_policy_statements(synthesis.templates["GatewayIamStack"])
    direct = next(s for s in statements if s["Sid"] == "InvokeFoundationModels")
    assert [_flatten(r) for r in _as_list(direct["Resource"])] == [
        "arn:{AWS::Partition}:bedrock:{AWS::Region}::foundation-model/amazon.titan-text-express-v1"
    ]


def test_model_routes_stream_through_lambda(chat: dict[str, Any]) -> None:
    methods = [m["Properties"] for m in resources(chat, "AWS::ApiGateway::Method").values()]
    lambda_methods = [m for m in methods if m["Integration"]["Type"] != "MOCK"]
    # chat completions, embeddings, the model list, one model and usage: one integration, all streamed
    assert sorted(m["HttpMethod"] for m in lambda_methods) == ["GET", "GET", "GET", "POST", "POST"]
    for m in lambda_methods:
        integration = m["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert integration["ResponseTransferMode"] == "STREAM"
        assert integration["TimeoutInMillis"] == ChatSettings().generation_timeout_seconds * 1000
        assert "/response-streaming-invocations" in _flatten(integration["Uri"])
        assert "RequestValidatorId" in m
    # Bodies validated against their JSON schema models before the function runs.
    for post in (m for m in lambda_methods if m["HttpMethod"] == "POST"):
        assert set(post["RequestModels"]) == {"application/json"}


def test_routes_and_authorization(chat: dict[str, Any]) -> None:
    template = Template.from_json(chat)
    template.has_resource_properties("AWS::ApiGateway::Authorizer", {"Type": "COGNITO_USER_POOLS"})
    methods = [m["Properties"] for m in resources(chat, "AWS::ApiGateway::Method").values()]
    auth = {(m["HttpMethod"], m.get("AuthorizationType")) for m in methods}
    assert auth == {("POST", "COGNITO_USER_POOLS"), ("GET", "COGNITO_USER_POOLS"), ("GET", "NONE")}
    health = next(m for m in methods if m.get("AuthorizationType") == "NONE")
    assert health["Integration"]["Type"] == "MOCK"
    paths = {r["Properties"]["PathPart"] for r in resources(chat, "AWS::ApiGateway::Resource").values()}
    assert paths == {"v1", "chat", "completions", "embeddings", "models", "{model}", "health", "usage"}


def test_regional_endpoint_and_stage_limits(chat: dict[str, Any]) -> None:
    api = one(chat, "AWS::ApiGateway::RestApi")
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    stage = one(chat, "AWS::ApiGateway::Stage")
    settings = ChatSettings()
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] == settings.throttling_rate_limit
    assert stage["MethodSettings"][0]["ThrottlingBurstLimit"] == settings.throttling_burst_limit
    assert stage["MethodSettings"][0]["DataTraceEnabled"] is False  # never log bodies
    assert stage["TracingEnabled"] is True
    access_format = json.loads(stage["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "integrationLatency", "user"} <= set(access_format)


def test_function_runs_the_web_adapter_with_the_allowlist(chat: dict[str, Any]) -> None:
    fn = _gateway_function(chat)
    assert fn["Handler"] == "run.sh"
    assert fn["Runtime"] == "python3.14"
    assert fn["Architectures"] == ["arm64"]
    assert fn["TracingConfig"] == {"Mode": "Active"}
    env = fn["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    # Non-streamed calls may last the whole generation; the function times out at the same bound.
    assert env["GATEWAY_BEDROCK_READ_TIMEOUT"] == str(ChatSettings().generation_timeout_seconds)
    assert fn["Timeout"] == ChatSettings().generation_timeout_seconds
    config = _gateway_config(chat)  # a Fn::Join: the default guardrail's ARN and version are attributes
    assert [(m["alias"], m["target"]["modelId"], m["maxTokensCap"]) for m in config["models"]] == [
        (m.alias, m.model_id, m.max_tokens_cap) for m in DEFAULT_CHAT_MODELS
    ]
    assert config["logContent"] is False
    assert config["limits"]["maxMessages"] == ChatSettings().max_messages
    # Layer order carries no meaning here: the two layers write disjoint paths (/opt/bootstrap, /opt/python).
    layers = sorted(_flatten(layer) for layer in fn["Layers"])
    assert layers == [
        f"arn:aws:lambda:{{AWS::Region}}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:{POWERTOOLS_LAYER_VERSION}",
        f"arn:aws:lambda:{{AWS::Region}}:753240598075:layer:LambdaAdapterLayerArm64:{WEB_ADAPTER_LAYER_VERSION}",
    ]


def test_role_has_no_inline_policies_and_logs_are_encrypted(chat: dict[str, Any]) -> None:
    assert not resources(chat, "AWS::IAM::Policy")
    for lg in resources(chat, "AWS::Logs::LogGroup").values():
        assert "KmsKeyId" in lg["Properties"]
        assert lg["Properties"]["RetentionInDays"] == 30


def test_waf_rate_limits_per_ip_and_tolerates_large_chat_bodies(chat: dict[str, Any]) -> None:
    acl = one(chat, "AWS::WAFv2::WebACL")
    rules = {r["Name"]: r for r in acl["Rules"]}
    rate = rules["RateLimitPerIp"]
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == ChatSettings().waf_rate_limit_per_ip
    assert rate["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    # Chat bodies exceed 8 KB and contain code: the body rules count (test_gateway_rules.py has the full list).
    assert {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}} in common["RuleActionOverrides"]
    logging = one(chat, "AWS::WAFv2::LoggingConfiguration")
    assert logging["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}]
    Template.from_json(chat).resource_count_is("AWS::WAFv2::WebACLAssociation", 1)


def test_gateway_errors_are_openai_shaped(chat: dict[str, Any]) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources(chat, "AWS::ApiGateway::GatewayResponse").values()
    }
    assert {
        "BAD_REQUEST_BODY",
        "UNAUTHORIZED",
        "THROTTLED",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "MISSING_AUTHENTICATION_TOKEN",
    } <= set(responses)
    for rtype, props in responses.items():
        rendered = props["ResponseTemplates"]["application/json"].replace("$context.error.messageString", '"msg"')
        body = json.loads(rendered)
        assert set(body["error"]) == {"message", "type", "param", "code"}, rtype
    assert responses["THROTTLED"]["StatusCode"] == "429"
    assert responses["THROTTLED"]["ResponseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"


def test_alarms_notify_the_topic(chat: dict[str, Any]) -> None:
    alarms = resources(chat, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 5
    topic = next(iter(resources(chat, "AWS::SNS::Topic")))
    for alarm in alarms.values():
        # Convention 2: on-call hears when a problem starts (ALARM) and when it is over (OK).
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic}]
    ttft = next(
        a["Properties"] for a in alarms.values() if "time to first token" in a["Properties"]["AlarmDescription"]
    )
    assert ttft["Threshold"] == 10000
    expr = next(m for m in ttft["Metrics"] if "Expression" in m)
    assert expr["Expression"] == "MAX([m0,m1,m2])"


def test_outputs_tell_how_to_call(chat: dict[str, Any]) -> None:
    assert {"ApiUrl", "OpenAIBaseUrl", "AuthMode", "UserPoolId", "UserPoolClientId", "AlarmTopicArn"} <= set(
        chat["Outputs"]
    )


def test_iam_variant_grants_execute_api_on_exact_routes(synthesis: Synthesis) -> None:
    t = synthesis.templates["GatewayIamStack"]
    methods = [m["Properties"] for m in resources(t, "AWS::ApiGateway::Method").values()]
    assert {m["AuthorizationType"] for m in methods if m["HttpMethod"] == "POST"} == {"AWS_IAM"}
    assert not resources(t, "AWS::Cognito::UserPool")
    caller_policy = next(p["Properties"] for p in resources(t, "AWS::IAM::Policy").values())
    stmt = caller_policy["PolicyDocument"]["Statement"][0]
    assert stmt["Action"] == "execute-api:Invoke"
    routes = sorted(_flatten(r).split("}/", 2)[-1] for r in stmt["Resource"])
    # no wildcard methods or paths: GET /v1/models/{model} is granted for each alias of the allowlist
    assert routes == sorted(
        ["GET/v1/models", "POST/v1/chat/completions", "POST/v1/embeddings"]
        + [f"GET/v1/models/{m.alias}" for m in (variants.DIRECT_MODEL, variants.GLOBAL_PROFILE)]
    )
    fn = _gateway_function(t)
    assert fn["ReservedConcurrentExecutions"] == 20


def test_dev_variant_has_no_auth_and_no_waf(synthesis: Synthesis) -> None:
    t = synthesis.templates["GatewayDevStack"]
    assert not resources(t, "AWS::WAFv2::WebACL")
    assert {m["Properties"]["AuthorizationType"] for m in resources(t, "AWS::ApiGateway::Method").values()} == {"NONE"}


def test_existing_pool_is_used_not_created(synthesis: Synthesis) -> None:
    t = synthesis.templates["GatewayExistingPoolStack"]
    assert not resources(t, "AWS::Cognito::UserPool")
    authorizer = one(t, "AWS::ApiGateway::Authorizer")
    assert "us-east-1_EXAMPLE1" in _flatten(authorizer["ProviderARNs"][0])


# --------------------------------------------------------------------------------------------------
# SageMaker aliases, retrieval and the PRIVATE endpoint (GatewaySageMakerStack, GatewayPrivateStack)


def _import_token(value: Any) -> str:
    """Render ``Fn::ImportValue`` as ``<import:Name>``, ``Ref`` as ``{LogicalId}``, ``Fn::GetAtt`` as
    ``{LogicalId.Attribute}``."""
    if isinstance(value, dict) and set(value) == {"Fn::ImportValue"}:
        return f"<import:{value['Fn::ImportValue']}>"
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return "{" + value["Ref"] + "}"
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        return "{" + ".".join(value["Fn::GetAtt"]) + "}"
    return json.dumps(value, sort_keys=True)


def _statements_by_sid(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in _gateway_policy_statements(template)}


def _resource_texts(statement: dict[str, Any]) -> list[str]:
    return sorted(_flatten(r, _import_token) for r in _as_list(statement["Resource"]))


def _gateway_config(template: dict[str, Any]) -> dict[str, Any]:
    env = _gateway_function(template)["Environment"]["Variables"]
    return json.loads(_flatten(env["GATEWAY_CONFIG"], _import_token))


_ARN = "arn:{AWS::Partition}:%s:{AWS::Region}:{AWS::AccountId}:%s"


def test_sagemaker_permissions_are_exactly_the_endpoints_and_components(synthesis: Synthesis) -> None:
    by_sid = _statements_by_sid(synthesis.templates["GatewaySageMakerStack"])
    invoke = ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"]
    sagemaker = {sid: s for sid, s in by_sid.items() if any(a.startswith("sagemaker:") for a in _as_list(s["Action"]))}
    assert set(sagemaker) == {"InvokeSageMakerEndpoints", "InvokeSageMakerInferenceComponents"}
    for s in sagemaker.values():
        assert sorted(_as_list(s["Action"])) == invoke and "Condition" not in s
    # The endpoint imported by name (ARN lower-cased), and the shared adapter endpoint once (deduplicated).
    assert _resource_texts(sagemaker["InvokeSageMakerEndpoints"]) == sorted(
        [_ARN % ("sagemaker", "endpoint/shared-llm-endpoint"), f"<import:{variants.SHARED_ENDPOINT_ARN_EXPORT}>"]
    )
    assert _resource_texts(sagemaker["InvokeSageMakerInferenceComponents"]) == [
        _ARN % ("sagemaker", "inference-component/adapter-a"),
        _ARN % ("sagemaker", "inference-component/adapter-b"),
    ]
    # The Bedrock alias keeps its own statements; retrieval is exactly the one knowledge base.
    assert {"InvokeInferenceProfiles", "InvokeModelsThroughProfiles"} <= set(by_sid)
    assert _as_list(by_sid["RetrieveFromKnowledgeBases"]["Action"]) == ["bedrock:Retrieve"]
    assert _resource_texts(by_sid["RetrieveFromKnowledgeBases"]) == [
        _ARN % ("bedrock", f"knowledge-base/{variants.LITERAL_KNOWLEDGE_BASE_ID}")
    ]
    assert not resources(synthesis.templates["GatewaySageMakerStack"], "AWS::IAM::Policy")  # no inline policies


def test_sagemaker_and_retrieval_reach_the_function_config(synthesis: Synthesis) -> None:
    config = _gateway_config(synthesis.templates["GatewaySageMakerStack"])
    shared = f"<import:{variants.SHARED_ENDPOINT_NAME_EXPORT}>"
    assert config["models"] == [
        {
            "alias": "haiku-global",
            "target": {"type": "bedrock", "modelId": variants.GLOBAL_PROFILE.model_id},
            "maxTokensCap": 4096,
            "defaultMaxTokens": 1024,
        },
        {
            "alias": "rag",
            "target": {"type": "sagemaker", "endpointName": variants.IMPORTED_ENDPOINT_NAME},
            "maxTokensCap": 2048,
            "defaultMaxTokens": 512,
            "retrieval": {"knowledgeBaseId": variants.LITERAL_KNOWLEDGE_BASE_ID, "numberOfResults": 4},
        },
        {
            "alias": "adapter-a",
            "target": {"type": "sagemaker", "endpointName": shared, "inferenceComponentName": "adapter-a"},
            "maxTokensCap": 2048,
            "defaultMaxTokens": 512,
        },
        {
            "alias": "adapter-b",
            "target": {"type": "sagemaker", "endpointName": shared, "inferenceComponentName": "adapter-b"},
            "maxTokensCap": 2048,
            "defaultMaxTokens": 512,
        },
    ]
    # The token is a real CloudFormation expression inside the variable, not a "${Token[...]}" string.
    env = _gateway_function(synthesis.templates["GatewaySageMakerStack"])["Environment"]["Variables"]
    assert {"Fn::ImportValue": variants.SHARED_ENDPOINT_NAME_EXPORT} in env["GATEWAY_CONFIG"]["Fn::Join"][1]
    assert "Token[" not in json.dumps(synthesis.templates["GatewaySageMakerStack"])


def _runtime_config_module() -> Any:
    """lambda/gateway/config.py, loaded by path (the runtime's own parser; stdlib only)."""
    import importlib.util
    import sys

    from harness import REPO

    # config.py imports the runtime's governance module (top-level names, as deployed to /var/task).
    if str(REPO / "lambda" / "gateway") not in sys.path:
        sys.path.append(str(REPO / "lambda" / "gateway"))
    spec = importlib.util.spec_from_file_location("gateway_runtime_config", REPO / "lambda" / "gateway" / "config.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


#: Plausible deploy-time values of the attributes GATEWAY_CONFIG embeds (``{LogicalId.Attribute}`` once flattened).
_DEPLOYED_ATTRIBUTES = {
    "GuardrailArn": "arn:aws:bedrock:us-east-1:123456789012:guardrail/abcd1234efgh",
    "Version": "1",
    "InferenceProfileId": "a1b2c3d4e5f6",
}
_PSEUDO = {"{AWS::Partition}": "aws", "{AWS::Region}": "us-east-1", "{AWS::AccountId}": "123456789012"}


@pytest.mark.parametrize(
    "stack_name",
    ["GatewaySageMakerStack", "GatewayPrivateStack", "ChatStack", "GatewayGovernanceStack", "GatewayKeysStack"],
)
def test_runtime_accepts_the_synthesized_config(synthesis: Synthesis, stack_name: str) -> None:
    """The contract end to end: what the construct writes, the function's parser reads (tokens resolved
    to plausible deploy-time values)."""
    import re

    runtime = _runtime_config_module()
    text = json.dumps(_gateway_config(synthesis.templates[stack_name]))
    text = text.replace(f"<import:{variants.SHARED_ENDPOINT_NAME_EXPORT}>", "lora-fleet-endpoint")
    text = text.replace(f"<import:{variants.SHARED_KNOWLEDGE_BASE_EXPORT}>", "KLMNOPQRST")
    for pseudo, value in _PSEUDO.items():
        text = text.replace(pseudo, value)
    text = re.sub(r"\{[A-Za-z0-9]+\.([A-Za-z]+)\}", lambda m: _DEPLOYED_ATTRIBUTES[m.group(1)], text)
    parsed = runtime.parse_config(json.loads(text))
    assert [m.alias for m in parsed.models] == [m["alias"] for m in json.loads(text)["models"]]


def test_mixed_backends_keep_throttle_alarm_meaningful(synthesis: Synthesis) -> None:
    alarms = [
        a["Properties"]
        for a in resources(synthesis.templates["GatewaySageMakerStack"], "AWS::CloudWatch::Alarm").values()
    ]
    throttles = next(a for a in alarms if "throttled the gateway's calls" in a["AlarmDescription"])
    assert "SageMaker" in throttles["AlarmDescription"]
    expr = next(m for m in throttles["Metrics"] if "Expression" in m)
    assert expr["Expression"] == "SUM([m0,m1,m2,m3])"
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in throttles["Metrics"] if "MetricStat" in m}
    aliases = {
        d["Value"]
        for m in throttles["Metrics"]
        if "MetricStat" in m
        for d in m["MetricStat"]["Metric"]["Dimensions"]
        if d["Name"] == "ModelAlias"
    }
    assert names == {"Throttles"} and aliases == {"haiku-global", "rag", "adapter-a", "adapter-b"}


@pytest.fixture(scope="module")
def private(synthesis: Synthesis) -> dict[str, Any]:
    return synthesis.templates["GatewayPrivateStack"]


def _logical_id(template: dict[str, Any], rtype: str, contains: str) -> str:
    found = [k for k, v in template["Resources"].items() if v["Type"] == rtype and contains in k]
    assert len(found) == 1, f"expected one {rtype} like {contains}, found {found}"
    return found[0]


def _endpoint_service(endpoint: dict[str, Any]) -> str:
    """``com.amazonaws.<region>.sagemaker.runtime`` -> ``sagemaker.runtime``."""
    name = _flatten(endpoint["Properties"]["ServiceName"])
    assert name.startswith("com.amazonaws.{AWS::Region}."), name
    return name.split("{AWS::Region}.", 1)[1]


def test_private_api_accepts_only_its_vpc_endpoint(private: dict[str, Any]) -> None:
    api = one(private, "AWS::ApiGateway::RestApi")
    vpce = _logical_id(private, "AWS::EC2::VPCEndpoint", "ExecuteApiEndpoint")
    assert api["EndpointConfiguration"] == {"Types": ["PRIVATE"], "VpcEndpointIds": [{"Ref": vpce}]}
    statements = {s["Sid"]: s for s in api["Policy"]["Statement"]}
    assert set(statements) == {"InvokeThroughVpcEndpoint", "HealthCheckThroughVpcEndpoint", "DenyOutsideVpcEndpoint"}
    for s in statements.values():
        assert s["Action"] == "execute-api:Invoke"
    allow, health, deny = (
        statements[k] for k in ("InvokeThroughVpcEndpoint", "HealthCheckThroughVpcEndpoint", "DenyOutsideVpcEndpoint")
    )
    # IAM auth: the Allow names this account, so callers still need grant_invoke (identity policy).
    assert (allow["Effect"], allow["Resource"]) == ("Allow", "execute-api:/*")
    assert _flatten(allow["Principal"]["AWS"]) == "arn:{AWS::Partition}:iam::{AWS::AccountId}:root"
    assert allow["Condition"] == {"StringEquals": {"aws:SourceVpce": {"Ref": vpce}}}
    # The unauthenticated health check, also only through the endpoint.
    assert (health["Effect"], health["Principal"], health["Resource"]) == (
        "Allow",
        {"AWS": "*"},
        "execute-api:/prod/GET/health",
    )
    assert health["Condition"] == allow["Condition"]
    # Everything not through our endpoint is denied, whoever asks.
    assert (deny["Effect"], deny["Principal"], deny["Resource"]) == ("Deny", {"AWS": "*"}, "execute-api:/*")
    assert deny["Condition"] == {"StringNotEquals": {"aws:SourceVpce": {"Ref": vpce}}}
    # IAM auth is kept; WAF stays associated with the private stage; streaming is unchanged.
    methods = [m["Properties"] for m in resources(private, "AWS::ApiGateway::Method").values()]
    assert {m["AuthorizationType"] for m in methods if m["HttpMethod"] == "POST"} == {"AWS_IAM"}
    post = next(m for m in methods if m["HttpMethod"] == "POST")
    assert post["Integration"]["ResponseTransferMode"] == "STREAM"
    Template.from_json(private).resource_count_is("AWS::WAFv2::WebACLAssociation", 1)


def test_private_vpc_endpoints_and_security_groups(private: dict[str, Any]) -> None:
    endpoints = {_endpoint_service(e): e["Properties"] for e in resources(private, "AWS::EC2::VPCEndpoint").values()}
    # execute-api for clients; only the runtime endpoints this allowlist needs (no bedrock-runtime: no Bedrock alias).
    assert set(endpoints) == {"execute-api", "sagemaker.runtime", "bedrock-agent-runtime"}
    isolated = sorted(k for k, v in private["Resources"].items() if v["Type"] == "AWS::EC2::Subnet")
    for props in endpoints.values():
        assert props["VpcEndpointType"] == "Interface" and props["PrivateDnsEnabled"] is True
        assert sorted(s["Ref"] for s in props["SubnetIds"]) == isolated
    groups = resources(private, "AWS::EC2::SecurityGroup")
    fn_sg = _logical_id(private, "AWS::EC2::SecurityGroup", "FunctionSecurityGroup")
    endpoints_sg = _logical_id(private, "AWS::EC2::SecurityGroup", "RuntimeEndpointsSecurityGroup")
    api_sg = _logical_id(private, "AWS::EC2::SecurityGroup", "ExecuteApiEndpointSecurityGroup")
    vpc_cidr = {"Fn::GetAtt": [_logical_id(private, "AWS::EC2::VPC", "Vpc"), "CidrBlock"]}
    # The function: no ingress, egress HTTPS to the VPC only (an inline rule, so no default allow-all egress).
    assert "SecurityGroupIngress" not in groups[fn_sg]["Properties"]
    assert groups[fn_sg]["Properties"]["SecurityGroupEgress"] == [
        {
            "CidrIp": vpc_cidr,
            "Description": "HTTPS to the gateway's VPC endpoints",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    # The runtime endpoints admit HTTPS from the function's group only.
    ingress = [r["Properties"] for r in resources(private, "AWS::EC2::SecurityGroupIngress").values()]
    assert [(r["GroupId"], r["SourceSecurityGroupId"], r["FromPort"], r["ToPort"]) for r in ingress] == [
        ({"Fn::GetAtt": [endpoints_sg, "GroupId"]}, {"Fn::GetAtt": [fn_sg, "GroupId"]}, 443, 443)
    ]
    assert endpoints["sagemaker.runtime"]["SecurityGroupIds"] == [{"Fn::GetAtt": [endpoints_sg, "GroupId"]}]
    # The execute-api endpoint admits HTTPS from the VPC's clients.
    assert endpoints["execute-api"]["SecurityGroupIds"] == [{"Fn::GetAtt": [api_sg, "GroupId"]}]
    assert [
        (r["CidrIp"], r["FromPort"], r["ToPort"]) for r in groups[api_sg]["Properties"]["SecurityGroupIngress"]
    ] == [(vpc_cidr, 443, 443)]
    assert not resources(private, "AWS::EC2::SecurityGroupEgress")


def test_private_function_runs_in_the_isolated_subnets(private: dict[str, Any]) -> None:
    fn = _gateway_function(private)
    fn_sg = _logical_id(private, "AWS::EC2::SecurityGroup", "FunctionSecurityGroup")
    isolated = sorted(k for k, v in private["Resources"].items() if v["Type"] == "AWS::EC2::Subnet")
    assert fn["VpcConfig"]["SecurityGroupIds"] == [{"Fn::GetAtt": [fn_sg, "GroupId"]}]
    assert sorted(s["Ref"] for s in fn["VpcConfig"]["SubnetIds"]) == isolated
    # Network-interface permissions come from our managed policy, not an AWS managed one or an inline policy.
    role = next(
        r["Properties"]
        for r in resources(private, "AWS::IAM::Role").values()
        if r["Properties"].get("Description", "").startswith("Bedrock gateway function")
    )
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    by_sid = _statements_by_sid(private)
    assert _as_list(by_sid["CreateVpcNetworkInterfaces"]["Action"]) == ["ec2:CreateNetworkInterface"]
    assert _resource_texts(by_sid["CreateVpcNetworkInterfaces"]) == sorted(
        [_ARN % ("ec2", "network-interface/*"), _ARN % ("ec2", f"security-group/{{{fn_sg}.GroupId}}")]
        + [_ARN % ("ec2", f"subnet/{{{subnet}}}") for subnet in isolated]
    )
    assert sorted(_as_list(by_sid["ManageVpcNetworkInterfaces"]["Action"])) == [
        "ec2:AssignPrivateIpAddresses",
        "ec2:DeleteNetworkInterface",
        "ec2:UnassignPrivateIpAddresses",
    ]
    assert _resource_texts(by_sid["ManageVpcNetworkInterfaces"]) == [_ARN % ("ec2", "network-interface/*")]


def test_private_sagemaker_only_gateway_has_no_bedrock_model_statements(private: dict[str, Any]) -> None:
    by_sid = _statements_by_sid(private)
    bedrock = {sid for sid, s in by_sid.items() if any(a.startswith("bedrock:") for a in _as_list(s["Action"]))}
    assert bedrock == {"RetrieveFromKnowledgeBases"}  # retrieval only; no InvokeModel* at all
    # The knowledge base ID is a token (imported): the ARN embeds it, the config carries it.
    assert _resource_texts(by_sid["RetrieveFromKnowledgeBases"]) == [
        _ARN % ("bedrock", f"knowledge-base/<import:{variants.SHARED_KNOWLEDGE_BASE_EXPORT}>")
    ]
    assert _resource_texts(by_sid["InvokeSageMakerEndpoints"]) == [
        _ARN % ("sagemaker", f"endpoint/{variants.PRIVATE_ENDPOINT_NAME}")
    ]
    assert "InvokeSageMakerInferenceComponents" not in by_sid
    (model,) = _gateway_config(private)["models"]
    assert model["retrieval"] == {
        "knowledgeBaseId": f"<import:{variants.SHARED_KNOWLEDGE_BASE_EXPORT}>",
        "numberOfResults": 5,
    }
    assert model["target"] == {"type": "sagemaker", "endpointName": variants.PRIVATE_ENDPOINT_NAME}


# --------------------------------------------------------------------------------------------------
# Unit-level variations (a stack each, synthesized here without the nag plugins)


def _unit_template(**kwargs: Any) -> dict[str, Any]:
    stack = cdk.Stack(cdk.App(), "Unit")
    if kwargs.pop("with_vpc", False):
        kwargs["vpc"] = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    vpc = kwargs.pop("vpc", None)
    endpoint_kwargs = kwargs.pop("private", None)
    if endpoint_kwargs is not None:
        if endpoint_kwargs.pop("existing_vpc_endpoint", False):
            endpoint_kwargs["vpc_endpoint"] = ec2.InterfaceVpcEndpoint.from_interface_vpc_endpoint_attributes(
                stack, "Existing", vpc_endpoint_id="vpce-0123456789abcdef0", port=443
            )
        kwargs["endpoint"] = GatewayEndpoint.private(vpc=vpc, **endpoint_kwargs)
    BedrockGatewayApi(stack, "Gw", **kwargs)
    return Template.from_stack(stack).to_json()


_SAGEMAKER_ONLY = [SageMakerModelAlias(alias="llm", endpoint_name="my-llm")]


def test_no_bedrock_statements_without_bedrock_aliases() -> None:
    template = _unit_template(models=_SAGEMAKER_ONLY, auth=GatewayAuth.iam())
    actions = {a for s in _gateway_policy_statements(template) for a in _as_list(s["Action"])}
    assert not {a for a in actions if a.startswith("bedrock:")}
    assert {"sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"} <= actions
    fn = _gateway_function(template)
    assert "VpcConfig" not in fn  # REGIONAL: the function stays outside any VPC
    assert one(template, "AWS::ApiGateway::RestApi")["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    throttles = next(
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if "throttled" in a["Properties"]["AlarmDescription"] and "function" not in a["Properties"]["AlarmDescription"]
    )
    assert "SageMaker" in throttles["AlarmDescription"]


def test_private_with_existing_endpoint_and_nat_creates_no_endpoints() -> None:
    template = _unit_template(
        models=_SAGEMAKER_ONLY,
        auth=GatewayAuth.cognito(),
        with_vpc=True,
        private={"existing_vpc_endpoint": True, "add_runtime_vpc_endpoints": False},
    )
    assert not resources(template, "AWS::EC2::VPCEndpoint")
    api = one(template, "AWS::ApiGateway::RestApi")
    assert api["EndpointConfiguration"] == {"Types": ["PRIVATE"], "VpcEndpointIds": ["vpce-0123456789abcdef0"]}
    statements = {s["Sid"]: s for s in api["Policy"]["Statement"]}
    # Cognito: callers have no AWS identity, so the Allow is for anyone (through the endpoint); the
    # authorizer still checks the token. The health check needs no statement of its own.
    assert set(statements) == {"InvokeThroughVpcEndpoint", "DenyOutsideVpcEndpoint"}
    assert statements["InvokeThroughVpcEndpoint"]["Principal"] == {"AWS": "*"}
    assert statements["DenyOutsideVpcEndpoint"]["Condition"] == {
        "StringNotEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}
    }
    # Private subnets with egress are preferred; without our endpoints the function may send HTTPS anywhere (NAT).
    fn = _gateway_function(template)
    private_subnets = sorted(
        k
        for k in template["Resources"]
        if "PrivateSubnet" in k and template["Resources"][k]["Type"] == "AWS::EC2::Subnet"
    )
    assert sorted(s["Ref"] for s in fn["VpcConfig"]["SubnetIds"]) == private_subnets
    fn_sg = resources(template, "AWS::EC2::SecurityGroup")
    (group,) = fn_sg.values()
    assert group["Properties"]["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to AWS APIs through the VPC's NAT or endpoints",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]


def test_alarms_without_a_topic_have_no_actions() -> None:
    template = _unit_template(models=_SAGEMAKER_ONLY, auth=GatewayAuth.iam())
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 5
    for alarm in alarms.values():
        assert "AlarmActions" not in alarm["Properties"] and "OKActions" not in alarm["Properties"]


def test_private_subnet_filters_are_honoured() -> None:
    # Convention 1 / review G §0.1: a hand-copied selection once dropped subnet_filters, so a one-subnet
    # selection synthesized every private subnet. The gateway resolves vpc_subnets through _vpc.select_subnets.
    stack = cdk.Stack(cdk.App(), "Unit")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    one_subnet = vpc.private_subnets[0]
    BedrockGatewayApi(
        stack,
        "Gw",
        models=_SAGEMAKER_ONLY,
        auth=GatewayAuth.iam(),
        endpoint=GatewayEndpoint.private(
            vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnet_filters=[ec2.SubnetFilter.by_ids([one_subnet.subnet_id])])
        ),
    )
    template = Template.from_stack(stack).to_json()
    subnet = stack.resolve(one_subnet.subnet_id)
    assert _gateway_function(template)["VpcConfig"]["SubnetIds"] == [subnet]
    for endpoint in resources(template, "AWS::EC2::VPCEndpoint").values():
        assert endpoint["Properties"]["SubnetIds"] == [subnet]
    create = next(s for s in _gateway_policy_statements(template) if s["Sid"] == "CreateVpcNetworkInterfaces")
    subnets = [r for r in _as_list(create["Resource"]) if ":subnet/" in cfn_text(r)]
    assert [cfn_text(r) for r in subnets] == [
        cfn_text(stack.resolve(stack.format_arn(service="ec2", resource="subnet", resource_name=one_subnet.subnet_id)))
    ]


def test_private_bedrock_gateway_gets_the_bedrock_runtime_endpoint() -> None:
    template = _unit_template(
        models=[BedrockModelAlias(alias="fast", model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0")],
        auth=GatewayAuth.iam(),
        with_vpc=True,
        private={},
    )
    services = sorted(_endpoint_service(e) for e in resources(template, "AWS::EC2::VPCEndpoint").values())
    assert services == ["bedrock-runtime", "execute-api"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------------------------------
# Documentation of the public surface (convention 11)


def _class_field_docs(module: Any, name: str) -> dict[str, tuple[bool, str | None]]:
    """``field -> (has a default, its docstring)`` of a dataclass or enum, read from its source."""
    import ast
    import inspect

    (node,) = [n for n in ast.parse(inspect.getsource(module)).body if isinstance(n, ast.ClassDef) and n.name == name]
    out: dict[str, tuple[bool, str | None]] = {}
    for stmt, after in zip(node.body, [*node.body[1:], None], strict=True):
        doc = after.value.value if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) else None
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            out[stmt.target.id] = (stmt.value is not None, doc)
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            out[stmt.targets[0].id] = (False, doc)
    return out


@pytest.mark.parametrize(
    "name",
    [
        "GatewayAuthMode",
        "GatewayAuth",
        "GatewayEndpointType",
        "GatewayEndpoint",
        "BedrockModelAlias",
        "SageMakerModelAlias",
        "KnowledgeBaseRetrieval",
        "GatewayLimits",
        "GatewayAlarmOptions",
        "ContentFilterType",
        "FilterStrength",
        "PiiAction",
        "GuardrailTrace",
        "StreamProcessingMode",
        "ContentFilter",
        "DeniedTopic",
        "PiiEntity",
        "GuardrailPolicy",
        "GatewayGuardrail",
        "ApplicationInferenceProfile",
        "SelectiveGuarding",
        "GatewayGovernance",
        "Budget",
        "BudgetPeriod",
        "TeamPolicy",
        "TokenPrice",
    ],
)
def test_every_field_and_enum_member_is_documented_with_its_default(name: str) -> None:
    import importlib

    import cdk_llm_serving.bedrock_gateway as package

    cls = getattr(package, name)
    fields = _class_field_docs(importlib.import_module(cls.__module__), name)
    assert fields
    for field, (has_default, doc) in fields.items():
        assert doc, f"{name}.{field} has no docstring"
        if has_default:
            assert "Default:" in doc, f"{name}.{field} does not state its default"


@pytest.mark.parametrize(
    "function",
    [
        BedrockGatewayApi.__init__,
        GatewayEndpoint.private,
        GatewayAuth.cognito,
        SageMakerModelAlias.for_endpoint,
        GatewayGuardrail.create,
        GatewayGuardrail.existing,
        AccountGuardrailEnforcement.__init__,
    ],
)
def test_every_optional_prop_states_its_default(function: Any) -> None:
    import inspect

    doc = inspect.getdoc(function) or ""
    params = inspect.signature(function).parameters
    for name, param in params.items():
        if name in ("self", "scope", "construct_id"):
            continue
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        entry = doc.split(f":param {name}:", 1)
        assert len(entry) == 2, f"{function.__qualname__}: no :param {name}:"
        text = entry[1].split(":param ", 1)[0]
        if param.default is not inspect.Parameter.empty:
            assert "Default:" in text, f"{function.__qualname__}: :param {name}: does not state its default"
