"""SageMakerLlmEndpoint: LLMs on Amazon SageMaker in every hosting mode (and the pieces LoRA fleets reuse)."""

from . import rules
from .base import HostedLlmEndpointBase, ImportedLlmEndpoint, LlmEndpointBase, SageMakerEndpointBase
from .batch import LlmBatchPipeline
from .construct import DEFAULT_INSTANCE_TYPE, SageMakerLlmEndpoint
from .containers import ContainerKind, LlmContainer, LoraOptions, ModelSource, ModelSourceKind
from .instances import InstanceSpec, hourly_price, instance_spec
from .options import (
    AlarmOptions,
    AsyncInferenceOptions,
    AutoScalingOptions,
    DataCaptureOptions,
    DeploymentOptions,
    HostingMode,
    InferenceComponentOptions,
    InferenceMode,
    ScheduledCapacity,
    ServerlessOptions,
    StepScalingOptions,
    TrafficShift,
    TrafficShiftType,
)

__all__ = [
    "DEFAULT_INSTANCE_TYPE",
    "AlarmOptions",
    "AsyncInferenceOptions",
    "AutoScalingOptions",
    "ContainerKind",
    "DataCaptureOptions",
    "DeploymentOptions",
    "HostedLlmEndpointBase",
    "HostingMode",
    "ImportedLlmEndpoint",
    "InferenceComponentOptions",
    "InferenceMode",
    "InstanceSpec",
    "LlmBatchPipeline",
    "LlmContainer",
    "LlmEndpointBase",
    "LoraOptions",
    "ModelSource",
    "ModelSourceKind",
    "SageMakerEndpointBase",
    "SageMakerLlmEndpoint",
    "ScheduledCapacity",
    "ServerlessOptions",
    "StepScalingOptions",
    "TrafficShift",
    "TrafficShiftType",
    "hourly_price",
    "instance_spec",
    "rules",
]
