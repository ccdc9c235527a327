"""Fine-grained assertions of intent for BedrockGatewayApi as composed in ChatStack and the variants."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from cdk_llm_serving.bedrock_gateway.layers import POWERTOOLS_LAYER_VERSION, WEB_ADAPTER_LAYER_VERSION
from harness import Synthesis, cfn_text
from stacks import DEFAULT_CHAT_MODELS, ChatSettings


def _resources(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def _one(template: dict[str, Any], rtype: str) -> dict[str, Any]:
    found = _resources(template, rtype)
    assert len(found) == 1, f"expected one {rtype}, found {list(found)}"
    return next(iter(found.values()))["Properties"]


_flatten = cfn_text  # CloudFormation strings with {Ref} placeholders


def _gateway_policy_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    policies = [
        r["Properties"]
        for r in _resources(template, "AWS::IAM::ManagedPolicy").values()
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
    # Only the two invoke actions, nothing else of Bedrock (no List*, no wildcard actions).
    for s in bedrock:
        assert sorted(_as_list(s["Action"])) == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    by_sid = {s["Sid"]: s for s in bedrock}
    assert set(by_sid) == {"InvokeInferenceProfiles", "InvokeModelsThroughProfiles"}

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


def test_only_xray_uses_a_wildcard_resource(synthesis: Synthesis) -> None:
    for name, template in synthesis.templates.items():
        if not _resources(template, "AWS::ApiGateway::RestApi"):
            continue  # not a gateway stack (InferentiaStack's wildcards are covered in test_inferentia.py)
        for s in _gateway_policy_statements(template):
            if "*" in _as_list(s["Resource"]):
                assert s["Sid"] == "WriteTraces", f"{name}: wildcard resource in {s['Sid']}"


def test_no_full_access_managed_policies(synthesis: Synthesis) -> None:
    for name, template in synthesis.templates.items():
        assert "FullAccess" not in json.dumps(template), name


def test_direct_foundation_model_is_granted_in_own_region_only(synthesis: Synthesis) -> None:
    statements = _gateway_policy_statements(synthesis.templates["GatewayIamStack"])
    direct = next(s for s in statements if s["Sid"] == "InvokeFoundationModels")
    assert [_flatten(r) for r in _as_list(direct["Resource"])] == [
        "arn:{AWS::Partition}:bedrock:{AWS::Region}::foundation-model/amazon.titan-text-express-v1"
    ]


def test_chat_route_streams_through_lambda(chat: dict[str, Any]) -> None:
    methods = _resources(chat, "AWS::ApiGateway::Method")
    posts = [m["Properties"] for m in methods.values() if m["Properties"]["HttpMethod"] == "POST"]
    assert len(posts) == 1
    integration = posts[0]["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    assert integration["ResponseTransferMode"] == "STREAM"
    assert integration["TimeoutInMillis"] == ChatSettings().generation_timeout_seconds * 1000
    assert "/response-streaming-invocations" in _flatten(integration["Uri"])
    # Body validated against the JSON schema model before the function runs.
    assert set(posts[0]["RequestModels"]) == {"application/json"}
    assert "RequestValidatorId" in posts[0]


def test_routes_and_authorization(chat: dict[str, Any]) -> None:
    template = Template.from_json(chat)
    template.has_resource_properties("AWS::ApiGateway::Authorizer", {"Type": "COGNITO_USER_POOLS"})
    methods = [m["Properties"] for m in _resources(chat, "AWS::ApiGateway::Method").values()]
    auth = {(m["HttpMethod"], m.get("AuthorizationType")) for m in methods}
    assert auth == {("POST", "COGNITO_USER_POOLS"), ("GET", "COGNITO_USER_POOLS"), ("GET", "NONE")}
    health = next(m for m in methods if m.get("AuthorizationType") == "NONE")
    assert health["Integration"]["Type"] == "MOCK"
    paths = {r["Properties"]["PathPart"] for r in _resources(chat, "AWS::ApiGateway::Resource").values()}
    assert paths == {"v1", "chat", "completions", "models", "health"}


def test_regional_endpoint_and_stage_limits(chat: dict[str, Any]) -> None:
    api = _one(chat, "AWS::ApiGateway::RestApi")
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    stage = _one(chat, "AWS::ApiGateway::Stage")
    settings = ChatSettings()
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] == settings.throttling_rate_limit
    assert stage["MethodSettings"][0]["ThrottlingBurstLimit"] == settings.throttling_burst_limit
    assert stage["MethodSettings"][0]["DataTraceEnabled"] is False  # never log bodies
    assert stage["TracingEnabled"] is True
    access_format = json.loads(stage["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "integrationLatency", "user"} <= set(access_format)


def test_function_runs_the_web_adapter_with_the_allowlist(chat: dict[str, Any]) -> None:
    fn = _one(chat, "AWS::Lambda::Function")
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
    config = json.loads(env["GATEWAY_CONFIG"])
    assert [(m["alias"], m["target"]["modelId"], m["maxTokensCap"]) for m in config["models"]] == [
        (m.alias, m.model_id, m.max_tokens_cap) for m in DEFAULT_CHAT_MODELS
    ]
    assert config["logContent"] is False
    assert config["limits"]["maxMessages"] == ChatSettings().max_messages
    layers = [_flatten(layer) for layer in fn["Layers"]]
    assert layers == [
        f"arn:aws:lambda:{{AWS::Region}}:753240598075:layer:LambdaAdapterLayerArm64:{WEB_ADAPTER_LAYER_VERSION}",
        f"arn:aws:lambda:{{AWS::Region}}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:{POWERTOOLS_LAYER_VERSION}",
    ]


def test_role_has_no_inline_policies_and_logs_are_encrypted(chat: dict[str, Any]) -> None:
    assert not _resources(chat, "AWS::IAM::Policy")
    for lg in _resources(chat, "AWS::Logs::LogGroup").values():
        assert "KmsKeyId" in lg["Properties"]
        assert lg["Properties"]["RetentionInDays"] == 30


def test_waf_rate_limits_per_ip_and_tolerates_large_chat_bodies(chat: dict[str, Any]) -> None:
    acl = _one(chat, "AWS::WAFv2::WebACL")
    rules = {r["Name"]: r for r in acl["Rules"]}
    rate = rules["RateLimitPerIp"]
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == ChatSettings().waf_rate_limit_per_ip
    assert rate["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert common["RuleActionOverrides"] == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    logging = _one(chat, "AWS::WAFv2::LoggingConfiguration")
    assert logging["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}]
    Template.from_json(chat).resource_count_is("AWS::WAFv2::WebACLAssociation", 1)


def test_gateway_errors_are_openai_shaped(chat: dict[str, Any]) -> None:
    responses = {r["Properties"]["ResponseType"]: r["Properties"] for r in _resources(chat, "AWS::ApiGateway::GatewayResponse").values()}
    assert {"BAD_REQUEST_BODY", "UNAUTHORIZED", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX", "MISSING_AUTHENTICATION_TOKEN"} <= set(responses)
    for rtype, props in responses.items():
        rendered = props["ResponseTemplates"]["application/json"].replace("$context.error.messageString", '"msg"')
        body = json.loads(rendered)
        assert set(body["error"]) == {"message", "type", "param", "code"}, rtype
    assert responses["THROTTLED"]["StatusCode"] == "429"
    assert responses["THROTTLED"]["ResponseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"


def test_alarms_notify_the_topic(chat: dict[str, Any]) -> None:
    alarms = _resources(chat, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 4
    topic = next(iter(_resources(chat, "AWS::SNS::Topic")))
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
    ttft = next(a["Properties"] for a in alarms.values() if "time to first token" in a["Properties"]["AlarmDescription"])
    assert ttft["Threshold"] == 10000
    expr = next(m for m in ttft["Metrics"] if "Expression" in m)
    assert expr["Expression"] == "MAX([m0,m1,m2])"


def test_outputs_tell_how_to_call(chat: dict[str, Any]) -> None:
    assert {"ApiUrl", "OpenAIBaseUrl", "AuthMode", "UserPoolId", "UserPoolClientId", "AlarmTopicArn"} <= set(chat["Outputs"])


def test_iam_variant_grants_execute_api_on_exact_routes(synthesis: Synthesis) -> None:
    t = synthesis.templates["GatewayIamStack"]
    methods = [m["Properties"] for m in _resources(t, "AWS::ApiGateway::Method").values()]
    assert {m["AuthorizationType"] for m in methods if m["HttpMethod"] == "POST"} == {"AWS_IAM"}
    assert not _resources(t, "AWS::Cognito::UserPool")
    caller_policy = next(
        p["Properties"] for p in _resources(t, "AWS::IAM::Policy").values()
    )
    stmt = caller_policy["PolicyDocument"]["Statement"][0]
    assert stmt["Action"] == "execute-api:Invoke"
    routes = sorted(_flatten(r).split("}/", 2)[-1] for r in stmt["Resource"])
    assert routes == ["GET/v1/models", "POST/v1/chat/completions"]  # no wildcard methods or paths
    fn = _one(t, "AWS::Lambda::Function")
    assert fn["ReservedConcurrentExecutions"] == 20


def test_dev_variant_has_no_auth_and_no_waf(synthesis: Synthesis) -> None:
    t = synthesis.templates["GatewayDevStack"]
    assert not _resources(t, "AWS::WAFv2::WebACL")
    assert {m["Properties"]["AuthorizationType"] for m in _resources(t, "AWS::ApiGateway::Method").values()} == {"NONE"}


def test_existing_pool_is_used_not_created(synthesis: Synthesis) -> None:
    t = synthesis.templates["GatewayExistingPoolStack"]
    assert not _resources(t, "AWS::Cognito::UserPool")
    authorizer = _one(t, "AWS::ApiGateway::Authorizer")
    assert "us-east-1_EXAMPLE1" in _flatten(authorizer["ProviderARNs"][0])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
