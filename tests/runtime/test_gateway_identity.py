"""Caller identity from the API Gateway request context the Lambda Web Adapter forwards, and governance config."""

from __future__ import annotations

import json

import pytest

from config import ConfigError, parse_config
from errors import GatewayError
from gateway_harness import TEST_CONFIG
from governance import estimate_input_tokens, metadata_value
from identity import Identifier, caller_hash
from openai_compat import parse_chat_request


def ident(mode: str, **kw) -> Identifier:
    return Identifier(mode, default_team="default", teams=frozenset({"research"}), admin_group="admins", **kw)


def context(value: dict) -> dict[str, str]:
    # awslabs/aws-lambda-web-adapter src/lib.rs fetch_response: the event's request context, as JSON,
    # in the x-amzn-request-context header (header names reach the app lower-cased).
    return {"x-amzn-request-context": json.dumps(value)}


@pytest.mark.parametrize("groups", [["admins", "research"], "[admins, research]", "admins,research"])
def test_cognito_caller_is_the_sub_with_its_team_group(groups):
    caller = ident("cognito").identify(context({"authorizer": {"claims": {"sub": "u-1", "cognito:groups": groups}}}))
    assert (caller.kind, caller.id, caller.team, caller.admin) == ("cognito", "cognito:u-1", "research", True)


def test_cognito_caller_without_a_team_group_is_in_the_default_team():
    caller = ident("cognito").identify(context({"authorizer": {"claims": {"sub": "u-2"}}}))
    assert caller.team == "default" and not caller.admin


def test_iam_caller_is_the_principal_arn():
    arn = "arn:aws:sts::123456789012:assumed-role/app/session"
    caller = ident("iam").identify(context({"identity": {"userArn": arn, "caller": "AROA:session"}}))
    assert caller.id == f"iam:{arn}" and caller.team == "default"
    assert len(caller_hash(caller)) == 16 and arn not in caller_hash(caller)


@pytest.mark.parametrize("mode", ["cognito", "iam", "apiKeys"])
def test_no_identity_is_401_in_openai_shape(mode):
    with pytest.raises(GatewayError) as err:
        ident(mode).identify({"x-amzn-request-context": "not json"})
    assert err.value.status == 401 and err.value.to_dict()["error"]["code"] == "invalid_api_key"


def test_request_metadata_values_follow_the_converse_pattern():
    # botocore bedrock-runtime 2023-09-30 RequestMetadataValueString: [a-zA-Z0-9\s:_@$#=/+,-.]{0,256}
    assert metadata_value("team (ä)!" + "x" * 300) == "team ____" + "x" * 247
    assert len(metadata_value("y" * 300)) == 256


def test_the_input_estimate_bounds_the_utf8_bytes():
    request = parse_chat_request(
        {"model": "chat-fast", "messages": [{"role": "user", "content": "héllo"}]}, parse_config(TEST_CONFIG)
    )
    assert estimate_input_tokens(request) == 64 + 8 + len("héllo".encode())


def test_budgets_from_launch_parameters_are_decimal_strings():
    config = parse_config(
        {**TEST_CONFIG, "governance": {"table": "t", "auth": "iam", "teamBudget": {"tokens": "1500000", "usd": "12.5"}}}
    )
    assert config.governance is not None
    assert (config.governance.team_budget.tokens, config.governance.team_budget.usd) == (1_500_000, 12.5)


@pytest.mark.parametrize(
    ("governance", "message"),
    [
        ({"table": "t", "auth": "magic"}, "governance.auth"),
        ({"table": "t", "auth": "apiKeys", "period": "week"}, "governance.period"),
        ({"table": "t", "auth": "apiKeys", "teamBudget": {"tokens": 0}}, "teamBudget.tokens"),
        # A launch parameter arrives as a decimal string (CatalogStack's budget parameters): a non-number, zero or a
        # fraction of a token is still refused.
        ({"table": "t", "auth": "apiKeys", "teamBudget": {"tokens": "lots"}}, "teamBudget.tokens"),
        ({"table": "t", "auth": "apiKeys", "teamBudget": {"tokens": "0"}}, "teamBudget.tokens"),
        ({"table": "t", "auth": "apiKeys", "callerBudget": {"tokens": "10.5"}}, "callerBudget.tokens"),
        ({"table": "t", "auth": "apiKeys", "callerBudget": {"usd": "-1"}}, "callerBudget.usd"),
        ({"table": "t", "auth": "apiKeys", "teams": {"a": {"aliases": ["nope"]}}}, "teams.a.aliases"),
        ({"table": "t", "auth": "apiKeys", "prices": {"chat-fast": [1]}}, "prices.chat-fast"),
        ({"auth": "apiKeys"}, "governance.table"),
    ],
)
def test_governance_config_problems_fail_start_up(governance, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({**TEST_CONFIG, "governance": governance})
