"""The smallest and largest *valid* value of every range check builds.

The validation tests (test_validation.py, test_sagemaker_validation.py, test_knowledge_base.py,
test_inferentia.py) pin the invalid side, one message each. Without the valid side, tightening a bound
(``<= 100`` to ``< 100``, mutant C11 of the December 2026 test-strength review) passes every test.
Each case names the bound it sits on; the bounds are those the constructs document and check.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_s3 as s3

from cdk_llm_serving import (
    AutoScalingOptions,
    BedrockModelAlias,
    ChunkingStrategy,
    DataCaptureOptions,
    DeploymentOptions,
    EksInferentiaCluster,
    GatewayAlarmOptions,
    GatewayLimits,
    HostingMode,
    Inf2NodePool,
    IngestionTrigger,
    KnowledgeBaseRetrieval,
    LlmContainer,
    ModelSource,
    SageMakerModelAlias,
    TrafficShift,
    TrafficShiftType,
    VllmNeuronModel,
)
from test_knowledge_base import _build as build_index
from test_sagemaker_validation import _build as build_endpoint
from test_validation import GOOD
from test_validation import _build as build_gateway

#: What a serverless endpoint must be built from (rules SAGEMAKER.MODEL_DATA_SOURCE_SERVERLESS and
#: SAGEMAKER.SERVERLESS_FEATURE_EXCLUSIONS): one model.tar.gz, a CPU image, no network isolation.
_CPU_IMAGE = "111122223333.dkr.ecr.us-east-1.amazonaws.com/tiny-llm-cpu:1.4.0"


def _serverless(**kwargs: Any) -> dict[str, Any]:
    return {
        "hosting": HostingMode.serverless(),
        "model": lambda weights: ModelSource.s3_tarball(weights, "model/model.tar.gz"),
        "container": LlmContainer.from_image_uri(_CPU_IMAGE),
        **kwargs,
    }  # isolation defaults to off for SERVERLESS


def _ids(cases: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in cases]


# ---------------------------------------------------------------------------------------------------------
# BedrockGatewayApi, GatewayLimits and the model aliases

GATEWAY: list[tuple[str, dict[str, Any]]] = [
    ("max_messages=1", {"limits": GatewayLimits(max_messages=1)}),
    ("max_messages=10000", {"limits": GatewayLimits(max_messages=10_000)}),
    ("max_total_chars=1", {"limits": GatewayLimits(max_total_chars=1)}),
    ("max_total_chars=10000000", {"limits": GatewayLimits(max_total_chars=10_000_000)}),
    ("max_request_bytes=1024", {"limits": GatewayLimits(max_request_bytes=1024)}),
    ("max_request_bytes=10485760 (API Gateway's 10 MB)", {"limits": GatewayLimits(max_request_bytes=10_485_760)}),
    ("throttling_rate_limit=0.5 (any positive rate)", {"throttling_rate_limit": 0.5}),
    ("throttling_burst_limit=1", {"throttling_burst_limit": 1}),
    ("throttling_burst_limit=5000", {"throttling_burst_limit": 5000}),
    ("reserved_concurrency=1", {"reserved_concurrency": 1}),
    ("generation_timeout=30s", {"generation_timeout": cdk.Duration.seconds(30)}),
    ("generation_timeout=15min (streaming limit)", {"generation_timeout": cdk.Duration.minutes(15)}),
    ("memory_size=128", {"memory_size": 128}),
    ("memory_size=10240", {"memory_size": 10240}),
    ("stage_name of 1 character", {"stage_name": "v"}),
    ("stage_name of 128 characters with - and _", {"stage_name": "a-b_" + "c" * 124}),
    ("waf_rate_limit_per_ip=100", {"waf_rate_limit_per_ip": 100}),
    ("waf_rate_limit_per_ip=2000000000", {"waf_rate_limit_per_ip": 2_000_000_000}),
    ("metrics_namespace of 1 character", {"metrics_namespace": "N"}),
    ("metrics_namespace of 255 characters", {"metrics_namespace": "N" * 255}),
    (
        "alarm thresholds of 1 (and 1 ms to first token)",
        {
            "alarms": GatewayAlarmOptions(
                server_errors=1,
                model_throttles=1,
                model_config_errors=1,
                time_to_first_token_p90=cdk.Duration.millis(1),
            )
        },
    ),
    ("alarms switched off: thresholds not checked", {"alarms": GatewayAlarmOptions(enabled=False, server_errors=0)}),
    ("alias of 1 character", {"models": [BedrockModelAlias(alias="a", model_id=GOOD.model_id)]}),
    (
        "alias of 64 characters",
        {"models": [BedrockModelAlias(alias="a" + "-._:" * 15 + "bcd", model_id=GOOD.model_id)]},
    ),
    (
        "max_tokens_cap=default_max_tokens=1",
        {"models": [BedrockModelAlias(alias="a", model_id=GOOD.model_id, max_tokens_cap=1, default_max_tokens=1)]},
    ),
    (
        "max_tokens_cap=default_max_tokens=1000000",
        {
            "models": [
                BedrockModelAlias(
                    alias="a", model_id=GOOD.model_id, max_tokens_cap=1_000_000, default_max_tokens=1_000_000
                )
            ]
        },
    ),
    (
        "SageMaker endpoint and component names of 63 characters",
        {"models": [SageMakerModelAlias(alias="s", endpoint_name="e" * 63, inference_component_name="c-" * 31 + "c")]},
    ),
    ("SageMaker endpoint name of 1 character", {"models": [SageMakerModelAlias(alias="s", endpoint_name="e")]}),
    (
        "retrieval number_of_results=1",
        {
            "models": [
                SageMakerModelAlias(
                    alias="s",
                    endpoint_name="e",
                    retrieval=KnowledgeBaseRetrieval(knowledge_base_id="ABCDEFGHIJ", number_of_results=1),
                )
            ]
        },
    ),
    (
        "retrieval number_of_results=100",
        {
            "models": [
                BedrockModelAlias(
                    alias="b",
                    model_id=GOOD.model_id,
                    retrieval=KnowledgeBaseRetrieval(knowledge_base_id="0123456789", number_of_results=100),
                )
            ]
        },
    ),
]


@pytest.mark.parametrize(("name", "kwargs"), GATEWAY, ids=_ids(GATEWAY))
def test_gateway_boundary_values_are_accepted(name: str, kwargs: dict[str, Any]) -> None:
    gateway = build_gateway(**kwargs)
    assert gateway.models == tuple(kwargs.get("models", [GOOD]))


# ---------------------------------------------------------------------------------------------------------
# SageMakerLlmEndpoint (and its batch pipeline)

_ALL_AT_ONCE = TrafficShift(type=TrafficShiftType.ALL_AT_ONCE)
_ALARM = cloudwatch.Alarm.from_alarm_arn  # imported alarms: rollback_alarms only needs their names


def _alarms(n: int) -> Any:
    def make(stack: cdk.Stack) -> list[cloudwatch.IAlarm]:
        return [_ALARM(stack, f"A{i}", f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:extra-{i}") for i in range(n)]

    return make


ENDPOINT: list[tuple[str, dict[str, Any]]] = [
    ("instance_count=1", {"instance_count": 1}),
    ("instance_count=100", {"instance_count": 100}),
    ("volume_size_gb=1", {"instance_type": "ml.inf2.xlarge", "volume_size_gb": 1}),
    ("volume_size_gb=512", {"instance_type": "ml.inf2.xlarge", "volume_size_gb": 512}),
    ("startup_health_check_timeout=60s", {"startup_health_check_timeout": cdk.Duration.seconds(60)}),
    ("startup_health_check_timeout=1h", {"startup_health_check_timeout": cdk.Duration.hours(1)}),
    ("model_data_download_timeout=60s", {"model_data_download_timeout": cdk.Duration.seconds(60)}),
    ("model_data_download_timeout=1h", {"model_data_download_timeout": cdk.Duration.hours(1)}),
    ("serverless memory_size_mb=1024", _serverless(**{"hosting": HostingMode.serverless(memory_size_mb=1024)})),
    ("serverless memory_size_mb=6144", _serverless(**{"hosting": HostingMode.serverless(memory_size_mb=6144)})),
    ("serverless max_concurrency=1", _serverless(**{"hosting": HostingMode.serverless(max_concurrency=1)})),
    ("serverless max_concurrency=200", _serverless(**{"hosting": HostingMode.serverless(max_concurrency=200)})),
    (
        "serverless provisioned_concurrency=1",
        _serverless(**{"hosting": HostingMode.serverless(max_concurrency=1, provisioned_concurrency=1)}),
    ),
    (
        "serverless provisioned_concurrency=max_concurrency=200, autoscaling to 200 at utilization 1",
        _serverless(
            **{
                "hosting": HostingMode.serverless(max_concurrency=200, provisioned_concurrency=200),
                "autoscaling": AutoScalingOptions(
                    min_capacity=200, max_capacity=200, target_provisioned_concurrency_utilization=1.0
                ),
            }
        ),
    ),
    ("data_capture sampling_percentage=0", {"data_capture": DataCaptureOptions(sampling_percentage=0)}),
    ("data_capture sampling_percentage=100", {"data_capture": DataCaptureOptions(sampling_percentage=100)}),
    ("data_capture of the output only", {"data_capture": DataCaptureOptions(capture_input=False)}),
    # SAGEMAKER.TRAFFIC_SHIFT_SIZE: a canary is 1-50 % and a linear step 10-50 % of the fleet (botocore
    # TrafficRoutingConfig), and either must be at least one whole instance of the smallest fleet.
    (
        "canary percent=1 on 100 instances",
        {"instance_count": 100, "deployment": DeploymentOptions(traffic=TrafficShift(percent=1))},
    ),
    (
        "canary percent=50 on 2 instances",
        {"instance_count": 2, "deployment": DeploymentOptions(traffic=TrafficShift(percent=50))},
    ),
    (
        "linear percent=10 on 10 instances",
        {
            "instance_count": 10,
            "deployment": DeploymentOptions(traffic=TrafficShift(type=TrafficShiftType.LINEAR, percent=10)),
        },
    ),
    (
        "linear percent=50 on 2 instances",
        {
            "instance_count": 2,
            "deployment": DeploymentOptions(traffic=TrafficShift(type=TrafficShiftType.LINEAR, percent=50)),
        },
    ),
    (
        "traffic wait=0",
        {
            "instance_count": 2,
            "deployment": DeploymentOptions(traffic=TrafficShift(percent=50, wait=cdk.Duration.seconds(0))),
        },
    ),
    (
        "traffic wait=1h",
        {
            "instance_count": 2,
            "deployment": DeploymentOptions(traffic=TrafficShift(percent=50, wait=cdk.Duration.hours(1))),
        },
    ),
    (
        "max_execution_timeout=10min",
        {"deployment": DeploymentOptions(traffic=_ALL_AT_ONCE, max_execution_timeout=cdk.Duration.minutes(10))},
    ),
    (
        "max_execution_timeout=8h",
        {"deployment": DeploymentOptions(traffic=_ALL_AT_ONCE, max_execution_timeout=cdk.Duration.hours(8))},
    ),
    ("8 extra rollback alarms", {"deployment": _alarms(8)}),
    # SAGEMAKER.ROLLING_UPDATE_BATCH_SIZE: 5-50 % of the copies (botocore InferenceComponentRollingUpdatePolicy).
    (
        "rolling_batch_percent=5",
        {"hosting": HostingMode.inference_component(), "deployment": DeploymentOptions(rolling_batch_percent=5)},
    ),
    (
        "rolling_batch_percent=50",
        {"hosting": HostingMode.inference_component(), "deployment": DeploymentOptions(rolling_batch_percent=50)},
    ),
    (
        "serverless all-at-once update",
        _serverless(**{"deployment": DeploymentOptions(traffic=TrafficShift(type=TrafficShiftType.ALL_AT_ONCE))}),
    ),
    (
        "async max_concurrent_invocations_per_instance=1",
        {"hosting": HostingMode.async_(max_concurrent_invocations_per_instance=1)},
    ),
    (
        "async max_concurrent_invocations_per_instance=1000",
        {"hosting": HostingMode.async_(max_concurrent_invocations_per_instance=1000)},
    ),
    (
        "component accelerators = all 4 of ml.g5.12xlarge",
        {"hosting": HostingMode.inference_component(accelerators=4), "instance_type": "ml.g5.12xlarge"},
    ),
    ("component min_memory_mb=128", {"hosting": HostingMode.inference_component(min_memory_mb=128)}),
    (
        "component min_memory_mb = max_memory_mb = all of ml.g5.2xlarge's 32 GiB",
        {"hosting": HostingMode.inference_component(min_memory_mb=32 * 1024, max_memory_mb=32 * 1024)},
    ),
    ("component cpu_cores=0.25", {"hosting": HostingMode.inference_component(cpu_cores=0.25)}),
    ("component cpu_cores = all 8 vCPUs of ml.g5.2xlarge", {"hosting": HostingMode.inference_component(cpu_cores=8)}),
    ("component copies=1, max_instances=1", {"hosting": HostingMode.inference_component(copies=1, max_instances=1)}),
    (
        "component environment of 16 variables",
        {"hosting": HostingMode.inference_component(environment={f"K{i}": "v" for i in range(16)})},
    ),
    (
        "autoscaling min_capacity = max_capacity = 1",
        {"autoscaling": AutoScalingOptions(min_capacity=1, max_capacity=1)},
    ),
]


@pytest.mark.parametrize(("name", "kwargs"), ENDPOINT, ids=_ids(ENDPOINT))
def test_endpoint_boundary_values_are_accepted(name: str, kwargs: dict[str, Any]) -> None:
    stack = cdk.Stack(cdk.App(), "S")
    if callable(kwargs.get("deployment")):  # alarms need the stack
        kwargs = {
            **kwargs,
            "deployment": DeploymentOptions(traffic=_ALL_AT_ONCE, rollback_alarms=kwargs["deployment"](stack)),
        }
    endpoint = build_endpoint(stack, **kwargs)
    assert endpoint.hosting.kind is kwargs.get("hosting", HostingMode.real_time()).kind


BATCH: list[tuple[str, dict[str, Any]]] = [
    ("instance_count=1", {"instance_count": 1}),
    ("instance_count=100", {"instance_count": 100}),
    ("max_payload_mb=1", {"max_payload_mb": 1}),
    ("max_payload_mb=100", {"max_payload_mb": 100}),
    ("invocation_timeout=1min", {"invocation_timeout": cdk.Duration.minutes(1)}),
    ("invocation_timeout=60min", {"invocation_timeout": cdk.Duration.minutes(60)}),
    ("invocation_max_retries=0", {"invocation_max_retries": 0}),
    ("invocation_max_retries=3", {"invocation_max_retries": 3}),
]


@pytest.mark.parametrize(("name", "kwargs"), BATCH, ids=_ids(BATCH))
def test_batch_boundary_values_are_accepted(name: str, kwargs: dict[str, Any]) -> None:
    stack = cdk.Stack(cdk.App(), "S")
    # SAGEMAKER.MODEL_DATA_SOURCE_BATCH: batch transform needs the weights as one model.tar.gz.
    endpoint = build_endpoint(
        stack, alarms=None, model=lambda weights: ModelSource.s3_tarball(weights, "model/model.tar.gz")
    )
    pipeline = endpoint.add_batch_transform("Batch", input_bucket=s3.Bucket(stack, "In"), **kwargs)
    assert pipeline.input_uri.endswith("/batch/input/")


# ---------------------------------------------------------------------------------------------------------
# DocumentIndex

INDEX: list[tuple[str, dict[str, Any]]] = [
    ("document_prefix of 2 characters", {"document_prefix": "a/"}),
    ("document_prefix of 300 characters", {"document_prefix": "a" * 299 + "/"}),
    ("knowledge_base_name of 1 character", {"knowledge_base_name": "k"}),
    ("knowledge_base_name of 100 characters with - and _", {"knowledge_base_name": "k-" * 25 + "b_" * 25}),
    ("description of 1 character", {"description": "d"}),
    ("description of 200 characters", {"description": "d" * 200}),
    ("ingestion_timeout=1h", {"ingestion_timeout": cdk.Duration.hours(1)}),
    ("ingestion_timeout=7d", {"ingestion_timeout": cdk.Duration.days(7)}),
    ("schedule every 15 minutes", {"ingestion": IngestionTrigger(schedule=cdk.Duration.minutes(15))}),
    ("Titan V2 dimensions=256", {"dimensions": 256}),
    ("unknown model dimensions=1", {"embedding_model_id": "example.embed-v1", "dimensions": 1}),
    ("unknown model dimensions=4096", {"embedding_model_id": "example.embed-v1", "dimensions": 4096}),
    ("fixed max_tokens=1, overlap=1%", {"chunking": ChunkingStrategy.fixed_size(max_tokens=1, overlap_percentage=1)}),
    (
        "fixed max_tokens=8192, overlap=99%",
        {"chunking": ChunkingStrategy.fixed_size(max_tokens=8192, overlap_percentage=99)},
    ),
    (
        "fixed max_tokens=512 for Cohere (its input limit)",
        {"embedding_model_id": "cohere.embed-english-v3", "chunking": ChunkingStrategy.fixed_size(max_tokens=512)},
    ),
    (
        "semantic max_tokens=1, buffer 0, breakpoint 50",
        {"chunking": ChunkingStrategy.semantic(max_tokens=1, buffer_size=0, breakpoint_percentile_threshold=50)},
    ),
    (
        "semantic max_tokens=8192, buffer 1, breakpoint 99",
        {"chunking": ChunkingStrategy.semantic(max_tokens=8192, buffer_size=1, breakpoint_percentile_threshold=99)},
    ),
    (
        "hierarchical parent 8192 > child 8191 > overlap 8190",
        {"chunking": ChunkingStrategy.hierarchical(parent_max_tokens=8192, child_max_tokens=8191, overlap_tokens=8190)},
    ),
    (
        "hierarchical parent 3 > child 2 > overlap 1",
        {"chunking": ChunkingStrategy.hierarchical(parent_max_tokens=3, child_max_tokens=2, overlap_tokens=1)},
    ),
]


@pytest.mark.parametrize(("name", "kwargs"), INDEX, ids=_ids(INDEX))
def test_document_index_boundary_values_are_accepted(name: str, kwargs: dict[str, Any]) -> None:
    index = build_index(**kwargs)
    assert index.document_prefix == kwargs.get("document_prefix")


# ---------------------------------------------------------------------------------------------------------
# EksInferentiaCluster: NodePool weights (Karpenter: 1-100, spot above on-demand) and other ranges


def _pool(name: str, capacity_type: str, weight: int, neuron_limit: int = 4) -> Inf2NodePool:
    return Inf2NodePool(
        name=name,
        capacity_type=capacity_type,
        instance_types=("inf2.xlarge",),
        neuron_limit=neuron_limit,
        weight=weight,
    )


CLUSTER: list[tuple[str, dict[str, Any]]] = [
    (
        "spot weight 100 over on-demand weight 1",
        {"inf2_node_pools": (_pool("spot", "spot", 100), _pool("od", "on-demand", 1))},
    ),
    (
        "spot weight 2 just above on-demand weight 1",
        {"inf2_node_pools": (_pool("spot", "spot", 2), _pool("od", "on-demand", 1))},
    ),
    ("one spot pool of weight 1", {"inf2_node_pools": (_pool("spot", "spot", 1),)}),
    ("one on-demand pool of weight 100", {"inf2_node_pools": (_pool("od", "on-demand", 100),)}),
    (
        "neuron_limit=1 per pool, max_replicas=1 (device limits add up to the replicas)",
        {"inf2_node_pools": (_pool("spot", "spot", 100, neuron_limit=1),), "model_kwargs": {"max_replicas": 1}},
    ),
    (
        "root_volume_gib=30, system_node_count=2, general_pool_cpu_limit=1",
        {"root_volume_gib": 30, "system_node_count": 2, "general_pool_cpu_limit": 1},
    ),
    ("root_volume_gib=16384", {"root_volume_gib": 16384}),
]


@pytest.mark.parametrize(("name", "kwargs"), CLUSTER, ids=_ids(CLUSTER))
def test_cluster_boundary_values_are_accepted(name: str, kwargs: dict[str, Any]) -> None:
    kwargs = dict(kwargs)
    model_kwargs = kwargs.pop("model_kwargs", None)
    if model_kwargs is not None:
        kwargs["model"] = VllmNeuronModel(**model_kwargs)
    cluster = EksInferentiaCluster(cdk.Stack(cdk.App(), "S"), "C", **kwargs)
    weights = {m["metadata"]["name"]: m["spec"]["weight"] for m in cluster.node_pool_manifests}
    expected = {p.name: p.weight for p in kwargs.get("inf2_node_pools", cluster.inf2_node_pools)}
    assert {k: weights[k] for k in expected} == expected
