"""Gateway API keys ("virtual keys"): format, hashing, and the cached lookup in DynamoDB.

A key is ``sk-gw-`` followed by 43 URL-safe characters (32 random bytes from :mod:`secrets`).  The
table never holds a key, only its SHA-256 (hex): the item ``pk = "key#<sha256>"``, ``sk = "key"``
carries ``team``, ``name``, ``aliases`` (allowed model aliases; absent: every alias the team may
use), ``tokens``/``usd`` (the key's own budget per period; absent: none), ``admin``, ``revoked``
and ``expires_at`` (epoch seconds; also the table's TTL attribute).

Looking a key up by its hash means no secret is ever compared byte by byte against input; the one
comparison that remains (the stored hash against the hash of the presented key, a guard against
a corrupted item) uses :func:`hmac.compare_digest`.

Expiry is checked here, not left to TTL: DynamoDB deletes expired items "on a best-effort basis"
and "typically within two days"; "items that have expired and not been deleted will still show up
in reads" (DynamoDB API Reference, UpdateTimeToLive).

Lookups are cached in memory for ``ttl`` seconds (default 60, ``governance.keyCacheSeconds``),
negative answers too, so revoking a key takes effect within that time on every warm function.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

PREFIX = "sk-gw-"
#: Random bytes of a key (256 bits).
KEY_BYTES = 32
#: Table key of a key item.
SORT_KEY = "key"
#: At most this many lookups are cached (least recently used are dropped).
CACHE_SIZE = 4096


def new_key() -> str:
    """A fresh high-entropy key (``sk-gw-...``)."""
    return PREFIX + secrets.token_urlsafe(KEY_BYTES)


def key_hash(key: str) -> str:
    """SHA-256 (hex) of a key: what the table stores."""
    return hashlib.sha256(key.encode()).hexdigest()


def partition_key(digest: str) -> str:
    """Partition key of the item of the key whose hash is ``digest``."""
    return f"key#{digest}"


def looks_like_key(value: str) -> bool:
    """Whether ``value`` has the shape of a gateway key (cheap check before any lookup)."""
    return value.startswith(PREFIX) and 20 <= len(value) <= 200


@dataclass(frozen=True)
class KeyRecord:
    """One key, as read from the table."""

    digest: str
    team: str
    name: str = ""
    aliases: tuple[str, ...] | None = None
    tokens: int | None = None
    usd: float | None = None
    admin: bool = False
    revoked: bool = False
    expires_at: int | None = None

    @property
    def caller_id(self) -> str:
        """The caller identity of requests made with this key (never the key itself)."""
        return f"key:{self.digest[:16]}"

    def usable(self, now: float) -> bool:
        """Not revoked and not past ``expires_at`` (TTL deletion may lag: see the module docstring)."""
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


def _number(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("N")
    return value if isinstance(value, str) else None


def record_from_item(item: dict[str, Any]) -> KeyRecord:
    """A :class:`KeyRecord` from a low-level DynamoDB item."""
    digest = item["pk"]["S"].removeprefix("key#")
    aliases = item.get("aliases", {}).get("SS") or item.get("aliases", {}).get("L")
    tokens = _number(item, "tokens")
    usd = _number(item, "usd")
    expires = _number(item, "expires_at")
    return KeyRecord(
        digest=digest,
        team=item.get("team", {}).get("S", ""),
        name=item.get("name", {}).get("S", ""),
        aliases=None if aliases is None else tuple(a if isinstance(a, str) else a["S"] for a in aliases),
        tokens=None if tokens is None else int(tokens),
        usd=None if usd is None else float(usd),
        admin=bool(item.get("admin", {}).get("BOOL", False)),
        revoked=bool(item.get("revoked", {}).get("BOOL", False)),
        expires_at=None if expires is None else int(float(expires)),
    )


class KeyStore:
    """Looks keys up by hash in the governance table, with a small in-memory cache."""

    def __init__(self, client: Any, table: str, ttl: float = 60.0, clock: Any = time.time) -> None:
        self._client = client
        self._table = table
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[float, KeyRecord | None]] = OrderedDict()

    def lookup(self, key: str) -> KeyRecord | None:
        """The usable key record of ``key``, or ``None`` (unknown, revoked or expired)."""
        if not looks_like_key(key):
            return None
        digest = key_hash(key)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(digest)
            if cached is not None and now - cached[0] < self._ttl:
                self._cache.move_to_end(digest)
                record = cached[1]
                return record if record is not None and record.usable(now) else None
        record = self._fetch(digest)
        with self._lock:
            self._cache[digest] = (now, record)
            self._cache.move_to_end(digest)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return record if record is not None and record.usable(now) else None

    def _fetch(self, digest: str) -> KeyRecord | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": partition_key(digest)}, "sk": {"S": SORT_KEY}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None:
            return None
        record = record_from_item(item)
        # Defence in depth (the item was found by this hash): constant-time comparison.
        if not hmac.compare_digest(record.digest.encode(), digest.encode()):
            return None
        return record
