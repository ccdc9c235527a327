"""Small test-only stacks, one per SageMakerLlmEndpoint mode (and LoRA fleet variants).

Synthesized in the session app next to the real stacks, so each gets snapshot, cdk-nag and
cfn-lint checks. Together they use every option at least once.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns

from cdk_llm_serving import (
    AlarmOptions,
    AutoScalingOptions,
    DataCaptureOptions,
    DeploymentOptions,
    HostingMode,
    LlmContainer,
    ModelSource,
    SageMakerLlmEndpoint,
    ScheduledCapacity,
    TrafficShift,
    TrafficShiftType,
)
from cdk_llm_serving._nag import acknowledge

#: A bucket of model weights owned by another team (imported, not created).
WEIGHTS_BUCKET = "example-llm-weights"


def _weights(stack: cdk.Stack) -> s3.IBucket:
    return s3.Bucket.from_bucket_name(stack, "Weights", WEIGHTS_BUCKET)


class SageMakerRealTimeStack(cdk.Stack):
    """Classic real-time: a model.tar.gz (batch transform cannot use ModelDataSource), LMI TP 1, VPC, 2-4 instances
    + schedule, canary rollout (50 % of 2 instances: one whole instance), data capture, alarm topic, a
    batch-transform pipeline."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        flow_key = kms.Key(self, "FlowLogKey", enable_key_rotation=True)
        flow_key.grant_encrypt_decrypt(iam.ServicePrincipal("logs.amazonaws.com"))
        flow = vpc.add_flow_log(
            "FlowLogs",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogGroup", encryption_key=flow_key, retention=logs.RetentionDays.ONE_YEAR)
            ),
        )
        acknowledge(
            flow,
            "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
            "Test-only VPC: CDK's flow-log delivery role, scoped to its log group",
        )
        acknowledge(
            vpc,
            "NIST.800.53.R5::NIST.800.53.R5-VPCDefaultSecurityGroupClosed",
            "Test-only VPC: nothing uses the default security group; the endpoint gets its own",
        )
        key = kms.Key(self, "TopicKey", enable_key_rotation=True)
        key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))  # alarms publish to the topic
        topic = sns.Topic(self, "AlarmTopic", enforce_ssl=True, master_key=key)
        self.endpoint = SageMakerLlmEndpoint(
            self,
            "Llm",
            model=ModelSource.s3_tarball(_weights(self), "qwen2.5-7b-instruct/model.tar.gz"),
            container=LlmContainer.lmi(tensor_parallel_degree=1, max_model_len=8192, max_rolling_batch_size=32),
            instance_type="ml.g5.2xlarge",
            instance_count=2,
            vpc=vpc,
            autoscaling=AutoScalingOptions(
                min_capacity=2,
                max_capacity=4,
                target_concurrent_requests=8,
                schedules=[
                    ScheduledCapacity(
                        schedule=appscaling.Schedule.cron(hour="19", minute="0", week_day="MON-FRI"), max_capacity=2
                    )
                ],
            ),
            deployment=DeploymentOptions(traffic=TrafficShift(type=TrafficShiftType.CANARY, percent=50)),
            data_capture=DataCaptureOptions(sampling_percentage=10),
            alarm_topic=topic,
        )
        self.batch = self.endpoint.add_batch_transform(
            "Batch",
            input_bucket=self.endpoint.bucket,
            schedule=events.Schedule.cron(hour="2", minute="0"),
        )


class SageMakerComponentStack(cdk.Stack):
    """Inference component on a 4-GPU instance: vLLM DLC, copies, scale to zero, step scaling, rolling update."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.endpoint = SageMakerLlmEndpoint(
            self,
            "Llm",
            model=ModelSource.s3_prefix(_weights(self), "llama-3.1-8b-instruct"),
            container=LlmContainer.vllm(tensor_parallel_size=1, max_model_len=8192),
            hosting=HostingMode.inference_component(accelerators=1, cpu_cores=8, min_memory_mb=32 * 1024, copies=2),
            instance_type="ml.g5.12xlarge",
            autoscaling=AutoScalingOptions(
                min_capacity=1, max_capacity=8, target_concurrent_requests=4, scale_to_zero=True
            ),
            deployment=DeploymentOptions(rolling_batch_percent=50),
        )
        endpoint = self.endpoint
        endpoint.scalable_target.scale_on_metric(  # type: ignore[union-attr]
            "QueueSpike",
            metric=endpoint.metric_concurrent_requests(period=cdk.Duration.minutes(1)),
            scaling_steps=[
                appscaling.ScalingInterval(upper=2, change=0),
                appscaling.ScalingInterval(lower=20, change=+2),
            ],
        )


class SageMakerServerlessStack(cdk.Stack):
    """Serverless: a tiny model from a tarball on a custom CPU image, provisioned concurrency autoscaling."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.endpoint = SageMakerLlmEndpoint(
            self,
            "Llm",
            model=ModelSource.s3_tarball(_weights(self), "tiny/qwen2.5-0.5b.tar.gz"),
            container=LlmContainer.from_image_uri(
                "111122223333.dkr.ecr.us-east-1.amazonaws.com/tiny-llm-cpu:1.4.0", environment={"MAX_NEW_TOKENS": "256"}
            ),
            hosting=HostingMode.serverless(memory_size_mb=6144, max_concurrency=20, provisioned_concurrency=2),
            autoscaling=AutoScalingOptions(min_capacity=1, max_capacity=10),
            deployment=DeploymentOptions(traffic=TrafficShift(type=TrafficShiftType.ALL_AT_ONCE)),
        )


class SageMakerAsyncStack(cdk.Stack):
    """Asynchronous on Inferentia2 (volume encrypted with the key): Hub model + token, scale to zero (so all-at-once
    blue/green: a canary needs a whole instance), TGI-free custom image."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        token = secretsmanager.Secret.from_secret_name_v2(self, "HfToken", "hf/read-token")
        self.endpoint = SageMakerLlmEndpoint(
            self,
            "Llm",
            model=ModelSource.hugging_face("meta-llama/Llama-3.1-8B-Instruct", revision="0e9e39f", token_secret=token),
            container=LlmContainer.lmi(
                tensor_parallel_degree=2, max_model_len=4096, tag="0.30.0-neuronx-sdk2.20.1", rolling_batch="auto"
            ),
            hosting=HostingMode.async_(max_concurrent_invocations_per_instance=8),
            instance_type="ml.inf2.24xlarge",
            autoscaling=AutoScalingOptions(min_capacity=1, max_capacity=3, scale_to_zero=True, step_scaling=None),
            deployment=DeploymentOptions(traffic=TrafficShift(type=TrafficShiftType.ALL_AT_ONCE)),
            data_capture=DataCaptureOptions(sampling_percentage=100, capture_output=False),
        )


class SageMakerTgiStack(cdk.Stack):
    """Legacy TGI container (the seed's Llama 3 settings), no alarms, 2 fixed instances updated in linear steps of one."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.endpoint = SageMakerLlmEndpoint(
            self,
            "Llm",
            model=ModelSource.s3_prefix(_weights(self), "meta-llama-3-8b-instruct/"),
            container=LlmContainer.tgi(
                num_gpus=1, max_input_tokens=2048, max_total_tokens=4096, max_batch_total_tokens=8192
            ),
            instance_type="ml.g5.2xlarge",
            instance_count=2,
            deployment=DeploymentOptions(traffic=TrafficShift(type=TrafficShiftType.LINEAR, percent=50)),
            alarms=AlarmOptions(enabled=False),
        )


VARIANTS: dict = {
    "SageMakerRealTimeStack": SageMakerRealTimeStack,
    "SageMakerComponentStack": SageMakerComponentStack,
    "SageMakerServerlessStack": SageMakerServerlessStack,
    "SageMakerAsyncStack": SageMakerAsyncStack,
    "SageMakerTgiStack": SageMakerTgiStack,
}
