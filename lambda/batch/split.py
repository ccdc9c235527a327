"""Split a run's valid records into job files within Bedrock's per-job limits, and read those limits.

Per model, in Service Quotas (service code ``bedrock``; Bedrock user guide "Quotas for Amazon Bedrock"):
``Minimum number of records per batch inference job for <model>``, ``Records per batch inference job for
<model>``, ``Records per input file per batch inference job for <model>``, ``Batch inference input file size
(in GB) for <model>`` and ``Batch inference job size (in GB) for <model>``. Their codes differ per model, so
they are found by name (``ListServiceQuotas``), and each falls back to the construct's documented value when the
lookup fails or finds no quota for the model. One job reads one file here, so a part must fit both the
per-file and the per-job limits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

GB = 1024**3


@dataclass(frozen=True)
class Limits:
    """The per-job limits a run is split under, and where each came from."""

    min_records: int
    max_records: int
    max_bytes: int
    sources: dict[str, str]


class SplitError(ValueError):
    """The valid records cannot form jobs Bedrock accepts (too few, or one record larger than a job file)."""


#: Quota name prefix -> (field of Limits, unit multiplier). A quota name is "<prefix> for <model>" (sizes may
#: carry "(in GB)" before or after the model name).
QUOTA_NAMES: tuple[tuple[str, str, int], ...] = (
    ("minimum number of records per batch inference job", "min_records", 1),
    ("records per input file per batch inference job", "max_records", 1),
    ("records per batch inference job", "max_records", 1),
    ("batch inference input file size", "max_bytes", GB),
    ("batch inference job size", "max_bytes", GB),
)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def model_quota_key(model_id: str) -> str:
    """The model part of a model id, as quota names spell it once normalized (``anthropic.claude-3-haiku-20240307-v1:0``
    → ``claude3haiku``; ``us.amazon.nova-lite-v1:0`` → ``novalite``)."""
    name = model_id.rsplit("/", 1)[-1]
    name = name.split(".", 2)[-1] if name.count(".") >= 2 else name.split(".", 1)[-1]
    name = re.sub(r"-\d{8}", "", name)
    name = re.sub(r"-v\d+(:\d+)?$", "", name)
    name = re.sub(r":\d+$", "", name)
    return _key(name)


def limits_from_quotas(quotas: Iterable[dict[str, Any]], model_name: str, fallback: Limits) -> Limits:
    """The limits for ``model_name`` (a display name, or a :func:`model_quota_key`) from Service Quotas entries
    (``{"QuotaName", "Value"}``); each limit no quota names falls back to ``fallback``. The strictest matching
    value wins (per-file and per-job limits both apply)."""
    want = _key(model_name)
    found: dict[str, float] = {}
    sources = dict(fallback.sources)
    for q in quotas:
        name = str(q.get("QuotaName", "")).lower()
        value = q.get("Value")
        if not isinstance(value, (int, float)):
            continue
        for prefix, field, unit in QUOTA_NAMES:
            if not name.startswith(prefix + " "):
                continue
            rest = name[len(prefix) :].replace("(in gb)", "")
            if not rest.strip().startswith("for "):
                break
            subject = _key(rest.strip()[4:])
            if want and (subject == want or subject.endswith(want)):
                amount = value * unit
                if field == "min_records":
                    found[field] = max(found.get(field, 0), amount)
                else:
                    found[field] = min(found.get(field, math.inf), amount)
                sources[field] = f"service-quotas: {q.get('QuotaName')}"
            break
    return replace(
        fallback,
        min_records=int(found.get("min_records", fallback.min_records)),
        max_records=int(found.get("max_records", fallback.max_records)),
        max_bytes=int(found.get("max_bytes", fallback.max_bytes)),
        sources=sources,
    )


def plan_parts(sizes: Sequence[int], limits: Limits) -> list[range]:
    """Index ranges of ``sizes`` (bytes of each record's JSONL line) forming the jobs of a run.

    Every part holds at most ``max_records`` records and ``max_bytes`` bytes and at least ``min_records``
    records; parts are balanced (not max-sized then a small tail), so a tail below the minimum is avoided
    whenever the total allows it.
    """
    n = len(sizes)
    if n < limits.min_records:
        raise SplitError(
            f"the run has {n} valid record(s), below the minimum of {limits.min_records} per batch inference job "
            f"({limits.sources.get('min_records', 'fallback')}); add records or send them on demand"
        )
    for i, size in enumerate(sizes):
        if size > limits.max_bytes:
            raise SplitError(f"record {i} is {size} bytes, more than a whole job file ({limits.max_bytes} bytes)")
    total = sum(sizes)
    count = max(math.ceil(n / limits.max_records), math.ceil(total / limits.max_bytes), 1)
    while True:
        parts = _fill(sizes, limits, per_part=math.ceil(n / count))
        if len(parts) == 1 or len(parts[-1]) >= limits.min_records:
            return parts
        fixed = _rebalance_tail(parts, sizes, limits)
        if fixed is not None:
            return fixed
        count += 1
        if count > n // max(limits.min_records, 1):
            raise SplitError(
                f"{n} records of {total} bytes cannot be split into jobs of {limits.min_records}-{limits.max_records} "
                f"records and at most {limits.max_bytes} bytes"
            )


def _fill(sizes: Sequence[int], limits: Limits, *, per_part: int) -> list[range]:
    cap = min(per_part, limits.max_records)
    parts: list[range] = []
    start, used = 0, 0
    for i, size in enumerate(sizes):
        if i - start >= cap or used + size > limits.max_bytes:
            parts.append(range(start, i))
            start, used = i, 0
        used += size
    parts.append(range(start, len(sizes)))
    return parts


def _rebalance_tail(parts: list[range], sizes: Sequence[int], limits: Limits) -> list[range] | None:
    """Move records from the previous part into a tail below the minimum, if both stay within the limits."""
    prev, tail = parts[-2], parts[-1]
    need = limits.min_records - len(tail)
    if len(prev) - need < limits.min_records:
        return None
    cut = prev.stop - need
    if sum(sizes[cut : tail.stop]) > limits.max_bytes:
        return None
    return [*parts[:-2], range(prev.start, cut), range(cut, tail.stop)]
