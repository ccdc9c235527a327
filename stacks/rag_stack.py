"""RagStack: internal enterprise RAG (seed 001 §5.2).

A mid-sized open model on a SageMaker real-time endpoint in a VPC with no internet path, an
enterprise document index (Bedrock Knowledge Base over S3, vectors in S3 Vectors), and a private
(VPC-only) OpenAI-compatible API: the gateway runtime retrieves passages, calls the model and
streams the answer with citations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from cdk_llm_serving import (
    AutoScalingOptions,
    BedrockGatewayApi,
    DataCaptureOptions,
    DeploymentOptions,
    DocumentIndex,
    GatewayAuth,
    GatewayEndpoint,
    IngestionTrigger,
    KnowledgeBaseRetrieval,
    LlmContainer,
    ModelSource,
    PropsValidationError,
    SageMakerLlmEndpoint,
    SageMakerModelAlias,
    TrafficShift,
    TrafficShiftType,
)
from cdk_llm_serving._nag import acknowledge

from ._common import alarm_topic
from .settings import settings_from_context


@dataclass(frozen=True, kw_only=True)
class RagSettings:
    """Settings of :class:`RagStack`, read from cdk.json context ``rag``."""

    weights_bucket_name: str = "cdk-llm-serving-model-weights"
    """Existing bucket in the deploying account holding the model weights (uncompressed Hugging Face snapshot); reads
    are conditioned on ``aws:ResourceAccount``, so a bucket of that name in another account is never read. Set it to
    your bucket. Default: cdk-llm-serving-model-weights"""
    weights_prefix: str = "qwen2.5-7b-instruct/"
    """Folder of the weights in that bucket. Default: qwen2.5-7b-instruct/ (Qwen2.5-7B-Instruct, Apache-2.0)"""
    instance_type: str = "ml.g5.2xlarge"
    """Endpoint instance type. Default: ml.g5.2xlarge (1×A10G 24 GB: a 7-8B model in bf16 with an 8K context)"""
    max_instances: int = 2
    """Autoscaling upper bound. Default: 2"""
    max_model_len: int = 8192
    """Context length served (prompt + retrieved passages + answer). Default: 8192"""
    number_of_results: int = 5
    """Passages retrieved per question. Default: 5"""
    ingestion_schedule_hours: int = 24
    """Re-ingestion schedule in hours (uploads also trigger ingestion); 0 turns the schedule off. Default: 24"""
    data_capture_percent: int = 20
    """Share of requests captured to S3 for monitoring. Default: 20"""
    vpc_cidr: str = "10.20.0.0/16"
    """CIDR of the stack's VPC. Default: 10.20.0.0/16"""

    def problems(self) -> list[str]:
        out: list[str] = []
        if not self.weights_prefix.endswith("/") or self.weights_prefix.startswith("/"):
            out.append(
                f"setting 'weights_prefix' must be a folder like 'qwen2.5-7b-instruct/', got {self.weights_prefix!r}"
            )
        if not 1 <= self.max_instances <= 20:
            out.append(f"setting 'max_instances' must be between 1 and 20, got {self.max_instances}")
        if not 512 <= self.max_model_len <= 131072:
            out.append(f"setting 'max_model_len' must be between 512 and 131072, got {self.max_model_len}")
        if self.ingestion_schedule_hours < 0:
            out.append(
                f"setting 'ingestion_schedule_hours' must be 0 (off) or more, got {self.ingestion_schedule_hours}"
            )
        return out

    @classmethod
    def from_context(cls, raw: Any) -> RagSettings:
        settings = settings_from_context(cls, raw, context_key="rag")
        problems = settings.problems()
        if problems:
            raise PropsValidationError("cdk.json context 'rag'", problems)
        return settings


@dataclass(frozen=True, kw_only=True)
class RagNames:
    """Physical names of a launched RAG copy's account-unique resources (each may be a token)."""

    endpoint: str
    """The SageMaker endpoint name."""
    model_package_group: str
    """The model package group name."""
    knowledge_base: str
    """The knowledge base name."""
    vector_bucket: str
    """The S3 Vectors bucket name."""


class RagComposition:
    """The RAG body, built directly under ``stack`` (no wrapper construct, so the logical IDs are the stack's own):
    :class:`RagStack` and the Service Catalog ``RagProduct`` both use it.

    The product passes what a launched copy needs instead of synth-time values: explicit ``availability_zones``
    (a product template is environment-agnostic), ``max_instances`` as a token (a launch parameter), and physical
    names that hold the launched stack's ID (``names``) so that copies in one account never collide, and no
    ``AWS::ApiGateway::Account`` (``api_gateway_account=False``: the account singleton is the catalog's).
    """

    def __init__(
        self,
        stack: cdk.Stack,
        settings: RagSettings,
        *,
        label: str,
        availability_zones: list[str] | None = None,
        max_instances: int | None = None,
        names: RagNames | None = None,
        api_gateway_account: bool = True,
    ) -> None:
        self.stack = stack
        self.api_gateway_account = api_gateway_account
        self.settings = settings
        self.alarm_topic = alarm_topic(stack, label)
        self.vpc = self._vpc(settings.vpc_cidr, label, availability_zones)
        self.llm = self._llm(settings, max_instances, names)
        # Registered model versions: train/fine-tune pipelines register here; promotion = new weights prefix + deploy.
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            stack,
            "ModelPackageGroup",
            model_package_group_name=names.model_package_group if names else f"{self.llm.endpoint_name[:54]}-versions",
            model_package_group_description="Registered versions of the RAG answer model",
        )
        self.index = self._index(settings, names)
        self.gateway = self._gateway(settings)
        self.dashboard = self._dashboard()
        self._outputs()

    def _llm(self, settings: RagSettings, max_instances: int | None, names: RagNames | None) -> SageMakerLlmEndpoint:
        """The model: real-time, in the VPC, network-isolated, blue/green rollouts with automatic rollback.

        All at once: the variant can be down to 1 instance, and a canary is a part (at most half) of the new fleet's
        instances (SAGEMAKER.TRAFFIC_SHIFT_SIZE); the new fleet still bakes for the termination wait, watched by the alarms.
        """
        weights = s3.Bucket.from_bucket_name(self.stack, "Weights", settings.weights_bucket_name)
        return SageMakerLlmEndpoint(
            self.stack,
            "Llm",
            endpoint_name=names.endpoint if names else None,
            model=ModelSource.s3_prefix(weights, settings.weights_prefix),
            container=LlmContainer.lmi(tensor_parallel_degree=1, max_model_len=settings.max_model_len),
            instance_type=settings.instance_type,
            vpc=self.vpc,
            autoscaling=AutoScalingOptions(
                min_capacity=1,
                max_capacity=settings.max_instances if max_instances is None else max_instances,
                target_concurrent_requests=8,
            ),
            deployment=DeploymentOptions(traffic=TrafficShift(type=TrafficShiftType.ALL_AT_ONCE)),
            data_capture=DataCaptureOptions(sampling_percentage=settings.data_capture_percent),
            alarm_topic=self.alarm_topic,
        )

    def _index(self, settings: RagSettings, names: RagNames | None) -> DocumentIndex:
        return DocumentIndex(
            self.stack,
            "Documents",
            knowledge_base_name=names.knowledge_base if names else None,
            vector_bucket_name=names.vector_bucket if names else None,
            ingestion=IngestionTrigger(
                on_upload=True,
                schedule=cdk.Duration.hours(settings.ingestion_schedule_hours)
                if settings.ingestion_schedule_hours
                else False,
            ),
            alarm_topic=self.alarm_topic,
        )

    def _gateway(self, settings: RagSettings) -> BedrockGatewayApi:
        """The private API, reusing the gateway runtime with a SageMaker backend and a retrieval step."""
        retrieval = KnowledgeBaseRetrieval(
            knowledge_base_id=self.index.knowledge_base_id,
            knowledge_base_arn=self.index.knowledge_base_arn,
            number_of_results=settings.number_of_results,
        )
        return BedrockGatewayApi(
            self.stack,
            "Gateway",
            models=[
                SageMakerModelAlias.for_endpoint(
                    alias="rag", endpoint=self.llm, retrieval=retrieval, max_tokens_cap=2048, default_max_tokens=512
                ),
                SageMakerModelAlias.for_endpoint(
                    alias="llm", endpoint=self.llm, max_tokens_cap=2048, default_max_tokens=512
                ),
            ],
            auth=GatewayAuth.iam(),
            endpoint=GatewayEndpoint.private(vpc=self.vpc),
            alarm_topic=self.alarm_topic,
            cloud_watch_role=self.api_gateway_account,
        )

    def _outputs(self) -> None:
        cdk.CfnOutput(
            self.stack,
            "OpenAIBaseUrl",
            value=self.gateway.openai_base_url,
            description="base_url for OpenAI SDKs (reachable only from inside the VPC; SigV4 auth)",
        )
        cdk.CfnOutput(self.stack, "EndpointName", value=self.llm.endpoint_name)
        cdk.CfnOutput(
            self.stack,
            "DocumentBucket",
            value=self.index.document_bucket.bucket_name,
            description="Upload documents here; ingestion starts on upload",
        )
        cdk.CfnOutput(self.stack, "KnowledgeBaseId", value=self.index.knowledge_base_id)
        cdk.CfnOutput(self.stack, "ModelPackageGroupArn", value=self.model_package_group.attr_model_package_group_arn)
        cdk.CfnOutput(self.stack, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
        cdk.CfnOutput(self.stack, "DashboardName", value=self.dashboard.dashboard_name)

    def _vpc(self, cidr: str, label: str, availability_zones: list[str] | None) -> ec2.Vpc:
        """Isolated subnets only (no NAT, no internet gateway); S3 through a gateway endpoint."""
        vpc = ec2.Vpc(
            self.stack,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            # Either 2 of the stack's zones or the ones named (ec2.Vpc takes one or the other).
            max_azs=None if availability_zones else 2,
            availability_zones=availability_zones,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22)
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
            restrict_default_security_group=False,
        )
        flow_key = kms.Key(
            self.stack, "FlowLogKey", enable_key_rotation=True, description=f"Encrypts {label} VPC flow logs"
        )
        flow_key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com"))
        flow_logs = logs.LogGroup(
            self.stack,
            "FlowLogGroup",
            encryption_key=flow_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        flow = vpc.add_flow_log("FlowLogs", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
        acknowledge(
            flow,
            "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
            "CDK's flow-log delivery role; its only policy writes to this stack's flow-log group",
        )
        acknowledge(
            vpc,
            "NIST.800.53.R5::NIST.800.53.R5-VPCDefaultSecurityGroupClosed",
            "Nothing in this VPC uses the default security group: the endpoint, function and VPC endpoints have their own",
        )
        return vpc

    def _dashboard(self) -> cloudwatch.Dashboard:
        llm, gw = self.llm, self.gateway
        dashboard = cloudwatch.Dashboard(self.stack, "Dashboard", default_interval=cdk.Duration.hours(6))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors (rag)",
                width=8,
                left=[gw.metric_requests("rag"), gw.metric_errors("rag")],
            ),
            cloudwatch.GraphWidget(
                title="Time to first token (p90, ms)",
                width=8,
                left=[gw.metric_time_to_first_token("rag"), gw.metric_time_to_first_token("llm")],
            ),
            cloudwatch.GraphWidget(
                title="Tokens", width=8, left=[gw.metric_input_tokens("rag"), gw.metric_output_tokens("rag")]
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Endpoint invocations and 5XX",
                width=8,
                left=[llm.metric_invocations(), llm.metric_server_errors()],
            ),
            cloudwatch.GraphWidget(
                title="Model latency (p90, microseconds)", width=8, left=[llm.metric_model_latency()]
            ),
            cloudwatch.GraphWidget(
                title="GPU memory and disk (%)",
                width=8,
                left=[llm.metric_gpu_memory_utilization(), llm.metric_disk_utilization()],
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Document ingestion runs",
                width=12,
                left=[self.index.metric_ingestions_succeeded(), self.index.metric_ingestions_failed()],
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", width=12, alarms=[*llm.alarms, *gw.alarms]),
        )
        return dashboard


class RagStack(cdk.Stack):
    """Internal RAG: private API → retrieval (Bedrock Knowledge Base) → SageMaker-hosted open model, in a VPC without internet."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: RagSettings | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault(
            "description",
            "cdk-llm-serving: internal RAG over enterprise documents (private API, SageMaker, Bedrock KB)",
        )
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings or RagSettings()
        rag = RagComposition(self, self.settings, label="RagStack")
        self.alarm_topic = rag.alarm_topic
        self.vpc = rag.vpc
        self.llm = rag.llm
        self.model_package_group = rag.model_package_group
        self.index = rag.index
        self.gateway = rag.gateway
        self.dashboard = rag.dashboard
