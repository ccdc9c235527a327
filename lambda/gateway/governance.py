"""Gateway governance: caller identity, per-team allowed aliases, budgets and usage.

Configured by the optional ``governance`` object of ``GATEWAY_CONFIG`` (written by the construct)::

    "governance": {
      "table": "ChatStack-GatewayGovernance...",   # DynamoDB table (keys, teams, counters)
      "auth": "apiKeys",            # cognito | iam | apiKeys | none (see identity.py)
      "period": "day",              # day | month (UTC)
      "defaultTeam": "default",
      "teamBudget": {"tokens": 2000000, "usd": 50.0},     # default per team and period (optional)
      "callerBudget": {"tokens": 200000},                 # default per Cognito/IAM caller (optional)
      "teams": {"research": {"aliases": ["chat"], "tokens": 5000000}},
      "adminGroup": "gateway-admins",   # Cognito group allowed to read any team's usage (optional)
      "prices": {"chat": [0.8, 4.0]},   # USD per 1M input, output tokens, per alias (optional)
      "reservationSeconds": 960,
      "keyCacheSeconds": 60
    }

Order of checks for a model call: identity (401, before routing) → allowed aliases of the team and
the key (403 ``model_not_allowed``) → budget reservation (429 ``insufficient_quota``) → model call →
settle.  A team item in the table (``pk = "team#<name>"``, ``sk = "team"``, written by
``scripts/gateway_keys.py set-budget --team``) overrides the configured team budget and aliases;
team items are cached like keys.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import budgets as budgets_mod
import identity
import keys
from budgets import BudgetExceeded, Budgets, Counter, Limit, Reservation, cost_micros
from config import ConfigError
from errors import GatewayError
from identity import Caller, Identifier

ENV = "GATEWAY_CONFIG"
#: Seconds; every budget write is idempotent (see budgets.py), so the client may retry (3 attempts).
DYNAMODB_CONNECT_TIMEOUT = 2.0
DYNAMODB_READ_TIMEOUT = 5.0
#: Bedrock Converse ``requestMetadata``: at most 16 pairs; keys 1-256 and values 0-256 characters of
#: ``[a-zA-Z0-9\s:_@$#=/+,-.]`` (botocore bedrock-runtime 2023-09-30 service-2.json shapes
#: RequestMetadata, RequestMetadataKeyString, RequestMetadataValueString).
REQUEST_METADATA_MAX_PAIRS = 16
REQUEST_METADATA_MAX_LEN = 256
REQUEST_METADATA_CHARS = re.compile(r"[^a-zA-Z0-9\s:_@$#=/+,\-.]")
#: Tokens allowed per image when estimating input (Claude: about 1,600 for a 1.15 megapixel image; an
#: assumption for other models, stated in the README's guarantee).
IMAGE_TOKENS = 3000
#: Allowances for the prompt framing a model adds (roles, tool-use instructions).
MESSAGE_TOKENS = 8
BASE_TOKENS = 64
TOOLS_TOKENS = 1024


def metadata_value(value: str) -> str:
    """``value`` made acceptable as a requestMetadata value (disallowed characters -> ``_``, 256 max)."""
    return REQUEST_METADATA_CHARS.sub("_", value)[:REQUEST_METADATA_MAX_LEN]


@dataclass(frozen=True)
class Team:
    """A team's configured aliases (``None``: all) and budget."""

    aliases: frozenset[str] | None = None
    limit: Limit = Limit()


@dataclass(frozen=True)
class GovernanceConfig:
    """The parsed ``governance`` object."""

    table: str
    auth: str
    period: str = budgets_mod.DAY
    default_team: str = "default"
    team_budget: Limit = Limit()
    caller_budget: Limit = Limit()
    teams: Mapping[str, Team] = field(default_factory=dict)
    admin_group: str | None = None
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    reservation_seconds: int = 960
    key_cache_seconds: float = 60.0


def _number(value: Any) -> Any:
    """A budget from GATEWAY_CONFIG: a JSON number, or a decimal string (a CloudFormation launch parameter, which
    the construct embeds as a string). Anything else is returned as is, for the checks to reject."""
    if isinstance(value, str) and value.strip():
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value else number
    return value


def _limit(raw: Any, where: str) -> Limit:
    if raw is None:
        return Limit()
    if not isinstance(raw, dict) or set(raw) - {"tokens", "usd"}:
        raise ConfigError(f"{ENV}: '{where}' must be an object with 'tokens' and/or 'usd'")
    tokens, usd = _number(raw.get("tokens")), _number(raw.get("usd"))
    if tokens is not None and (not isinstance(tokens, int) or isinstance(tokens, bool) or tokens <= 0):
        raise ConfigError(f"{ENV}: '{where}.tokens' must be a positive integer")
    if usd is not None and (not isinstance(usd, (int, float)) or isinstance(usd, bool) or usd <= 0):
        raise ConfigError(f"{ENV}: '{where}.usd' must be a positive number")
    return Limit(tokens, None if usd is None else float(usd))


def parse_governance(raw: Any, aliases: frozenset[str]) -> GovernanceConfig | None:
    """Validate the ``governance`` object (``None`` when absent)."""
    if raw is None:
        return None
    where = "governance"
    allowed = {
        "table",
        "auth",
        "period",
        "defaultTeam",
        "teamBudget",
        "callerBudget",
        "teams",
        "adminGroup",
        "prices",
        "reservationSeconds",
        "keyCacheSeconds",
    }
    if not isinstance(raw, dict) or set(raw) - allowed:
        raise ConfigError(f"{ENV}: '{where}' must be an object with keys {sorted(allowed)}")
    table, auth = raw.get("table"), raw.get("auth")
    if not isinstance(table, str) or not table:
        raise ConfigError(f"{ENV}: '{where}.table' must be a table name")
    if auth not in identity.AUTH_MODES:
        raise ConfigError(f"{ENV}: '{where}.auth' must be one of {', '.join(identity.AUTH_MODES)}")
    period = raw.get("period", budgets_mod.DAY)
    if period not in budgets_mod.PERIODS:
        raise ConfigError(f"{ENV}: '{where}.period' must be one of {', '.join(budgets_mod.PERIODS)}")
    teams: dict[str, Team] = {}
    for name, spec in (raw.get("teams") or {}).items():
        if not isinstance(spec, dict) or set(spec) - {"aliases", "tokens", "usd"}:
            raise ConfigError(f"{ENV}: '{where}.teams.{name}' must be an object with aliases, tokens, usd")
        team_aliases = spec.get("aliases")
        if team_aliases is not None and (not isinstance(team_aliases, list) or set(team_aliases) - aliases):
            raise ConfigError(f"{ENV}: '{where}.teams.{name}.aliases' must list configured aliases")
        teams[name] = Team(
            None if team_aliases is None else frozenset(team_aliases),
            _limit({k: v for k, v in spec.items() if k != "aliases"}, f"{where}.teams.{name}"),
        )
    prices: dict[str, tuple[float, float]] = {}
    for alias, price in (raw.get("prices") or {}).items():
        if alias not in aliases or not (
            isinstance(price, list) and len(price) == 2 and all(isinstance(p, (int, float)) and p >= 0 for p in price)
        ):
            raise ConfigError(f"{ENV}: '{where}.prices.{alias}' must be [input, output] USD per 1M tokens")
        prices[alias] = (float(price[0]), float(price[1]))
    reservation = raw.get("reservationSeconds", 960)
    cache = raw.get("keyCacheSeconds", 60)
    if not isinstance(reservation, int) or reservation <= 0 or not isinstance(cache, (int, float)) or cache < 0:
        raise ConfigError(f"{ENV}: '{where}.reservationSeconds'/'keyCacheSeconds' must be positive numbers")
    return GovernanceConfig(
        table=table,
        auth=auth,
        period=period,
        default_team=str(raw.get("defaultTeam") or "default"),
        team_budget=_limit(raw.get("teamBudget"), f"{where}.teamBudget"),
        caller_budget=_limit(raw.get("callerBudget"), f"{where}.callerBudget"),
        teams=teams,
        admin_group=raw.get("adminGroup"),
        prices=prices,
        reservation_seconds=reservation,
        key_cache_seconds=float(cache),
    )


def estimate_input_tokens(request: Any) -> int:
    """An upper bound on the input tokens of a chat request, for the reservation.

    Byte-level BPE tokenizers emit at most one token per UTF-8 byte, so the text's byte count bounds
    its tokens; fixed allowances cover the framing (:data:`BASE_TOKENS`, :data:`MESSAGE_TOKENS` per
    message, :data:`TOOLS_TOKENS` when tools or a response format are sent) and each image
    (:data:`IMAGE_TOKENS`).
    """
    import json

    total = BASE_TOKENS + sum(len(s.encode()) for s in request.system)
    for message in request.messages:
        total += MESSAGE_TOKENS + len(message.text.encode())
        total += IMAGE_TOKENS * len(message.images)
        for call in message.tool_calls:
            total += len(call.name.encode()) + len(call.arguments.encode())
    if request.tools or request.response_format is not None:
        total += TOOLS_TOKENS
        for tool in request.tools:
            total += len(json.dumps(tool.parameters).encode()) + len((tool.description or "").encode())
        if request.response_format is not None and request.response_format.schema is not None:
            total += len(json.dumps(request.response_format.schema).encode())
    return total


def insufficient_quota(exc: BudgetExceeded) -> GatewayError:
    """429 in OpenAI's shape (``insufficient_quota``, as OpenAI answers an exhausted quota)."""
    scope = "Your" if exc.counter.scope == "caller" else f"Team '{exc.counter.holder}'"
    return GatewayError(
        429,
        f"{scope} {exc.kind} budget for this period is exhausted (or too small for this request's "
        "worst case: input estimate plus max_tokens).",
        type="insufficient_quota",
        code="insufficient_quota",
    )


def forbidden(message: str, code: str = "model_not_allowed", param: str | None = "model") -> GatewayError:
    """403 in OpenAI's shape."""
    return GatewayError(403, message, type="invalid_request_error", code=code, param=param)


class Governance:
    """The facade the server and the service call (one per process)."""

    def __init__(self, config: GovernanceConfig, client: Any = None, clock: Any = time.time) -> None:
        if client is None:
            import upstream

            # Its own timeouts: the GATEWAY_*_READ_TIMEOUT settings are sized for model calls (minutes).
            client = upstream.make_client(
                "dynamodb", connect_timeout=DYNAMODB_CONNECT_TIMEOUT, read_timeout=DYNAMODB_READ_TIMEOUT, max_attempts=3
            )
        self.config = config
        self._client = client
        self._clock = clock
        store = (
            keys.KeyStore(client, config.table, config.key_cache_seconds, clock)
            if config.auth == identity.API_KEYS
            else None
        )
        self.identifier = Identifier(
            config.auth,
            default_team=config.default_team,
            teams=frozenset(config.teams),
            admin_group=config.admin_group,
            key_store=store,
        )
        self.budgets = Budgets(
            client, config.table, period=config.period, reservation_seconds=config.reservation_seconds, clock=clock
        )
        self._lock = threading.Lock()
        self._teams: dict[str, tuple[float, Team]] = {}

    # -- identity and access -------------------------------------------------------

    def identify(self, headers: Mapping[str, str]) -> Caller:
        """The request's caller (401 :class:`GatewayError` without a valid identity)."""
        return self.identifier.identify(headers)

    def team(self, name: str) -> Team:
        """The team's settings: its table item (cached) over the configuration."""
        now = self._clock()
        with self._lock:
            cached = self._teams.get(name)
            if cached is not None and now - cached[0] < self.config.key_cache_seconds:
                return cached[1]
        configured = self.config.teams.get(name, Team(limit=self.config.team_budget))
        item = self._client.get_item(
            TableName=self.config.table, Key={"pk": {"S": f"team#{name}"}, "sk": {"S": "team"}}, ConsistentRead=True
        ).get("Item")
        team = configured
        if item is not None:
            aliases = item.get("aliases", {}).get("SS")
            tokens = item.get("tokens", {}).get("N")
            usd = item.get("usd", {}).get("N")
            team = Team(
                frozenset(aliases) if aliases is not None else configured.aliases,
                Limit(
                    int(tokens) if tokens is not None else configured.limit.tokens,
                    float(usd) if usd is not None else configured.limit.usd,
                ),
            )
        with self._lock:
            self._teams[name] = (now, team)
        return team

    def authorize(self, caller: Caller, alias: str) -> None:
        """403 unless the caller's team (and key) may use ``alias``: checked before any model call."""
        team = self.team(caller.team)
        if team.aliases is not None and alias not in team.aliases:
            raise forbidden(f"Team '{caller.team}' may not use the model '{alias}'.")
        if caller.key is not None and caller.key.aliases is not None and alias not in caller.key.aliases:
            raise forbidden(f"This API key may not use the model '{alias}'.")

    def counters(self, caller: Caller) -> list[Counter]:
        """The caller's own counter and its team's counter."""
        own = self.config.caller_budget
        if caller.key is not None:
            own = Limit(caller.key.tokens, caller.key.usd)
        return [Counter("caller", caller.id, own), Counter("team", caller.team, self.team(caller.team).limit)]

    # -- budgets ----------------------------------------------------------------

    def price(self, alias: str) -> tuple[float, float] | None:
        return self.config.prices.get(alias)

    def reserve(self, caller: Caller, alias: str, input_tokens: int, max_tokens: int) -> Reservation:
        """Reserve the worst case of a request; 429 ``insufficient_quota`` when a budget cannot hold it."""
        micros = cost_micros(input_tokens, max_tokens, self.price(alias))
        try:
            return self.budgets.reserve(self.counters(caller), input_tokens + max_tokens, micros)
        except BudgetExceeded as exc:
            raise insufficient_quota(exc) from None

    def settle(self, reservation: Reservation, alias: str, input_tokens: int, output_tokens: int) -> float:
        """Settle to the real usage; return its estimated cost in USD."""
        micros = cost_micros(input_tokens, output_tokens, self.price(alias))
        self.budgets.settle(reservation, input_tokens + output_tokens, micros)
        return micros / budgets_mod.MICROS

    def settle_worst_case(self, reservation: Reservation) -> float:
        """Settle to the whole reservation (usage unknown: a stream that broke before the model reported it)."""
        self.budgets.settle(reservation, reservation.tokens, reservation.micros)
        return reservation.micros / budgets_mod.MICROS

    # -- usage ------------------------------------------------------------------

    def usage(self, caller: Caller, team: str | None = None) -> dict[str, Any]:
        """``GET /v1/usage``: the caller's own and team usage; ``team`` (admins only) one team's."""
        if team is not None:
            if not caller.admin:
                raise forbidden(
                    "Only gateway admins may read another team's usage.", code="permission_denied", param="team"
                )
            counter = Counter("team", team, self.team(team).limit)
            return {"object": "usage", "team": team, "team_usage": self.budgets.usage(counter)}
        mine, team_counter = self.counters(caller)
        return {
            "object": "usage",
            "caller": identity.caller_hash(caller),
            "caller_kind": caller.kind,
            "team": caller.team,
            "usage": self.budgets.usage(mine),
            "team_usage": self.budgets.usage(team_counter),
        }

    def request_metadata(self, caller: Caller, alias: str) -> dict[str, str]:
        """Converse ``requestMetadata`` for invocation-log filtering (no user identity, only its hash)."""
        return {
            "gateway-team": metadata_value(caller.team),
            "gateway-caller": identity.caller_hash(caller),
            "gateway-alias": metadata_value(alias),
        }


def make_governance(config: Any) -> Governance | None:
    """The process's :class:`Governance`, or ``None`` when GATEWAY_CONFIG has no governance object."""
    gov = getattr(config, "governance", None)
    return Governance(gov) if gov is not None else None
