"""SageMakerLlmEndpoint, LlmBatchPipeline and LoraAdapterFleet follow the library's conventions (issue 15):
one subnet selection, one alarm-notification prop, ``None`` means the default, ``encryption_key``, metrics only
where they mean something, and wrong types or nonsense values fail with a message that names the fix."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match, Template

from cdk_llm_serving import (
    AdapterAlarmOptions,
    AdapterStore,
    AlarmOptions,
    AutoScalingOptions,
    HostingMode,
    InferenceComponentOptions,
    InferenceMode,
    LlmContainer,
    LoraAdapter,
    LoraAdapterFleet,
    ModelSource,
    PropsValidationError,
    SageMakerLlmEndpoint,
)
from cdk_llm_serving._types import PropsTypeError
from harness import expect_rule, resources


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "S")


def _weights(stack: cdk.Stack) -> s3.IBucket:
    return stack.node.try_find_child("W") or s3.Bucket.from_bucket_name(stack, "W", "weights")  # type: ignore[return-value]


def _endpoint(stack: cdk.Stack | None = None, **kwargs: Any) -> SageMakerLlmEndpoint:
    stack = stack or _stack()
    kwargs.setdefault("model", ModelSource.s3_prefix(_weights(stack), "model/"))
    return SageMakerLlmEndpoint(stack, "Llm", **kwargs)


def _fleet(stack: cdk.Stack | None = None, **kwargs: Any) -> LoraAdapterFleet:
    stack = stack or _stack()
    weights = _weights(stack)
    kwargs.setdefault("adapter_store", AdapterStore(weights, "adapters/"))
    kwargs.setdefault("adapters", [LoraAdapter(name="support")])
    return LoraAdapterFleet(stack, "Fleet", base_model=ModelSource.s3_prefix(weights, "base/"), **kwargs)


def _template(construct: Any) -> dict[str, Any]:
    return Template.from_stack(cdk.Stack.of(construct)).to_json()


# ------------------------------------------------------------ 1. subnets


def _one_subnet_vpc(stack: cdk.Stack) -> tuple[ec2.Vpc, ec2.SubnetSelection, dict[str, Any]]:
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    one = vpc.isolated_subnets[0]
    return (
        vpc,
        ec2.SubnetSelection(subnet_filters=[ec2.SubnetFilter.by_ids([one.subnet_id])]),
        stack.resolve(one.subnet_id),
    )


def test_a_filtered_one_subnet_selection_puts_the_model_in_that_one_subnet() -> None:
    # Regression (review G §0.1): the hand-copied selection dropped subnet_filters, so the model's VpcConfig listed
    # both isolated subnets. vpc_subnets now goes through cdk_llm_serving._vpc.select_subnets (all six fields).
    stack = _stack()
    vpc, selection, subnet = _one_subnet_vpc(stack)
    endpoint = _endpoint(stack, vpc=vpc, vpc_subnets=selection)
    (model,) = resources(_template(endpoint), "AWS::SageMaker::Model").values()
    assert model["Properties"]["VpcConfig"]["Subnets"] == [subnet]


def test_inference_components_put_the_same_selection_on_the_endpoint_config() -> None:
    stack = _stack()
    vpc, selection, subnet = _one_subnet_vpc(stack)
    endpoint = _endpoint(stack, vpc=vpc, vpc_subnets=selection, hosting=HostingMode.inference_component())
    (config,) = resources(_template(endpoint), "AWS::SageMaker::EndpointConfig").values()
    assert config["Properties"]["VpcConfig"]["Subnets"] == [subnet]
    # Without a selection: the VPC's private (here: isolated) subnets.
    stack = _stack()
    vpc, _, _ = _one_subnet_vpc(stack)
    (model,) = resources(_template(_endpoint(stack, vpc=vpc)), "AWS::SageMaker::Model").values()
    assert len(model["Properties"]["VpcConfig"]["Subnets"]) == 2


# ------------------------------------------------------------ 2. alarm notifications


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources(template, "AWS::CloudWatch::Alarm").items()}


def test_endpoint_alarms_notify_alarm_topic_on_alarm_and_ok() -> None:
    stack = _stack()
    topic = sns.Topic(stack, "Topic")
    endpoint = _endpoint(stack, alarm_topic=topic)
    alarms = _alarms(_template(endpoint))
    assert len(alarms) == 4  # 5XX, latency, GPU memory, disk (the defaults: alarms=None means AlarmOptions())
    ref = [{"Ref": stack.get_logical_id(topic.node.default_child)}]  # type: ignore[arg-type]
    for props in alarms.values():
        assert props["AlarmActions"] == ref and props["OKActions"] == ref
    assert endpoint.alarm_topic is topic


def test_alarms_are_switched_off_explicitly_and_the_topic_is_not_an_alarm_option() -> None:
    assert not _alarms(_template(_endpoint(alarms=AlarmOptions(enabled=False))))
    without_topic = _alarms(_template(_endpoint()))
    assert without_topic and not any("AlarmActions" in p for p in without_topic.values())
    with pytest.raises(TypeError):
        AlarmOptions(topic=None)  # type: ignore[call-arg]  # the topic is the construct's alarm_topic
    with pytest.raises(TypeError):
        AdapterAlarmOptions(topic=None)  # type: ignore[call-arg]


def test_fleet_alarm_topic_reaches_base_and_adapter_alarms() -> None:
    stack = _stack()
    topic = sns.Topic(stack, "Topic")
    fleet = _fleet(stack, alarm_topic=topic, adapter_alarms=AdapterAlarmOptions(server_errors=2), adapter_stacks=0)
    alarms = _alarms(_template(fleet))
    ref = [{"Ref": stack.get_logical_id(topic.node.default_child)}]  # type: ignore[arg-type]
    adapter = [p for p in alarms.values() if "LoRA adapter support" in p["AlarmDescription"]]
    assert len(adapter) == 1 and adapter[0]["Threshold"] == 2
    assert all(p["AlarmActions"] == ref and p["OKActions"] == ref for p in alarms.values())


def test_batch_failure_alarm_uses_the_shared_helper_and_the_endpoint_topic() -> None:
    stack = _stack()
    topic = sns.Topic(stack, "Topic")
    endpoint = _endpoint(
        stack,
        model=ModelSource.s3_tarball(_weights(stack), "m/model.tar.gz"),
        alarm_topic=topic,
        alarms=AlarmOptions(enabled=False),
    )
    batch = endpoint.add_batch_transform("Batch", input_bucket=s3.Bucket(stack, "In"))
    (props,) = _alarms(_template(endpoint)).values()
    ref = [{"Ref": stack.get_logical_id(topic.node.default_child)}]  # type: ignore[arg-type]
    assert props["MetricName"] == "ExecutionsFailed" and props["AlarmActions"] == ref and props["OKActions"] == ref
    assert batch.failure_alarm.node.id == "FailedAlarm"


# ------------------------------------------------------------ 3. None means the default


def test_fleet_autoscaling_none_is_the_default_and_off_is_explicit() -> None:
    template = _template(_fleet())
    (target,) = resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (1, 4)
    fixed = _fleet(autoscaling=AutoScalingOptions(enabled=False))
    assert not resources(_template(fixed), "AWS::ApplicationAutoScaling::ScalableTarget")
    assert fixed.autoscaling is None and fixed.scalable_target is None
    assert not resources(
        _template(_endpoint(autoscaling=AutoScalingOptions(enabled=False))),
        "AWS::ApplicationAutoScaling::ScalableTarget",
    )


# ------------------------------------------------------------ 4. encryption_key


def test_encryption_key_is_used_and_exposed() -> None:
    stack = _stack()
    key = kms.Key(stack, "Mine", enable_key_rotation=True)
    endpoint = _endpoint(
        stack, instance_type="ml.inf2.xlarge", encryption_key=key
    )  # EBS-backed: the volume takes a key
    (config,) = resources(_template(endpoint), "AWS::SageMaker::EndpointConfig").values()
    assert config["Properties"]["KmsKeyId"] == stack.resolve(key.key_arn)
    assert endpoint.encryption_key is key and not endpoint.node.try_find_child("Key")
    assert _fleet(encryption_key=kms.Key(_stack(), "K")).encryption_key is not None
    with pytest.raises(TypeError):
        _endpoint(kms_key=key)  # renamed


def test_batch_pipeline_without_a_key_gets_its_own_and_cloudwatch_logs_may_use_it() -> None:
    # CloudWatch Logs encrypts a log group only with a key whose policy allows logs.<region>.amazonaws.com
    # (CloudWatch Logs User Guide, encrypt-log-data-kms.html); the pipeline's log group is encrypted with its key.
    stack = _stack()
    endpoint = _endpoint(
        stack, model=ModelSource.s3_tarball(_weights(stack), "m/model.tar.gz")
    )  # ml.g5: no endpoint key
    assert endpoint.encryption_key is None
    batch = endpoint.add_batch_transform("Batch", input_bucket=s3.Bucket(stack, "In"))
    template = _template(endpoint)
    (key_id,) = resources(template, "AWS::KMS::Key")
    assert stack.resolve(batch.encryption_key.key_arn) == {"Fn::GetAtt": [key_id, "Arn"]}
    statements = template["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    principals = [stack.resolve(s["Principal"]).get("Service") for s in statements]
    assert {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]} in principals
    (log_group,) = resources(template, "AWS::Logs::LogGroup").values()
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


# ------------------------------------------------------------ 6. metrics only where they mean something


def test_lora_adapters_have_no_instance_or_async_metrics() -> None:
    fleet = _fleet()
    adapter = fleet.adapter("support")
    for name in ("metric_async_backlog", "metric_gpu_memory_utilization", "metric_disk_utilization"):
        assert not hasattr(adapter, name), name
    assert adapter.metric_invocations() and adapter.metric_server_errors() and adapter.metric_no_capacity_failures()
    # The fleet runs the base copies: GPU memory and disk mean something; an async backlog does not.
    assert fleet.metric_gpu_memory_utilization() and fleet.metric_disk_utilization()
    assert not hasattr(fleet, "metric_async_backlog")
    assert _endpoint().metric_async_backlog()


# ------------------------------------------------------------ 7. clear errors


@pytest.mark.parametrize(
    ("build", "message"),
    [
        # E-newcomer row 6: each of these was a raw AttributeError/TypeError or a misleading message.
        (
            lambda: _endpoint(hosting="serverless"),
            "hosting must be HostingMode or None, got str 'serverless' (build it with a HostingMode factory, e.g. HostingMode.serverless(...))",
        ),
        (lambda: _endpoint(hosting=InferenceMode.SERVERLESS), "hosting must be HostingMode or None, got InferenceMode"),
        (lambda: HostingMode.serverless(memory_size_mb="6144"), "memory_size_mb must be int, got str '6144'"),
        (
            lambda: _endpoint(instance_count="2"),
            "instance_count must be int, got str '2' (pass the number 2 without quotes)",
        ),
        (
            lambda: AutoScalingOptions(min_capacity="1"),
            "min_capacity must be int, got str '1' (pass the number 1 without quotes)",
        ),
        (
            lambda: ModelSource.s3_prefix("my-weights-bucket", "qwen/"),
            "bucket must be aws_s3.IBucket, got str 'my-weights-bucket' (import it: s3.Bucket.from_bucket_name(self, 'Weights', "
            "'my-weights-bucket'))",
        ),
        (lambda: AdapterStore("my-adapters"), "bucket must be aws_s3.IBucket, got str 'my-adapters'"),
        (lambda: LlmContainer.lmi(max_model_len="8192"), "max_model_len must be int or None, got str '8192'"),
        (lambda: _endpoint(startup_health_check_timeout=600), "(use cdk.Duration.seconds(600))"),
        (lambda: _fleet(adapters=[LoraAdapter(name="a", rank="16")]), "rank must be int or None, got str '16'"),
    ],
)
def test_wrong_types_fail_with_the_prop_the_type_and_a_fix(build: Any, message: str) -> None:
    with pytest.raises(PropsTypeError) as err:
        build()
    assert message in str(err.value), str(err.value)


def test_errors_name_the_construct_path() -> None:
    with pytest.raises(PropsValidationError, match=r"invalid SageMakerLlmEndpoint at S/Llm \(1 problem"):
        _endpoint(instance_count=0)
    with pytest.raises(PropsValidationError, match=r"invalid LoraAdapterFleet at S/Fleet"):
        _fleet(adapter_stacks=99)
    fleet = _fleet()
    with pytest.raises(PropsValidationError, match=r"invalid LoraAdapterFleet.add_adapter at S/Fleet"):
        fleet.add_adapter("support")


def test_scale_to_zero_with_min_capacity_zero_is_accepted_and_the_message_does_not_contradict_itself() -> None:
    # E-newcomer row 8: min_capacity=0 + scale_to_zero=True said "use scale_to_zero=True to reach zero".
    endpoint = _endpoint(
        hosting=HostingMode.inference_component(),
        autoscaling=AutoScalingOptions(min_capacity=0, max_capacity=4, scale_to_zero=True),
    )
    (target,) = resources(_template(endpoint), "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert target["Properties"]["MinCapacity"] == 0
    with pytest.raises(PropsValidationError) as err:
        _endpoint(autoscaling=AutoScalingOptions(min_capacity=0))
    (problem,) = err.value.problems
    assert problem.startswith("autoscaling.min_capacity must be at least 1, got 0; to release every instance")
    with pytest.raises(PropsValidationError, match="autoscaling.max_capacity must be at least 1"):
        _endpoint(
            hosting=HostingMode.async_(),
            autoscaling=AutoScalingOptions(min_capacity=0, max_capacity=0, scale_to_zero=True),
        )


def test_an_instance_type_sagemaker_does_not_have_is_an_error() -> None:
    # botocore 1.44.5 sagemaker service-2.json: ProductionVariant.InstanceType is the enum ProductionVariantInstanceType;
    # CreateEndpointConfig rejects anything else (E-newcomer row 15: ml.g5.3xlarge was only a warning).
    message = expect_rule("SAGEMAKER.HOSTING_INSTANCE_TYPE", lambda: _endpoint(instance_type="ml.g5.3xlarge"))
    assert "'ml.g5.3xlarge' is not a SageMaker hosting instance type" in message and "did you mean" in message
    # A real type without bundled hardware facts is a warning (accelerator and KMS checks skipped), not an error.
    endpoint = _endpoint(instance_type="ml.c7i.xlarge")
    warnings = Annotations.from_stack(cdk.Stack.of(endpoint)).find_warning(
        "*", Match.string_like_regexp("ml.c7i.xlarge is a SageMaker hosting type but not in the bundled hardware table")
    )
    assert warnings and "instance-type-without-hardware-facts" in str(warnings[0].entry.data)
    _endpoint(instance_type="ml.g5.12xlarge")  # in both tables: no warning needed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # E-newcomer row 16: nonsense values were accepted silently.
        (
            {"container": LlmContainer.lmi(max_model_len=-1)},
            "LlmContainer.lmi(max_model_len) must be a positive integer, got -1",
        ),
        (
            {"container": LlmContainer.vllm(max_num_seqs=0)},
            "LlmContainer.vllm(max_num_seqs) must be a positive integer, got 0",
        ),
        (
            {"container": LlmContainer.lmi(gpu_memory_utilization=1.5)},
            "LlmContainer.lmi(gpu_memory_utilization) must be a fraction in (0, 1]",
        ),
        (
            {"container": LlmContainer.tgi(max_total_tokens=-4)},
            "LlmContainer.tgi(max_total_tokens) must be a positive integer",
        ),
        ({"alarms": AlarmOptions(server_errors=-1)}, "alarms.server_errors must be at least 1, got -1"),
        (
            {"alarms": AlarmOptions(gpu_memory_percent=150)},
            "alarms.gpu_memory_percent must be a percentage in (0, 100], got 150",
        ),
        (
            {"alarms": AlarmOptions(model_latency_p90=cdk.Duration.seconds(0))},
            "alarms.model_latency_p90 must be longer than 0",
        ),
    ],
)
def test_nonsense_values_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsValidationError) as err:
        _endpoint(**kwargs)
    assert message in str(err.value), str(err.value)


def test_annotation_ids_are_kebab_case() -> None:
    stack = _stack()
    _endpoint(
        stack,
        hosting=HostingMode.serverless(),
        model=ModelSource.s3_tarball(_weights(stack), "m/model.tar.gz"),
        container=LlmContainer.from_image_uri("111122223333.dkr.ecr.us-east-1.amazonaws.com/cpu:1"),
    )
    ids = {str(w.entry.data) for w in Annotations.from_stack(stack).find_warning("*", Match.any_value())}
    assert any("cdk-llm-serving:serverless-small-models-only" in i for i in ids), ids


# ------------------------------------------------------------ 9. mode selection through factories


def test_hosting_mode_factories_carry_exactly_their_options() -> None:
    from cdk_llm_serving import AsyncInferenceOptions, ServerlessOptions

    assert HostingMode.real_time().kind is InferenceMode.REAL_TIME
    # The factories' defaults are the option classes' defaults.
    assert HostingMode.inference_component().inference_component_options == InferenceComponentOptions()
    assert HostingMode.serverless().serverless_options == ServerlessOptions()
    assert HostingMode.async_().async_options == AsyncInferenceOptions()
    # A mode with another mode's options cannot be built (the old mode= + option objects needed a cross-check).
    with pytest.raises(ValueError, match=r"use the factory HostingMode.real_time\(\)"):
        HostingMode(kind=InferenceMode.REAL_TIME, serverless_options=ServerlessOptions())
    with pytest.raises(ValueError, match=r"use the factory HostingMode.inference_component\(\)"):
        HostingMode(kind=InferenceMode.INFERENCE_COMPONENT)
    assert _endpoint().hosting == HostingMode.real_time()  # hosting=None is the default
    endpoint = _endpoint(hosting=HostingMode.async_(output_prefix="out/"))
    assert endpoint.hosting.kind is InferenceMode.ASYNC and endpoint.hosting.async_options.output_prefix == "out/"  # type: ignore[union-attr]
