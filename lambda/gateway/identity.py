"""Who is calling: a :class:`Caller` for every request.

Where the identity comes from, by the gateway's auth mode (``governance.auth``):

* ``cognito``: API Gateway's Cognito user-pool authorizer has verified the ID token; the Lambda Web
  Adapter forwards API Gateway's request context "in the ``x-amzn-request-context`` header as a JSON
  string" (awslabs/aws-lambda-web-adapter docs/guide/src/features/request-context.md), so the
  caller is ``requestContext.authorizer.claims.sub`` and its groups ``claims["cognito:groups"]``.
  The team is the first of the caller's groups that is a configured team, else the default team.
* ``iam``: SigV4, verified by API Gateway; the caller is ``requestContext.identity.userArn``
  (``identity.caller`` when absent); the default team.
* ``apiKeys``: ``Authorization: Bearer sk-gw-...``, looked up by hash (:mod:`keys`); the key's team.
  API Gateway does not authenticate these routes, the function does (401 ``invalid_api_key``).
* ``none``: everyone is ``anonymous`` of the default team (development only).

The header is only trusted because the adapter writes it: it inserts ``x-amzn-request-context``
(serialized from the invocation event's request context) into the request headers, replacing any
value a client sent (awslabs/aws-lambda-web-adapter src/lib.rs ``fetch_response``).

:func:`caller_hash` is what logs, metrics and ``requestMetadata`` carry: never the user itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from errors import GatewayError
from keys import KeyRecord, KeyStore

COGNITO = "cognito"
IAM = "iam"
API_KEYS = "apiKeys"
NONE = "none"
AUTH_MODES = (COGNITO, IAM, API_KEYS, NONE)
CONTEXT_HEADER = "x-amzn-request-context"


@dataclass(frozen=True)
class Caller:
    """The identity of one request."""

    kind: str
    """``cognito``, ``iam``, ``key`` or ``anonymous``."""
    id: str
    """``cognito:<sub>``, ``iam:<arn>``, ``key:<hash prefix>`` or ``anonymous``."""
    team: str
    groups: tuple[str, ...] = ()
    key: KeyRecord | None = None
    admin: bool = False


def caller_hash(caller: Caller) -> str:
    """A stable, non-reversible 16-hex-digit tag of the caller (for logs and invocation-log metadata)."""
    return hashlib.sha256(caller.id.encode()).hexdigest()[:16]


def unauthorized(message: str) -> GatewayError:
    """401 in OpenAI's shape (``invalid_api_key``, as OpenAI answers a bad key)."""
    return GatewayError(401, message, type="invalid_request_error", code="invalid_api_key")


def request_context(header: str | None) -> dict[str, Any]:
    """The decoded ``x-amzn-request-context`` header (``{}`` when absent or not JSON)."""
    if not header:
        return {}
    try:
        value = json.loads(header)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _groups(raw: Any) -> tuple[str, ...]:
    """``cognito:groups`` as API Gateway passes claims (a list, or one string like ``[a, b]`` or ``a,b``)."""
    if isinstance(raw, list):
        return tuple(str(g) for g in raw if g)
    if isinstance(raw, str):
        return tuple(g for g in re.split(r"[\s,]+", raw.strip().strip("[]")) if g)
    return ()


def bearer(headers: Mapping[str, str]) -> str | None:
    """The bearer token of the ``Authorization`` header, if any (``headers``: lower-cased names)."""
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class Identifier:
    """Resolves the :class:`Caller` of a request for one auth mode."""

    def __init__(
        self,
        mode: str,
        *,
        default_team: str,
        teams: frozenset[str],
        admin_group: str | None,
        key_store: KeyStore | None = None,
    ) -> None:
        self.mode = mode
        self.default_team = default_team
        self.teams = teams
        self.admin_group = admin_group
        self.key_store = key_store

    def identify(self, headers: Mapping[str, str]) -> Caller:
        """The caller of a request with these headers (lower-cased names); 401 without a valid identity."""
        if self.mode == API_KEYS:
            return self._from_key(bearer(headers))
        context = request_context(headers.get(CONTEXT_HEADER))
        if self.mode == COGNITO:
            claims = (context.get("authorizer") or {}).get("claims") or {}
            sub = claims.get("sub")
            if not isinstance(sub, str) or not sub:
                raise unauthorized("No Cognito identity in the request context.")
            groups = _groups(claims.get("cognito:groups"))
            team = next((g for g in groups if g in self.teams), self.default_team)
            admin = self.admin_group is not None and self.admin_group in groups
            return Caller(COGNITO, f"cognito:{sub}", team, groups, admin=admin)
        if self.mode == IAM:
            identity = context.get("identity") or {}
            arn = identity.get("userArn") or identity.get("caller")
            if not isinstance(arn, str) or not arn:
                raise unauthorized("No IAM identity in the request context.")
            return Caller(IAM, f"iam:{arn}", self.default_team)
        return Caller("anonymous", "anonymous", self.default_team)

    def _from_key(self, token: str | None) -> Caller:
        if token is None:
            raise unauthorized("Missing API key: send 'Authorization: Bearer sk-gw-...'.")
        record = self.key_store.lookup(token) if self.key_store is not None else None
        if record is None:
            raise unauthorized("Incorrect API key provided (unknown, revoked or expired).")
        return Caller("key", record.caller_id, record.team or self.default_team, key=record, admin=record.admin)
