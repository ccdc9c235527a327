"""Upstream rules for BedrockBatchInference and the off-peak schedules of the batch backends, checked at synth time
(see :mod:`cdk_llm_serving._rules`).

Two subjects: :class:`JobPlan` (what the construct will send to ``CreateModelInvocationJob``) and
:class:`WindowPlan` (an :class:`~.options.OffPeakWindow` as EventBridge Scheduler and Application Auto Scaling
will read it).
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from .._rules import RuleSet
from .options import OffPeakWindow, valid_days

_BOTOCORE = "botocore 1.44.5 data/bedrock/2023-04-20/service-2.json"

#: CreateModelInvocationJob jobName (botocore ModelInvocationJobName): min 1, max 63, this pattern.
JOB_NAME_RE = re.compile(r"[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}")
JOB_NAME_MAX = 63
#: What the runtime appends to the prefix: "-" + 20-hex run id + "-" + 4-digit part (lambda/batch/handler.py job_name).
JOB_NAME_SUFFIX = "-0123456789abcdef0123-0000"
#: ModelInvocationJobS3InputDataConfig/OutputDataConfig s3Uri (botocore S3Uri).
S3_URI_RE = re.compile(r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?")
S3_URI_MAX = 1024
#: CreateModelInvocationJob modelId (botocore shape ModelId, of CreateModelInvocationJobRequest).
MODEL_ID_RE = re.compile(
    r"(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:(([0-9]{12}:custom-model/[a-z0-9-]{1,63}[.]{1}[a-z0-9-:]{1,63}/[a-z0-9]{12}$)"
    r"|(:foundation-model/([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})"
    r"|(([0-9a-zA-Z][_-]?)+)$)|([0-9]{12}:(inference-profile|application-inference-profile)/[a-zA-Z0-9-:.]+$)))"
    r"|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})|(([0-9a-zA-Z][_-]?)+)"
)
TIMEOUT_HOURS = (24, 168)
DEFAULT_MIN_RECORDS = 100
FLEXIBLE_WINDOW_MINUTES = (1, 1440)
#: "Sum of in-progress and submitted batch inference jobs using a base model for <model>": default 20.
CONCURRENT_JOBS_QUOTA = 20


@dataclass(frozen=True, kw_only=True)
class JobPlan:
    """What BedrockBatchInference will send to CreateModelInvocationJob, as its rules see it."""

    model_id: str
    """``model_id`` as given (a token is not checked)."""
    job_name_prefix: str
    """``job_name_prefix``: job names are ``<prefix>-<run id>-<part>``."""
    timeout_hours: float
    """``job_timeout`` in hours."""
    fallback_min_records: int
    """``fallback_limits.min_records``."""
    fallback_max_records: int
    """``fallback_limits.max_records``."""
    runs_prefix: str
    """The key prefix of the job files and outputs (``runs/``)."""
    max_concurrent_jobs: int
    """``max_concurrent_jobs``: the Map's concurrency."""


@dataclass(frozen=True, kw_only=True)
class WindowPlan:
    """An off-peak window, and the prop that holds it (for messages)."""

    prop: str
    """The prop or setting that holds the window, as messages name it."""
    window: OffPeakWindow
    """The window."""


JOBS: RuleSet[JobPlan] = RuleSet("BATCH")
WINDOWS: RuleSet[WindowPlan] = RuleSet("BATCH")


@JOBS.rule(
    "BATCH.JOB_NAME",
    "CreateModelInvocationJob jobName is 1-63 characters of [a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9+\\-.]){0,63}; the runtime "
    "names each job <prefix>-<20-hex run id>-<4-digit part>",
    source=f"{_BOTOCORE} shapes ModelInvocationJobName (min 1, max 63, pattern); lambda/batch/handler.py job_name",
)
def _job_name(plan: JobPlan) -> Iterable[str]:
    example = plan.job_name_prefix + JOB_NAME_SUFFIX
    if len(example) > JOB_NAME_MAX:
        yield (
            f"job_name_prefix {plan.job_name_prefix!r} is too long: job names are <prefix>{JOB_NAME_SUFFIX} "
            f"({len(example)} characters) and Bedrock allows {JOB_NAME_MAX}; use at most "
            f"{JOB_NAME_MAX - len(JOB_NAME_SUFFIX)} characters"
        )
    elif not plan.job_name_prefix or JOB_NAME_RE.fullmatch(example) is None:
        yield (
            f"job_name_prefix {plan.job_name_prefix!r} makes job names Bedrock rejects (pattern "
            f"{JOB_NAME_RE.pattern}): start with a letter or digit, then letters, digits, '-', '+' or '.'"
        )


@JOBS.rule(
    "BATCH.TIMEOUT_HOURS",
    "CreateModelInvocationJob timeoutDurationInHours is a whole number of hours from 24 to 168",
    source=f"{_BOTOCORE} shapes ModelInvocationJobTimeoutDurationInHours (integer, min 24, max 168)",
)
def _timeout(plan: JobPlan) -> Iterable[str]:
    lo, hi = TIMEOUT_HOURS
    if plan.timeout_hours != int(plan.timeout_hours) or not lo <= plan.timeout_hours <= hi:
        yield (
            f"job_timeout is {plan.timeout_hours:g} hours; Bedrock takes whole hours from {lo} to {hi} "
            "(use cdk.Duration.hours(24) .. cdk.Duration.days(7))"
        )


@JOBS.rule(
    "BATCH.RECORD_COUNT_FALLBACKS",
    "A job needs at least the quota 'Minimum number of records per batch inference job' (default 100) records; the "
    "fallback minimum must not be lower, and the fallback maximum must not be below it",
    source="Bedrock user guide 'Code example for batch inference' (batch-inference-example: 'at least the minimum number "
    "of records (see the Minimum number of records per batch inference job for {Model} quota)'); default 100 per "
    "design/review-2026-12/F-anchors-research.md §1c (quota values from public code, the General Reference table "
    "was not available)",
)
def _record_fallbacks(plan: JobPlan) -> Iterable[str]:
    if plan.fallback_min_records < DEFAULT_MIN_RECORDS:
        yield (
            f"fallback_limits.min_records is {plan.fallback_min_records}: below Bedrock's default minimum of "
            f"{DEFAULT_MIN_RECORDS} records per job, such jobs fail validation when the quota cannot be read; "
            f"use at least {DEFAULT_MIN_RECORDS}"
        )
    if plan.fallback_max_records < plan.fallback_min_records:
        yield (
            f"fallback_limits.max_records ({plan.fallback_max_records}) is below min_records "
            f"({plan.fallback_min_records}): no job could be formed"
        )


@JOBS.rule(
    "BATCH.MODEL_ID",
    "CreateModelInvocationJob modelId is a foundation-model id or ARN, a custom-model ARN, or an (application) "
    "inference profile id or ARN; batch inference does not run on provisioned models",
    source=f"{_BOTOCORE} shapes ModelId (CreateModelInvocationJobRequest.modelId pattern); Bedrock user guide batch-inference "
    "'Batch inference isn't supported for provisioned models'",
)
def _model_id(plan: JobPlan) -> Iterable[str]:
    if plan.model_id.startswith("${Token["):
        return
    if ":provisioned-model/" in plan.model_id:
        yield f"model_id {plan.model_id!r} is a provisioned model; batch inference runs on on-demand models and profiles only"
    elif MODEL_ID_RE.fullmatch(plan.model_id) is None:
        yield (
            f"model_id {plan.model_id!r} is not a model id Bedrock batch accepts (e.g. 'amazon.nova-lite-v1:0', "
            "'us.amazon.nova-lite-v1:0' or an application-inference-profile ARN)"
        )


@JOBS.rule(
    "BATCH.S3_URI",
    "Job input and output S3 URIs match s3://<bucket>(/<segment of -!_*'().a-zA-Z0-9>)*/? and are at most 1024 characters",
    source=f"{_BOTOCORE} shapes S3Uri (pattern, max 1024) of ModelInvocationJobS3InputDataConfig/OutputDataConfig",
)
def _s3_uri(plan: JobPlan) -> Iterable[str]:
    # The bucket name is a deploy-time token; the key part is ours: <runs_prefix><run id>/parts/part-0000.jsonl.
    example = f"s3://example-bucket/{plan.runs_prefix}0123456789abcdef0123/parts/part-0000.jsonl"
    if (
        not plan.runs_prefix.endswith("/")
        or plan.runs_prefix.startswith("/")
        or "//" in plan.runs_prefix
        or S3_URI_RE.fullmatch(example) is None
    ):
        yield (
            f"runs_prefix {plan.runs_prefix!r} makes job S3 URIs Bedrock rejects: use folders of letters, digits and "
            "-!_*'(). ending in '/' (e.g. 'runs/')"
        )
    elif len(example) > S3_URI_MAX - 64:  # 64 characters for the bucket name
        yield f"runs_prefix {plan.runs_prefix!r} is too long for Bedrock's 1024-character S3 URIs"


@JOBS.rule(
    "BATCH.CONCURRENT_JOBS",
    "At most 'Sum of in-progress and submitted batch inference jobs using a base model' jobs (default 20) may exist "
    "per model; the run's Map concurrency must stay below it",
    source="Bedrock service quotas (quotas.html; name 'Sum of in-progress and submitted batch inference jobs using a base "
    "model for ${model}'); default 20 per awslabs/graphrag-toolkit BatchConfig docs (design/review-2026-12/F-anchors-research.md §1a)",
)
def _concurrency(plan: JobPlan) -> Iterable[str]:
    if not 1 <= plan.max_concurrent_jobs < CONCURRENT_JOBS_QUOTA:
        yield (
            f"max_concurrent_jobs is {plan.max_concurrent_jobs}; keep it from 1 to {CONCURRENT_JOBS_QUOTA - 1}, below the "
            f"default quota of {CONCURRENT_JOBS_QUOTA} in-progress and submitted jobs per model (other runs and "
            "callers share it)"
        )


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@WINDOWS.rule(
    "BATCH.SCHEDULE_TIME_ZONE",
    "EventBridge Scheduler ScheduleExpressionTimezone and Application Auto Scaling Timezone take IANA time zone names",
    source="EventBridge Scheduler API CreateSchedule ScheduleExpressionTimezone; Application Auto Scaling user guide "
    "scheduled-scaling-using-cron-expressions ('canonical names of the IANA time zones supported by Joda-Time')",
)
def _time_zone(plan: WindowPlan) -> Iterable[str]:
    if plan.window.time_zone not in _zones():
        yield f"{plan.prop}.time_zone {plan.window.time_zone!r} is not an IANA time zone name (e.g. 'Europe/Paris', 'UTC')"


@WINDOWS.rule(
    "BATCH.SCHEDULER_FLEXIBLE_WINDOW",
    "EventBridge Scheduler FlexibleTimeWindow.MaximumWindowInMinutes is 1-1440 when Mode is FLEXIBLE (0 here means OFF)",
    source="EventBridge Scheduler API reference FlexibleTimeWindow (MaximumWindowInMinutes: minimum 1, maximum 1440; "
    "Mode OFF | FLEXIBLE)",
)
def _flexible(plan: WindowPlan) -> Iterable[str]:
    minutes = plan.window.flexible_window.to_minutes(integral=False)
    lo, hi = FLEXIBLE_WINDOW_MINUTES
    if minutes != 0 and (minutes != int(minutes) or not lo <= minutes <= hi):
        yield (
            f"{plan.prop}.flexible_window is {minutes:g} minutes; EventBridge Scheduler takes whole minutes from 1 to "
            "1440 (or 0 for an exact start)"
        )


@WINDOWS.rule(
    "BATCH.CRON_FIELDS",
    "Scheduler and Application Auto Scaling cron() has six fields [Minutes] [Hours] [Day_of_Month] [Month] "
    "[Day_of_Week] [Year], '?' in one of the two day fields; day-of-week is 1-7 or SUN-SAT, with ranges and lists",
    source="Application Auto Scaling user guide scheduled-scaling-using-cron-expressions (six fields; e.g. "
    "'30 6 ? * MON *'); EventBridge user guide 'Cron expressions reference' (day-of-week 1-7 or SUN-SAT, '?')",
)
def _cron(plan: WindowPlan) -> Iterable[str]:
    w = plan.window
    if re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", w.start) is None:
        yield f"{plan.prop}.start {w.start!r} must be HH:MM (24 h), e.g. '01:30'"
    if not valid_days(w.days):
        yield f"{plan.prop}.days {w.days!r} is not a cron day-of-week field: use '*', 'MON-FRI', 'SAT,SUN' or 1-7"
    for expression in (w.scheduler_expression(), *w.scaling_expressions()):
        fields = expression.removeprefix("cron(").removesuffix(")").split(" ")
        if len(fields) != 6 or "?" not in (fields[2], fields[4]):
            yield f"{plan.prop} renders {expression!r}, not a six-field cron() with '?' in a day field"
