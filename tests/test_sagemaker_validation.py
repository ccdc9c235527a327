"""SageMakerLlmEndpoint and LlmBatchPipeline: every invalid prop fails at synth with a message that says what to change."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3

from cdk_llm_serving import (
    AlarmOptions,
    AutoScalingOptions,
    DataCaptureOptions,
    DeploymentOptions,
    HostingMode,
    LlmContainer,
    LoraOptions,
    ModelSource,
    PropsValidationError,
    SageMakerLlmEndpoint,
    TrafficShift,
    TrafficShiftType,
)


def _build(stack: cdk.Stack | None = None, **kwargs: Any) -> SageMakerLlmEndpoint:
    stack = stack or cdk.Stack(cdk.App(), "S")
    weights = s3.Bucket.from_bucket_name(stack, "W", "weights")
    kwargs.setdefault("model", ModelSource.s3_prefix(weights, "model/"))
    model = kwargs["model"]
    if callable(model):
        kwargs["model"] = model(weights)
    return SageMakerLlmEndpoint(stack, "Llm", **kwargs)


def _vpc_kwargs() -> dict[str, Any]:
    stack = cdk.Stack(cdk.App(), "S")
    return {"stack": stack, "vpc": ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0)}


CASES: list[tuple[dict[str, Any], str]] = [
    # model source
    ({"model": lambda b: ModelSource.s3_prefix(b, "/")}, "needs a non-empty prefix"),
    ({"model": lambda b: ModelSource.s3_tarball(b, "model.zip")}, "key must end in .tar.gz"),
    (
        {"model": lambda b: ModelSource.hugging_face("not a model id"), "enable_network_isolation": False},
        "is not a Hugging Face model ID like",
    ),
    (
        {"model": lambda b: ModelSource.hugging_face("Qwen/Qwen2.5-7B-Instruct"), "enable_network_isolation": True},
        "a Hugging Face Hub model needs network access at start-up",
    ),
    # container
    ({"container": LlmContainer.from_image_uri("docker.io/vllm/vllm-openai:latest")}, "is not an Amazon ECR image URI"),
    ({"container": LlmContainer.lmi(environment={"1BAD": "x"})}, "environment variable name '1BAD' is invalid"),
    ({"container": LlmContainer.lmi(tensor_parallel_degree="all")}, "must be a positive integer or 'max', got 'all'"),
    ({"container": LlmContainer.lmi(tensor_parallel_degree=0)}, "tensor parallel degree must be at least 1"),
    (
        {"container": LlmContainer.lmi(tensor_parallel_degree=4)},
        "tensor parallel degree 4 is more than the 1 accelerator(s) of ml.g5.2xlarge",
    ),
    (
        {"container": LlmContainer.tgi(max_input_tokens=4096, max_total_tokens=4096)},
        "TGI max_input_tokens must be less than max_total_tokens",
    ),
    ({"container": LlmContainer.lmi(lora=LoraOptions(max_loras=0))}, "lora.max_loras must be between 1 and 256"),
    ({"container": LlmContainer.lmi(lora=LoraOptions(max_lora_rank=12))}, "lora.max_lora_rank must be one of"),
    (
        {"container": LlmContainer.lmi(lora=LoraOptions(max_loras=8, max_cpu_loras=4))},
        "lora.max_cpu_loras (4) must be at least max_loras (8)",
    ),
    # names and instance
    ({"endpoint_name": "my_endpoint"}, "endpoint_name 'my_endpoint' is invalid"),
    ({"endpoint_name": "x" * 64}, "at most 63 characters"),
    ({"instance_type": "g5.2xlarge"}, "instance_type must be a SageMaker type starting with 'ml.'"),
    ({"instance_count": 0}, "instance_count must be between 1 and 100, got 0"),
    ({"routing_strategy": "ROUND_ROBIN"}, "routing_strategy must be one of LEAST_OUTSTANDING_REQUESTS, RANDOM"),
    ({"volume_size_gb": 100}, "volume_size_gb cannot be set for ml.g5.2xlarge: it has local NVMe instance storage"),
    ({"instance_type": "ml.inf2.xlarge", "volume_size_gb": 1000}, "volume_size_gb must be between 1 and 512"),
    (
        {"startup_health_check_timeout": cdk.Duration.hours(2)},
        "startup_health_check_timeout must be between 60 seconds and 1 hour, got 7200 s",
    ),
    (
        {"model_data_download_timeout": cdk.Duration.seconds(10)},
        "model_data_download_timeout must be between 60 seconds",
    ),
    # hosting modes (each HostingMode factory carries only its own options: no mode/option mismatch is possible)
    ({"hosting": HostingMode.serverless(), "instance_type": "ml.g5.xlarge"}, "serverless endpoints have no GPUs"),
    (
        {"hosting": HostingMode.serverless(), "instance_type": "ml.m5.xlarge"},
        "HostingMode.serverless() runs on CPU only and takes no instance type",
    ),
    ({"hosting": HostingMode.serverless(), **_vpc_kwargs()}, "HostingMode.serverless() cannot be placed in a VPC"),
    (
        {"hosting": HostingMode.serverless(), "data_capture": DataCaptureOptions()},
        "data_capture is not supported by serverless endpoints",
    ),
    (
        {"hosting": HostingMode.serverless(), "volume_size_gb": 10},
        "volume_size_gb does not apply to serverless endpoints",
    ),
    ({"hosting": HostingMode.serverless(memory_size_mb=1500)}, "hosting.serverless.memory_size_mb must be 1024, 2048"),
    (
        {"hosting": HostingMode.serverless(max_concurrency=500)},
        "hosting.serverless.max_concurrency must be between 1 and 200",
    ),
    (
        {"hosting": HostingMode.serverless(max_concurrency=5, provisioned_concurrency=6)},
        "hosting.serverless.provisioned_concurrency must be between 1 and max_concurrency (5), got 6",
    ),
    (
        {"hosting": HostingMode.inference_component(), "data_capture": DataCaptureOptions()},
        "data_capture is supported for HostingMode.real_time() and HostingMode.async_() only",
    ),
    (
        {"data_capture": DataCaptureOptions(sampling_percentage=150)},
        "data_capture.sampling_percentage must be between 0 and 100",
    ),
    (
        {"data_capture": DataCaptureOptions(capture_input=False, capture_output=False)},
        "data_capture must capture the input, the output or both",
    ),
    (
        {"security_groups": [ec2.SecurityGroup.from_security_group_id(cdk.Stack(cdk.App(), "X"), "Sg", "sg-12345678")]},
        "security_groups need vpc",
    ),
    # inference components
    (
        {"hosting": HostingMode.inference_component(accelerators=0)},
        "hosting.inference_component.accelerators must be at least 1",
    ),
    (
        {"hosting": HostingMode.inference_component(accelerators=8), "instance_type": "ml.g5.12xlarge"},
        "hosting.inference_component.accelerators (8) is more than the 4 accelerator(s) of ml.g5.12xlarge",
    ),
    (
        {
            "hosting": HostingMode.inference_component(accelerators=1),
            "instance_type": "ml.g5.12xlarge",
            "container": LlmContainer.lmi(tensor_parallel_degree=2),
        },
        "tensor parallel degree 2 is more than the 1 accelerator(s) reserved per copy",
    ),
    (
        {"hosting": HostingMode.inference_component(min_memory_mb=64 * 1024)},
        "hosting.inference_component.min_memory_mb (65536) is more than ml.g5.2xlarge's memory (32 GiB)",
    ),
    (
        {"hosting": HostingMode.inference_component(cpu_cores=64)},
        "hosting.inference_component.cpu_cores (64) is more than ml.g5.2xlarge's 8 vCPUs",
    ),
    (
        {"hosting": HostingMode.inference_component(min_memory_mb=100)},
        "hosting.inference_component.min_memory_mb must be at least 128",
    ),
    (
        {"hosting": HostingMode.inference_component(min_memory_mb=2048, max_memory_mb=1024)},
        "hosting.inference_component.max_memory_mb must be at least min_memory_mb",
    ),
    (
        {"hosting": HostingMode.inference_component(cpu_cores=0.1)},
        "hosting.inference_component.cpu_cores must be at least 0.25",
    ),
    ({"hosting": HostingMode.inference_component(copies=0)}, "hosting.inference_component.copies must be at least 1"),
    (
        {"hosting": HostingMode.inference_component(environment={f"K{i}": "v" for i in range(17)})},
        "hosting.inference_component.environment has 17 variables; SageMaker allows at most 16 per inference component",
    ),
    (
        {"hosting": HostingMode.inference_component(max_instances=0)},
        "hosting.inference_component.max_instances must be at least 1",
    ),
    # async
    (
        {"hosting": HostingMode.async_(max_concurrent_invocations_per_instance=0)},
        "hosting.async_inference.max_concurrent_invocations_per_instance must be between 1 and 1000",
    ),
    (
        {"hosting": HostingMode.async_(output_prefix="/out")},
        "hosting.async_inference.output_prefix must be a folder like 'async/output/'",
    ),
    # autoscaling
    (
        {"autoscaling": AutoScalingOptions(min_capacity=0)},
        "autoscaling.min_capacity must be at least 1, got 0; to release every instance or copy when idle, also set scale_to_zero=True",
    ),
    (
        {"autoscaling": AutoScalingOptions(min_capacity=3, max_capacity=2)},
        "autoscaling.max_capacity (2) must be at least min_capacity (3)",
    ),
    (
        {"autoscaling": AutoScalingOptions(scale_to_zero=True)},
        "scale_to_zero is not possible with HostingMode.real_time()",
    ),
    (
        {"hosting": HostingMode.serverless(), "autoscaling": AutoScalingOptions()},
        "serverless endpoints scale by themselves",
    ),
    (
        {
            "hosting": HostingMode.serverless(max_concurrency=4, provisioned_concurrency=1),
            "autoscaling": AutoScalingOptions(max_capacity=10),
        },
        "autoscaling.max_capacity (10) cannot exceed hosting.serverless.max_concurrency (4)",
    ),
    (
        {
            "hosting": HostingMode.serverless(provisioned_concurrency=1),
            "autoscaling": AutoScalingOptions(target_provisioned_concurrency_utilization=1.5),
        },
        "target_provisioned_concurrency_utilization must be in (0, 1]",
    ),
    ({"autoscaling": AutoScalingOptions(target_concurrent_requests=None)}, "autoscaling needs a signal"),
    (
        {"autoscaling": AutoScalingOptions(target_concurrent_requests=-1)},
        "autoscaling.target_concurrent_requests must be positive",
    ),
    (
        {"hosting": HostingMode.async_(), "autoscaling": AutoScalingOptions(target_backlog_per_instance=0)},
        "autoscaling.target_backlog_per_instance must be positive",
    ),
    # deployment
    (
        {"deployment": DeploymentOptions(traffic=TrafficShift(percent=0))},
        "deployment.traffic.percent must be between 1 and 100",
    ),
    (
        {"deployment": DeploymentOptions(traffic=TrafficShift(wait=cdk.Duration.hours(2)))},
        "deployment.traffic.wait must be at most 1 hour",
    ),
    (
        {"deployment": DeploymentOptions(rolling_batch_percent=0)},
        "deployment.rolling_batch_percent must be between 1 and 100",
    ),
    (
        {
            "hosting": HostingMode.serverless(),
            "deployment": DeploymentOptions(traffic=TrafficShift(type=TrafficShiftType.CANARY)),
        },
        "serverless endpoints update all at once",
    ),
    (
        {"deployment": DeploymentOptions(max_execution_timeout=cdk.Duration.minutes(1))},
        "deployment.max_execution_timeout must be between 10 minutes and 8 hours",
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), CASES, ids=[m[:60] for _, m in CASES])
def test_invalid_props_are_rejected_with_a_clear_message(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsValidationError) as info:
        _build(**kwargs)
    assert message in str(info.value), str(info.value)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(PropsValidationError) as info:
        _build(
            endpoint_name="bad_name",
            instance_count=0,
            routing_strategy="X",
            autoscaling=AutoScalingOptions(scale_to_zero=True),
        )
    assert len(info.value.problems) == 4


def _serverless(stack: cdk.Stack | None = None, **kwargs: Any) -> SageMakerLlmEndpoint:
    """A deployable serverless endpoint: a model.tar.gz on a CPU image (see tests/test_sagemaker_rules.py)."""
    kwargs.setdefault("model", lambda b: ModelSource.s3_tarball(b, "tiny/model.tar.gz"))
    kwargs.setdefault(
        "container", LlmContainer.from_image_uri("111122223333.dkr.ecr.us-east-1.amazonaws.com/tiny-cpu:1")
    )
    return _build(stack, hosting=HostingMode.serverless(), **kwargs)


def test_serverless_and_hub_token_warnings() -> None:
    from aws_cdk import aws_secretsmanager as secretsmanager
    from aws_cdk.assertions import Annotations, Match

    stack = cdk.Stack(cdk.App(), "S")
    _serverless(stack)
    assert Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("only small"))
    stack = cdk.Stack(cdk.App(), "T")
    token = secretsmanager.Secret.from_secret_name_v2(stack, "Token", "hf")
    _build(stack, model=lambda b: ModelSource.hugging_face("meta-llama/Llama-3.1-8B", token_secret=token))
    assert Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("readable with sagemaker:DescribeModel")
    )


BATCH_CASES: list[tuple[dict[str, Any], str]] = [
    ({"instance_type": "g5.2xlarge"}, "instance_type must start with 'ml.'"),
    ({"instance_count": 0}, "instance_count must be between 1 and 100"),
    ({"max_payload_mb": 200}, "max_payload_mb must be between 1 and 100"),
    ({"split_type": "WORD"}, "split_type must be one of LINE, NONE, RECORD_IO, TF_RECORD"),
    ({"batch_strategy": "ALL"}, "batch_strategy must be one of SINGLE_RECORD, MULTI_RECORD"),
    ({"invocation_timeout": cdk.Duration.hours(2)}, "invocation_timeout must be between 1 and 60 minutes"),
    ({"invocation_max_retries": 5}, "invocation_max_retries must be between 0 and 3"),
    ({"input_prefix": "in"}, "input_prefix must be a folder like 'batch/input/'"),
    ({"input_prefix": "data/", "output_prefix": "data/out/"}, "output_prefix must not be inside input_prefix"),
]


@pytest.mark.parametrize(("kwargs", "message"), BATCH_CASES, ids=[m[:50] for _, m in BATCH_CASES])
def test_invalid_batch_props(kwargs: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(cdk.App(), "S")
    endpoint = _build(
        stack, alarms=AlarmOptions(enabled=False), model=lambda b: ModelSource.s3_tarball(b, "model/model.tar.gz")
    )
    with pytest.raises(PropsValidationError) as info:
        endpoint.add_batch_transform("Batch", input_bucket=s3.Bucket(stack, "In"), **kwargs)
    assert message in str(info.value), str(info.value)
    assert len(info.value.problems) == 1, info.value.problems


def test_batch_on_serverless_needs_instance_type() -> None:
    endpoint = _serverless(alarms=AlarmOptions(enabled=False))
    with pytest.raises(ValueError, match="a serverless endpoint has no instance type"):
        endpoint.add_batch_transform("Batch", input_bucket=s3.Bucket(endpoint, "In"))
