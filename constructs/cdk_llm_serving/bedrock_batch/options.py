"""Options of :class:`BedrockBatchInference` and the off-peak window every batch backend can run in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import aws_cdk as cdk

from .._types import TypedOptions

_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class BatchInvocationType(Enum):
    """How Bedrock reads ``modelInput`` (CreateModelInvocationJob ``modelInvocationType``; default ``CONVERSE``)."""

    CONVERSE = "Converse"
    """A Converse request body (``messages``, ``system``, ``inferenceConfig``), the same for every model. The default;
    needed for OpenAI-format input. Converse jobs refuse ``toolConfig``."""
    INVOKE_MODEL = "InvokeModel"
    """The model's native InvokeModel body (e.g. Anthropic Messages), for what Converse jobs cannot do (tools)."""


class BatchInputFormat(Enum):
    """The JSONL dialect of the input files (default ``AUTO``)."""

    AUTO = "auto"
    """Per line: a line with ``custom_id`` is an OpenAI Batch request, one with ``modelInput`` a Bedrock record. The default."""
    BEDROCK = "bedrock"
    """Bedrock's own ``{"recordId", "modelInput"}`` records only."""
    OPENAI = "openai"
    """OpenAI Batch API requests (``{"custom_id", "method", "url": "/v1/chat/completions", "body"}``) only."""


@dataclass(frozen=True, kw_only=True)
class BatchLimits(TypedOptions):
    """Per-job limits used when Service Quotas cannot be read at run time (or has no quota for the model).

    The prepare step reads the model's quotas by name (``ListServiceQuotas``, service code ``bedrock``) on every run;
    these values apply only to the limits it does not find, and the run manifest says which source each came from.
    """

    min_records: int = 100
    """Fewest records per job (quota "Minimum number of records per batch inference job"). Default: 100"""
    max_records: int = 50_000
    """Most records per job and per input file (quotas "Records per batch inference job", "Records per input file
    per batch inference job"). Default: 50,000"""
    max_file_size: cdk.Size = cdk.Size.gibibytes(1)
    """Largest job file (quotas "Batch inference input file size", "Batch inference job size": one job reads one
    file here). Default: 1 GiB"""


@dataclass(frozen=True, kw_only=True)
class OffPeakWindow(TypedOptions):
    """A daily off-peak window in a time zone: runs start in it (EventBridge Scheduler, with a flexible start), and
    capacity that must be warm for it (a SageMaker async endpoint) is scaled up at its start and released after it."""

    start: str = "01:00"
    """Local start time, ``HH:MM`` (24 h). Default: 01:00"""
    days: str = "*"
    """Days of the week, cron style: ``*``, ``MON-FRI``, ``SAT,SUN``. Default: every day"""
    time_zone: str = "UTC"
    """IANA time zone of ``start`` (``Europe/Paris``, ``America/New_York``). Default: UTC"""
    duration: cdk.Duration = cdk.Duration.hours(6)
    """How long the window lasts (capacity is released after it). Default: 6 hours"""
    flexible_window: cdk.Duration = cdk.Duration.minutes(15)
    """EventBridge Scheduler may start the run up to this long after ``start`` (spreads load); ``Duration.minutes(0)``
    starts exactly at ``start``. Default: 15 minutes"""

    # ------------------------------------------------------------------ expressions

    @property
    def hour_minute(self) -> tuple[int, int]:
        m = _HHMM.match(self.start)
        if m is None:
            return (0, 0)
        return int(m.group(1)), int(m.group(2))

    def scheduler_expression(self) -> str:
        """The EventBridge Scheduler ``cron(...)`` of the window's start (6 fields, in ``time_zone``)."""
        h, m = self.hour_minute
        return f"cron({m} {h} ? * {self.days} *)"

    def scaling_expressions(self) -> tuple[str, str]:
        """Application Auto Scaling ``cron(...)`` of the window's start and end (6 fields, in ``time_zone``)."""
        h, m = self.hour_minute
        end = h * 60 + m + int(self.duration.to_minutes(integral=False))
        days = self.days if end < 24 * 60 else _next_days(self.days)
        end %= 24 * 60
        return f"cron({m} {h} ? * {self.days} *)", f"cron({end % 60} {end // 60} ? * {days} *)"


def _next_days(days: str) -> str:
    """The day-of-week field one day later (a window that ends after midnight ends on the next day)."""
    if days in ("*", "?"):
        return days

    def shift(day: str) -> str:
        d = day.upper()
        if d in _DAYS:
            return _DAYS[(_DAYS.index(d) + 1) % 7]
        if d.isdigit():  # 1-7 = SUN-SAT
            return str(int(d) % 7 + 1)
        return d

    out = []
    for token in days.split(","):
        if "-" in token:
            a, b = token.split("-", 1)
            out.append(f"{shift(a)}-{shift(b)}")
        else:
            out.append(shift(token))
    return ",".join(out)


def valid_days(days: str) -> bool:
    """Whether ``days`` is a day-of-week cron field this library generates: ``*``, names or 1-7, ranges, lists."""
    if days == "*":
        return True
    token = r"(SUN|MON|TUE|WED|THU|FRI|SAT|[1-7])"
    return re.fullmatch(rf"{token}(-{token})?(,{token}(-{token})?)*", days.upper()) is not None
