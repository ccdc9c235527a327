#!/usr/bin/env python3
"""Admin CLI for the gateway's API keys, team budgets and usage (the governance DynamoDB table).

    gateway_keys.py --table T create --team research [--name ci-bot] [--aliases chat,embed]
                                     [--tokens 200000] [--usd 5] [--expires-days 90] [--admin]
    gateway_keys.py --table T list [--team research]
    gateway_keys.py --table T revoke <key id>
    gateway_keys.py --table T set-budget (--key <key id> | --team research) [--tokens N] [--usd X]
                                         [--aliases chat,embed]
    gateway_keys.py --table T usage (--key <key id> | --team research) [--period day|month]

``create`` prints the key once (``sk-gw-...``); the table keeps only its SHA-256. A *key id* is the
first 16 hex digits of that hash (shown by ``create`` and ``list``; it is also the ``key:<id>``
caller in the gateway's usage). The table name is the stack output ``GovernanceTableName``
(``BedrockGatewayApi.governance_table``). Credentials and Region come from the usual AWS SDK
configuration; ``AWS_ENDPOINT_URL_DYNAMODB`` points it at a local DynamoDB.

Budgets are per period (the gateway's ``governance.period``, default ``day``); ``--tokens`` and ``--usd``
set the key's own budget or the team's (overriding the team budget of the stack); 0 removes it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import Any

PREFIX = "sk-gw-"  # lambda/gateway/keys.py PREFIX
KEY_BYTES = 32


def _client() -> Any:
    import boto3

    return boto3.client("dynamodb")


def _key_item_by_id(client: Any, table: str, key_id: str) -> dict[str, Any]:
    """The key item whose hash starts with ``key_id`` (at least 16 hex digits)."""
    if len(key_id) < 16:
        raise SystemExit("a key id has at least 16 hex digits (see 'list')")
    items = [i for i in _scan_keys(client, table) if i["pk"]["S"].removeprefix("key#").startswith(key_id)]
    if len(items) != 1:
        raise SystemExit(f"no unique key with id {key_id}")
    return items[0]


def _scan_keys(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "sk = :k",
        "ExpressionAttributeValues": {":k": {"S": "key"}},
    }
    while True:
        page = client.scan(**kwargs)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _aliases(value: str | None) -> list[str] | None:
    return [a for a in (value or "").split(",") if a] or None


def create(client: Any, table: str, args: argparse.Namespace) -> dict[str, Any]:
    """Create a key; return ``{"key", "id", ...}`` (the key is never stored)."""
    key = PREFIX + secrets.token_urlsafe(KEY_BYTES)
    digest = hashlib.sha256(key.encode()).hexdigest()
    item: dict[str, Any] = {
        "pk": {"S": f"key#{digest}"},
        "sk": {"S": "key"},
        "team": {"S": args.team},
        "name": {"S": args.name or ""},
        "created_at": {"N": str(int(time.time()))},
        "admin": {"BOOL": bool(args.admin)},
        "revoked": {"BOOL": False},
    }
    if _aliases(args.aliases):
        item["aliases"] = {"SS": _aliases(args.aliases)}
    if args.tokens:
        item["tokens"] = {"N": str(args.tokens)}
    if args.usd:
        item["usd"] = {"N": str(args.usd)}
    if args.expires_days:
        item["expires_at"] = {"N": str(int(time.time() + args.expires_days * 86400))}
    client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    return {"key": key, "id": digest[:16], "team": args.team, "name": args.name or ""}


def _describe(item: dict[str, Any]) -> dict[str, Any]:
    expires = item.get("expires_at", {}).get("N")
    return {
        "id": item["pk"]["S"].removeprefix("key#")[:16],
        "team": item.get("team", {}).get("S"),
        "name": item.get("name", {}).get("S"),
        "aliases": item.get("aliases", {}).get("SS"),
        "tokens": int(item["tokens"]["N"]) if "tokens" in item else None,
        "usd": float(item["usd"]["N"]) if "usd" in item else None,
        "admin": item.get("admin", {}).get("BOOL", False),
        "revoked": item.get("revoked", {}).get("BOOL", False),
        "expires_at": None
        if expires is None
        else datetime.fromtimestamp(int(expires), tz=UTC).isoformat(timespec="seconds"),
    }


def list_keys(client: Any, table: str, team: str | None) -> list[dict[str, Any]]:
    keys = [_describe(i) for i in _scan_keys(client, table)]
    return sorted((k for k in keys if team is None or k["team"] == team), key=lambda k: (k["team"], k["id"]))


def revoke(client: Any, table: str, key_id: str) -> dict[str, Any]:
    item = _key_item_by_id(client, table, key_id)
    client.update_item(
        TableName=table,
        Key={"pk": item["pk"], "sk": item["sk"]},
        UpdateExpression="SET revoked = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    return {"id": key_id, "revoked": True}


def set_budget(client: Any, table: str, args: argparse.Namespace) -> dict[str, Any]:
    if bool(args.key) == bool(args.team):
        raise SystemExit("set-budget needs exactly one of --key or --team")
    if args.key:
        item = _key_item_by_id(client, table, args.key)
        key = {"pk": item["pk"], "sk": item["sk"]}
    else:
        key = {"pk": {"S": f"team#{args.team}"}, "sk": {"S": "team"}}
    sets, removes, values = [], [], {}
    for name, value in (("tokens", args.tokens), ("usd", args.usd)):
        if value is None:
            continue
        if value == 0:
            removes.append(name)
        else:
            sets.append(f"{name} = :{name}")
            values[f":{name}"] = {"N": str(value)}
    if _aliases(args.aliases):
        sets.append("aliases = :aliases")
        values[":aliases"] = {"SS": _aliases(args.aliases)}
    if not sets and not removes:
        raise SystemExit("nothing to set: give --tokens, --usd or --aliases")
    expression = " ".join(
        part
        for part in (f"SET {', '.join(sets)}" if sets else "", f"REMOVE {', '.join(removes)}" if removes else "")
        if part
    )
    client.update_item(
        TableName=table,
        Key=key,
        UpdateExpression=expression,
        **({"ExpressionAttributeValues": values} if values else {}),
    )
    return {"updated": args.key or args.team, "tokens": args.tokens, "usd": args.usd, "aliases": _aliases(args.aliases)}


def usage(client: Any, table: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every period counter of a key or a team (newest first)."""
    if bool(args.key) == bool(args.team):
        raise SystemExit("usage needs exactly one of --key or --team")
    pk = f"usage#caller#key:{args.key[:16]}" if args.key else f"usage#team#{args.team}"
    page = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": {"S": pk}, ":p": {"S": f"{args.period}#"}},
        ScanIndexForward=False,
        ConsistentRead=True,
    )
    rows = []
    for item in page.get("Items", []):

        def n(name: str, item: dict[str, Any] = item) -> int:
            return int(item.get(name, {}).get("N", "0"))

        rows.append(
            {
                "period": item["sk"]["S"].split("#", 1)[1],
                "requests": n("requests"),
                "spent_tokens": n("spent_tokens"),
                "spent_usd": n("spent_micros") / 1e6,
                "reserved_tokens": n("held_tokens") - n("spent_tokens"),
                "open_reservations": sum(1 for name in item if name.startswith("r_")),
            }
        )
    return rows


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", required=True, help="the governance table (stack output GovernanceTableName)")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create", help="create a key (printed once)")
    c.add_argument("--team", required=True)
    c.add_argument("--name")
    c.add_argument("--aliases", help="comma-separated allowed aliases (default: the team's)")
    c.add_argument("--tokens", type=int, help="the key's own token budget per period")
    c.add_argument("--usd", type=float, help="the key's own USD budget per period")
    c.add_argument("--expires-days", type=float)
    c.add_argument("--admin", action="store_true", help="may read every team's usage (GET /v1/usage?team=)")
    ls = sub.add_parser("list", help="list keys (never the keys themselves)")
    ls.add_argument("--team")
    r = sub.add_parser("revoke", help="revoke a key (effective within the gateway's key cache time)")
    r.add_argument("key_id")
    b = sub.add_parser("set-budget", help="set a key's or a team's budget (0 removes it) or aliases")
    for q in (b,):
        q.add_argument("--key")
        q.add_argument("--team")
        q.add_argument("--tokens", type=int)
        q.add_argument("--usd", type=float)
        q.add_argument("--aliases")
    u = sub.add_parser("usage", help="usage per period of a key or a team")
    u.add_argument("--key")
    u.add_argument("--team")
    u.add_argument("--period", choices=("day", "month"), default="day")
    return p


def main(argv: list[str] | None = None, client: Any = None) -> int:
    args = parser().parse_args(argv)
    client = client or _client()
    if args.command == "create":
        result: Any = create(client, args.table, args)
        print("Store this key now; it cannot be shown again:", file=sys.stderr)
    elif args.command == "list":
        result = list_keys(client, args.table, args.team)
    elif args.command == "revoke":
        result = revoke(client, args.table, args.key_id)
    elif args.command == "set-budget":
        result = set_budget(client, args.table, args)
    else:
        result = usage(client, args.table, args)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
