"""Governance end to end: API keys, allowed aliases, reserve -> settle budgets, usage, the admin CLI.

The real gateway server on 127.0.0.1, driven by the official ``openai`` client; Bedrock is the
stand-in (tests/runtime/bedrock_standin.py) and DynamoDB is moto in server mode
(:mod:`moto_dynamodb`), both reached by the gateway's unmodified boto3 clients at the wire.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.request
from pathlib import Path

import boto3
import openai
import pytest

from bedrock_standin import Behaviour
from gateway_harness import AWS_ENV, SINK, TEST_CONFIG, OutputLines, make_gateway
from moto_dynamodb import SerializedMotoServer, create_governance_table

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import gateway_keys  # noqa: E402

TABLE = "governance"
#: Team budget of the concurrency test, in tokens per day.
TEAM_TOKENS = 1000
GOVERNANCE = {
    "table": TABLE,
    "auth": "apiKeys",
    "period": "day",
    "teamBudget": {"tokens": TEAM_TOKENS},
    "teams": {"limited": {"aliases": ["chat-small"]}, "rich": {"tokens": 10_000_000}},
    "prices": {"chat-fast": [1.0, 5.0]},
    "reservationSeconds": 960,
    "keyCacheSeconds": 0,
}


@pytest.fixture(scope="module")
def dynamodb():
    server = SerializedMotoServer()
    server.start()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in AWS_ENV.items():
            mp.setenv(key, value)
        mp.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.url)
        client = boto3.client("dynamodb")
        create_governance_table(client, TABLE)
        yield client
    server.stop()


@pytest.fixture(scope="module")
def governed(dynamodb, standin_server):
    with pytest.MonkeyPatch.context() as mp:
        srv = make_gateway(standin_server, {**TEST_CONFIG, "governance": GOVERNANCE}, mp, stream=SINK)
        host, port = srv.server_address[:2]
        yield f"http://{host}:{port}"
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def gw(governed, standin):
    """Base URL of the governed gateway; the stand-in is reset for each test."""
    return governed


def cli(client, *argv: str):
    """Run scripts/gateway_keys.py against the local DynamoDB and return its JSON output."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert gateway_keys.main(["--table", TABLE, *argv], client=client) == 0
    return json.loads(out.getvalue())


def new_team_key(client, team: str, *extra: str) -> dict:
    return cli(client, "create", "--team", team, *extra)


def sdk(gw: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw}/v1", api_key=key, max_retries=0, timeout=15)


def counter(client, pk: str) -> dict:
    import budgets

    sk, _ = budgets.period_of("day", __import__("time").time())
    return client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get("Item", {})


def n(item: dict, name: str) -> int:
    return int(item.get(name, {}).get("N", "0"))


def test_concurrent_streams_never_overspend_the_team_budget(gw, standin, dynamodb):
    """20 concurrent streaming requests against a team budget that admits only some of them at a time.

    Each request reserves its worst case (input estimate + max_tokens = 74 + 100 tokens) and really uses
    11 + 100; the stand-in stalls mid-stream so admitted requests overlap.  Whatever the interleaving:
    the settled total stays within the budget, every admitted request is settled (no open reservation),
    every rejected one got 429 ``insufficient_quota`` and never reached the model.
    """
    created = new_team_key(dynamodb, "concurrency")
    key = created["key"]
    standin.default = Behaviour(chunks=["a", "b", "c"], input_tokens=11, output_tokens=100, stall_after=1, stall=0.3)
    results: list[object] = [None] * 20
    barrier = threading.Barrier(20)

    def one(i: int) -> None:
        client = sdk(gw, key)
        barrier.wait()
        try:
            stream = client.chat.completions.create(
                model="chat-fast", messages=[{"role": "user", "content": "hi"}], max_tokens=100, stream=True
            )
            results[i] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        except openai.RateLimitError as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    admitted = [r for r in results if isinstance(r, str)]
    rejected = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(admitted) + len(rejected) == 20
    assert admitted and rejected, "the budget must admit some and reject some"
    assert all(r == "abc" for r in admitted)
    for exc in rejected:
        assert exc.status_code == 429
        assert exc.body["code"] == "insufficient_quota" and exc.body["type"] == "insufficient_quota"
    # Rejected requests never reached the model.
    assert len([r for r in standin.requests if r.operation == "converse-stream"]) == len(admitted)
    item = counter(dynamodb, "usage#team#concurrency")
    assert n(item, "spent_tokens") == 111 * len(admitted) <= TEAM_TOKENS
    assert n(item, "requests") == len(admitted)
    assert n(item, "held_tokens") == n(item, "spent_tokens")  # every reservation settled
    assert not [name for name in item if name.startswith("r_")]
    # The key has no budget of its own, yet its usage is counted too (for GET /v1/usage).
    own = counter(dynamodb, f"usage#caller#key:{created['id']}")
    assert n(own, "spent_tokens") == n(item, "spent_tokens") and n(own, "held_tokens") == n(own, "spent_tokens")


def test_a_stream_broken_mid_way_settles_to_its_reservation(gw, standin, dynamodb):
    """Bedrock reports usage only in the last (``metadata``) event; a stream that breaks before it leaves the
    gateway without a count, so the request is charged its whole reservation (input estimate + max_tokens)."""
    key = new_team_key(dynamodb, "broken")["key"]
    standin.script(Behaviour(chunks=["a", "b", "c"], stream_exception="modelStreamErrorException", exception_after=2))
    with pytest.raises(openai.APIError):
        for _ in sdk(gw, key).chat.completions.create(
            model="chat-fast", messages=[{"role": "user", "content": "hi"}], max_tokens=50, stream=True
        ):
            pass
    item = counter(dynamodb, "usage#team#broken")
    assert n(item, "spent_tokens") == 74 + 50
    assert n(item, "held_tokens") == n(item, "spent_tokens")
    assert not [name for name in item if name.startswith("r_")]


def test_a_client_disconnect_settles_too(gw, standin, dynamodb):
    key = new_team_key(dynamodb, "gone")["key"]
    standin.script(Behaviour(chunks=["a", "b", "c", "d"], stall_after=1, stall=0.5))
    stream = sdk(gw, key).chat.completions.create(
        model="chat-fast", messages=[{"role": "user", "content": "hi"}], max_tokens=40, stream=True
    )
    next(iter(stream))
    stream.close()  # the client goes away mid-stream
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        item = counter(dynamodb, "usage#team#gone")
        if n(item, "requests"):
            break
        time.sleep(0.05)
    assert n(item, "requests") == 1
    assert n(item, "held_tokens") == n(item, "spent_tokens") > 0
    assert not [name for name in item if name.startswith("r_")]


def test_non_streaming_settles_to_reported_usage_and_cost(gw, standin, dynamodb):
    key = new_team_key(dynamodb, "billing", "--tokens", "100000")
    standin.script(Behaviour(input_tokens=20, output_tokens=10))
    sdk(gw, key["key"]).chat.completions.create(
        model="chat-fast", messages=[{"role": "user", "content": "hi"}], max_tokens=100
    )
    team = counter(dynamodb, "usage#team#billing")
    own = counter(dynamodb, f"usage#caller#key:{key['id']}")
    assert n(team, "spent_tokens") == n(own, "spent_tokens") == 30
    # chat-fast costs 1 USD / 5 USD per 1M tokens: 20 * 1 + 10 * 5 micro-USD.
    assert n(team, "spent_micros") == 70
    body = standin.requests[-1].body
    metadata = body["requestMetadata"]
    assert metadata["gateway-team"] == "billing" and metadata["gateway-alias"] == "chat-fast"
    assert len(metadata["gateway-caller"]) == 16 and key["id"] not in metadata["gateway-caller"]


def test_a_request_larger_than_the_budget_is_refused_without_a_model_call(gw, standin, dynamodb):
    key = new_team_key(dynamodb, "tiny")["key"]
    with pytest.raises(openai.RateLimitError) as err:
        sdk(gw, key).chat.completions.create(
            model="chat-fast", messages=[{"role": "user", "content": "hi"}], max_tokens=4000
        )
    assert err.value.body["code"] == "insufficient_quota"
    assert standin.requests == []


def test_keys_are_required_checked_and_revocable(gw, standin, dynamodb):
    with pytest.raises(openai.AuthenticationError) as err:
        sdk(gw, "sk-gw-" + "x" * 43).models.list()
    assert err.value.body == {
        "message": "Incorrect API key provided (unknown, revoked or expired).",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    created = new_team_key(dynamodb, "revoked")
    assert sdk(gw, created["key"]).models.list().data
    assert cli(dynamodb, "revoke", created["id"]) == {"id": created["id"], "revoked": True}
    with pytest.raises(openai.AuthenticationError):
        sdk(gw, created["key"]).models.list()
    expired = new_team_key(dynamodb, "old", "--expires-days", "-1")  # TTL may not have deleted it yet
    with pytest.raises(openai.AuthenticationError):
        sdk(gw, expired["key"]).models.list()
    with urllib.request.urlopen(f"{gw}/health") as resp:  # no key needed
        assert resp.status == 200


def test_team_and_key_aliases_are_enforced_before_the_model_call(gw, standin, dynamodb):
    limited = new_team_key(dynamodb, "limited")["key"]
    with pytest.raises(openai.PermissionDeniedError) as err:
        sdk(gw, limited).chat.completions.create(model="chat-fast", messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["code"] == "model_not_allowed" and err.value.body["param"] == "model"
    assert sdk(gw, limited).chat.completions.create(model="chat-small", messages=[{"role": "user", "content": "hi"}])
    narrow = new_team_key(dynamodb, "rich", "--aliases", "chat-small")["key"]
    with pytest.raises(openai.PermissionDeniedError):
        sdk(gw, narrow).embeddings.create(model="embed-titan", input="x")
    assert len(standin.requests) == 1


def test_usage_reports_own_and_admin_team_views(gw, standin, dynamodb):
    key = new_team_key(dynamodb, "reporting", "--tokens", "5000")
    client = sdk(gw, key["key"])
    client.chat.completions.create(model="chat-fast", messages=[{"role": "user", "content": "hi"}], max_tokens=10)
    usage = client.get("/usage", cast_to=object)
    assert usage["team"] == "reporting" and usage["caller_kind"] == "key"
    assert usage["usage"]["spent_tokens"] == 15 and usage["usage"]["limit_tokens"] == 5000
    assert usage["usage"]["remaining_tokens"] == 5000 - 15
    assert usage["team_usage"]["remaining_tokens"] == TEAM_TOKENS - 15
    with pytest.raises(openai.PermissionDeniedError):
        client.get("/usage?team=other", cast_to=object)
    admin = new_team_key(dynamodb, "ops", "--admin")["key"]
    view = sdk(gw, admin).get("/usage?team=reporting", cast_to=object)
    assert view["team"] == "reporting" and view["team_usage"]["spent_tokens"] == 15


def test_team_budget_set_by_the_cli_overrides_the_default(gw, standin, dynamodb):
    key = new_team_key(dynamodb, "raised")["key"]
    cli(dynamodb, "set-budget", "--team", "raised", "--tokens", "50000")
    sdk(gw, key).chat.completions.create(
        model="chat-fast", messages=[{"role": "user", "content": "hi"}], max_tokens=4000
    )
    assert cli(dynamodb, "usage", "--team", "raised")[0]["spent_tokens"] == 15


def test_team_metrics_and_logs_carry_the_team_never_the_user(gw, standin, dynamodb):
    SINK.take()
    lines = OutputLines(SINK.take)
    key = new_team_key(dynamodb, "observed")
    sdk(gw, key["key"]).chat.completions.create(
        model="chat-fast", messages=[{"role": "user", "content": "hi"}], max_tokens=100
    )
    docs = lines.wait_for(lambda d: d.get("Team") == "observed")
    assert docs and docs[0]["TeamInputTokens"] == [11.0] and docs[0]["TeamEstimatedCost"][0] > 0
    dims = docs[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
    assert "Team" in dims and not any("caller" in d.lower() for d in dims)
    log = lines.wait_for(lambda d: d.get("message") == "request" and d.get("team") == "observed")
    assert log and len(log[0]["caller"]) == 16 and key["id"] not in json.dumps(log[0])


def test_cli_lists_without_secrets(dynamodb):
    created = new_team_key(dynamodb, "listing", "--name", "ci", "--aliases", "chat-fast", "--usd", "2.5")
    listed = cli(dynamodb, "list", "--team", "listing")
    assert listed == [
        {
            "id": created["id"],
            "team": "listing",
            "name": "ci",
            "aliases": ["chat-fast"],
            "tokens": None,
            "usd": 2.5,
            "admin": False,
            "revoked": False,
            "expires_at": None,
        }
    ]
    assert created["key"] not in json.dumps(dynamodb.scan(TableName=TABLE))
    assert cli(dynamodb, "set-budget", "--key", created["id"], "--tokens", "10")["tokens"] == 10
    assert cli(dynamodb, "list", "--team", "listing")[0]["tokens"] == 10


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_crashed_request_reservation_expires_and_is_reclaimed(dynamodb):
    """A reservation nobody settles (the function crashed) blocks the budget only until it expires: the next
    reserve that fails reclaims it (the code checks ``exp``; TTL deletion is best-effort and may lag days)."""
    import budgets

    clock = Clock(1_796_000_000.0)
    b = budgets.Budgets(dynamodb, TABLE, period="day", reservation_seconds=60, clock=clock)
    team = budgets.Counter("team", "crashed", budgets.Limit(tokens=100))
    crashed = b.reserve([team], 80, 0)  # never settled
    with pytest.raises(budgets.BudgetExceeded):
        b.reserve([team], 80, 0)  # not expired yet: nothing to reclaim
    clock.now += 61
    admitted = b.reserve([team], 80, 0)  # reclaims the expired one, then fits
    b.settle(admitted, 30, 0)
    usage = b.usage(team)
    assert usage["spent_tokens"] == 30 and usage["reserved_tokens"] == 0 and usage["open_reservations"] == 0
    # A settle that arrives after its reservation was reclaimed still charges the real usage, once.
    b.settle(crashed, 25, 0)
    b.settle(crashed, 25, 0)
    usage = b.usage(team)
    assert usage["spent_tokens"] == 55 and usage["reserved_tokens"] == 0 and usage["requests"] == 2
    item = dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": team.pk}, "sk": {"S": budgets.period_of("day", clock.now)[0]}}
    )["Item"]
    assert n(item, "reclaimed") == 1


def test_a_failed_second_counter_releases_the_first(dynamodb):
    import budgets

    b = budgets.Budgets(dynamodb, TABLE)
    caller = budgets.Counter("caller", "key:release", budgets.Limit(tokens=1000))
    team = budgets.Counter("team", "release", budgets.Limit(tokens=100))
    b.reserve([team], 90, 0)
    with pytest.raises(budgets.BudgetExceeded) as err:
        b.reserve([caller, team], 50, 0)
    assert err.value.counter is team and err.value.kind == "tokens"
    assert b.usage(caller)["reserved_tokens"] == 0 and b.usage(caller)["open_reservations"] == 0
    # A request larger than the second counter's whole budget holds nothing on the first either.
    small = budgets.Counter("team", "release-small", budgets.Limit(tokens=10))
    with pytest.raises(budgets.BudgetExceeded):
        b.reserve([caller, small], 50, 0)
    assert b.usage(caller)["open_reservations"] == 0


def test_usd_budgets_reserve_the_priced_worst_case(dynamodb):
    import budgets

    b = budgets.Budgets(dynamodb, TABLE)
    team = budgets.Counter("team", "dollars", budgets.Limit(usd=0.001))  # 1000 micro-USD
    price = (1.0, 5.0)
    first = b.reserve([team], 0, budgets.cost_micros(100, 100, price))  # 600 micro-USD
    with pytest.raises(budgets.BudgetExceeded) as err:
        b.reserve([team], 0, budgets.cost_micros(100, 100, price))
    assert err.value.kind == "usd"
    b.settle(first, 0, budgets.cost_micros(10, 10, price))
    assert b.usage(team)["spent_usd"] == pytest.approx(60e-6)
    b.reserve([team], 0, budgets.cost_micros(100, 100, price))


def test_retried_writes_are_applied_once(dynamodb):
    """The DynamoDB client retries; a retry of an attempt that was applied (its answer lost) must not count twice."""
    import budgets

    clock = Clock(1_796_100_000.0)
    b = budgets.Budgets(dynamodb, TABLE, reservation_seconds=60, clock=clock)
    team = budgets.Counter("team", "retries", budgets.Limit(tokens=1000))
    sk, end = budgets.period_of("day", clock.now)
    assert b._try_reserve(team, sk, end, "r_retry1", 100, 0, clock.now)
    assert b._try_reserve(team, sk, end, "r_retry1", 100, 0, clock.now)  # the retry finds its own hold
    assert b.usage(team)["reserved_tokens"] == 100
    reservation = budgets.Reservation(100, 0, [budgets.Hold(team, sk, "r_retry1")])
    b._settle_hold(reservation.holds[0], reservation, 40, 0)
    b._settle_hold(reservation.holds[0], reservation, 40, 0)  # a retried settle
    usage = b.usage(team)
    assert usage["spent_tokens"] == 40 and usage["reserved_tokens"] == 0 and usage["requests"] == 1
    # A reclaimed reservation's late settle is charged once, however often it is retried.
    late = b.reserve([team], 900, 0)
    clock.now += 61
    assert b.reclaim(team) == 1
    b._settle_hold(late.holds[0], late, 30, 0)
    b._settle_hold(late.holds[0], late, 30, 0)
    usage = b.usage(team)
    assert usage["spent_tokens"] == 70 and usage["reserved_tokens"] == 0 and usage["requests"] == 2


@pytest.fixture(scope="module")
def cognito_gateway(dynamodb, standin_server):
    governance = {
        "table": TABLE,
        "auth": "cognito",
        "teams": {"research": {"aliases": ["chat-small"], "tokens": 100_000}},
        "callerBudget": {"tokens": 50_000},
        "adminGroup": "gateway-admins",
        "keyCacheSeconds": 0,
    }
    with pytest.MonkeyPatch.context() as mp:
        srv = make_gateway(standin_server, {**TEST_CONFIG, "governance": governance}, mp, stream=SINK)
        host, port = srv.server_address[:2]
        yield f"http://{host}:{port}"
        srv.shutdown()
        srv.server_close()


def cognito_client(gw: str, sub: str | None, groups: str = "") -> openai.OpenAI:
    # What API Gateway's Cognito authorizer puts in the request context, as the Lambda Web Adapter forwards it
    # (x-amzn-request-context: the event's requestContext as JSON; claims values are strings).
    headers = {}
    if sub is not None:
        claims = {"sub": sub, "cognito:groups": groups} if groups else {"sub": sub}
        headers["x-amzn-request-context"] = json.dumps({"authorizer": {"claims": claims}})
    return openai.OpenAI(base_url=f"{gw}/v1", api_key="id-token", max_retries=0, timeout=15, default_headers=headers)


def test_cognito_callers_get_their_group_team_budget_and_usage(cognito_gateway, standin, dynamodb):
    with pytest.raises(openai.AuthenticationError):
        cognito_client(cognito_gateway, None).models.list()
    member = cognito_client(cognito_gateway, "user-1", "[research]")
    with pytest.raises(openai.PermissionDeniedError):
        member.chat.completions.create(model="chat-fast", messages=[{"role": "user", "content": "hi"}])
    member.chat.completions.create(model="chat-small", messages=[{"role": "user", "content": "hi"}], max_tokens=50)
    usage = member.get("/usage", cast_to=object)
    assert usage["caller_kind"] == "cognito" and usage["team"] == "research"
    assert usage["usage"]["spent_tokens"] == 15 and usage["usage"]["limit_tokens"] == 50_000
    assert usage["team_usage"]["limit_tokens"] == 100_000
    assert "user-1" not in json.dumps(usage)
    with pytest.raises(openai.PermissionDeniedError):
        member.get("/usage?team=research", cast_to=object)
    admin = cognito_client(cognito_gateway, "admin-1", "gateway-admins")
    assert admin.get("/usage?team=research", cast_to=object)["team_usage"]["spent_tokens"] == 15


# ------------------------------------------------------------------ fallback within governance

#: Aliases with a fallback list (as in test_gateway_guardrails_fallback) under budgets: ``plain`` falls back to a cheaper and
#: then a pricier alias; team ``narrow`` may use only ``plain`` and the pricier backup.
FALLBACK_CONFIG = {
    "models": [
        {
            "alias": "plain",
            "target": {"type": "bedrock", "modelId": "amazon.nova-micro-v1:0"},
            "maxTokensCap": 1024,
            "defaultMaxTokens": 512,
            "fallback": ["plain-backup-cheap", "plain-backup-pricey"],
        },
        {
            "alias": "plain-backup-cheap",
            "target": {"type": "bedrock", "modelId": "amazon.nova-lite-v1:0"},
            "maxTokensCap": 4096,
        },
        {
            "alias": "plain-backup-pricey",
            "target": {"type": "bedrock", "modelId": "amazon.nova-pro-v1:0"},
            "maxTokensCap": 1024,
        },
    ],
    "metricsNamespace": "Test/FallbackBudgets",
    "serviceName": "test-fallback-budgets",
    "governance": {
        **GOVERNANCE,
        "teamBudget": {"tokens": 1_000_000},
        "teams": {"narrow": {"aliases": ["plain", "plain-backup-pricey"]}},
        "prices": {"plain": [1.0, 1.0], "plain-backup-cheap": [0.5, 0.5], "plain-backup-pricey": [10.0, 10.0]},
    },
}


@pytest.fixture(scope="module")
def fallback_gw(dynamodb, standin_server):
    with pytest.MonkeyPatch.context() as mp:
        srv = make_gateway(standin_server, FALLBACK_CONFIG, mp, stream=SINK)
        host, port = srv.server_address[:2]
        yield f"http://{host}:{port}"
        srv.shutdown()
        srv.server_close()


def test_fallback_uses_only_aliases_the_team_may_use_at_no_higher_price(fallback_gw, standin, dynamodb):
    # The cheaper backup is not among team narrow's aliases, the allowed one costs more than the reservation
    # was priced at: neither may serve, so the throttle reaches the client and nothing is charged.
    narrow = new_team_key(dynamodb, "narrow")["key"]
    standin.script(Behaviour(error="ThrottlingException"), Behaviour(), Behaviour())
    with pytest.raises(openai.RateLimitError):
        sdk(fallback_gw, narrow).chat.completions.create(model="plain", messages=[{"role": "user", "content": "hi"}])
    assert [r.model_id for r in standin.requests] == ["amazon.nova-micro-v1:0"]
    team = counter(dynamodb, "usage#team#narrow")
    assert n(team, "held_tokens") == n(team, "spent_tokens") == 0  # released, nothing charged


@pytest.mark.parametrize("stream", [False, True])
def test_fallback_is_clamped_to_the_reservation_and_settled_on_the_serving_alias(
    fallback_gw, standin, dynamodb, stream
):
    key = new_team_key(dynamodb, f"open-{stream}")
    standin.script(Behaviour(error="ThrottlingException"), Behaviour(chunks=["from ", "backup"]))
    resp = sdk(fallback_gw, key["key"]).chat.completions.create(
        model="plain", messages=[{"role": "user", "content": "hi"}], stream=stream
    )
    text = (
        "".join(c.choices[0].delta.content or "" for c in resp if c.choices)
        if stream
        else resp.choices[0].message.content
    )
    assert text == "from backup"
    assert [r.model_id for r in standin.requests] == ["amazon.nova-micro-v1:0", "amazon.nova-lite-v1:0"]
    # The backup's own default (1024, its cap's) would exceed the 512 tokens reserved for `plain`: clamped.
    assert standin.requests[1].body["inferenceConfig"]["maxTokens"] == 512
    team = counter(dynamodb, f"usage#team#open-{stream}")
    assert n(team, "held_tokens") == n(team, "spent_tokens") > 0 and n(team, "requests") == 1  # settled
    # Charged at the serving backup's price (0.5 USD per 1M tokens, rounded up per token kind), not `plain`'s (1.0).
    assert n(team, "spent_tokens") * 0.5 <= n(team, "spent_micros") < n(team, "spent_tokens") * 1.0
