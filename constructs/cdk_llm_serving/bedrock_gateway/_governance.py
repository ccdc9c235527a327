"""Gateway governance (construct side): the options, the DynamoDB table, its IAM, the ``/v1/usage`` route and the
runtime's ``governance`` config object (read by ``lambda/gateway/governance.py``).

One table holds API keys (by SHA-256), team overrides and the per-period budget counters (see the runtime's
``budgets.py`` for the reserve -> settle design and the guarantee). The function checks keys itself (a cached
DynamoDB lookup) instead of a Lambda authorizer: no second function and cold start on the request path, and a
revoked key stops working within ``key_cache`` (an authorizer's cached policy would live up to its own TTL too,
and the function must read the key's team, aliases and budget anyway).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from .._prices import TokenPrice
from .._types import TypedOptions
from .auth import GatewayAuthMode

if TYPE_CHECKING:
    from .aliases import ModelAlias

#: The table's TTL attribute: the runtime writes it (lambda/gateway/budgets.py TTL_ATTRIBUTE).
TTL_ATTRIBUTE = "expires_at"
#: requestMetadata keys the runtime sends on Converse (lambda/gateway/governance.py request_metadata).
REQUEST_METADATA_KEYS = ("gateway-team", "gateway-caller", "gateway-alias")
#: Seconds a reservation outlives the function timeout (a live request settles before it expires).
RESERVATION_MARGIN_SECONDS = 60
#: Actions the function uses on the table (lambda/gateway/keys.py, budgets.py, governance.py).
FUNCTION_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem")
#: Actions on the table's KMS key for reading and writing items (aws-cdk's Table.grantReadWriteData grants these plus
#: the ReEncrypt*/GenerateDataKey* wildcards, which item reads and writes do not need).
KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
#: Actions of scripts/gateway_keys.py.
ADMIN_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Scan", "dynamodb:Query")
USAGE_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")


class BudgetPeriod(enum.Enum):
    """The period budgets reset after (UTC)."""

    DAY = "day"
    """Calendar day, UTC (the default)."""
    MONTH = "month"
    """Calendar month, UTC."""


@dataclass(frozen=True)
class Budget(TypedOptions):
    """A budget per period, in tokens and/or US dollars (both: whichever runs out first)."""

    tokens: int | None = None
    """Input plus output tokens per period. Default: - no token limit"""
    usd: float | None = None
    """US dollars per period, priced with ``GatewayGovernance.prices`` (aliases without a price cost 0).
    Default: - no dollar limit"""


@dataclass(frozen=True)
class TeamPolicy(TypedOptions):
    """What one team may use."""

    aliases: Sequence[str] | None = None
    """The model aliases the team's callers may request (others: 403 ``model_not_allowed``).
    Default: - every alias"""
    budget: Budget | None = None
    """The team's budget per period. Default: - ``GatewayGovernance.team_budget``"""


@dataclass(frozen=True)
class GatewayGovernance(TypedOptions):
    """Callers, teams, budgets and usage of a :class:`BedrockGatewayApi` (a DynamoDB table and ``GET /v1/usage``)."""

    period: BudgetPeriod = BudgetPeriod.DAY
    """When budgets reset. Default: ``BudgetPeriod.DAY``"""
    team_budget: Budget | None = None
    """Budget of each team without its own (``teams``, or ``scripts/gateway_keys.py set-budget --team``).
    Default: - no team budget"""
    caller_budget: Budget | None = None
    """Budget of each Cognito or IAM caller (an API key has its own, set when it is created). Default: - none"""
    teams: Mapping[str, TeamPolicy] | None = None
    """Team name -> policy. Cognito callers belong to the first of their groups named here. Names travel as
    Bedrock ``requestMetadata`` values (rule GATEWAY.REQUEST_METADATA). Default: - no team policies (every caller without a key is in ``default_team``)"""
    default_team: str = "default"
    """Team of callers without one (Cognito users in no team group, IAM callers). Default: "default\""""
    admin_group: str | None = None
    """Cognito group whose members may read any team's usage (``GET /v1/usage?team=<name>``); API keys created
    with ``--admin`` may too. Default: - only keys created with ``--admin``"""
    prices: Mapping[str, TokenPrice] | None = None
    """Alias -> price, for USD budgets and the ``TeamEstimatedCost`` metric. Default: - no prices (cost 0)"""
    key_cache: cdk.Duration | None = None
    """How long the function caches a key or team lookup (a revoked key works this long). Default: - 1 minute"""


def governance_problems(
    governance: GatewayGovernance, models: Sequence[ModelAlias], auth_mode: GatewayAuthMode
) -> list[str]:
    """Value checks of ``governance`` (names, aliases, positive budgets)."""
    aliases = {m.alias for m in models}
    problems: list[str] = []

    def budget(where: str, b: Budget | None) -> None:
        if b is None:
            return
        # A number token (e.g. a CloudFormation parameter, which checks its own MinValue) is not range-checked.
        if b.tokens is not None and not cdk.Token.is_unresolved(b.tokens) and b.tokens <= 0:
            problems.append(f"{where}.tokens must be a positive integer, got {b.tokens}")
        if b.usd is not None and not cdk.Token.is_unresolved(b.usd) and b.usd <= 0:
            problems.append(f"{where}.usd must be positive, got {b.usd}")

    budget("governance.team_budget", governance.team_budget)
    budget("governance.caller_budget", governance.caller_budget)
    for name, policy in (governance.teams or {}).items():
        unknown = sorted(set(policy.aliases or ()) - aliases)
        if unknown:
            problems.append(
                f"governance.teams[{name!r}].aliases names unknown aliases {unknown}: use aliases of models"
            )
        budget(f"governance.teams[{name!r}].budget", policy.budget)
    for alias, price in (governance.prices or {}).items():
        if alias not in aliases:
            problems.append(f"governance.prices names unknown alias {alias!r}: use aliases of models")
        if price.input_per_million < 0 or price.output_per_million < 0:
            problems.append(f"governance.prices[{alias!r}] must not be negative")
    if governance.admin_group is not None and auth_mode is not GatewayAuthMode.COGNITO:
        problems.append("governance.admin_group only applies to GatewayAuth.cognito(): drop it or use Cognito auth")
    if governance.key_cache is not None and governance.key_cache.to_seconds() > 3600:
        problems.append("governance.key_cache must be at most 1 hour (a revoked key works that long)")
    from .rules import GOVERNANCE

    subject = GovernanceSubject(
        metadata_keys=REQUEST_METADATA_KEYS,
        team_names=(governance.default_team, *(governance.teams or {})),
        ttl_attribute=TTL_ATTRIBUTE,
    )
    return [*problems, *GOVERNANCE.problems(subject)]


def _budget_value(value: float) -> float | str:
    """A budget as GATEWAY_CONFIG carries it: a literal number, or a number token (a launch parameter) as a string
    token, since GATEWAY_CONFIG is JSON text with embedded string tokens; it deploys as a decimal string, which the
    runtime accepts (``governance._limit``)."""
    return cdk.Token.as_string(value) if cdk.Token.is_unresolved(value) else value


def _budget_config(b: Budget | None) -> dict[str, Any] | None:
    if b is None or (b.tokens is None and b.usd is None):
        return None
    return {k: _budget_value(v) for k, v in (("tokens", b.tokens), ("usd", b.usd)) if v is not None}


def runtime_governance(
    governance: GatewayGovernance, *, table_name: str, auth_mode: GatewayAuthMode, timeout_seconds: int
) -> dict[str, Any]:
    """The ``governance`` object of GATEWAY_CONFIG."""
    config: dict[str, Any] = {
        "table": table_name,
        "auth": {
            GatewayAuthMode.COGNITO: "cognito",
            GatewayAuthMode.IAM: "iam",
            GatewayAuthMode.API_KEYS: "apiKeys",
            GatewayAuthMode.NONE: "none",
        }[auth_mode],
        "period": governance.period.value,
        "defaultTeam": governance.default_team,
        "reservationSeconds": timeout_seconds + RESERVATION_MARGIN_SECONDS,
        "keyCacheSeconds": int(governance.key_cache.to_seconds()) if governance.key_cache else 60,
    }
    for key, b in (("teamBudget", governance.team_budget), ("callerBudget", governance.caller_budget)):
        rendered = _budget_config(b)
        if rendered is not None:
            config[key] = rendered
    if governance.teams:
        config["teams"] = {
            name: {
                **({"aliases": list(p.aliases)} if p.aliases is not None else {}),
                **(_budget_config(p.budget or governance.team_budget) or {}),
            }
            for name, p in governance.teams.items()
        }
    if governance.admin_group is not None:
        config["adminGroup"] = governance.admin_group
    if governance.prices:
        config["prices"] = {a: [p.input_per_million, p.output_per_million] for a, p in governance.prices.items()}
    return config


def governance_table(scope: Any, encryption_key: kms.IKey) -> dynamodb.Table:
    """The table: on demand, encrypted with ``encryption_key``, point-in-time recovery, retained, TTL on
    :data:`TTL_ATTRIBUTE`."""
    return dynamodb.Table(
        scope,
        "GovernanceTable",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=encryption_key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=TTL_ATTRIBUTE,
        removal_policy=cdk.RemovalPolicy.RETAIN,
        deletion_protection=True,
    )


def function_statements(table: dynamodb.ITable, encryption_key: kms.IKey) -> list[iam.PolicyStatement]:
    """The function's table permissions: only GetItem/UpdateItem on this table, and its key."""
    return [
        iam.PolicyStatement(actions=list(FUNCTION_TABLE_ACTIONS), resources=[table.table_arn]),
        iam.PolicyStatement(actions=list(KEY_ACTIONS), resources=[encryption_key.key_arn]),
    ]


def grant(
    grantee: iam.IGrantable, table: dynamodb.ITable, encryption_key: kms.IKey, actions: Iterable[str]
) -> iam.Grant:
    """``actions`` on the table plus use of its key, for ``grantee``."""
    table_grant = iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=[table.table_arn])
    key_grant = iam.Grant.add_to_principal(
        grantee=grantee, actions=list(KEY_ACTIONS), resource_arns=[encryption_key.key_arn]
    )
    return table_grant.combine(key_grant)


def usage_route(api: apigw.RestApi, integration: apigw.Integration, method_options: dict[str, Any]) -> apigw.Method:
    """``GET /v1/usage`` (the ``team`` query string parameter is optional)."""
    v1 = api.root.get_resource("v1")
    validator = api.node.try_find_child("RequestValidator")
    assert v1 is not None and isinstance(validator, apigw.RequestValidator)  # add_routes created both
    return v1.add_resource("usage").add_method(
        "GET",
        integration,
        request_parameters={"method.request.querystring.team": False},
        request_validator=validator,
        **method_options,
    )


@dataclass(frozen=True)
class GovernanceSubject:
    """What the governance rules look at: the requestMetadata the runtime will send and the table's TTL attribute."""

    metadata_keys: tuple[str, ...]
    team_names: tuple[str, ...]
    ttl_attribute: str
