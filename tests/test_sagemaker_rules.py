"""The SAGEMAKER.* upstream rules (cdk_llm_serving/sagemaker_endpoint/rules.py): each rejects what the consuming
system rejects or mishandles, and the fixed defaults pass. Also the model-source checks that go with them (S3 URIs
passed as keys, the weights bucket's owner)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk.assertions import Template

from cdk_llm_serving import (
    AlarmOptions,
    AutoScalingOptions,
    DataCaptureOptions,
    DeploymentOptions,
    HostingMode,
    LlmBatchPipeline,
    LlmContainer,
    LoraOptions,
    ModelSource,
    PropsValidationError,
    SageMakerLlmEndpoint,
    TrafficShift,
    TrafficShiftType,
)
from harness import expect_rule, flat_statements, text

CPU_IMAGE = "111122223333.dkr.ecr.us-east-1.amazonaws.com/tiny-llm-cpu:1.4.0"


def _stack(region: str | None = None) -> cdk.Stack:
    env = cdk.Environment(account="111122223333", region=region) if region else None
    return cdk.Stack(cdk.App(), "S", env=env)


def _endpoint(stack: cdk.Stack | None = None, *, model: Any = "prefix", **kwargs: Any) -> SageMakerLlmEndpoint:
    stack = stack or _stack()
    weights = s3.Bucket.from_bucket_name(stack, "W", "weights")
    if model == "prefix":
        model = ModelSource.s3_prefix(weights, "model/")
    elif model == "tarball":
        model = ModelSource.s3_tarball(weights, "model/model.tar.gz")
    kwargs.setdefault("alarms", AlarmOptions(enabled=False))
    return SageMakerLlmEndpoint(stack, "Llm", model=model, **kwargs)


def _serverless(**kwargs: Any) -> SageMakerLlmEndpoint:
    kwargs.setdefault("model", "tarball")
    kwargs.setdefault("container", LlmContainer.from_image_uri(CPU_IMAGE))
    return _endpoint(hosting=HostingMode.serverless(), **kwargs)


# ------------------------------------------------------------ LMI async mode


def test_lora_container_turns_the_rolling_batcher_off() -> None:
    # djl-serving 0.34.0-dlc PyProcess.java:80-90 and :157-171: with OPTION_ROLLING_BATCH other than "disable" a
    # RollingBatch is created next to the AsyncRequestManager and predict() hands it every request, adapter registration
    # (handler=register_adapter) included. LMI's async configuration (vllm_user_guide.md "Async Mode Configurations",
    # tests/integration/llm/prepare.py build_vllm_async_model) uses rolling_batch=disable.
    options = LlmContainer.lmi(lora=LoraOptions()).options
    assert (options["OPTION_ASYNC_MODE"], options["OPTION_ROLLING_BATCH"]) == ("true", "disable")
    assert options["OPTION_ENTRYPOINT"] == "djl_python.lmi_vllm.vllm_async_service"
    # The fixed default passes the rule in the mode adapter inference components use.
    endpoint = _endpoint(
        container=LlmContainer.lmi(tensor_parallel_degree=1, lora=LoraOptions()),
        hosting=HostingMode.inference_component(),
        instance_type="ml.g5.12xlarge",
    )
    env = Template.from_stack(cdk.Stack.of(endpoint)).find_resources("AWS::SageMaker::Model")
    (model,) = env.values()
    assert model["Properties"]["PrimaryContainer"]["Environment"]["OPTION_ROLLING_BATCH"] == "disable"


def test_async_mode_with_a_rolling_batch_is_rejected() -> None:
    # Source: djl-serving 0.34.0-dlc PyProcess.java:80-90,157-171 (see above).
    message = expect_rule(
        "SAGEMAKER.LMI_ASYNC_ROLLING_BATCH",
        lambda: _endpoint(
            container=LlmContainer.lmi(lora=LoraOptions(), rolling_batch="vllm"),
            hosting=HostingMode.inference_component(),
            instance_type="ml.g5.12xlarge",
        ),
    )
    assert "got 'vllm'" in message and "rolling_batch='disable'" in message
    # Async mode switched on through the extra environment, with the default rolling batch.
    expect_rule(
        "SAGEMAKER.LMI_ASYNC_ROLLING_BATCH",
        lambda: _endpoint(container=LlmContainer.lmi(environment={"OPTION_ASYNC_MODE": "true"})),
    )
    # Without async mode a rolling batch is the normal LMI configuration.
    _endpoint(container=LlmContainer.lmi(rolling_batch="vllm"))


# ----------------------------------------------------- ModelDataSource scope


def test_serverless_rejects_model_data_source() -> None:
    # botocore ContainerDefinition.ModelDataSource: "you cannot use ModelDataSource in conjunction with ... SageMaker
    # serverless endpoints".
    message = expect_rule("SAGEMAKER.MODEL_DATA_SOURCE_SERVERLESS", lambda: _serverless(model="prefix"))
    assert "ModelSource.s3_tarball" in message
    _serverless()  # a model.tar.gz on a CPU image is fine


def test_batch_transform_rejects_model_data_source() -> None:
    # botocore ContainerDefinition.ModelDataSource: "you cannot use ModelDataSource in conjunction with SageMaker batch
    # transform": every CreateTransformJob run on such a model fails.
    stack = _stack()
    endpoint = _endpoint(stack)
    bucket = s3.Bucket(stack, "In")
    message = expect_rule(
        "SAGEMAKER.MODEL_DATA_SOURCE_BATCH", lambda: endpoint.add_batch_transform("Batch", input_bucket=bucket)
    )
    assert "S/Llm/Model" in message and "ModelSource.s3_tarball" in message
    # The same check on a pipeline created directly from any CfnModel.
    model = sagemaker.CfnModel(
        stack,
        "Other",
        execution_role_arn=endpoint.role.role_arn,
        primary_container={
            "image": CPU_IMAGE,
            "modelDataSource": {
                "s3DataSource": {"s3Uri": "s3://weights/m/", "s3DataType": "S3Prefix", "compressionType": "None"}
            },
        },
    )
    expect_rule(
        "SAGEMAKER.MODEL_DATA_SOURCE_BATCH",
        lambda: LlmBatchPipeline(
            stack, "Direct", model=model, model_role=endpoint.role, model_policy=endpoint.policy, input_bucket=bucket
        ),
    )
    # A model.tar.gz is fine.
    stack = _stack()
    tarball = _endpoint(stack, model="tarball")
    tarball.add_batch_transform("Batch", input_bucket=s3.Bucket(stack, "In"))


# ------------------------------------------------- serverless feature exclusions


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"container": None}, "djl-inference:0.34.0-lmi16.0.0-cu128 is a GPU image"),
        ({"container": LlmContainer.tgi()}, "is a GPU image"),
        ({"enable_network_isolation": True}, "enable_network_isolation=True is not supported by serverless endpoints"),
        ({"data_capture": DataCaptureOptions()}, "data_capture is not supported by serverless endpoints"),
        ({"vpc": "vpc"}, "HostingMode.serverless() cannot be placed in a VPC"),
    ],
    ids=["default-lmi-gpu-image", "tgi-gpu-image", "network-isolation", "data-capture", "vpc"],
)
def test_serverless_feature_exclusions(kwargs: dict[str, Any], fragment: str) -> None:
    # AWS "Deploy models with Amazon SageMaker Serverless Inference" > Feature exclusions: "GPUs, ..., KMS keys, VPC
    # configuration, network isolation, data capture, ..." are not supported for Serverless Inference.
    stack = _stack()
    if kwargs.get("vpc") == "vpc":
        kwargs["vpc"] = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0)
    if "container" in kwargs and kwargs["container"] is None:
        kwargs.pop("container")
        build = lambda: _endpoint(stack, model="tarball", hosting=HostingMode.serverless(), **kwargs)  # noqa: E731
    else:
        build = lambda: _serverless(stack=stack, **kwargs)  # noqa: E731
    assert fragment in expect_rule("SAGEMAKER.SERVERLESS_FEATURE_EXCLUSIONS", build)


def test_serverless_defaults_to_no_network_isolation() -> None:
    endpoint = _serverless()
    (model,) = Template.from_stack(cdk.Stack.of(endpoint)).find_resources("AWS::SageMaker::Model").values()
    assert model["Properties"]["EnableNetworkIsolation"] is False
    # Other modes keep isolation on for S3 weights.
    (model,) = (
        Template.from_stack(cdk.Stack.of(_endpoint(model="tarball"))).find_resources("AWS::SageMaker::Model").values()
    )
    assert model["Properties"]["EnableNetworkIsolation"] is True


# ------------------------------------------------------------- rollouts


def _shift(kind: TrafficShiftType, percent: int = 10) -> DeploymentOptions:
    return DeploymentOptions(traffic=TrafficShift(type=kind, percent=percent))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (
            {"deployment": _shift(TrafficShiftType.CANARY, 80), "instance_count": 4},
            "a CANARY of 80% is more than SageMaker allows",
        ),
        ({"deployment": _shift(TrafficShiftType.LINEAR, 5), "instance_count": 20}, "LINEAR steps must be 10-50%"),
        ({"deployment": _shift(TrafficShiftType.LINEAR, 60), "instance_count": 4}, "LINEAR steps must be 10-50%"),
        # RagStack as reviewed: a 25 % canary on a variant autoscaled 1-2 instances.
        (
            {
                "deployment": _shift(TrafficShiftType.CANARY, 25),
                "autoscaling": AutoScalingOptions(min_capacity=1, max_capacity=2),
            },
            "can be down to 1 instance",
        ),
        ({"deployment": _shift(TrafficShiftType.CANARY, 20), "instance_count": 2}, "keep at least 5 instances"),
        (
            {
                "deployment": _shift(TrafficShiftType.LINEAR, 50),
                "hosting": HostingMode.async_(),
                "autoscaling": AutoScalingOptions(scale_to_zero=True),
            },
            "can scale to zero instances",
        ),
    ],
    ids=["canary-80", "linear-5", "linear-60", "canary-25-of-1", "canary-20-of-2", "linear-with-scale-to-zero"],
)
def test_traffic_shift_sizes(kwargs: dict[str, Any], fragment: str) -> None:
    # botocore TrafficRoutingConfig: CanarySize "must be less than or equal to 50% of the variant's total instance
    # count", LinearStepSize "must be 10-50% of the variant's total instance count"; the canary/step is a portion of the
    # green fleet's instances (deployment-guardrails-blue-green-canary.html, -linear.html).
    message = expect_rule("SAGEMAKER.TRAFFIC_SHIFT_SIZE", lambda: _endpoint(**kwargs))
    assert fragment in message, message


def test_traffic_shifts_that_fit_the_fleet_pass() -> None:
    _endpoint(deployment=_shift(TrafficShiftType.CANARY, 50), instance_count=2)
    _endpoint(
        deployment=_shift(TrafficShiftType.CANARY, 25), autoscaling=AutoScalingOptions(min_capacity=4, max_capacity=8)
    )
    _endpoint(deployment=_shift(TrafficShiftType.LINEAR, 10), instance_count=10)
    _endpoint(deployment=_shift(TrafficShiftType.ALL_AT_ONCE))  # one instance: all at once, still baked and rolled back
    assert "TrafficShiftType.ALL_AT_ONCE" in expect_rule(
        "SAGEMAKER.TRAFFIC_SHIFT_SIZE", lambda: _endpoint(deployment=_shift(TrafficShiftType.CANARY, 10))
    )


def test_inference_component_rolling_update_batch_size() -> None:
    # botocore InferenceComponentRollingUpdatePolicy.MaximumBatchSize: "The value must be between 5% to 50% of the copy
    # count of the inference component."
    for percent in (2, 60):
        message = expect_rule(
            "SAGEMAKER.ROLLING_UPDATE_BATCH_SIZE",
            lambda percent=percent: _endpoint(
                hosting=HostingMode.inference_component(copies=4),
                deployment=DeploymentOptions(rolling_batch_percent=percent),
            ),
        )
        assert f"got {percent}" in message
    _endpoint(hosting=HostingMode.inference_component(), deployment=DeploymentOptions())  # the default, 25 %


def test_rollback_alarms_are_readable_by_the_execution_role() -> None:
    # "Ensure that your IAM execution role has permission to perform the cloudwatch:DescribeAlarms action on the
    # auto-rollback alarms you specify" (SageMaker AI Developer Guide, deployment-guardrails-configuration.html).
    endpoint = _endpoint(deployment=_shift(TrafficShiftType.ALL_AT_ONCE), alarms=AlarmOptions())
    stack = cdk.Stack.of(endpoint)
    (policy,) = [p for p in Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values()]
    described = [
        s
        for s in flat_statements(policy["Properties"]["PolicyDocument"]["Statement"])
        if s["Action"] == "cloudwatch:DescribeAlarms"
    ]
    arns = sorted(
        stack.resolve(a.alarm_arn)["Fn::GetAtt"][0]
        for a in endpoint.alarms
        if a.node.id in ("ServerErrorsAlarm", "ModelLatencyAlarm")
    )
    assert sorted(s["Resource"]["Fn::GetAtt"][0] for s in described) == arns
    # Without a deployment configuration nothing reads the alarms.
    stack = cdk.Stack.of(_endpoint(alarms=AlarmOptions()))
    assert "cloudwatch:DescribeAlarms" not in str(Template.from_stack(stack).to_json())


# ---------------------------------------------------------------- Regions


def test_unknown_region_needs_an_own_image() -> None:
    # aws/deep-learning-containers docs/reference/region_availability.md: the Regions that host the images.
    message = expect_rule("SAGEMAKER.DLC_REGISTRY_REGION", lambda: _endpoint(_stack("xx-mars-1")))
    assert "no AWS Deep Learning Containers registry is known for Region xx-mars-1" in message
    _endpoint(_stack("xx-mars-1"), container=LlmContainer.from_image_uri(CPU_IMAGE))  # an own image is fine


@pytest.mark.parametrize(
    ("region", "account"),
    [("ca-west-1", "204538143572"), ("mx-central-1", "637423239942"), ("il-central-1", "780543022126")],
)
def test_newer_regions_get_their_registry_account(region: str, account: str) -> None:
    # Missing before: a stack in these Regions failed validation (concrete Region) or on Fn::FindInMap (Region-agnostic).
    endpoint = _endpoint(_stack(region))
    (model,) = Template.from_stack(cdk.Stack.of(endpoint)).find_resources("AWS::SageMaker::Model").values()
    assert text(model["Properties"]["PrimaryContainer"]["Image"]).startswith(f"{account}.dkr.ecr.")


# ------------------------------------------------------- model source checks


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (
            lambda b: ModelSource.s3_prefix(b, "s3://weights/qwen2.5-7b-instruct/"),
            "ModelSource.s3_prefix(bucket, prefix) takes the key inside the bucket, not a URI: "
            "got prefix='s3://weights/qwen2.5-7b-instruct/'; pass prefix='qwen2.5-7b-instruct/'",
        ),
        (lambda b: ModelSource.s3_tarball(b, "s3://weights/tiny/model.tar.gz"), "pass key='tiny/model.tar.gz'"),
        (
            lambda b: ModelSource.s3_prefix(b, "https://weights.s3.amazonaws.com/m/"),
            "pass the prefix relative to the bucket",
        ),
    ],
)
def test_s3_uri_passed_as_a_key_is_rejected(build: Any, fragment: str) -> None:
    stack = _stack()
    with pytest.raises(PropsValidationError) as info:
        _endpoint(stack, model=build(s3.Bucket.from_bucket_name(stack, "B", "weights")))
    assert fragment in str(info.value), str(info.value)
    assert len(info.value.problems) == 1


def test_model_reads_are_conditioned_on_the_bucket_owner() -> None:
    """Bucket names are global: a same-named bucket in another account (e.g. a squatted default name) is never read."""

    def reads(bucket_of) -> list[dict[str, Any]]:
        stack = _stack()
        _endpoint(stack, model=ModelSource.s3_prefix(bucket_of(stack), "m/"))
        (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values()
        return [
            s
            for s in flat_statements(policy["Properties"]["PolicyDocument"]["Statement"])
            if s["Action"] in ("s3:GetObject", "s3:ListBucket")
        ]

    own = reads(lambda st: s3.Bucket.from_bucket_name(st, "B", "weights"))
    assert len(own) == 2 and all(
        s["Condition"]["StringEquals"] == {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}} for s in own
    )
    listing = [s for s in own if s["Action"] == "s3:ListBucket"][0]
    assert listing["Condition"]["StringLike"] == {"s3:prefix": ["m/*"]}
    # A bucket another account owns is declared with its account.
    other = reads(lambda st: s3.Bucket.from_bucket_attributes(st, "B", bucket_name="weights", account="444455556666"))
    assert all(s["Condition"]["StringEquals"] == {"aws:ResourceAccount": "444455556666"} for s in other)
