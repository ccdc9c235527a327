"""Upstream rules for SageMakerLlmEndpoint (SageMaker APIs and the LMI, vLLM and TGI containers), checked at synth time (see :mod:`cdk_llm_serving._rules`).

Each rule cites the source it was read from; add a rule here (never as a stray ``if`` in a
construct) and give it a negative test with ``expect_rule("SAGEMAKER.<NAME>", ...)``.

Two kinds of subject: :class:`EndpointPlan` (what :class:`SageMakerLlmEndpoint` is about to emit)
and :class:`BatchPlan` (the model a batch-transform pipeline runs).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .._rules import RuleSet
from .containers import ContainerKind, LlmContainer, ModelSource, ModelSourceKind, dlc_accounts
from .instances import hosting_instance_types
from .options import DeploymentOptions, InferenceMode, TrafficShiftType

_BOTOCORE = "botocore 1.44.5 data/sagemaker/2017-07-24/service-2.json (the SageMaker API reference text)"


@dataclass(frozen=True, kw_only=True)
class EndpointPlan:
    """What a SageMakerLlmEndpoint is about to emit, as its rules see it."""

    mode: InferenceMode
    """The hosting kind (``hosting.kind``)."""
    model: ModelSource
    """Where the weights come from."""
    container: LlmContainer
    """The serving container."""
    environment: Mapping[str, str]
    """The model container's rendered environment (typed options and the caller's extras)."""
    enable_network_isolation: bool
    """The container has no network."""
    vpc: bool
    """The endpoint is placed in a VPC."""
    data_capture: bool
    """Data capture is on."""
    deployment: DeploymentOptions | None
    """The rollout options, if any."""
    smallest_fleet: int
    """REAL_TIME/ASYNC: the fewest instances the variant can have when an update starts (the autoscaling
    minimum, 0 with scale to zero, else ``instance_count``)."""
    region: str | None
    """The stack's Region, ``None`` when it is only known at deploy time."""
    instance_type: str | None = None
    """The variant's instance type (``None`` for serverless)."""


@dataclass(frozen=True, kw_only=True)
class BatchPlan:
    """The SageMaker model a batch-transform pipeline runs."""

    model_path: str
    """The construct path of the model (for messages)."""
    uses_model_data_source: bool
    """Its container definition has ``ModelDataSource`` (what ``ModelSource.s3_prefix`` renders)."""


#: Rules for SageMakerLlmEndpoint (SageMaker APIs and the LMI, vLLM and TGI containers).
RULES: RuleSet[EndpointPlan] = RuleSet("SAGEMAKER")
#: Rules for the model of a batch-transform pipeline (:class:`LlmBatchPipeline`).
BATCH_RULES: RuleSet[BatchPlan] = RuleSet("SAGEMAKER")


@RULES.rule(
    "SAGEMAKER.LMI_ASYNC_ROLLING_BATCH",
    "LMI's async mode (OPTION_ASYNC_MODE=true, used for LoRA adapter inference components) needs OPTION_ROLLING_BATCH=disable: "
    "with a rolling batch DJL Serving sends every request, adapter registration included, to the rolling batcher",
    source="deepjavalibrary/djl-serving branch 0.34.0-dlc (63a6dcf39c79): engines/python/src/main/java/ai/djl/python/engine/"
    "PyProcess.java:80-90 (RollingBatch unless rolling_batch is 'disable'), :157-171 (predict() prefers the RollingBatch "
    "over the AsyncRequestManager); serving/docs/lmi/user_guides/vllm_user_guide.md:76-86 'Async Mode Configurations' "
    "(option.rolling_batch=disable); tests/integration/llm/prepare.py:1697-1706 build_vllm_async_model",
)
def _lmi_async_rolling_batch(plan: EndpointPlan) -> Iterable[str]:
    if plan.container.kind is not ContainerKind.LMI:
        return
    env = plan.environment
    if str(env.get("OPTION_ASYNC_MODE", "")).lower() != "true":
        return
    rolling = env.get("OPTION_ROLLING_BATCH")
    if rolling != "disable":
        yield (
            f"container: LMI async mode (OPTION_ASYNC_MODE=true; LlmContainer.lmi(lora=...) turns it on) needs "
            f"OPTION_ROLLING_BATCH=disable, got {'unset' if rolling is None else repr(rolling)}: otherwise DJL Serving routes "
            "every request, adapter registration included, through its rolling batcher and the async vLLM handler never "
            "sees it. Remove rolling_batch (with lora it defaults to 'disable') or pass rolling_batch='disable'"
        )


@RULES.rule(
    "SAGEMAKER.MODEL_DATA_SOURCE_SERVERLESS",
    "ModelDataSource (ModelSource.s3_prefix) cannot be used with serverless endpoints",
    source=f"{_BOTOCORE}: ContainerDefinition.ModelDataSource: 'Currently you cannot use ModelDataSource in conjunction "
    "with SageMaker batch transform, SageMaker serverless endpoints, SageMaker multi-model endpoints, and SageMaker Marketplace.'",
)
def _serverless_model_data_source(plan: EndpointPlan) -> Iterable[str]:
    if plan.mode is InferenceMode.SERVERLESS and plan.model.kind is ModelSourceKind.S3_PREFIX:
        yield (
            "model: ModelSource.s3_prefix renders ModelDataSource, which serverless endpoints do not support; package "
            "the weights as a model.tar.gz and use ModelSource.s3_tarball(bucket, '<path>/model.tar.gz')"
        )


_GPU_KINDS = (ContainerKind.LMI, ContainerKind.VLLM, ContainerKind.TGI)


@RULES.rule(
    "SAGEMAKER.SERVERLESS_FEATURE_EXCLUSIONS",
    "Serverless endpoints support no GPUs, VPC configuration, network isolation or data capture",
    source="Amazon SageMaker AI Developer Guide, 'Deploy models with Amazon SageMaker Serverless Inference' > Feature "
    "exclusions (awsdocs/amazon-sagemaker-developer-guide doc_source/serverless-endpoints.md at f3aad01): 'not "
    "supported for Serverless Inference, including GPUs, AWS marketplace model packages, private Docker registries, "
    "Multi-Model Endpoints, KMS keys, VPC configuration, network isolation, data capture, multiple production "
    "variants, Model Monitor, and inference pipelines'",
)
def _serverless_exclusions(plan: EndpointPlan) -> Iterable[str]:
    if plan.mode is not InferenceMode.SERVERLESS:
        return
    if plan.vpc:
        yield "HostingMode.serverless() cannot be placed in a VPC; remove vpc or use HostingMode.real_time()"
    if plan.data_capture:
        yield "data_capture is not supported by serverless endpoints; remove it or use HostingMode.real_time()"
    if plan.enable_network_isolation:
        yield (
            "enable_network_isolation=True is not supported by serverless endpoints; remove it "
            "(serverless defaults to no isolation) or use HostingMode.real_time()"
        )
    container = plan.container
    if container.kind in _GPU_KINDS and "cpu" not in (container.tag or "").lower():
        yield (
            f"container: {container.repository}:{container.tag} is a GPU image (LlmContainer.{container.kind.value}() "
            "defaults to one), but serverless endpoints have no GPUs; pass a CPU image: "
            "LlmContainer.from_image_uri('<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<cpu tag>')"
        )


@RULES.rule(
    "SAGEMAKER.TRAFFIC_SHIFT_SIZE",
    "A blue/green canary is at most 50% of the variant's instances and a linear step 10-50%; either is a part of the "
    "new fleet's whole instances, so it needs percent x instances >= 100",
    source=f"{_BOTOCORE}: TrafficRoutingConfig.CanarySize ('Value must be less than or equal to 50% of the variant's total "
    "instance count'), TrafficRoutingConfig.LinearStepSize ('Value must be 10-50% of the variant's total instance "
    "count'); SageMaker AI Developer Guide deployment-guardrails-blue-green-canary.html ('The portion of your green "
    "fleet that turns on to receive traffic is called the canary') and -linear.html ('the number of instances or "
    "the percentage of the green fleet's capacity to activate during each step')",
)
def _traffic_shift_size(plan: EndpointPlan) -> Iterable[str]:
    d = plan.deployment
    if d is None or plan.mode not in (InferenceMode.REAL_TIME, InferenceMode.ASYNC):
        return
    t = d.traffic
    if t.type is TrafficShiftType.ALL_AT_ONCE or not 1 <= t.percent <= 100:
        return  # the 1-100 range is reported by the construct
    if t.type is TrafficShiftType.CANARY and t.percent > 50:
        yield (
            f"deployment.traffic: a CANARY of {t.percent}% is more than SageMaker allows (the canary is at most 50% of "
            "the variant's instances); use 50 or less"
        )
    if t.type is TrafficShiftType.LINEAR and not 10 <= t.percent <= 50:
        yield f"deployment.traffic: LINEAR steps must be 10-50% of the variant's instances, got {t.percent}%"
    n = plan.smallest_fleet
    if t.percent * n < 100:
        fleet = (
            "can scale to zero instances (scale_to_zero)"
            if n == 0
            else f"can be down to {n} instance{'s' if n != 1 else ''}"
        )
        need = max(2, math.ceil(100 / min(t.percent, 50)))
        yield (
            f"deployment.traffic: a {t.type.name} of {t.percent}% is less than one whole instance of a variant that {fleet} "
            "(the canary or step is a part of the new fleet's instances, at most half of them). Use "
            "TrafficShift(type=TrafficShiftType.ALL_AT_ONCE) (still blue/green: baked for termination_wait and rolled "
            f"back on the alarms), or keep at least {need} instances (instance_count, autoscaling.min_capacity)"
        )


@RULES.rule(
    "SAGEMAKER.ROLLING_UPDATE_BATCH_SIZE",
    "An inference component's rolling update replaces 5-50% of its copies per step",
    source=f"{_BOTOCORE}: InferenceComponentRollingUpdatePolicy.MaximumBatchSize ('The value must be between 5% to 50% "
    "of the copy count of the inference component.')",
)
def _rolling_update_batch_size(plan: EndpointPlan) -> Iterable[str]:
    d = plan.deployment
    if d is None or plan.mode is not InferenceMode.INFERENCE_COMPONENT or not 1 <= d.rolling_batch_percent <= 100:
        return
    if not 5 <= d.rolling_batch_percent <= 50:
        yield (
            f"deployment.rolling_batch_percent must be 5-50 (% of the inference component's copies per step), "
            f"got {d.rolling_batch_percent}"
        )


@RULES.rule(
    "SAGEMAKER.DLC_REGISTRY_REGION",
    "AWS Deep Learning Containers images are hosted only in the Regions of AWS's registry table",
    source="aws/deep-learning-containers docs/reference/region_availability.md at 19c7d1f1b1f2 (2026-08-10) "
    "'Deep Learning Containers' table; aws-cdk-lib 2.275.0 region-info DLC_REPOSITORY_ACCOUNT fact",
)
def _dlc_registry_region(plan: EndpointPlan) -> Iterable[str]:
    if plan.container.kind is ContainerKind.CUSTOM or plan.region is None:
        return
    if plan.region not in dlc_accounts():
        yield (
            f"container: no AWS Deep Learning Containers registry is known for Region {plan.region}; "
            "use LlmContainer.from_image_uri with an image in your own ECR repository"
        )


@RULES.rule(
    "SAGEMAKER.HOSTING_INSTANCE_TYPE",
    "A production variant's instance type must be one of SageMaker's hosting instance types",
    source=f"{_BOTOCORE}: ProductionVariant.InstanceType is the enum ProductionVariantInstanceType (277 values, bundled "
    "as sagemaker_endpoint/data/hosting_instance_types.json); CreateEndpointConfig rejects any other value",
)
def _hosting_instance_type(plan: EndpointPlan) -> Iterable[str]:
    name = plan.instance_type
    if name is None or not name.startswith("ml."):
        return  # serverless, or reported by the construct (instance types start with 'ml.')
    known = hosting_instance_types()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.8)
        yield (
            f"instance_type {name!r} is not a SageMaker hosting instance type, so CreateEndpointConfig would reject "
            "it"
            + (f"; did you mean {', '.join(close)}?" if close else "; see the SageMaker pricing page for the types")
        )


@BATCH_RULES.rule(
    "SAGEMAKER.MODEL_DATA_SOURCE_BATCH",
    "ModelDataSource (ModelSource.s3_prefix) cannot be used with batch transform",
    source=f"{_BOTOCORE}: ContainerDefinition.ModelDataSource: 'Currently you cannot use ModelDataSource in conjunction "
    "with SageMaker batch transform, SageMaker serverless endpoints, SageMaker multi-model endpoints, and SageMaker Marketplace.'",
)
def _batch_model_data_source(plan: BatchPlan) -> Iterable[str]:
    if plan.uses_model_data_source:
        yield (
            f"model: {plan.model_path} loads its weights with ModelDataSource (ModelSource.s3_prefix), which batch "
            "transform does not support: every CreateTransformJob run would fail. Give the endpoint "
            "ModelSource.s3_tarball(bucket, '<path>/model.tar.gz') to run batch transforms of it"
        )
