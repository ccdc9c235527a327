"""BatchStack: high-volume generation, off-peak (seed 001 §5.3 "batch generation", §4.2 "off-peak scheduling").

Three backends, one setting (``backend``):

- ``bedrock`` (default): :class:`BedrockBatchInference` — Bedrock batch inference at the batch price (about half of
  on-demand), OpenAI Batch or Bedrock JSONL in, OpenAI Batch or Bedrock results out; runs start on upload, in the
  off-peak window, or by hand.
- ``sagemaker-transform``: an open model (weights in your bucket) run by SageMaker batch transform through
  :class:`LlmBatchPipeline`, started in the off-peak window or by hand; the model's async endpoint stays at zero.
- ``sagemaker-async``: the same model on an asynchronous endpoint that scales on its backlog down to zero, with
  scheduled capacity: warm at the window's start, released after it — the near-real-time option.

The window is an :class:`OffPeakWindow` (EventBridge Scheduler with a time zone and a flexible start; Application
Auto Scaling scheduled actions for the async endpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cdk_llm_serving import (
    AutoScalingOptions,
    BatchInputFormat,
    BatchInvocationType,
    BedrockBatchInference,
    HostingMode,
    LlmBatchPipeline,
    ModelSource,
    OffPeakWindow,
    PropsValidationError,
    SageMakerLlmEndpoint,
    ScheduledCapacity,
)
from cdk_llm_serving.bedrock_batch import WINDOWS, WindowPlan, offpeak_schedule
from cdk_llm_serving.bedrock_batch.construct import props_problems

from ._common import alarm_topic
from .settings import settings_from_context

BACKENDS = ("bedrock", "sagemaker-transform", "sagemaker-async")
_FORMATS = {f.value: f for f in BatchInputFormat}
_INVOCATION = {t.value: t for t in BatchInvocationType}


@dataclass(frozen=True, kw_only=True)
class BatchSettings:
    """Settings of :class:`BatchStack`, read from cdk.json context ``batch``."""

    backend: str = "bedrock"
    """``bedrock`` (Bedrock batch inference), ``sagemaker-transform`` (batch transform of an open model) or
    ``sagemaker-async`` (async endpoint, scale to zero, warm in the window). Default: bedrock"""
    model_id: str = "us.amazon.nova-lite-v1:0"
    """bedrock: the model id, inference profile id or application-inference-profile ARN. Default: us.amazon.nova-lite-v1:0"""
    foundation_model_ids: tuple[str, ...] = ()
    """bedrock with an ARN ``model_id``: the foundation models it routes to. Default: derived from model_id"""
    invocation_type: str = "Converse"
    """bedrock: ``Converse`` or ``InvokeModel``. Default: Converse"""
    input_format: str = "auto"
    """bedrock: ``auto``, ``bedrock`` or ``openai``. Default: auto (per line)"""
    input_prefix: str = "input/"
    """bedrock: the folder of the input bucket that starts runs. Default: input/"""
    trigger_on_upload: bool = True
    """bedrock: start a run for each uploaded ``.jsonl``. Default: true"""
    schedule: bool = True
    """Run (bedrock, sagemaker-transform) or warm up (sagemaker-async) in the off-peak window. Default: true"""
    window_start: str = "01:00"
    """Local start of the off-peak window, ``HH:MM``. Default: 01:00"""
    window_days: str = "*"
    """Cron day-of-week field of the window (``*``, ``MON-FRI``). Default: every day"""
    time_zone: str = "UTC"
    """IANA time zone of the window. Default: UTC"""
    window_hours: int = 6
    """Length of the window (async capacity is released after it). Default: 6"""
    flexible_window_minutes: int = 15
    """How late after ``window_start`` a run may start (0: exactly then). Default: 15"""
    max_concurrent_jobs: int = 5
    """bedrock: jobs of a run at once, below the per-model quota of 20. Default: 5"""
    job_timeout_hours: int = 24
    """bedrock: timeoutDurationInHours of each job (24-168). Default: 24"""
    allow_invalid_records: bool = False
    """bedrock: submit the valid records of a file with malformed lines. Default: false"""
    notification_email: str | None = None
    """Subscribe this address to run summaries (confirm the e-mail after deploying). Default: none"""
    notification_topic_arn: str | None = None
    """Publish run summaries to this existing topic instead of a new one. Default: - a new topic"""
    weights_bucket_name: str = "cdk-llm-serving-model-weights"
    """sagemaker-*: existing bucket in this account with the model's weights. Default: cdk-llm-serving-model-weights"""
    weights_key: str = "qwen2.5-7b-instruct/model.tar.gz"
    """sagemaker-*: the model.tar.gz in that bucket (batch transform cannot read an uncompressed prefix).
    Default: qwen2.5-7b-instruct/model.tar.gz"""
    instance_type: str = "ml.g5.2xlarge"
    """sagemaker-*: instance type of the transform job or the endpoint. Default: ml.g5.2xlarge"""
    max_instances: int = 1
    """sagemaker-*: transform instances, or the async endpoint's most instances (warm in the window). Default: 1"""

    @property
    def window(self) -> OffPeakWindow:
        return OffPeakWindow(
            start=self.window_start,
            days=self.window_days,
            time_zone=self.time_zone,
            duration=cdk.Duration.hours(self.window_hours),
            flexible_window=cdk.Duration.minutes(self.flexible_window_minutes),
        )

    def problems(self) -> list[str]:
        """Allowed values, and the batch rules the stack's constructs would apply, named as settings (one pass)."""
        out: list[str] = []
        if self.backend not in BACKENDS:
            out.append(f"setting 'backend' must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.input_format not in _FORMATS:
            out.append(f"setting 'input_format' must be one of {', '.join(_FORMATS)}, got {self.input_format!r}")
        if self.invocation_type not in _INVOCATION:
            out.append(
                f"setting 'invocation_type' must be one of {', '.join(_INVOCATION)}, got {self.invocation_type!r}"
            )
        if not 1 <= self.window_hours <= 23:
            out.append(f"setting 'window_hours' must be between 1 and 23, got {self.window_hours}")
        if not 1 <= self.max_instances <= 20:
            out.append(f"setting 'max_instances' must be between 1 and 20, got {self.max_instances}")
        if self.notification_email is not None and "@" not in self.notification_email:
            out.append(f"setting 'notification_email' must be an e-mail address, got {self.notification_email!r}")
        if self.notification_email and self.notification_topic_arn:
            out.append(
                "settings 'notification_email' and 'notification_topic_arn' exclude each other (subscribe the address to your topic)"
            )
        if not self.weights_key.endswith(".tar.gz"):
            out.append(f"setting 'weights_key' must be a model.tar.gz, got {self.weights_key!r}")
        if self.flexible_window_minutes < 0:
            out.append(f"setting 'flexible_window_minutes' must be 0 or more, got {self.flexible_window_minutes}")
            return out
        if self.backend == "bedrock" and self.input_format in _FORMATS and self.invocation_type in _INVOCATION:
            # The construct's own checks and BATCH.* rules on the props these settings give it, in this pass.
            problems = props_problems(**self.batch_props(), schedule_prop="window")
        else:
            problems = WINDOWS.problems(WindowPlan(prop="window", window=self.window)) if self.schedule else []
        out += [_setting_terms(p) for p in problems]
        return out

    def batch_props(self) -> dict[str, Any]:
        """The ``BedrockBatchInference`` props these settings give (the stack adds its topics)."""
        return {
            "model_id": self.model_id,
            "foundation_model_ids": list(self.foundation_model_ids) or None,
            "invocation_type": _INVOCATION[self.invocation_type],
            "input_format": _FORMATS[self.input_format],
            "input_prefix": self.input_prefix,
            "schedule": self.window if self.schedule else None,
            "job_timeout": cdk.Duration.hours(self.job_timeout_hours),
            "max_concurrent_jobs": self.max_concurrent_jobs,
        }

    @classmethod
    def from_context(cls, raw: Any) -> BatchSettings:
        """Parse and check the ``batch`` context value; every problem is reported at once."""
        problems: list[str] = []
        settings = settings_from_context(
            cls, raw, context_key="batch", parsers={"foundation_model_ids": _parse_ids}, problems=problems
        )
        problems += settings.problems()
        if problems:
            raise PropsValidationError("cdk.json context 'batch'", problems)
        return settings


def _parse_ids(value: Any, problems: list[str]) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"setting 'foundation_model_ids' must be a list of model ids, got {value!r}")
        return None
    return tuple(value)


_TERMS = {
    "window.start": "window_start",
    "window.days": "window_days",
    "window.time_zone": "time_zone",
    "window.flexible_window": "flexible_window_minutes",
    "job_timeout": "job_timeout_hours",
    "model_id": "model_id",
    "foundation_model_ids": "foundation_model_ids",
    "input_prefix": "input_prefix",
    "max_concurrent_jobs": "max_concurrent_jobs",
}


def _setting_terms(problem: str) -> str:
    for prop, setting in _TERMS.items():
        problem = problem.replace(f"{prop} ", f"setting '{setting}' ", 1)
    return problem


class BatchStack(cdk.Stack):
    """Batch generation: Bedrock batch inference, SageMaker batch transform, or an async endpoint, off-peak."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: BatchSettings | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("description", "cdk-llm-serving: batch generation off-peak (Bedrock batch / SageMaker)")
        super().__init__(scope, construct_id, **kwargs)
        settings = settings or BatchSettings()
        problems = settings.problems()  # settings built in code skip from_context: check them here too
        if problems:
            raise PropsValidationError(f"BatchStack {construct_id} settings", problems)
        self.settings = settings
        self.alarm_topic = alarm_topic(self, "BatchStack")
        self.batch: BedrockBatchInference | None = None
        self.pipeline: LlmBatchPipeline | None = None
        self.endpoint: SageMakerLlmEndpoint | None = None
        if settings.backend == "bedrock":
            self._bedrock(settings)
        elif settings.backend == "sagemaker-transform":
            self._transform(settings)
        else:
            self._async(settings)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)

    def _notification_topic(self, settings: BatchSettings) -> sns.ITopic | None:
        if settings.notification_topic_arn:
            return sns.Topic.from_topic_arn(self, "NotificationTopic", settings.notification_topic_arn)
        return None

    def _bedrock(self, settings: BatchSettings) -> None:
        batch = BedrockBatchInference(
            self,
            "Batch",
            **settings.batch_props(),
            trigger_on_upload=settings.trigger_on_upload,
            allow_invalid_records=settings.allow_invalid_records,
            notification_topic=self._notification_topic(settings),
            alarm_topic=self.alarm_topic,
        )
        self.batch = batch
        if settings.notification_email:
            batch.notification_topic.add_subscription(subscriptions.EmailSubscription(settings.notification_email))
        cdk.CfnOutput(
            self,
            "InputBucketName",
            value=batch.input_bucket.bucket_name,
            description=f"Upload .jsonl files (OpenAI Batch or Bedrock records) under {settings.input_prefix}",
        )
        cdk.CfnOutput(
            self,
            "OutputBucketName",
            value=batch.output_bucket.bucket_name,
            description="Each run writes runs/<run id>/: results.jsonl, summary.json, openai/output.jsonl, openai/errors.jsonl",
        )
        cdk.CfnOutput(self, "StateMachineArn", value=batch.state_machine.state_machine_arn)
        cdk.CfnOutput(
            self, "StartRunCommand", value=batch.start_command, description="Start a run over one uploaded file"
        )
        cdk.CfnOutput(self, "NotificationTopicArn", value=batch.notification_topic.topic_arn)

    def _model(self, settings: BatchSettings, *, window: OffPeakWindow | None) -> SageMakerLlmEndpoint:
        weights = s3.Bucket.from_bucket_name(self, "Weights", settings.weights_bucket_name)
        schedules: list[ScheduledCapacity] = []
        if window is not None:
            tz = cdk.TimeZone.of(window.time_zone)
            start, end = window.scaling_expressions()
            schedules = [
                # Warm at the window's start: the backlog still decides how many of max_instances run.
                ScheduledCapacity(schedule=appscaling.Schedule.expression(start), min_capacity=1, time_zone=tz),
                # After it: back to the backlog alone, which releases the last instance once the queue is empty.
                ScheduledCapacity(schedule=appscaling.Schedule.expression(end), min_capacity=0, time_zone=tz),
            ]
        self.endpoint = SageMakerLlmEndpoint(
            self,
            "Llm",
            model=ModelSource.s3_tarball(weights, settings.weights_key),
            hosting=HostingMode.async_(),
            instance_type=settings.instance_type,
            autoscaling=AutoScalingOptions(
                max_capacity=settings.max_instances, scale_to_zero=True, schedules=schedules
            ),
            alarm_topic=self.alarm_topic,
        )
        cdk.CfnOutput(self, "EndpointName", value=self.endpoint.endpoint_name)
        cdk.CfnOutput(self, "BucketName", value=self.endpoint.bucket.bucket_name)
        return self.endpoint

    def _transform(self, settings: BatchSettings) -> None:
        llm = self._model(settings, window=None)
        self.pipeline = llm.add_batch_transform(
            "Transform", input_bucket=llm.bucket, instance_count=settings.max_instances
        )
        if settings.schedule:
            offpeak_schedule(
                self,
                "Schedule",
                window=settings.window,
                state_machine=self.pipeline.state_machine,
                input_note="scheduled",
            )
        cdk.CfnOutput(self, "StateMachineArn", value=self.pipeline.state_machine.state_machine_arn)
        cdk.CfnOutput(
            self,
            "StartRunCommand",
            value=f"aws stepfunctions start-execution --state-machine-arn {self.pipeline.state_machine.state_machine_arn}",
            description="Transform every JSON Lines file under batch/input/ now",
        )

    def _async(self, settings: BatchSettings) -> None:
        llm = self._model(settings, window=settings.window if settings.schedule else None)
        cdk.CfnOutput(
            self,
            "InvokeCommand",
            value=(
                f"aws sagemaker-runtime invoke-endpoint-async --endpoint-name {llm.endpoint_name} "
                f"--input-location s3://{llm.bucket.bucket_name}/async/input/<request>.json"
            ),
            description="Queue one request (results under async/output/)",
        )
