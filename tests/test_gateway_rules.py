"""The gateway's upstream rules (bedrock_gateway/rules.py, knowledge_base/rules.py): a negative case for
each, with its source, the valid side, and the behaviour that fixed each deploy-time defect of review H."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template

from cdk_llm_serving import (
    BedrockGatewayApi,
    BedrockModelAlias,
    GatewayAlarmOptions,
    GatewayAuth,
    PropsValidationError,
)
from cdk_llm_serving._retained import RetainedName
from cdk_llm_serving.bedrock_gateway import rules
from cdk_llm_serving.bedrock_gateway._waf import WAF_MANAGED_GROUPS
from cdk_llm_serving.bedrock_gateway.catalogue import catalogue
from cdk_llm_serving.knowledge_base.rules import RULES as KB_RULES
from harness import expect_rule, flat_statements, one, resources
from stacks import ChatSettings

HAIKU_US = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
NOVA_LITE_US = "us.amazon.nova-lite-v1:0"


def _gateway(models: list[BedrockModelAlias], *, region: str | None = None, **kwargs: Any) -> BedrockGatewayApi:
    env = cdk.Environment(account="123456789012", region=region) if region else None
    return BedrockGatewayApi(cdk.Stack(cdk.App(), "S", env=env), "Gw", models=models, **kwargs)


def _template(gw: BedrockGatewayApi) -> dict[str, Any]:
    return Template.from_stack(cdk.Stack.of(gw)).to_json()


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = [
        r["Properties"]
        for r in resources(template, "AWS::IAM::ManagedPolicy").values()
        if "allowlist" in r["Properties"]["Description"]
    ]
    return flat_statements(policy["PolicyDocument"]["Statement"])


# --------------------------------------------------------------------------------------------------
# Retained names (review H §1)


def test_retained_name_rules_reject_fixed_names() -> None:
    # CloudFormation 'DeletionPolicy attribute' + CreateLogGroup ResourceAlreadyExistsException: the group a deleted
    # stack retained keeps its name, so a literal name makes the next create of the stack fail.
    fixed = RetainedName("S/Gw/WafLogs", "LogGroupName", "aws-waf-logs-SGw1234ABCD")
    expect_rule("GATEWAY.RETAINED_NAME_UNIQUE", rules.problems(fixed))
    expect_rule("KB.RETAINED_NAME_UNIQUE", KB_RULES.problems(fixed))
    # Valid: a name ending with part of AWS::StackId, or holding a generated resource ID.
    stack = cdk.Stack(cdk.App(), "S")
    from cdk_llm_serving._retained import stack_id_suffix

    unique = RetainedName("S/Gw/WafLogs", "LogGroupName", stack.resolve(f"aws-waf-logs-x-{stack_id_suffix()}"))
    assert rules.problems(unique) == [] and KB_RULES.problems(unique) == []
    assert rules.problems(RetainedName("S/Gw/Logs", "LogGroupName", None)) == []


def test_waf_log_destination_must_start_with_the_waf_prefix() -> None:
    # WAF API Reference 'LoggingConfiguration': the destination name must start with aws-waf-logs-.
    expect_rule("GATEWAY.WAF_LOG_GROUP_PREFIX", rules.problems(rules.WafLogDestination("/aws/waf/gateway")))
    expect_rule(
        "GATEWAY.WAF_LOG_GROUP_PREFIX",
        rules.problems(rules.WafLogDestination({"Fn::Join": ["", ["waf-", {"Ref": "AWS::StackId"}]]})),
    )
    ok = {"Fn::Join": ["", ["aws-waf-logs-S-", {"Fn::Select": [4, {"Ref": "AWS::StackId"}]}]]}
    assert rules.problems(rules.WafLogDestination(ok)) == []


# --------------------------------------------------------------------------------------------------
# Execution log group (review H §8)


def test_execution_log_group_must_have_api_gateways_name() -> None:
    # API Gateway 'Execution logging for REST APIs': API-Gateway-Execution-Logs_{rest-api-id}/{stage_name}.
    wrong = rules.ExecutionLogGroup({"Fn::Join": ["", ["/aws/apigateway/", {"Ref": "Api"}]]}, "Api", "prod")
    expect_rule("GATEWAY.EXECUTION_LOG_GROUP_NAME", rules.problems(wrong))
    other_stage = rules.ExecutionLogGroup(
        {"Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": "Api"}, "/prod"]]}, "Api", "v1"
    )
    expect_rule("GATEWAY.EXECUTION_LOG_GROUP_NAME", rules.problems(other_stage))


def test_execution_log_group_is_created_encrypted_with_retention_before_the_stage() -> None:
    template = _template(_gateway([BedrockModelAlias(alias="a", model_id=HAIKU_US)], stage_name="v1"))
    api = next(iter(resources(template, "AWS::ApiGateway::RestApi")))
    groups = {k: v for k, v in resources(template, "AWS::Logs::LogGroup").items() if "ExecutionLogs" in k}
    ((logical_id, group),) = groups.items()
    assert group["Properties"]["LogGroupName"] == {
        "Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": api}, "/v1"]]
    }
    assert "KmsKeyId" in group["Properties"] and group["Properties"]["RetentionInDays"] == 30
    assert group["DeletionPolicy"] == "Retain"
    (stage,) = resources(template, "AWS::ApiGateway::Stage").values()
    assert logical_id in stage["DependsOn"]  # exists before API Gateway could create its own


# --------------------------------------------------------------------------------------------------
# WAF managed rule overrides (review H §4)


def test_waf_overrides_must_name_rules_of_the_group() -> None:
    # WAF 'Baseline rule groups': an override naming no rule of the group is ignored, the rule keeps blocking.
    expect_rule(
        "GATEWAY.WAF_RULE_OVERRIDES",
        rules.problems(rules.ManagedRuleOverrides("AWSManagedRulesCommonRuleSet", ("CrossSiteScripting_Body",))),
    )
    expect_rule(
        "GATEWAY.WAF_RULE_OVERRIDES",
        rules.problems(rules.ManagedRuleOverrides("AWSManagedRulesCommonRuleSets", ("SizeRestrictions_BODY",))),
    )
    for group, overrides in WAF_MANAGED_GROUPS:  # the gateway's own overrides are valid
        assert rules.problems(rules.ManagedRuleOverrides(group, overrides)) == []


def test_body_inspecting_managed_rules_count_instead_of_block() -> None:
    template = _template(_gateway([BedrockModelAlias(alias="a", model_id=HAIKU_US)]))
    acl = one(template, "AWS::WAFv2::WebACL")
    overrides = {
        r["Name"]: sorted(o["Name"] for o in r["Statement"]["ManagedRuleGroupStatement"].get("RuleActionOverrides", []))
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert overrides == {
        "AWSManagedRulesAmazonIpReputationList": [],
        "AWSManagedRulesCommonRuleSet": sorted(
            [
                "SizeRestrictions_BODY",
                "CrossSiteScripting_BODY",
                "GenericLFI_BODY",
                "GenericRFI_BODY",
                "EC2MetaDataSSRF_BODY",
            ]
        ),
        "AWSManagedRulesKnownBadInputsRuleSet": ["JavaDeserializationRCE_BODY", "Log4JRCE_BODY"],
    }
    # Every *_BODY rule of the catalogued groups the ACL uses counts; nothing else is relaxed.
    catalogued = rules.waf_managed_rules()["groups"]
    for group, names in overrides.items():
        assert names == sorted(n for n in catalogued[group] if n.endswith("_BODY"))
    for r in acl["Rules"]:
        if "ManagedRuleGroupStatement" in r["Statement"]:
            assert all(
                o["ActionToUse"] == {"Count": {}}
                for o in r["Statement"]["ManagedRuleGroupStatement"].get("RuleActionOverrides", [])
            )


# --------------------------------------------------------------------------------------------------
# MISSING_AUTHENTICATION_TOKEN (review H §5)


def test_iam_mode_must_not_answer_unsigned_requests_with_not_found() -> None:
    # API Gateway 'Gateway response types' + Knowledge Center: unsigned calls to AWS_IAM methods get
    # MISSING_AUTHENTICATION_TOKEN, the response type of unknown routes.
    expect_rule(
        "GATEWAY.IAM_MISSING_TOKEN_RESPONSE", rules.problems(rules.UnsignedRequestResponse(True, "404", "not_found"))
    )
    assert rules.problems(rules.UnsignedRequestResponse(False, "404", "not_found")) == []  # Cognito/none: unknown route
    assert rules.problems(rules.UnsignedRequestResponse(True, "403", "missing_authentication_token")) == []


@pytest.mark.parametrize(
    ("auth", "status", "code"),
    [(GatewayAuth.iam(), "403", "missing_authentication_token"), (GatewayAuth.cognito(), "404", "not_found")],
)
def test_missing_token_response_per_auth_mode(auth: GatewayAuth, status: str, code: str) -> None:
    template = _template(_gateway([BedrockModelAlias(alias="a", model_id=HAIKU_US)], auth=auth))
    (resp,) = [
        r["Properties"]
        for r in resources(template, "AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "MISSING_AUTHENTICATION_TOKEN"
    ]
    assert resp["StatusCode"] == status
    body = json.loads(resp["ResponseTemplates"]["application/json"].replace("$context.error.messageString", '"m"'))
    assert body["error"]["code"] == code and set(body["error"]) == {"message", "type", "param", "code"}
    if status == "403":
        assert "SigV4" in body["error"]["message"] and "do not exist" in body["error"]["message"]


# --------------------------------------------------------------------------------------------------
# Bedrock model IDs (review H §3, E row 1)


@pytest.mark.parametrize(
    ("model_id", "region"),
    [
        ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", "us-east-1"),  # E G04
        (HAIKU_US, "eu-west-1"),  # E G05, ChatStack's defaults deployed to Europe
        ("apac.amazon.nova-lite-v1:0", "us-east-1"),  # E G06
        ("jp.anthropic.claude-haiku-4-5-20251001-v1:0", "ap-southeast-1"),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "us-gov-west-1"),
    ],
)
def test_profile_of_another_geography_fails_at_synth(model_id: str, region: str) -> None:
    # Bedrock 'Geographic cross-Region inference': a geographic profile serves only source Regions of its
    # geography; from elsewhere every call is ValidationException "The provided model identifier is invalid".
    message = expect_rule(
        "GATEWAY.BEDROCK_PROFILE_GEOGRAPHY",
        lambda: _gateway([BedrockModelAlias(alias="a", model_id=model_id)], region=region),
    )
    assert region in message and model_id in message


@pytest.mark.parametrize(
    ("model_id", "region"),
    [
        (HAIKU_US, "us-west-2"),
        (HAIKU_US, "ca-central-1"),  # a documented source Region of the us. Claude 4.5 profiles
        ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", "eu-central-2"),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "ap-southeast-7"),
        ("au.anthropic.claude-haiku-4-5-20251001-v1:0", "ap-southeast-2"),
        ("amazon.nova-micro-v1:0", "eu-west-3"),  # no prefix: not a profile, no geography
        (HAIKU_US, "il-central-1"),  # a Region of no geography is never reported as wrong
        (HAIKU_US, None),  # environment-agnostic: nothing to compare
    ],
)
def test_profiles_fitting_the_region_pass(model_id: str, region: str | None) -> None:
    _gateway([BedrockModelAlias(alias="a", model_id=model_id)], region=region)


@pytest.mark.parametrize(
    "model_id",
    [
        "us.anthropc.claude-haiku-4-5-20251001-v1:0",  # E G01
        "us.anthropic.claude-haiku-4.5-20251001-v1:0",  # E G02
        "anthropic.claude-5-mega",  # E G03
        "apac.anthropic.claude-haiku-4-5-20251001-v1:0",  # the model card lists no apac. profile
    ],
)
def test_ids_the_catalogue_does_not_know_warn(model_id: str) -> None:
    gw = _gateway([BedrockModelAlias(alias="a", model_id=model_id)])
    Annotations.from_stack(cdk.Stack.of(gw)).has_warning(
        "/S/Gw", Match.string_like_regexp(f"not in the library's Bedrock catalogue .*{model_id.split('.')[1][:8]}")
    )


def test_catalogued_ids_do_not_warn() -> None:
    gw = _gateway(
        [
            BedrockModelAlias(alias="a", model_id=HAIKU_US),
            BedrockModelAlias(alias="b", model_id="global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            BedrockModelAlias(alias="c", model_id="amazon.titan-text-express-v1"),
            BedrockModelAlias(alias="d", model_id="us.meta.llama3-3-70b-instruct-v1:0"),
        ],
        region="us-east-1",
    )
    Annotations.from_stack(cdk.Stack.of(gw)).has_no_warning("*", Match.any_value())


def test_region_outside_a_catalogued_profiles_sources_warns() -> None:
    # ca-west-1 is in the US geography's Region set, but the Haiku 4.5 model card lists only ca-central-1 (and the
    # US Regions) as sources of its us. profile: a warning, not an error (source Regions are added over time).
    gw = _gateway([BedrockModelAlias(alias="a", model_id=HAIKU_US)], region="ca-west-1")
    Annotations.from_stack(cdk.Stack.of(gw)).has_warning("/S/Gw", Match.string_like_regexp("source Region"))


def test_catalogue_is_dated_and_covers_the_defaults() -> None:
    cat = catalogue()
    assert cat.as_of == "2026-12-01"
    from stacks import DEFAULT_CHAT_MODELS

    for m in DEFAULT_CHAT_MODELS:
        assert cat.is_known_model(m.foundation_model_id), m.model_id
    assert not any(fm.endswith(("k", ":512")) and fm.count(":") > 1 for fm in cat.raw["foundation_models"])


# --------------------------------------------------------------------------------------------------
# AWS Marketplace first use (review H §2)


def test_third_party_models_need_marketplace_grants() -> None:
    # Bedrock 'Request access to models': the first call of a Marketplace model subscribes the account with the
    # caller's aws-marketplace:Subscribe / ViewSubscriptions permissions; without them AccessDeniedException.
    missing = rules.MarketplaceGrants(
        foundation_models=(("fast", "anthropic.claude-haiku-4-5-20251001-v1:0"),),
        enabled=True,
        view_subscriptions=False,
        subscribe_product_ids=frozenset(),
    )
    message = expect_rule("GATEWAY.BEDROCK_MARKETPLACE_FIRST_USE", rules.problems(missing))
    assert "fast" in message
    first_party = rules.MarketplaceGrants((("lite", "amazon.nova-lite-v1:0"),), True, False, frozenset())
    assert rules.problems(first_party) == []  # Amazon models are not sold through Marketplace
    opted_out = rules.MarketplaceGrants(missing.foundation_models, False, False, frozenset())
    assert rules.problems(opted_out) == []


def test_marketplace_grants_are_scoped_to_the_allowlisted_products() -> None:
    template = _template(
        _gateway(
            [
                BedrockModelAlias(alias="fast", model_id=HAIKU_US),
                BedrockModelAlias(alias="smart", model_id="global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
                BedrockModelAlias(alias="lite", model_id=NOVA_LITE_US),
            ]
        )
    )
    market = [s for s in _statements(template) if s["Action"].startswith("aws-marketplace:")]
    by_action = {s["Action"]: s for s in market}
    assert set(by_action) == {"aws-marketplace:Subscribe", "aws-marketplace:ViewSubscriptions"}  # never Unsubscribe
    assert all(s["Resource"] == "*" for s in market)  # Marketplace supports no resource ARNs
    assert by_action["aws-marketplace:Subscribe"]["Condition"] == {
        "ForAnyValue:StringEquals": {"aws-marketplace:ProductId": ["prod-mxcfnwvpd6kb4", "prod-xdkflymybwmvi"]}
    }
    assert "Condition" not in by_action["aws-marketplace:ViewSubscriptions"]


def test_first_party_models_or_opt_out_get_no_marketplace_grants() -> None:
    for gw in (
        _gateway([BedrockModelAlias(alias="lite", model_id=NOVA_LITE_US)]),
        _gateway([BedrockModelAlias(alias="fast", model_id=HAIKU_US)], marketplace_subscription=False),
    ):
        assert not [s for s in _statements(_template(gw)) if s["Action"].startswith("aws-marketplace:")]


def test_third_party_model_without_a_catalogued_product_id_warns() -> None:
    gw = _gateway([BedrockModelAlias(alias="cmd", model_id="cohere.command-r-plus-v1:0")])
    Annotations.from_stack(cdk.Stack.of(gw)).has_warning(
        "/S/Gw", Match.string_like_regexp("no AWS Marketplace product ID")
    )
    actions = {s["Action"] for s in _statements(_template(gw))}
    assert "aws-marketplace:ViewSubscriptions" in actions and "aws-marketplace:Subscribe" not in actions


# --------------------------------------------------------------------------------------------------
# Account singleton, API name, Cognito client (review H §6, §7; E rows 17, 19)


def test_account_cloudwatch_role_is_opt_out() -> None:
    default = _template(_gateway([BedrockModelAlias(alias="a", model_id=HAIKU_US)]))
    assert len(resources(default, "AWS::ApiGateway::Account")) == 1
    without = _template(_gateway([BedrockModelAlias(alias="a", model_id=HAIKU_US)], cloud_watch_role=False))
    assert not resources(without, "AWS::ApiGateway::Account")
    assert not [r for r in resources(without, "AWS::IAM::Role") if "CloudWatchRole" in r]
    (stage,) = resources(without, "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["MethodSettings"][0]["LoggingLevel"] == "ERROR"  # still logs, with the account's role


def test_rest_api_has_a_distinct_name() -> None:
    gw = _gateway([BedrockModelAlias(alias="a", model_id=HAIKU_US)])
    assert one(_template(gw), "AWS::ApiGateway::RestApi")["Name"] == "S-Gw-" + cdk.Names.unique_id(gw)[-8:]
    named = _gateway([BedrockModelAlias(alias="a", model_id=HAIKU_US)], api_name="support-chat")
    assert one(_template(named), "AWS::ApiGateway::RestApi")["Name"] == "support-chat"


def test_cognito_client_has_no_oauth_flows() -> None:
    client = one(_template(_gateway([BedrockModelAlias(alias="a", model_id=HAIKU_US)])), "AWS::Cognito::UserPoolClient")
    assert client["AllowedOAuthFlowsUserPoolClient"] is False
    assert "AllowedOAuthFlows" not in client and "CallbackURLs" not in client


def test_model_config_error_alarm() -> None:
    template = _template(
        _gateway([BedrockModelAlias(alias="a", model_id=HAIKU_US), BedrockModelAlias(alias="b", model_id=NOVA_LITE_US)])
    )
    (alarm,) = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if "cannot use a model" in a["Properties"]["AlarmDescription"]
    ]
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert names == {"ModelConfigErrors"}
    with pytest.raises(PropsValidationError, match="alarms.model_config_errors must be at least 1"):
        _gateway([BedrockModelAlias(alias="a", model_id=HAIKU_US)], alarms=GatewayAlarmOptions(model_config_errors=0))


def test_alarm_options_set_the_thresholds_or_switch_the_alarms_off() -> None:
    models = [BedrockModelAlias(alias="a", model_id=HAIKU_US)]
    options = GatewayAlarmOptions(
        server_errors=7, model_throttles=3, model_config_errors=2, time_to_first_token_p90=cdk.Duration.seconds(4)
    )
    gw = _gateway(models, alarms=options)
    alarms = resources(_template(gw), "AWS::CloudWatch::Alarm")
    by_id = {k[:-8]: v["Properties"]["Threshold"] for k, v in alarms.items()}  # logical ID without its hash
    assert len(gw.alarms) == 5 and by_id == {
        "GwServerErrorsAlarm": 7,
        "GwFunctionThrottlesAlarm": 1,  # no option: any throttle of the function
        "GwModelThrottlesAlarm": 3,
        "GwModelConfigErrorsAlarm": 2,
        "GwTimeToFirstTokenAlarm": 4000,
    }
    # enabled=False: no alarm at all (None means the documented default, never "off": convention 3).
    off = _gateway(models, alarms=GatewayAlarmOptions(enabled=False))
    assert off.alarms == [] and resources(_template(off), "AWS::CloudWatch::Alarm") == {}
    assert len(_gateway(models, alarms=None).alarms) == 5


# --------------------------------------------------------------------------------------------------
# ChatStack settings: every problem in one synth (E row 10)


def test_chat_context_reports_every_problem_at_once() -> None:
    with pytest.raises(PropsValidationError) as info:
        ChatSettings.from_context(
            {
                "models": [{"alias": "x y", "model_id": "us.anthropic.claude-haiku-4-5-20251001-v1:0"}],
                "throttling_rate_limit": "20",
                "max_tokens": 100,
                "auth": "IAM",
            }
        )
    text = str(info.value)
    assert "4 problem(s)" in text
    for part in (
        "setting 'throttling_rate_limit' must be float",
        "unknown setting 'max_tokens'",
        "setting 'auth' must be one of cognito, iam, api_keys, none, got 'IAM'",
        "model alias 'x y': alias must match",
    ):
        assert part in text
