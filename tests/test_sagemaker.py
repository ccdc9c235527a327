"""Fine-grained assertions of intent for SageMakerLlmEndpoint, one test stack per mode (tests/variants_sagemaker.py)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from cdk_llm_serving import AlarmOptions, HostingMode, ModelSource, SageMakerLlmEndpoint
from cdk_llm_serving.sagemaker_endpoint.containers import LlmContainer, dlc_accounts
from cdk_llm_serving.sagemaker_endpoint.instances import hourly_price, instance_spec, known_instance_types, load_data
from harness import Synthesis, as_list, flat_statements, one, resources, text
from test_intent_guards import WILDCARD_ACTIONS

SAGEMAKER_STACKS = [
    "SageMakerRealTimeStack",
    "SageMakerComponentStack",
    "SageMakerServerlessStack",
    "SageMakerAsyncStack",
    "SageMakerTgiStack",
]


def _policy_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    docs = [
        r["Properties"]
        for r in resources(template, "AWS::IAM::ManagedPolicy").values()
        if "SageMaker LLM endpoint needs" in r["Properties"].get("Description", "")
    ]
    assert len(docs) == 1
    return docs[0]["PolicyDocument"]["Statement"]


def _statement(statements: list[dict[str, Any]], action: str) -> dict[str, Any]:
    found = [s for s in statements if action in as_list(s["Action"])]
    assert len(found) == 1, f"{action}: {found}"
    return found[0]


@pytest.fixture(scope="module")
def templates(synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    return {name: synthesis.templates[name] for name in SAGEMAKER_STACKS}


# ------------------------------------------------------------------ every mode


@pytest.mark.parametrize("stack_name", SAGEMAKER_STACKS)
def test_no_full_access_and_no_inline_policies(templates: dict[str, dict[str, Any]], stack_name: str) -> None:
    text = json.dumps(templates[stack_name])
    assert "FullAccess" not in text
    # aws-cdk-lib's own custom-resource provider (restrictDefaultSecurityGroup) is not ours.
    roles = {
        k: v
        for k, v in resources(templates[stack_name], "AWS::IAM::Role").items()
        if not k.startswith("CustomVpcRestrictDefaultSG")
    }
    for role in roles.values():
        assert "ManagedPolicyArns" not in role["Properties"] or all(
            "aws:policy" not in json.dumps(a) for a in role["Properties"]["ManagedPolicyArns"]
        )


@pytest.mark.parametrize("stack_name", SAGEMAKER_STACKS)
def test_execution_role_trusts_only_sagemaker_of_this_account(
    templates: dict[str, dict[str, Any]], stack_name: str
) -> None:
    roles = [
        r["Properties"]
        for r in resources(templates[stack_name], "AWS::IAM::Role").values()
        if "SageMaker execution role" in r["Properties"].get("Description", "")
    ]
    assert len(roles) == 1
    (statement,) = roles[0]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


@pytest.mark.parametrize("stack_name", SAGEMAKER_STACKS)
def test_endpoint_depends_on_its_permissions(templates: dict[str, dict[str, Any]], stack_name: str) -> None:
    endpoints = resources(templates[stack_name], "AWS::SageMaker::Endpoint")
    policies = resources(templates[stack_name], "AWS::IAM::ManagedPolicy")
    (endpoint,) = endpoints.values()
    assert set(policies) & set(endpoint["DependsOn"])


# ------------------------------------------------------------------ real-time


def test_real_time_model_container(templates: dict[str, dict[str, Any]]) -> None:
    model = one(templates["SageMakerRealTimeStack"], "AWS::SageMaker::Model")
    container = model["PrimaryContainer"]
    assert (
        text(container["Image"])
        == "{DLC_ACCOUNT}.dkr.ecr.{AWS::Region}.{AWS::URLSuffix}/djl-inference:0.34.0-lmi16.0.0-cu128"
    )
    assert container["Environment"] == {
        "HF_MODEL_ID": "/opt/ml/model",
        "OPTION_ROLLING_BATCH": "vllm",
        "OPTION_TENSOR_PARALLEL_DEGREE": "1",
        "OPTION_MAX_MODEL_LEN": "8192",
        "OPTION_MAX_ROLLING_BATCH_SIZE": "32",
    }
    # A tarball, not ModelDataSource: the endpoint also runs batch transforms (SAGEMAKER.MODEL_DATA_SOURCE_BATCH).
    assert "ModelDataSource" not in container
    assert text(container["ModelDataUrl"]) == "s3://example-llm-weights/qwen2.5-7b-instruct/model.tar.gz"
    assert model["EnableNetworkIsolation"] is True
    assert "VpcConfig" in model and len(model["VpcConfig"]["Subnets"]) == 2
    mapping = templates["SageMakerRealTimeStack"]["Mappings"]["CdkLlmServingDlcAccounts"]
    assert mapping["us-east-1"] == {"account": "763104351884"}


def test_real_time_endpoint_config(templates: dict[str, dict[str, Any]]) -> None:
    config = one(templates["SageMakerRealTimeStack"], "AWS::SageMaker::EndpointConfig")
    (variant,) = config["ProductionVariants"]
    assert variant["InstanceType"] == "ml.g5.2xlarge" and variant["InitialInstanceCount"] == 2
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 900
    assert variant["ModelDataDownloadTimeoutInSeconds"] == 900
    assert "ModelName" in variant and "ManagedInstanceScaling" not in variant
    # ml.g5 has local NVMe storage: a volume key would make CreateEndpointConfig fail.
    assert "KmsKeyId" not in config
    capture = config["DataCaptureConfig"]
    assert capture["InitialSamplingPercentage"] == 10 and capture["EnableCapture"] is True
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert "KmsKeyId" in capture


def test_real_time_rollout_and_retained_capacity(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["SageMakerRealTimeStack"]
    endpoint = one(template, "AWS::SageMaker::Endpoint")
    assert endpoint["RetainAllVariantProperties"] is True
    assert endpoint["ExcludeRetainedVariantProperties"] == [{"VariantPropertyType": "DataCaptureConfig"}]
    policy = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
        "WaitIntervalInSeconds": 600,
    }
    alarms = {a["AlarmName"]["Ref"] for a in endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]}
    metrics = {template["Resources"][a]["Properties"]["MetricName"] for a in alarms}
    assert metrics == {"Invocation5XXErrors", "ModelLatency"}
    # SageMaker reads the rollback alarms with the execution role (deployment-guardrails-configuration.html).
    described = {
        s["Resource"]["Fn::GetAtt"][0]
        for s in flat_statements(_policy_statements(template))
        if s["Action"] == "cloudwatch:DescribeAlarms"
    }
    assert described == alarms


def test_real_time_autoscaling(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["SageMakerRealTimeStack"]
    target = one(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    (endpoint_id,) = resources(template, "AWS::SageMaker::Endpoint")
    assert text(target["ResourceId"]) == f"endpoint/{{{endpoint_id}.EndpointName}}/variant/AllTraffic"
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    assert "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in text(target["RoleARN"])
    assert target["ScheduledActions"][0]["ScalableTargetAction"] == {"MaxCapacity": 2}
    (policy,) = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert (
        config["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantConcurrentRequestsPerModelHighResolution"
    )
    assert (config["TargetValue"], config["ScaleInCooldown"], config["ScaleOutCooldown"]) == (8, 600, 120)
    assert not resources(template, "AWS::IAM::Role") or all(
        "application-autoscaling" not in json.dumps(r) for r in resources(template, "AWS::IAM::Role").values()
    )


def test_real_time_execution_policy_is_exact(templates: dict[str, dict[str, Any]]) -> None:
    statements = _policy_statements(templates["SageMakerRealTimeStack"])
    reads = {text(r) for s in statements if "s3:GetObject" in as_list(s["Action"]) for r in as_list(s["Resource"])}
    # The model object, and the batch pipeline's input prefix (the transform job uses the model's role).
    assert reads == {
        "arn:{AWS::Partition}:s3:::example-llm-weights/qwen2.5-7b-instruct/model.tar.gz",
        "{LlmArtifactBucketF4187A72.Arn}/batch/input/*",
    }
    # The imported weights bucket is read only if this account owns it (bucket names are global).
    (model_read,) = [
        s
        for s in flat_statements(statements)
        if s["Action"] == "s3:GetObject" and "example-llm-weights" in text(s["Resource"])
    ]
    assert model_read["Condition"] == {"StringEquals": {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}}}
    listings = [s["Condition"] for s in statements if "s3:ListBucket" in as_list(s["Action"])]
    assert listings == [{"StringLike": {"s3:prefix": ["batch/input/*"]}}]
    pull = _statement(statements, "ecr:BatchGetImage")
    assert text(pull["Resource"]) == "arn:{AWS::Partition}:ecr:{AWS::Region}:{DLC_ACCOUNT}:repository/djl-inference"
    assert _statement(statements, "ecr:GetAuthorizationToken")["Resource"] == "*"
    logs_resources = {text(r) for r in as_list(_statement(statements, "logs:PutLogEvents")["Resource"])}
    name = one(templates["SageMakerRealTimeStack"], "AWS::SageMaker::Endpoint")["EndpointName"]
    assert name == "SageMakerRealTimeStack-Llm-D0359BC7"  # generated from the construct path: stable across synths
    assert logs_resources == {
        "arn:{AWS::Partition}:logs:{AWS::Region}:{AWS::AccountId}:log-group:/aws/sagemaker/Endpoints/SageMakerRealTimeStack-Llm-D0359BC7:*"
    }
    metrics = _statement(statements, "cloudwatch:PutMetricData")
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "AWS/SageMaker"]}}
    eni = _statement(statements, "ec2:CreateNetworkInterface")
    assert eni["Resource"] == "*"
    writes = {text(r) for s in statements if "s3:PutObject" in as_list(s["Action"]) for r in as_list(s["Resource"])}
    assert writes == {
        "{LlmArtifactBucketF4187A72.Arn}/data-capture/*",
        "{LlmArtifactBucketF4187A72.Arn}/batch/output/*",
    }
    wildcard = [s for s in statements if s["Resource"] == "*"]
    # Only the actions AWS requires "*" for (the table test_intent_guards checks on every stack).
    assert {a for s in wildcard for a in as_list(s["Action"])} <= WILDCARD_ACTIONS[
        ("SageMakerLlmEndpoint", "ExecutionPolicy")
    ]


def test_real_time_security_group_allows_no_inbound(templates: dict[str, dict[str, Any]]) -> None:
    groups = [
        g["Properties"] for g in resources(templates["SageMakerRealTimeStack"], "AWS::EC2::SecurityGroup").values()
    ]
    (group,) = [g for g in groups if "SageMaker LLM endpoint" in g["GroupDescription"]]
    assert "SecurityGroupIngress" not in group
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in group["SecurityGroupEgress"]] == [("tcp", 443, 443)]


def test_alarms_have_correct_dimensions_and_units(templates: dict[str, dict[str, Any]]) -> None:
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in resources(templates["SageMakerRealTimeStack"], "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace", "").startswith(("AWS/SageMaker", "/aws/sagemaker"))
    }
    assert set(alarms) == {"Invocation5XXErrors", "ModelLatency", "GPUMemoryUtilization", "DiskUtilization"}
    latency = alarms["ModelLatency"]
    assert latency["Threshold"] == 30_000_000 and latency["ExtendedStatistic"] == "p90"  # 30 s in microseconds
    assert {d["Name"] for d in latency["Dimensions"]} == {"EndpointName", "VariantName"}
    gpu = alarms["GPUMemoryUtilization"]
    assert gpu["Namespace"] == "/aws/sagemaker/Endpoints" and gpu["Threshold"] == 95  # 1 GPU: percent × 1
    assert all(a.get("AlarmActions") for a in alarms.values())


def test_batch_pipeline(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["SageMakerRealTimeStack"]
    machine = one(template, "AWS::StepFunctions::StateMachine")
    definition = text(machine["DefinitionString"])
    assert ":states:::sagemaker:createTransformJob.sync" in definition
    assert "States.Format('llm-batch-{}', States.UUID())" in definition
    assert '"InstanceType":"ml.g5.2xlarge"' in definition
    assert '"InvocationsTimeoutInSeconds":1800' in definition
    assert '"SplitType":"Line"' in definition and '"BatchStrategy":"SingleRecord"' in definition
    assert machine["TracingConfiguration"] == {"Enabled": True}
    rule = [
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]
    assert rule and rule[0]["ScheduleExpression"] == "cron(0 2 * * ? *)"
    statements = _policy_statements(template)
    reads = {text(r) for s in statements if "s3:GetObject" in as_list(s["Action"]) for r in as_list(s["Resource"])}
    assert any(r.endswith("/batch/input/*") for r in reads)


# ----------------------------------------------------------- inference component


def test_component_endpoint_config(templates: dict[str, dict[str, Any]]) -> None:
    config = one(templates["SageMakerComponentStack"], "AWS::SageMaker::EndpointConfig")
    assert "ExecutionRoleArn" in config
    (variant,) = config["ProductionVariants"]
    assert "ModelName" not in variant
    # 8 copies at most, 4 copies (1 GPU each) per ml.g5.12xlarge → 2 instances; scale to zero → min 0.
    assert variant["ManagedInstanceScaling"] == {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2}


def test_component_specification(templates: dict[str, dict[str, Any]]) -> None:
    component = one(templates["SageMakerComponentStack"], "AWS::SageMaker::InferenceComponent")
    assert component["InferenceComponentName"].endswith("-ic")
    spec = component["Specification"]
    assert spec["ComputeResourceRequirements"] == {
        "NumberOfAcceleratorDevicesRequired": 1,
        "NumberOfCpuCoresRequired": 8,
        "MinMemoryRequiredInMb": 32768,
    }
    assert spec["StartupParameters"] == {
        "ContainerStartupHealthCheckTimeoutInSeconds": 900,
        "ModelDataDownloadTimeoutInSeconds": 900,
    }
    assert component["RuntimeConfig"] == {"CopyCount": 2}
    rolling = component["DeploymentConfig"]["RollingUpdatePolicy"]
    assert rolling["MaximumBatchSize"] == {"Type": "CAPACITY_PERCENT", "Value": 50}
    assert len(component["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]) == 2
    model = one(templates["SageMakerComponentStack"], "AWS::SageMaker::Model")
    env = model["PrimaryContainer"]["Environment"]
    assert env["SM_VLLM_TENSOR_PARALLEL_SIZE"] == "1" and env["SM_VLLM_MODEL"] == "/opt/ml/model"


def test_component_scale_to_zero(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["SageMakerComponentStack"]
    component_name = one(template, "AWS::SageMaker::InferenceComponent")["InferenceComponentName"]
    target = one(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ResourceId"] == f"inference-component/{component_name}"
    assert target["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 8)
    policies = {
        k: v["Properties"] for k, v in resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").items()
    }
    tracking = [p for p in policies.values() if p["PolicyType"] == "TargetTrackingScaling"]
    assert tracking[0]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    }
    wake = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "NoCapacityInvocationFailures"
    ]
    assert len(wake) == 1
    assert wake[0]["Dimensions"] == [{"Name": "InferenceComponentName", "Value": component_name}]
    assert wake[0]["Threshold"] == 1 and wake[0]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    (action,) = wake[0]["AlarmActions"]
    step = policies[action["Ref"]]
    assert step["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}
    ]


def test_component_alarms_are_per_component(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["SageMakerComponentStack"]
    name = one(template, "AWS::SageMaker::InferenceComponent")["InferenceComponentName"]
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }
    assert alarms["Invocation5XXErrors"]["Dimensions"] == [{"Name": "InferenceComponentName", "Value": name}]
    gpu = alarms["GPUMemoryUtilizationNormalized"]
    assert gpu["Namespace"] == "/aws/sagemaker/InferenceComponents" and gpu["Threshold"] == 95
    logs = {text(r) for r in as_list(_statement(_policy_statements(template), "logs:PutLogEvents")["Resource"])}
    assert any(f"/aws/sagemaker/InferenceComponents/{name}:*" in r for r in logs)


# ------------------------------------------------------------------- serverless


def test_serverless(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["SageMakerServerlessStack"]
    config = one(template, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 6144, "MaxConcurrency": 20, "ProvisionedConcurrency": 2}
    assert "InstanceType" not in variant and "KmsKeyId" not in config
    target = one(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredProvisionedConcurrency"
    (policy,) = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    config_tt = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert (
        config_tt["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantProvisionedConcurrencyUtilization"
    )
    assert config_tt["TargetValue"] == 0.7
    model = one(template, "AWS::SageMaker::Model")["PrimaryContainer"]
    assert model["Image"] == "111122223333.dkr.ecr.us-east-1.amazonaws.com/tiny-llm-cpu:1.4.0"
    assert model["Environment"] == {"MAX_NEW_TOKENS": "256"}
    assert text(model["ModelDataUrl"]) == "s3://example-llm-weights/tiny/qwen2.5-0.5b.tar.gz"
    # Serverless endpoints support no network isolation (SAGEMAKER.SERVERLESS_FEATURE_EXCLUSIONS): off by default.
    assert one(template, "AWS::SageMaker::Model")["EnableNetworkIsolation"] is False
    pull = _statement(_policy_statements(template), "ecr:BatchGetImage")
    assert text(pull["Resource"]) == "arn:{AWS::Partition}:ecr:us-east-1:111122223333:repository/tiny-llm-cpu"
    read = _statement(_policy_statements(template), "s3:GetObject")
    assert text(read["Resource"]) == "arn:{AWS::Partition}:s3:::example-llm-weights/tiny/qwen2.5-0.5b.tar.gz"
    endpoint = one(template, "AWS::SageMaker::Endpoint")
    assert endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert "Mappings" not in template  # a custom image needs no DLC registry lookup


# ------------------------------------------------------------------------ async


def test_async(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["SageMakerAsyncStack"]
    config = one(template, "AWS::SageMaker::EndpointConfig")
    # ml.inf2 has EBS storage only: the volume is encrypted with the construct's key.
    assert "KmsKeyId" in config
    output = config["AsyncInferenceConfig"]["OutputConfig"]
    assert text(output["S3OutputPath"]).endswith("/async/output/")
    assert text(output["S3FailurePath"]).endswith("/async/failure/")
    assert set(output["NotificationConfig"]) == {"SuccessTopic", "ErrorTopic"}
    assert config["AsyncInferenceConfig"]["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 8}
    model = one(template, "AWS::SageMaker::Model")
    env = model["PrimaryContainer"]["Environment"]
    assert env["HF_MODEL_ID"] == "meta-llama/Llama-3.1-8B-Instruct" and env["OPTION_REVISION"] == "0e9e39f"
    assert text(env["HF_TOKEN"]).startswith("{{resolve:secretsmanager:arn:{AWS::Partition}:secretsmanager:")
    assert model["EnableNetworkIsolation"] is False  # the Hub download needs the network
    statements = _policy_statements(template)
    publish = _statement(statements, "sns:Publish")
    assert len(publish["Resource"]) == 2
    topics = resources(template, "AWS::SNS::Topic")
    assert all("KmsMasterKeyId" in t["Properties"] for t in topics.values())


def test_async_scale_to_zero(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["SageMakerAsyncStack"]
    target = one(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["MinCapacity"] == 0 and target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    policies = [p["Properties"] for p in resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()]
    tracking = [p for p in policies if p["PolicyType"] == "TargetTrackingScaling"][0]
    metric = tracking["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    assert metric["MetricName"] == "ApproximateBacklogSizePerInstance"
    assert [d["Name"] for d in metric["Dimensions"]] == ["EndpointName"]
    wake = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "HasBacklogWithoutCapacity"
    ]
    assert len(wake) == 1 and wake[0]["AlarmActions"]
    # Scale to zero leaves no whole instance for a canary or linear step: blue/green all at once.
    endpoint = one(template, "AWS::SageMaker::Endpoint")
    assert endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"


def test_tgi_container_and_no_alarms(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["SageMakerTgiStack"]
    container = one(template, "AWS::SageMaker::Model")["PrimaryContainer"]
    assert text(container["Image"]).endswith(
        "/huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
    )
    assert container["Environment"] == {
        "HF_MODEL_ID": "/opt/ml/model",
        "MAX_INPUT_TOKENS": "2048",
        "MAX_TOTAL_TOKENS": "4096",
        "MAX_BATCH_TOTAL_TOKENS": "8192",
        "SM_NUM_GPUS": "1",
    }
    assert not resources(template, "AWS::CloudWatch::Alarm")
    assert not resources(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    endpoint = one(template, "AWS::SageMaker::Endpoint")
    assert "RetainAllVariantProperties" not in endpoint
    # Linear steps of 50 % of 2 fixed instances: one instance per step; no alarms, so no rollback configuration.
    assert one(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"][0]["InitialInstanceCount"] == 2
    assert endpoint["DeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                "WaitIntervalInSeconds": 600,
            },
            "TerminationWaitInSeconds": 300,
        }
    }


# ------------------------------------------------------------- grants & import


def _stack(region: str | None = None) -> cdk.Stack:
    env = cdk.Environment(account="111122223333", region=region) if region else None
    return cdk.Stack(cdk.App(), "S", env=env)


def _endpoint(stack: cdk.Stack, **kwargs: Any) -> SageMakerLlmEndpoint:
    return SageMakerLlmEndpoint(
        stack,
        "Llm",
        model=ModelSource.s3_prefix(s3.Bucket(stack, "B"), "m"),
        endpoint_name="My-Endpoint",
        alarms=AlarmOptions(enabled=False),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("target", "resources"),
    [
        pytest.param(_endpoint, ["endpoint/my-endpoint"], id="real-time endpoint: its ARN only"),
        # Before, SageMakerLlmEndpoint.grant_invoke granted only the endpoint ARN in this mode.
        pytest.param(
            lambda stack: _endpoint(stack, hosting=HostingMode.inference_component()),
            ["endpoint/my-endpoint", "inference-component/{component}"],
            id="inference component: the endpoint and the component",
        ),
        pytest.param(
            lambda stack: SageMakerLlmEndpoint.from_endpoint_name(
                stack, "Other", "shared", inference_component_name="Adapter-A"
            ),
            ["endpoint/shared", "inference-component/adapter-a"],
            id="imported endpoint with a component",
        ),
    ],
)
def test_grant_invoke_covers_the_arns_sagemaker_authorizes(target: Any, resources: list[str]) -> None:
    # Service Authorization Reference (SageMaker AI): InvokeEndpoint and InvokeEndpointWithResponseStream take the
    # resource types endpoint* and inference-component; a call with InferenceComponentName is authorized against both.
    # SageMaker ARNs hold the lower-cased names.
    stack = _stack()
    built = target(stack)
    built.grant_invoke(iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal()))
    (doc,) = [
        p["Properties"]["PolicyDocument"]
        for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    ]
    (statement,) = doc["Statement"]
    assert statement["Action"] == ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"]
    arn = "arn:{AWS::Partition}:sagemaker:{AWS::Region}:{AWS::AccountId}:"
    component = str(built.inference_component_name).lower()
    assert sorted(text(r) for r in as_list(statement["Resource"])) == [
        arn + r.format(component=component) for r in resources
    ]


def test_grant_invoke_async() -> None:
    stack = _stack()
    endpoint = SageMakerLlmEndpoint(
        stack,
        "Llm",
        model=ModelSource.s3_prefix(s3.Bucket(stack, "B"), "m"),
        hosting=HostingMode.async_(notifications=False),
        alarms=AlarmOptions(enabled=False),
    )
    role = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke_async(role)
    docs = [
        p["Properties"]["PolicyDocument"]
        for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    ]
    actions = {a for d in docs for s in d["Statement"] for a in as_list(s["Action"])}
    assert {"sagemaker:InvokeEndpointAsync", "s3:PutObject", "s3:GetObject", "kms:Decrypt"} <= actions
    assert "sagemaker:InvokeEndpoint" not in actions
    with pytest.raises(ValueError, match="grant_invoke_async needs hosting=HostingMode.async_()"):
        SageMakerLlmEndpoint(
            stack, "Rt", model=ModelSource.s3_prefix(s3.Bucket(stack, "B2"), "m"), alarms=AlarmOptions(enabled=False)
        ).grant_invoke_async(role)


def test_imported_endpoint_metrics_and_grant() -> None:
    stack = _stack()
    imported = SageMakerLlmEndpoint.from_endpoint_name(
        stack, "Existing", "shared-llm", inference_component_name="adapter-a"
    )
    assert imported.endpoint_name == "shared-llm"
    metric = stack.resolve(imported.metric_server_errors().dimensions)  # type: ignore[arg-type]
    assert metric == {"InferenceComponentName": "adapter-a"}
    assert stack.resolve(imported.metric_disk_utilization().dimensions) == {
        "EndpointName": "shared-llm",
        "VariantName": "AllTraffic",
    }
    from cdk_llm_serving import PropsValidationError

    with pytest.raises(PropsValidationError, match="endpoint_name 'bad_name' is invalid"):
        SageMakerLlmEndpoint.from_endpoint_name(stack, "Bad", "bad_name")


def test_concrete_region_uses_literal_registry_account() -> None:
    stack = _stack("eu-west-1")
    SageMakerLlmEndpoint(
        stack, "Llm", model=ModelSource.s3_prefix(s3.Bucket(stack, "B"), "m"), alarms=AlarmOptions(enabled=False)
    )
    template = Template.from_stack(stack).to_json()
    assert "Mappings" not in template
    (model,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    assert text(model["Properties"]["PrimaryContainer"]["Image"]).startswith("763104351884.dkr.ecr.{AWS::Region}.")


# ------------------------------------------------------------------- data files


def test_instance_table_is_consistent() -> None:
    names = known_instance_types()
    assert len(names) >= 30
    for name in names:
        spec = instance_spec(name)
        assert spec is not None and spec.vcpus > 0 and spec.memory_gib > 0
        assert spec.is_accelerated == (spec.accelerators > 0) == (spec.accelerator is not None)
        assert (spec.accelerator_memory_gib > 0) == spec.is_accelerated
    for region, prices in load_data("instances.json")["prices_usd_per_hour"].items():
        for name, price in prices.items():
            assert name in names and price > 0, (region, name)
    assert hourly_price("ml.g5.2xlarge", "us-east-1") == 1.515
    assert hourly_price("ml.g5.2xlarge", "xx-nowhere-1") is None
    assert instance_spec("ml.g5.12xlarge").accelerators == 4  # type: ignore[union-attr]
    assert instance_spec("ml.inf2.xlarge").local_nvme is False  # type: ignore[union-attr]


#: Every Region hosting AWS Deep Learning Containers and its registry account: aws/deep-learning-containers
#: docs/reference/region_availability.md at 19c7d1f1b1f2d4c8e9856c35f2e9ab6ad2ae1ded (2026-08-10), "Deep Learning Containers".
DLC_REGISTRY_TABLE = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-east-2": "975050140332",
    "ap-northeast-1": "763104351884",
    "ap-northeast-2": "763104351884",
    "ap-northeast-3": "364406365360",
    "ap-south-1": "763104351884",
    "ap-south-2": "772153158452",
    "ap-southeast-1": "763104351884",
    "ap-southeast-2": "763104351884",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ap-southeast-5": "550225433462",
    "ap-southeast-6": "633930458069",
    "ap-southeast-7": "590183813437",
    "ca-central-1": "763104351884",
    "ca-west-1": "204538143572",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-central-1": "763104351884",
    "eu-central-2": "380420809688",
    "eu-north-1": "763104351884",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "eu-west-1": "763104351884",
    "eu-west-2": "763104351884",
    "eu-west-3": "763104351884",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "mx-central-1": "637423239942",
    "sa-east-1": "763104351884",
    "us-east-1": "763104351884",
    "us-east-2": "763104351884",
    "us-west-1": "763104351884",
    "us-west-2": "763104351884",
}


def test_dlc_accounts_cover_every_region_that_hosts_the_images() -> None:
    # ca-west-1, mx-central-1, ap-southeast-5/-7 and il-central-1 were missing: a Region-agnostic stack failed there
    # on the mapping lookup (review A §6).
    accounts = dlc_accounts()
    assert {region: accounts.get(region) for region in DLC_REGISTRY_TABLE} == DLC_REGISTRY_TABLE
    # GovCloud: the AWS GovCloud (US) User Guide's SageMaker AI page ("Registry accounts").
    assert (accounts["us-gov-west-1"], accounts["us-gov-east-1"]) == ("442386744353", "446045086412")


def test_region_agnostic_stack_asserts_a_dlc_region_before_deploying(templates: dict[str, dict[str, Any]]) -> None:
    """The mapping comes with a template rule: elsewhere the deployment stops with a message, not a FindInMap error."""
    template = templates["SageMakerRealTimeStack"]
    (assertion,) = template["Rules"]["CdkLlmServingDlcRegion"]["Assertions"]
    regions, region = assertion["Assert"]["Fn::Contains"]
    assert region == {"Ref": "AWS::Region"}
    assert sorted(regions) == sorted(template["Mappings"]["CdkLlmServingDlcAccounts"])
    assert "LlmContainer.from_image_uri" in assertion["AssertDescription"]
    assert (
        "Rules" not in templates["SageMakerServerlessStack"]
        or "CdkLlmServingDlcRegion" not in templates["SageMakerServerlessStack"]["Rules"]
    )  # a custom image: no lookup


def test_container_env_rendering() -> None:
    lora = LlmContainer.lmi(lora=__import__("cdk_llm_serving").LoraOptions(max_loras=4, max_lora_rank=32))
    env = lora.environment(ModelSource.hugging_face("Qwen/Qwen2.5-7B-Instruct"), instance_spec("ml.g5.12xlarge"))
    assert (
        env["OPTION_ENABLE_LORA"] == "true" and env["OPTION_MAX_LORAS"] == "4" and env["OPTION_MAX_LORA_RANK"] == "32"
    )
    assert env["OPTION_ASYNC_MODE"] == "true" and env["HF_MODEL_ID"] == "Qwen/Qwen2.5-7B-Instruct"
    # Async mode needs the rolling batcher off (SAGEMAKER.LMI_ASYNC_ROLLING_BATCH); without LoRA it stays vLLM.
    assert env["OPTION_ROLLING_BATCH"] == "disable"
    assert env["OPTION_ENTRYPOINT"] == "djl_python.lmi_vllm.vllm_async_service"
    assert LlmContainer.lmi().options["OPTION_ROLLING_BATCH"] == "vllm"
    tgi = LlmContainer.tgi(environment={"MAX_CONCURRENT_REQUESTS": "64"})
    env = tgi.environment(
        ModelSource.s3_prefix(s3.Bucket.from_bucket_name(_stack(), "B", "weights"), "m"),
        instance_spec("ml.g5.12xlarge"),
    )
    assert env["SM_NUM_GPUS"] == "4" and env["MAX_CONCURRENT_REQUESTS"] == "64"
