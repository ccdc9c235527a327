"""Typed options of :class:`SageMakerLlmEndpoint`: hosting mode (:class:`HostingMode`), scaling, rollouts, data capture."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_s3 as s3

from .._types import TypedOptions
from ._checks import typed_factory


class InferenceMode(Enum):
    """The kind of a :class:`HostingMode` (``hosting.kind``); choose one with the ``HostingMode`` factories."""

    REAL_TIME = "real-time"
    """A classic production variant: the model owns whole instances. Scales instances (min 1)."""
    INFERENCE_COMPONENT = "inference-component"
    """Real-time with an inference component: the model gets a compute reservation (accelerators, CPU,
    memory) on instances the endpoint manages; scales copies, and can scale to zero."""
    SERVERLESS = "serverless"
    """Serverless: CPU only (a CPU image), at most 6 GB of memory, no VPC, network isolation or data capture, and
    no ``ModelDataSource`` (use ``ModelSource.s3_tarball``). Only for small models."""
    ASYNC = "async"
    """Asynchronous: requests queue in S3, results go to S3 and SNS; can scale to zero instances."""

    @property
    def factory(self) -> str:
        """The :class:`HostingMode` factory call of this kind, for messages (``HostingMode.serverless()``)."""
        return f"HostingMode.{_FACTORIES[self]}()"


_FACTORIES = {
    InferenceMode.REAL_TIME: "real_time",
    InferenceMode.INFERENCE_COMPONENT: "inference_component",
    InferenceMode.SERVERLESS: "serverless",
    InferenceMode.ASYNC: "async_",
}


@dataclass(frozen=True, kw_only=True)
class InferenceComponentOptions(TypedOptions):
    """The compute reservation of one model copy (the seed notebook's ``ResourceRequirements``)."""

    accelerators: int = 1
    """GPUs (or Neuron chips) per copy: ``NumberOfAcceleratorDevicesRequired``. Default: 1."""
    cpu_cores: float | None = None
    """``NumberOfCpuCoresRequired``. Default: unset (SageMaker decides)."""
    min_memory_mb: int = 1024
    """``MinMemoryRequiredInMb``, a scheduling reservation, not a cap. Default: 1024."""
    max_memory_mb: int | None = None
    """``MaxMemoryRequiredInMb``. Default: unset."""
    copies: int = 1
    """Initial copy count (``RuntimeConfig.CopyCount``). Default: 1."""
    max_instances: int | None = None
    """Managed instance scaling upper bound. Default: enough instances for the autoscaling ``max_capacity``
    copies (or ``copies``), given how many copies fit on one instance."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Per-component container overrides (SageMaker allows at most 16). Default: none."""


@dataclass(frozen=True, kw_only=True)
class ServerlessOptions(TypedOptions):
    """``ServerlessConfig`` of a serverless variant."""

    memory_size_mb: int = 6144
    """1024-6144 in steps of 1024. Default: 6144 (the maximum)."""
    max_concurrency: int = 5
    """1-200 concurrent invocations. Default: 5."""
    provisioned_concurrency: int | None = None
    """Pre-warmed capacity (billed while idle), at most ``max_concurrency``. Default: none (cold starts)."""


@dataclass(frozen=True, kw_only=True)
class AsyncInferenceOptions(TypedOptions):
    """Asynchronous inference: where results go and who is told."""

    output_bucket: s3.IBucket | None = None
    """Bucket for inputs, outputs and failures. Default: - a new bucket (KMS, TLS-only, versioned; noncurrent
    versions expire after 7 days, current objects are kept)."""
    output_prefix: str = "async/output/"
    """Default: ``async/output/``."""
    failure_prefix: str = "async/failure/"
    """Default: ``async/failure/``."""
    input_prefix: str = "async/input/"
    """Where :meth:`grant_invoke_async` lets callers upload request payloads. Default: ``async/input/``."""
    notifications: bool = True
    """Create success and error SNS topics (KMS-encrypted, TLS-only). Default: True."""
    include_response_in_notification: bool = False
    """Put the inference response into the success notification (up to SNS's 256 KB). Default: False."""
    max_concurrent_invocations_per_instance: int = 4
    """Requests SageMaker sends one instance at a time (1-1000). Default: 4."""


@dataclass(frozen=True, kw_only=True)
class HostingMode:
    """How :class:`SageMakerLlmEndpoint` hosts the model, with the options of that mode. Create it with a factory:
    :meth:`real_time` (the default), :meth:`inference_component`, :meth:`serverless` or :meth:`async_`."""

    kind: InferenceMode
    """Which mode."""
    inference_component_options: InferenceComponentOptions | None = None
    """The compute reservation per copy (``INFERENCE_COMPONENT`` only). Default: - none"""
    serverless_options: ServerlessOptions | None = None
    """The serverless configuration (``SERVERLESS`` only). Default: - none"""
    async_options: AsyncInferenceOptions | None = None
    """Where requests and results go (``ASYNC`` only). Default: - none"""

    def __post_init__(self) -> None:
        given = {
            InferenceMode.INFERENCE_COMPONENT: self.inference_component_options,
            InferenceMode.SERVERLESS: self.serverless_options,
            InferenceMode.ASYNC: self.async_options,
        }
        wrong = [k for k, v in given.items() if (v is not None) != (k is self.kind)]
        if not isinstance(self.kind, InferenceMode) or wrong:
            raise ValueError(
                f"HostingMode: use the factory {getattr(self.kind, 'factory', 'HostingMode.real_time()')}, "
                "which carries exactly the options of its mode"
            )

    @staticmethod
    def real_time() -> HostingMode:
        """A classic production variant: the model owns whole instances (``instance_type`` × ``instance_count``);
        autoscaling adds and removes instances (at least 1). Supports data capture, VPC placement and blue/green
        rollouts. The default."""
        return HostingMode(kind=InferenceMode.REAL_TIME)

    @staticmethod
    @typed_factory("HostingMode.inference_component")
    def inference_component(
        *,
        accelerators: int = 1,
        cpu_cores: float | None = None,
        min_memory_mb: int = 1024,
        max_memory_mb: int | None = None,
        copies: int = 1,
        max_instances: int | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> HostingMode:
        """Real-time with an inference component: each model copy reserves ``accelerators``, CPU and memory on
        instances the endpoint scales for it (managed instance scaling); autoscaling adds and removes copies and can
        scale to zero. The fields are those of :class:`InferenceComponentOptions`.

        :param accelerators: GPUs (or Neuron chips) per copy. Default: 1
        :param cpu_cores: CPU cores per copy. Default: - unset (SageMaker decides)
        :param min_memory_mb: memory reserved per copy. Default: 1024
        :param max_memory_mb: memory cap per copy. Default: - unset
        :param copies: initial copies. Default: 1
        :param max_instances: managed-scaling upper bound. Default: - enough instances for the autoscaling
            ``max_capacity`` copies (or ``copies``)
        :param environment: per-component container overrides (at most 16). Default: - none
        """
        return HostingMode(
            kind=InferenceMode.INFERENCE_COMPONENT,
            inference_component_options=InferenceComponentOptions(
                accelerators=accelerators,
                cpu_cores=cpu_cores,
                min_memory_mb=min_memory_mb,
                max_memory_mb=max_memory_mb,
                copies=copies,
                max_instances=max_instances,
                environment=dict(environment or {}),
            ),
        )

    @staticmethod
    @typed_factory("HostingMode.serverless")
    def serverless(
        *, memory_size_mb: int = 6144, max_concurrency: int = 5, provisioned_concurrency: int | None = None
    ) -> HostingMode:
        """Serverless: CPU only (give a CPU image), at most 6 GB of memory, no instance type, VPC, network isolation
        or data capture, and no ``ModelDataSource`` (use ``ModelSource.s3_tarball``). Only for small models. The
        fields are those of :class:`ServerlessOptions`.

        :param memory_size_mb: 1024-6144 in steps of 1024. Default: 6144
        :param max_concurrency: 1-200 concurrent invocations. Default: 5
        :param provisioned_concurrency: pre-warmed capacity (billed while idle). Default: - none (cold starts)
        """
        return HostingMode(
            kind=InferenceMode.SERVERLESS,
            serverless_options=ServerlessOptions(
                memory_size_mb=memory_size_mb,
                max_concurrency=max_concurrency,
                provisioned_concurrency=provisioned_concurrency,
            ),
        )

    @staticmethod
    @typed_factory("HostingMode.async_")
    def async_(
        *,
        output_bucket: s3.IBucket | None = None,
        output_prefix: str = "async/output/",
        failure_prefix: str = "async/failure/",
        input_prefix: str = "async/input/",
        notifications: bool = True,
        include_response_in_notification: bool = False,
        max_concurrent_invocations_per_instance: int = 4,
    ) -> HostingMode:
        """Asynchronous inference: requests queue in S3, results go to S3 (and SNS); instances scale on the backlog
        and can scale to zero. The fields are those of :class:`AsyncInferenceOptions`.

        :param output_bucket: bucket for inputs, outputs and failures. Default: - a new bucket (KMS, TLS-only,
            versioned; noncurrent versions expire after 7 days)
        :param output_prefix: Default: ``async/output/``
        :param failure_prefix: Default: ``async/failure/``
        :param input_prefix: where ``grant_invoke_async`` lets callers upload payloads. Default: ``async/input/``
        :param notifications: success and error SNS topics. Default: true
        :param include_response_in_notification: the response in the success notification. Default: false
        :param max_concurrent_invocations_per_instance: 1-1000. Default: 4
        """
        return HostingMode(
            kind=InferenceMode.ASYNC,
            async_options=AsyncInferenceOptions(
                output_bucket=output_bucket,
                output_prefix=output_prefix,
                failure_prefix=failure_prefix,
                input_prefix=input_prefix,
                notifications=notifications,
                include_response_in_notification=include_response_in_notification,
                max_concurrent_invocations_per_instance=max_concurrent_invocations_per_instance,
            ),
        )


@dataclass(frozen=True, kw_only=True)
class ScheduledCapacity(TypedOptions):
    """A scheduled change of the scaling bounds (e.g. office hours)."""

    schedule: appscaling.Schedule
    """When (``appscaling.Schedule.cron(...)``, ``.at(...)``, ``.rate(...)``)."""
    min_capacity: int | None = None
    """The new lower bound from then on. Default: - unchanged"""
    max_capacity: int | None = None
    """The new upper bound from then on. Default: - unchanged"""
    time_zone: cdk.TimeZone | None = None
    """The time zone of a cron or at schedule. Default: - UTC"""


@dataclass(frozen=True, kw_only=True)
class StepScalingOptions(TypedOptions):
    """Step scaling on any metric (in addition to, or instead of, target tracking)."""

    metric: cloudwatch.IMetric
    """The metric to scale on (e.g. ``endpoint.metric_concurrent_requests()``)."""
    steps: Sequence[appscaling.ScalingInterval]
    """The intervals of ``metric`` and the change each one makes (``ScalingInterval(lower=20, change=+2)``)."""
    adjustment_type: appscaling.AdjustmentType = appscaling.AdjustmentType.CHANGE_IN_CAPACITY
    """How ``change`` is read. Default: ``CHANGE_IN_CAPACITY`` (add or remove that many)."""
    cooldown: cdk.Duration = cdk.Duration.minutes(5)
    """Time between two step adjustments. Default: 5 minutes."""
    evaluation_periods: int = 1
    """Periods ``metric`` must be in a step before it applies. Default: 1."""


@dataclass(frozen=True, kw_only=True)
class AutoScalingOptions(TypedOptions):
    """Application Auto Scaling of instances (``HostingMode.real_time()``, ``.async_()``), copies
    (``.inference_component()``) or provisioned concurrency (``.serverless()``)."""

    min_capacity: int = 1
    """Fewest instances (copies for INFERENCE_COMPONENT), at least 1. With ``scale_to_zero`` the minimum is 0 whatever
    this says (0 is accepted there). Default: 1."""
    max_capacity: int = 2
    """Default: 2."""
    target_concurrent_requests: float | None = 5.0
    """High-resolution target tracking on concurrent requests per model (REAL_TIME) or per copy
    (INFERENCE_COMPONENT). Scales out within ~1 minute. Default: 5. ``None`` disables it."""
    target_invocations_per_instance: float | None = None
    """Target tracking on invocations per instance (per copy for INFERENCE_COMPONENT) per minute. Default: off."""
    target_backlog_per_instance: float = 5.0
    """ASYNC only: target queued requests per instance (``ApproximateBacklogSizePerInstance``). Default: 5."""
    target_provisioned_concurrency_utilization: float = 0.7
    """SERVERLESS only: target utilization of provisioned concurrency. Default: 0.7."""
    step_scaling: StepScalingOptions | None = None
    """Extra step scaling on a metric of your choice. Default: none."""
    scale_in_cooldown: cdk.Duration = cdk.Duration.minutes(10)
    """Default: 10 minutes (LLM instances take minutes to start; do not flap)."""
    scale_out_cooldown: cdk.Duration = cdk.Duration.minutes(2)
    """Default: 2 minutes."""
    scale_to_zero: bool = False
    """ASYNC: instances go to 0 when the queue is empty and wake on ``HasBacklogWithoutCapacity``.
    INFERENCE_COMPONENT: copies (and then instances) go to 0 and wake on ``NoCapacityInvocationFailures``;
    the first requests fail until a copy is up (minutes). Not possible for REAL_TIME. Default: False."""
    schedules: Sequence[ScheduledCapacity] = ()
    """Scheduled bound changes. Default: none."""
    enabled: bool = True
    """``False`` switches autoscaling off (fixed capacity), e.g. where a construct autoscales by default
    (``LoraAdapterFleet``). Default: True."""


class TrafficShiftType(Enum):
    """How a blue/green update moves traffic to the new fleet (``TrafficShift.type``; default ``CANARY``)."""

    ALL_AT_ONCE = "ALL_AT_ONCE"
    """All traffic at once, then ``termination_wait`` of baking with rollback on the alarms. The only choice for a
    variant that can be down to a single instance, and for serverless endpoints."""
    CANARY = "CANARY"
    """A canary of ``percent`` of the new fleet first (at most 50 %), the rest after ``wait``. The default."""
    LINEAR = "LINEAR"
    """Steps of ``percent`` (10-50 %) of the new fleet, ``wait`` apart."""


@dataclass(frozen=True, kw_only=True)
class TrafficShift(TypedOptions):
    """How traffic moves to the new fleet in a blue/green update."""

    type: TrafficShiftType = TrafficShiftType.CANARY
    """Default: ``TrafficShiftType.CANARY``."""
    percent: int = 10
    """Canary size or linear step, as a percentage of the variant's instances: CANARY at most 50, LINEAR 10-50, and
    at least one whole instance of the smallest fleet (percent x instances >= 100; rule ``SAGEMAKER.TRAFFIC_SHIFT_SIZE``).
    Default: 10 (a fleet of at least 10 instances; use ALL_AT_ONCE for a single instance)."""
    wait: cdk.Duration = cdk.Duration.minutes(10)
    """Baking time between steps. Default: 10 minutes."""


@dataclass(frozen=True, kw_only=True)
class DeploymentOptions(TypedOptions):
    """Safe rollouts of endpoint updates, rolled back automatically when an alarm fires.

    Real-time and async: blue/green with ``traffic``. Inference components: a rolling update of copies,
    ``rolling_batch_percent`` of the copies at a time. Serverless: blue/green all at once only.
    """

    traffic: TrafficShift = TrafficShift()
    """Blue/green traffic shifting (real-time and async). Default: ``TrafficShift()`` (canary 10 %, 10 minutes)."""
    termination_wait: cdk.Duration = cdk.Duration.minutes(5)
    """Final baking period before the old fleet is terminated. Default: 5 minutes."""
    max_execution_timeout: cdk.Duration | None = None
    """Upper bound of the whole update (600-28800 s for inference components). Default: SageMaker's."""
    rolling_batch_percent: int = 25
    """INFERENCE_COMPONENT: copies replaced per step, as a percentage (5-50). Default: 25."""
    rollback_alarms: Sequence[cloudwatch.IAlarm] = ()
    """Extra alarms that roll the update back (at most 8). The construct's own 5XX and latency alarms are always
    used unless ``AlarmOptions(enabled=False)``. Default: - none"""


@dataclass(frozen=True, kw_only=True)
class DataCaptureOptions(TypedOptions):
    """Capture requests and responses to S3 (for Model Monitor or audits). ``HostingMode.real_time()`` and
    ``HostingMode.async_()`` only."""

    bucket: s3.IBucket | None = None
    """Default: the construct's artifact bucket (created if needed)."""
    prefix: str = "data-capture/"
    """Default: ``data-capture/``."""
    sampling_percentage: int = 20
    """0-100. Default: 20."""
    capture_input: bool = True
    """Capture the requests. Default: True."""
    capture_output: bool = True
    """Capture the responses. Default: True."""
    json_content_types: Sequence[str] = ("application/json",)
    """Captured as text instead of base64. Default: application/json."""


@dataclass(frozen=True, kw_only=True)
class AlarmOptions(TypedOptions):
    """Thresholds of the default alarms."""

    server_errors: int = 5
    """5XX invocation errors per 5 minutes. Default: 5."""
    model_latency_p90: cdk.Duration = cdk.Duration.seconds(30)
    """p90 of ``ModelLatency`` over 5 minutes (the metric is in microseconds; give a Duration). Default: 30 s."""
    gpu_memory_percent: float = 95.0
    """Per instance, sustained 15 minutes. Default: 95."""
    disk_percent: float = 85.0
    """Default: 85."""
    async_backlog: int = 100
    """ASYNC: queued requests. Default: 100."""
    enabled: bool = True
    """``False`` creates none of the default alarms (and so no automatic rollback on them). Default: True.
    Notifications go to the construct's ``alarm_topic``."""
