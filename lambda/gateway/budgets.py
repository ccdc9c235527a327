"""Token and cost budgets on DynamoDB counters: reserve before the model call, settle after it.

One **counter item** per (budget holder, period): ``pk = "usage#team#<team>"`` or
``"usage#caller#<caller id>"``, ``sk = "day#2026-12-01"`` or ``"month#2026-12"`` (UTC).  Attributes:

* ``held_tokens`` / ``held_micros``: spent plus every open reservation (tokens; micro-USD);
* ``spent_tokens`` / ``spent_micros``: settled usage; ``requests``: settled requests;
* one top-level attribute ``r_<id>`` per open reservation: ``{t, u, exp}`` (tokens, micro-USD,
  expiry in epoch seconds);
* ``expires_at``: the table's TTL attribute (period end + :data:`HISTORY_DAYS`).

**Reserve** (:meth:`Budgets.reserve`) is one conditional ``UpdateItem`` per counter::

    ADD held_tokens :t, held_micros :u  SET r_<id> = {t, u, exp}
    CONDITION (attribute_not_exists(held_tokens) OR held_tokens <= :limit_minus_t) AND (... micros ...)

DynamoDB condition expressions compare operands but cannot do arithmetic (the grammar is
``operand comparator operand``, operands are paths or values: DynamoDB Developer Guide, "Condition and
filter expressions, operators, and functions"; botocore dynamodb 2012-08-10 UpdateItemInput
ConditionExpression lists only functions, comparison and logical operators), so the client passes
``limit - t``; and PutItem, GetItem, UpdateItem and DeleteItem "are atomic" (Developer Guide, "Working
with items and attributes"), so the condition and the update of one item cannot interleave with
another writer's.  A failed condition (``ConditionalCheckFailedException``) is HTTP 429
``insufficient_quota``; the model is not called.  Caller and team counters are reserved one after
the other; when the second fails the first is released.

**Settle** (:meth:`Budgets.settle`) is one ``UpdateItem`` per counter, conditional on the
reservation still being there::

    ADD held_tokens :(actual - t), spent_tokens :actual, ...  REMOVE r_<id>
    CONDITION attribute_exists(r_<id>)

so a settle runs at most once.  A request that fails before the model answered settles to 0
(releases everything).

**Expiry.**  A function that crashes between reserve and settle leaves ``r_<id>`` behind; it expires
at ``exp`` (reservation time + ``reservationSeconds``, which the construct sets above the function
timeout, so a live request always settles before its reservation expires).  The code reclaims
expired reservations itself: a reserve that fails reads the item (consistent read), removes every
expired ``r_<id>`` with ``ADD held_* -t REMOVE r_<id>`` (conditional on it existing, so two
reclaimers never both subtract) and retries once.  TTL is not used for this: TTL deletes whole
items, "on a best-effort basis", "typically within two days" (DynamoDB API Reference,
UpdateTimeToLive), so it only garbage-collects counters of old periods.  Reclaiming leaves a marker
``c_<id>``; a settle that finds its reservation reclaimed still charges the real usage, once
(``ADD held_* +actual, spent_* +actual REMOVE c_<id>``, conditional on the marker).

**Retries.**  Every write is idempotent, so the client's retries are safe: a reserve carries
``attribute_not_exists(r_<id>)`` (a retry of an applied attempt finds its own hold and succeeds), a
settle is conditional on ``r_<id>`` (or on the marker ``c_<id>``) and removes it.

**The guarantee.**  Per counter, ``held = spent + Σ open reservations`` and every reserve keeps
``held ≤ limit``, so with settled usage never above its reservation, ``spent ≤ limit`` under any
concurrency.  In general::

    spent ≤ limit + Σ max(0, actual_r - reserved_r) + Σ actual_s

over admitted requests ``r``, and over requests ``s`` that settled after their reservation expired
(none while ``reservationSeconds`` exceeds the function timeout).  ``actual_r > reserved_r`` needs the
model to bill more input tokens than :func:`estimate_input_tokens` allowed (its bound is UTF-8 bytes
of the text plus fixed allowances, see there); output never exceeds the capped ``max_tokens`` that
was reserved.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

DAY = "day"
MONTH = "month"
PERIODS = (DAY, MONTH)
#: Counter items are kept this long after their period ends (usage history), then TTL deletes them.
HISTORY_DAYS = 90
#: Prefix of the attribute of one open reservation in a counter item.
RESERVATION_PREFIX = "r_"
#: Prefix of the marker a reclaimed reservation leaves, so its late settle charges the usage exactly once.
RECLAIMED_PREFIX = "c_"
#: Name of the table's TTL attribute (the construct configures the table with it).
TTL_ATTRIBUTE = "expires_at"
#: micro-USD per USD.
MICROS = 1_000_000
CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class Limit:
    """A budget per period: tokens and/or USD (``None``: no limit of that kind)."""

    tokens: int | None = None
    usd: float | None = None

    @property
    def micros(self) -> int | None:
        return None if self.usd is None else int(round(self.usd * MICROS))


@dataclass(frozen=True)
class Counter:
    """One budget holder's counter: ``scope`` is ``caller`` or ``team``."""

    scope: str
    holder: str
    limit: Limit

    @property
    def pk(self) -> str:
        return f"usage#{self.scope}#{self.holder}"


@dataclass
class Hold:
    """A reservation on one counter item."""

    counter: Counter
    sk: str
    attribute: str


@dataclass
class Reservation:
    """What :meth:`Budgets.reserve` holds for one request."""

    tokens: int
    micros: int
    holds: list[Hold] = field(default_factory=list)
    settled: bool = False


class BudgetExceeded(Exception):
    """A reservation would take ``counter`` over its limit."""

    def __init__(self, counter: Counter, kind: str) -> None:
        super().__init__(f"{counter.scope} budget exhausted ({kind})")
        self.counter = counter
        self.kind = kind


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def period_of(period: str, now: float) -> tuple[str, int]:
    """(sort key, end in epoch seconds) of the period containing ``now`` (UTC)."""
    t = datetime.fromtimestamp(now, tz=UTC)
    if period == MONTH:
        start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
        return f"month#{start:%Y-%m}", int(end.timestamp())
    start = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return f"day#{start:%Y-%m-%d}", int((start + timedelta(days=1)).timestamp())


def cost_micros(input_tokens: int, output_tokens: int, price: tuple[float, float] | None) -> int:
    """Micro-USD of a request at ``price`` = (USD per 1M input tokens, USD per 1M output tokens), rounded up.

    USD per million tokens is micro-USD per token, so no scaling is needed.
    """
    if price is None:
        return 0
    return math.ceil(input_tokens * price[0] + output_tokens * price[1])


class Budgets:
    """Reserve/settle/reclaim on the governance table's counter items (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        period: str = DAY,
        reservation_seconds: int = 960,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table
        self.period = period
        self.reservation_seconds = reservation_seconds
        self._clock = clock

    # -- reserve -----------------------------------------------------------------

    def reserve(self, counters: Sequence[Counter], tokens: int, micros: int) -> Reservation:
        """Hold ``tokens``/``micros`` on every counter, or raise :class:`BudgetExceeded` holding nothing."""
        reservation = Reservation(tokens, micros)
        now = self._clock()
        sk, end = period_of(self.period, now)
        for counter in counters:
            self._precheck(counter, tokens, micros)  # before holding anything
        # Counters without a limit are reserved too (without a condition): usage is tracked for every caller and team.
        for counter in counters:
            attribute = RESERVATION_PREFIX + secrets.token_hex(8)
            try:
                if not self._try_reserve(counter, sk, end, attribute, tokens, micros, now):
                    self.reclaim(counter, sk)
                    if not self._try_reserve(counter, sk, end, attribute, tokens, micros, now):
                        raise BudgetExceeded(counter, self._exhausted_kind(counter, sk, tokens, micros))
            except BaseException:
                self.settle(reservation, 0, 0)  # release what the earlier counters hold
                raise
            reservation.holds.append(Hold(counter, sk, attribute))
        return reservation

    @staticmethod
    def _precheck(counter: Counter, tokens: int, micros: int) -> None:
        """A request larger than the whole budget is refused without a round trip."""
        limit = counter.limit
        if limit.tokens is not None and tokens > limit.tokens:
            raise BudgetExceeded(counter, "tokens")
        limit_micros = limit.micros
        if limit_micros is not None and micros > limit_micros:
            raise BudgetExceeded(counter, "usd")

    def _try_reserve(
        self, counter: Counter, sk: str, end: int, attribute: str, tokens: int, micros: int, now: float
    ) -> bool:
        # attribute_not_exists(#r): a retried call whose first attempt was applied must not add twice.
        conditions = ["attribute_not_exists(#r)"]
        values: dict[str, Any] = {
            ":t": _n(tokens),
            ":u": _n(micros),
            ":h": {"M": {"t": _n(tokens), "u": _n(micros), "exp": _n(int(now) + self.reservation_seconds)}},
            ":ttl": _n(end + HISTORY_DAYS * 86400),
        }
        if counter.limit.tokens is not None:
            conditions.append("(attribute_not_exists(held_tokens) OR held_tokens <= :tmax)")
            values[":tmax"] = _n(counter.limit.tokens - tokens)
        limit_micros = counter.limit.micros
        if limit_micros is not None:
            conditions.append("(attribute_not_exists(held_micros) OR held_micros <= :umax)")
            values[":umax"] = _n(limit_micros - micros)
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": counter.pk}, "sk": {"S": sk}},
                UpdateExpression="SET #r = :h, #ttl = :ttl ADD held_tokens :t, held_micros :u",
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames={"#r": attribute, "#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == CONDITION_FAILED:
                return attribute in self._item(counter.pk, sk)  # held already: an earlier attempt was applied
            raise
        return True

    def _exhausted_kind(self, counter: Counter, sk: str, tokens: int, micros: int) -> str:
        item = self._item(counter.pk, sk)
        if counter.limit.tokens is not None and _num(item, "held_tokens") + tokens > counter.limit.tokens:
            return "tokens"
        return "usd"

    # -- settle ------------------------------------------------------------------

    def settle(self, reservation: Reservation, tokens: int, micros: int) -> None:
        """Charge the real usage and release the rest of every hold (once; later calls do nothing)."""
        if reservation.settled:
            return
        reservation.settled = True
        for hold in reservation.holds:
            self._settle_hold(hold, reservation, tokens, micros)

    def _settle_hold(self, hold: Hold, reservation: Reservation, tokens: int, micros: int) -> None:
        key = {"pk": {"S": hold.counter.pk}, "sk": {"S": hold.sk}}
        values = {
            ":dt": _n(tokens - reservation.tokens),
            ":du": _n(micros - reservation.micros),
            ":at": _n(tokens),
            ":au": _n(micros),
            ":one": _n(1),
        }
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=(
                    "ADD held_tokens :dt, held_micros :du, spent_tokens :at, spent_micros :au, requests :one REMOVE #r"
                ),
                ConditionExpression="attribute_exists(#r)",
                ExpressionAttributeNames={"#r": hold.attribute},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != CONDITION_FAILED:
                raise
            # Gone: either settled already (a retried call whose first attempt was applied: nothing to do) or
            # expired and reclaimed, which left the marker c_<id>: charge the usage itself, once.
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression=(
                        "ADD held_tokens :at, held_micros :au, spent_tokens :at, spent_micros :au, requests :one "
                        "REMOVE #c"
                    ),
                    ConditionExpression="attribute_exists(#c)",
                    ExpressionAttributeNames={"#c": RECLAIMED_PREFIX + hold.attribute[len(RESERVATION_PREFIX) :]},
                    ExpressionAttributeValues={":at": values[":at"], ":au": values[":au"], ":one": values[":one"]},
                )
            except ClientError as again:
                if again.response.get("Error", {}).get("Code") != CONDITION_FAILED:
                    raise

    # -- expiry ------------------------------------------------------------------

    def reclaim(self, counter: Counter, sk: str | None = None) -> int:
        """Release the expired reservations of ``counter`` (this period unless ``sk``); return how many."""
        sk = sk or period_of(self.period, self._clock())[0]
        item = self._item(counter.pk, sk)
        now = self._clock()
        released = 0
        for name, value in item.items():
            if not name.startswith(RESERVATION_PREFIX):
                continue
            hold = value.get("M", {})
            if int(hold.get("exp", {}).get("N", "0")) > now:
                continue
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": counter.pk}, "sk": {"S": sk}},
                    UpdateExpression="ADD held_tokens :t, held_micros :u, reclaimed :one SET #c = :one REMOVE #r",
                    ConditionExpression="attribute_exists(#r)",
                    ExpressionAttributeNames={"#r": name, "#c": RECLAIMED_PREFIX + name[len(RESERVATION_PREFIX) :]},
                    ExpressionAttributeValues={
                        ":t": _n(-int(hold.get("t", {}).get("N", "0"))),
                        ":u": _n(-int(hold.get("u", {}).get("N", "0"))),
                        ":one": _n(1),
                    },
                )
                released += 1
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != CONDITION_FAILED:
                    raise  # someone else reclaimed or settled it first: fine
        return released

    # -- reading -----------------------------------------------------------------

    def _item(self, pk: str, sk: str) -> dict[str, Any]:
        response = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item: dict[str, Any] = response.get("Item") or {}
        return item

    def usage(self, counter: Counter) -> dict[str, Any]:
        """The counter's state this period: spent, held, open reservations, limits and what remains."""
        sk, end = period_of(self.period, self._clock())
        item = self._item(counter.pk, sk)
        spent_tokens, held_tokens = _num(item, "spent_tokens"), _num(item, "held_tokens")
        spent_micros, held_micros = _num(item, "spent_micros"), _num(item, "held_micros")
        limit = counter.limit
        limit_micros = limit.micros
        return {
            "period": sk.split("#", 1)[1],
            "period_type": self.period,
            "resets_at": end,
            "requests": _num(item, "requests"),
            "spent_tokens": spent_tokens,
            "spent_usd": spent_micros / MICROS,
            "reserved_tokens": held_tokens - spent_tokens,
            "reserved_usd": (held_micros - spent_micros) / MICROS,
            "open_reservations": sum(1 for name in item if name.startswith(RESERVATION_PREFIX)),
            "limit_tokens": limit.tokens,
            "limit_usd": limit.usd,
            "remaining_tokens": None if limit.tokens is None else max(0, limit.tokens - held_tokens),
            "remaining_usd": None if limit_micros is None else max(0, limit_micros - held_micros) / MICROS,
        }


def _num(item: dict[str, Any], name: str) -> int:
    value = item.get(name, {}).get("N")
    return int(value) if value is not None else 0
