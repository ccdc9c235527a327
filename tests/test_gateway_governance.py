"""BedrockGatewayApi governance (construct side): the table, its IAM, API-key auth, grants, validation, rules, and the
contract with the runtime (lambda/gateway/governance.py, budgets.py)."""

from __future__ import annotations

import json
import sys
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from cdk_llm_serving import (
    BedrockGatewayApi,
    BedrockModelAlias,
    Budget,
    GatewayAuth,
    GatewayGovernance,
    PropsValidationError,
    TeamPolicy,
    TokenPrice,
)
from cdk_llm_serving.bedrock_gateway import _governance
from cdk_llm_serving.bedrock_gateway._governance import GovernanceSubject
from cdk_llm_serving.bedrock_gateway.rules import GOVERNANCE, REQUEST_METADATA_MAX_LEN, REQUEST_METADATA_MAX_PAIRS
from harness import REPO, cfn_text, expect_rule, flat_statements, resources
from stacks import ChatSettings

MODEL = BedrockModelAlias(alias="chat", model_id="amazon.nova-micro-v1:0")


def _gateway(**kwargs: Any) -> BedrockGatewayApi:
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="123456789012", region="us-east-1"))
    return BedrockGatewayApi(stack, "Gw", models=[MODEL], **kwargs)


def _template(gw: BedrockGatewayApi) -> dict[str, Any]:
    return Template.from_stack(cdk.Stack.of(gw)).to_json()


def _policy_statements(template: dict[str, Any], description_part: str) -> list[dict[str, Any]]:
    docs = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in [
            *resources(template, "AWS::IAM::ManagedPolicy").values(),
            *resources(template, "AWS::IAM::Policy").values(),
        ]
        if description_part in json.dumps(r["Properties"])
    ]
    return flat_statements([s for doc in docs for s in doc])


def _runtime(module: str) -> Any:
    path = str(REPO / "lambda" / "gateway")
    if path not in sys.path:
        sys.path.append(path)
    return __import__(module)


def test_api_keys_create_the_governance_table_with_kms_pitr_ttl_and_retain() -> None:
    gw = _gateway(auth=GatewayAuth.api_keys())
    template = _template(gw)
    ((lid, table),) = resources(template, "AWS::DynamoDB::Table").items()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEType"] == "KMS"
    assert cfn_text(props["SSESpecification"]["KMSMasterKeyId"]) == cfn_text(
        cdk.Stack.of(gw).resolve(gw.encryption_key.key_arn)
    )
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert gw.governance_table is not None and lid.startswith("GwGovernanceTable")


def test_the_function_may_only_get_and_update_items_of_its_table() -> None:
    gw = _gateway(auth=GatewayAuth.api_keys())
    template = _template(gw)
    statements = _policy_statements(template, "allowlist")
    dynamo = [s for s in statements if any(str(a).startswith("dynamodb:") for a in _list(s["Action"]))]
    assert sorted(a for st in dynamo for a in _list(st["Action"])) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    (table_lid,) = resources(template, "AWS::DynamoDB::Table")
    assert all(st["Resource"] == {"Fn::GetAtt": [table_lid, "Arn"]} for st in dynamo)
    kms = [s for s in statements if any(str(a).startswith("kms:") for a in _list(s["Action"]))]
    assert sorted(a for s in kms for a in _list(s["Action"])) == sorted(_governance.KEY_ACTIONS)
    assert all("*" not in a for s in kms for a in _list(s["Action"]))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_api_key_routes_are_not_authorized_by_api_gateway_and_usage_is_routed() -> None:
    template = _template(_gateway(auth=GatewayAuth.api_keys()))
    assert not resources(template, "AWS::ApiGateway::Authorizer")
    methods = [m["Properties"] for m in resources(template, "AWS::ApiGateway::Method").values()]
    assert {m.get("AuthorizationType") for m in methods} == {"NONE"}
    paths = {r["Properties"]["PathPart"] for r in resources(template, "AWS::ApiGateway::Resource").values()}
    assert "usage" in paths


def test_without_governance_there_is_no_table_route_or_permission() -> None:
    gw = _gateway()
    template = _template(gw)
    assert gw.governance_table is None and gw.usage_method is None
    assert not resources(template, "AWS::DynamoDB::Table")
    assert "governance" not in cfn_text(next(iter(resources(template, "AWS::Lambda::Function").values())))
    with pytest.raises(ValueError, match="needs governance"):
        gw.grant_key_admin(iam.AccountRootPrincipal())


def test_runtime_reads_the_synthesized_governance_and_reservations_outlive_the_function() -> None:
    gw = _gateway(
        auth=GatewayAuth.cognito(),
        generation_timeout=cdk.Duration.minutes(5),
        governance=GatewayGovernance(
            team_budget=Budget(tokens=1000, usd=2.0),
            caller_budget=Budget(tokens=100),
            teams={"research": TeamPolicy(aliases=["chat"])},
            admin_group="gateway-admins",
            prices={"chat": TokenPrice(input_per_million=0.035, output_per_million=0.14)},
            key_cache=cdk.Duration.seconds(30),
        ),
    )
    fn = next(
        f for f in resources(_template(gw), "AWS::Lambda::Function").values() if "GATEWAY_CONFIG" in json.dumps(f)
    )
    text = cfn_text(fn["Properties"]["Environment"]["Variables"]["GATEWAY_CONFIG"])
    config = _runtime("config").parse_config(json.loads(text))
    gov = config.governance
    assert gov.auth == "cognito" and gov.admin_group == "gateway-admins" and gov.key_cache_seconds == 30
    assert gov.reservation_seconds == 300 + _governance.RESERVATION_MARGIN_SECONDS > 300
    assert gov.team_budget.tokens == 1000 and gov.team_budget.usd == 2.0 and gov.caller_budget.tokens == 100
    assert gov.teams["research"].aliases == frozenset({"chat"}) and gov.teams["research"].limit.tokens == 1000
    assert gov.prices == {"chat": (0.035, 0.14)}


def test_runtime_and_construct_agree_on_ttl_attribute_and_request_metadata() -> None:
    assert _runtime("budgets").TTL_ATTRIBUTE == _governance.TTL_ATTRIBUTE
    governance = _runtime("governance")
    assert governance.REQUEST_METADATA_MAX_PAIRS == REQUEST_METADATA_MAX_PAIRS
    assert governance.REQUEST_METADATA_MAX_LEN == REQUEST_METADATA_MAX_LEN
    caller = _runtime("identity").Caller("key", "key:0123456789abcdef", "team-a")
    sent = governance.Governance.request_metadata(None, caller, "chat")  # uses no instance state
    assert tuple(sent) == _governance.REQUEST_METADATA_KEYS


def test_grants_for_admins_and_usage_readers() -> None:
    gw = _gateway(auth=GatewayAuth.api_keys())
    admin = iam.Role(cdk.Stack.of(gw), "Admin", assumed_by=iam.AccountRootPrincipal())
    reader = iam.Role(cdk.Stack.of(gw), "Reader", assumed_by=iam.AccountRootPrincipal())
    assert isinstance(gw.grant_key_admin(admin), iam.Grant)
    gw.grant_usage_read(reader)
    template = _template(gw)

    def actions(role_prefix: str) -> list[str]:
        policies = [
            p["Properties"]
            for p in resources(template, "AWS::IAM::Policy").values()
            if role_prefix in json.dumps(p["Properties"]["Roles"])
        ]
        return sorted(
            a for p in policies for s in flat_statements(p["PolicyDocument"]["Statement"]) for a in _list(s["Action"])
        )

    assert actions("Admin") == sorted([*_governance.ADMIN_TABLE_ACTIONS, *_governance.KEY_ACTIONS])
    assert actions("Reader") == sorted([*_governance.USAGE_TABLE_ACTIONS, *_governance.KEY_ACTIONS])


def test_iam_callers_are_granted_the_usage_route() -> None:
    gw = _gateway(auth=GatewayAuth.iam(), governance=GatewayGovernance())
    caller = iam.Role(cdk.Stack.of(gw), "Caller", assumed_by=iam.AccountRootPrincipal())
    gw.grant_invoke(caller)
    assert "/GET/v1/usage" in json.dumps(_template(gw))


def test_governance_props_problems_name_the_prop_and_are_reported_together() -> None:
    with pytest.raises(PropsValidationError) as err:
        _gateway(
            auth=GatewayAuth.api_keys(),
            governance=GatewayGovernance(
                team_budget=Budget(tokens=0),
                teams={"a": TeamPolicy(aliases=["nope"])},
                prices={"other": TokenPrice(input_per_million=1, output_per_million=1)},
                admin_group="admins",
            ),
        )
    text = str(err.value)
    for part in (
        "governance.team_budget.tokens must be a positive integer, got 0",
        "governance.teams['a'].aliases names unknown aliases ['nope']",
        "governance.prices names unknown alias 'other'",
        "governance.admin_group only applies to GatewayAuth.cognito()",
    ):
        assert part in text


def test_request_metadata_rule_rejects_team_names_converse_would_refuse() -> None:
    # botocore bedrock-runtime 2023-09-30 RequestMetadataValueString: [a-zA-Z0-9\s:_@$#=/+,-.]{0,256}; team names
    # travel as the gateway-team value, so a team named "R&D" would make every Converse call fail validation.
    message = expect_rule(
        "GATEWAY.REQUEST_METADATA",
        lambda: _gateway(auth=GatewayAuth.api_keys(), governance=GatewayGovernance(teams={"R&D": TeamPolicy()})),
    )
    assert "'R&D'" in message
    # RequestMetadata: at most 16 pairs, keys 1-256 characters of the same set.
    expect_rule(
        "GATEWAY.REQUEST_METADATA",
        GOVERNANCE.problems(GovernanceSubject(tuple(f"k{i}" for i in range(17)), ("a",), "expires_at")),
    )
    expect_rule("GATEWAY.REQUEST_METADATA", GOVERNANCE.problems(GovernanceSubject(("bad key!",), ("a",), "expires_at")))
    # Valid: the keys the runtime sends and names of letters, digits, spaces and :_@$#=/+,-.
    valid = GovernanceSubject(_governance.REQUEST_METADATA_KEYS, ("default", "team a/b:c@d"), "expires_at")
    assert GOVERNANCE.problems(valid) == []


def test_ttl_attribute_rule() -> None:
    # botocore dynamodb 2012-08-10 TimeToLiveAttributeName: 1-255 characters; and it must be the attribute the runtime
    # writes (budgets.TTL_ATTRIBUTE), or TTL never deletes old counters and expired keys.
    expect_rule("GATEWAY.TTL_ATTRIBUTE", GOVERNANCE.problems(GovernanceSubject((), (), "ttl")))
    expect_rule("GATEWAY.TTL_ATTRIBUTE", GOVERNANCE.problems(GovernanceSubject((), (), "x" * 256)))
    assert GOVERNANCE.problems(GovernanceSubject((), (), _governance.TTL_ATTRIBUTE)) == []


def test_chat_settings_give_budgets_by_default_and_name_settings_in_problems() -> None:
    governance = ChatSettings().governance
    assert governance is not None and governance.team_budget == Budget(tokens=2_000_000)
    assert ChatSettings(budgets=False).governance is None
    assert ChatSettings(budgets=False, auth="api_keys").governance is not None  # keys need the table
    problems = ChatSettings(budget_period="week", team_budget_tokens=0).problems()
    assert "setting 'budget_period' must be one of day, month, got 'week'" in problems
    assert any(p.startswith("team_budget_tokens must be a positive integer") for p in problems)
