"""SageMakerLlmEndpoint: an LLM on a SageMaker endpoint, in any hosting mode, with scaling, rollouts and alarms."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from .._alarms import threshold_alarm, wake_up_alarm
from .._errors import ProblemCollector
from .._nag import acknowledge, nag_resource
from .._types import typed_props
from .._vpc import select_subnets
from .base import VARIANT_NAME, ImportedLlmEndpoint, SageMakerEndpointBase, generated_name, name_problems
from .batch import LlmBatchPipeline
from .containers import LlmContainer, ModelSource, ModelSourceKind
from .instances import InstanceSpec, hosting_instance_types, instance_spec
from .options import (
    AlarmOptions,
    AsyncInferenceOptions,
    AutoScalingOptions,
    DataCaptureOptions,
    DeploymentOptions,
    HostingMode,
    InferenceComponentOptions,
    InferenceMode,
    ServerlessOptions,
    TrafficShiftType,
)
from .role import acknowledge_hosting_wildcards, hosting_statements
from .role import execution_role as _execution_role
from .rules import RULES, EndpointPlan

DEFAULT_INSTANCE_TYPE = "ml.g5.2xlarge"
#: Default of ``startup_health_check_timeout`` and ``model_data_download_timeout`` (large models load slowly).
DEFAULT_STARTUP_TIMEOUT = cdk.Duration.minutes(15)
_MAX_COMPONENT_ENV = 16
_ROUTING_STRATEGIES = ("LEAST_OUTSTANDING_REQUESTS", "RANDOM")


@dataclass(frozen=True, kw_only=True)
class _Network:
    """Where the model (or, for inference components, the endpoint) attaches to the VPC."""

    security_group_ids: list[str]
    subnets: list[str]


class _Timeouts(TypedDict):
    """The two timeouts as SageMaker's ``*InSeconds`` fields (of a production variant, or of an inference
    component's startup parameters)."""

    container_startup_health_check_timeout_in_seconds: int
    model_data_download_timeout_in_seconds: int


class _Cooldowns(TypedDict):
    """The cooldowns of a target-tracking policy (``ScalableTarget.scale_to_track_metric``)."""

    scale_in_cooldown: cdk.Duration
    scale_out_cooldown: cdk.Duration


@dataclass(frozen=True, kw_only=True)
class _Props:
    """The constructor's props with their defaults resolved: what the builders read."""

    model: ModelSource
    container: LlmContainer
    hosting: HostingMode
    instance_type: str | None
    spec: InstanceSpec | None
    instance_count: int
    autoscaling: AutoScalingOptions | None
    deployment: DeploymentOptions | None
    data_capture: DataCaptureOptions | None
    alarms: AlarmOptions
    alarm_topic: sns.ITopic | None
    endpoint_name: str | None
    startup_health_check_timeout: cdk.Duration
    model_data_download_timeout: cdk.Duration
    volume_size_gb: int | None
    routing_strategy: str
    vpc: ec2.IVpc | None
    vpc_subnets: ec2.SubnetSelection | None
    security_groups: Sequence[ec2.ISecurityGroup] | None
    enable_network_isolation: bool
    encryption_key: kms.IKey | None
    execution_role: iam.IRole | None
    inference_ami_version: str | None

    @property
    def mode(self) -> InferenceMode:
        return self.hosting.kind

    @property
    def inference_component(self) -> InferenceComponentOptions | None:
        return self.hosting.inference_component_options

    @property
    def serverless(self) -> ServerlessOptions | None:
        return self.hosting.serverless_options

    @property
    def async_inference(self) -> AsyncInferenceOptions | None:
        return self.hosting.async_options

    @property
    def uses_components(self) -> bool:
        return self.mode is InferenceMode.INFERENCE_COMPONENT

    @property
    def timeout_durations(self) -> dict[str, cdk.Duration]:
        return {
            "startup_health_check_timeout": self.startup_health_check_timeout,
            "model_data_download_timeout": self.model_data_download_timeout,
        }

    @property
    def timeouts(self) -> _Timeouts:
        """The two timeouts as SageMaker's ``*InSeconds`` fields."""
        return {
            "container_startup_health_check_timeout_in_seconds": int(self.startup_health_check_timeout.to_seconds()),
            "model_data_download_timeout_in_seconds": int(self.model_data_download_timeout.to_seconds()),
        }


class SageMakerLlmEndpoint(SageMakerEndpointBase):
    """A large language model on an Amazon SageMaker endpoint.

    Deploys a ``Model`` (LMI/vLLM by default, or vLLM DLC, TGI, any ECR image), an ``EndpointConfig``
    and an ``Endpoint`` in one of four modes (:class:`HostingMode`): classic real-time, real-time
    with an inference component (compute reservation, copies, scale to zero), serverless (CPU, small
    models) or asynchronous (S3 in/out, SNS, scale to zero). Optional: autoscaling, blue/green or
    rolling updates with automatic rollback on alarms, data capture, VPC placement, and batch
    transform pipelines (:meth:`add_batch_transform`).

    Security defaults: a least-privilege execution role (the exact model prefix, the exact image
    repository, this endpoint's log groups), network isolation for S3-hosted weights, a
    customer-managed KMS key for outputs and — only where SageMaker allows it — the ML storage
    volume. Instance types with local NVMe storage (ml.g5, ml.g6, ml.p4d, ml.p5...) reject a volume
    key; their instance store is hardware-encrypted.
    """

    @typed_props
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model: ModelSource,
        container: LlmContainer | None = None,
        hosting: HostingMode | None = None,
        instance_type: str | None = None,
        instance_count: int = 1,
        autoscaling: AutoScalingOptions | None = None,
        deployment: DeploymentOptions | None = None,
        data_capture: DataCaptureOptions | None = None,
        alarms: AlarmOptions | None = None,
        alarm_topic: sns.ITopic | None = None,
        endpoint_name: str | None = None,
        startup_health_check_timeout: cdk.Duration | None = None,
        model_data_download_timeout: cdk.Duration | None = None,
        volume_size_gb: int | None = None,
        routing_strategy: str = "LEAST_OUTSTANDING_REQUESTS",
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        enable_network_isolation: bool | None = None,
        encryption_key: kms.IKey | None = None,
        execution_role: iam.IRole | None = None,
        inference_ami_version: str | None = None,
    ) -> None:
        """
        :param model: the weights (:meth:`ModelSource.s3_prefix` recommended).
        :param container: the serving container. Default: - ``LlmContainer.lmi()`` (LMI with vLLM, pinned tag; a GPU
            image, so ``HostingMode.serverless()`` needs a CPU image here)
        :param hosting: the hosting mode and its options: ``HostingMode.real_time()``,
            ``HostingMode.inference_component(accelerators=..., copies=...)``, ``HostingMode.serverless(memory_size_mb=...)``
            or ``HostingMode.async_(output_bucket=...)``. Default: - ``HostingMode.real_time()``
        :param instance_type: ``ml.*`` hosting type. Default: - ``ml.g5.2xlarge`` (1×A10G 24 GB); none for serverless
            (which takes no instance type)
        :param instance_count: initial instances. Default: 1
        :param autoscaling: instances (copies for inference components, provisioned concurrency for serverless)
            between a minimum and a maximum, on concurrency, backlog or your own metric. Default: - none (fixed
            capacity); ``AutoScalingOptions(enabled=False)`` is the same
        :param deployment: safe rollouts of updates, rolled back on the alarms. Default: - none (SageMaker's
            all-at-once blue/green, no rollback alarms)
        :param data_capture: requests and responses to S3 (real-time and async only). Default: - off
        :param alarms: thresholds of the default alarms (5XX, p90 model latency, GPU memory, disk, async backlog);
            ``AlarmOptions(enabled=False)`` creates none. Default: - ``AlarmOptions()``
        :param alarm_topic: notified when an alarm of this endpoint (and of its batch pipelines) changes to ALARM or OK.
            Default: - the alarms have no actions
        :param endpoint_name: the SageMaker endpoint name. Default: - generated from the construct path (stable, unique
            per stack)
        :param startup_health_check_timeout: 60-3600 s. Default: - 15 minutes (large models load slowly)
        :param model_data_download_timeout: 60-3600 s. Default: - 15 minutes
        :param volume_size_gb: ML storage volume (1-512; not for NVMe instance types). Default: - SageMaker's
        :param routing_strategy: ``LEAST_OUTSTANDING_REQUESTS`` (best for LLMs) or ``RANDOM``.
            Default: ``LEAST_OUTSTANDING_REQUESTS``
        :param vpc: place the model (or, for inference components, the endpoint) in this VPC. Default: - none
        :param vpc_subnets: the subnets in ``vpc`` (every field of the selection is honoured). Default: - the VPC's
            private subnets with egress, or its isolated subnets if it has none
        :param security_groups: groups of the model's network interfaces (needs ``vpc``). Default: - a new group with
            no inbound rules and HTTPS egress only
        :param enable_network_isolation: no network for the container. Default: - true, unless the model comes from the
            Hugging Face Hub or the hosting is serverless (serverless endpoints do not support isolation)
        :param encryption_key: encrypts async outputs, SNS topics, data capture, batch outputs and (where SageMaker
            allows it) the ML storage volume. Default: - a new customer-managed KMS key with rotation, created when
            something can use it
        :param execution_role: the role SageMaker runs the model with; either way a customer-managed policy with exact
            statements is attached. Default: - a new role trusted by SageMaker of this account
        :param inference_ami_version: ``InferenceAmiVersion`` of the variant (needed by CUDA 13 images).
            Default: - SageMaker's
        """
        super().__init__(scope, construct_id)
        container = container or LlmContainer.lmi()
        hosting = hosting or HostingMode.real_time()
        mode = hosting.kind
        if mode is not InferenceMode.SERVERLESS and instance_type is None:
            instance_type = DEFAULT_INSTANCE_TYPE
        if enable_network_isolation is None:
            enable_network_isolation = (
                model.kind is not ModelSourceKind.HUGGING_FACE and mode is not InferenceMode.SERVERLESS
            )
        p = _Props(
            model=model,
            container=container,
            hosting=hosting,
            instance_type=instance_type,
            spec=instance_spec(instance_type) if instance_type else None,
            instance_count=instance_count,
            autoscaling=autoscaling if autoscaling is not None and autoscaling.enabled else None,
            deployment=deployment,
            data_capture=data_capture,
            alarms=alarms or AlarmOptions(),
            alarm_topic=alarm_topic,
            endpoint_name=endpoint_name,
            startup_health_check_timeout=startup_health_check_timeout or DEFAULT_STARTUP_TIMEOUT,
            model_data_download_timeout=model_data_download_timeout or DEFAULT_STARTUP_TIMEOUT,
            volume_size_gb=volume_size_gb,
            routing_strategy=routing_strategy,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
            enable_network_isolation=enable_network_isolation,
            encryption_key=encryption_key,
            execution_role=execution_role,
            inference_ami_version=inference_ami_version,
        )
        self.hosting = hosting
        """The hosting mode and its options (``hosting.kind`` is the :class:`InferenceMode`)."""
        self.instance_type = instance_type
        self.instance = p.spec
        self.model_source = model
        self.container = container
        self.alarm_topic = alarm_topic
        """Where this endpoint's alarms (and its batch pipelines' failure alarms) notify, if anywhere."""
        self.endpoint_name = endpoint_name or generated_name(self)
        self._validate(p)
        self.inference_component_name = generated_name(self)[:60] + "-ic" if p.uses_components else None
        self._build_key(p)
        self._build_iam(p)
        vpc_config = self._build_network(p)
        self._build_model(p, vpc_config)
        self._build_artifact_bucket(p)
        self._build_endpoint_config(p, vpc_config)
        rollback_alarms = self._build_alarms(p)
        self._build_endpoint(p, rollback_alarms)
        self._build_inference_component(p, rollback_alarms)
        self._build_autoscaling(p)

    # ============================================================== builders

    def _build_key(self, p: _Props) -> None:
        # SageMaker rejects a volume key on instance types with local NVMe storage (and serverless has no volume).
        self.volume_encryption = p.spec is not None and not p.spec.local_nvme
        needs_key = self.volume_encryption or p.async_inference is not None or p.data_capture is not None
        self.encryption_key: kms.IKey | None = p.encryption_key or (
            kms.Key(self, "Key", enable_key_rotation=True, description="SageMaker LLM endpoint outputs and volumes")
            if needs_key
            else None
        )

    def _build_iam(self, p: _Props) -> None:
        model = p.model
        self.role, self.policy = _execution_role(self, p.execution_role)
        self._image_uri, repo_arn = p.container.image(self)
        log_groups = [f"/aws/sagemaker/Endpoints/{self.endpoint_name}"]
        if self.inference_component_name:
            log_groups.append(f"/aws/sagemaker/InferenceComponents/{self.inference_component_name}")
        for statement in model.read_statements() + hosting_statements(
            self, image_repository_arn=repo_arn, log_group_names=log_groups, vpc=p.vpc is not None
        ):
            self.policy.add_statements(statement)
        acknowledge_hosting_wildcards(
            self.policy, log_group_names=log_groups, vpc=p.vpc is not None, image_pull=repo_arn is not None
        )
        if model.kind is ModelSourceKind.S3_PREFIX and model.bucket is not None:
            acknowledge(
                self.policy,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, model.bucket.arn_for_objects(model.key + '*'))}]",
                "The model is a folder of weight shards; read access is limited to exactly its prefix",
            )

    def _build_network(self, p: _Props) -> _Network | None:
        self.security_groups: list[ec2.ISecurityGroup] = list(p.security_groups or [])
        vpc = p.vpc
        if vpc is None:
            return None
        if not self.security_groups:
            sg = ec2.SecurityGroup(
                self,
                "SecurityGroup",
                vpc=vpc,
                allow_all_outbound=False,
                description="SageMaker LLM endpoint (no inbound; HTTPS egress for S3/ECR endpoints)",
            )
            # HTTPS only; the S3 gateway endpoint has no fixed CIDR, so the destination stays open.
            sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to S3 and VPC endpoints")
            self.security_groups.append(sg)
        subnets = select_subnets(vpc, p.vpc_subnets)
        return _Network(
            security_group_ids=[g.security_group_id for g in self.security_groups], subnets=subnets.subnet_ids
        )

    def _build_model(self, p: _Props, network: _Network | None) -> None:
        model = p.model
        environment = p.container.environment(model, p.spec)
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self._image_uri, environment=environment, mode="SingleModel", **model.container_fields()
            ),
            enable_network_isolation=p.enable_network_isolation,
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                security_group_ids=network.security_group_ids, subnets=network.subnets
            )
            if network is not None and not p.uses_components
            else None,
        )
        self.model.node.add_dependency(self.policy)
        if model.kind is ModelSourceKind.HUGGING_FACE and model.token_secret is not None:
            cdk.Annotations.of(self).add_warning_v2(
                "cdk-llm-serving:hf-token-in-model-environment",
                "The Hugging Face token is resolved into the SageMaker model's environment at deploy time and is "
                "readable with sagemaker:DescribeModel. Stage gated weights in S3 (ModelSource.s3_prefix) for production.",
            )

    def _build_artifact_bucket(self, p: _Props) -> None:
        self.bucket: s3.IBucket | None = None
        if (p.async_inference is not None and p.async_inference.output_bucket is None) or (
            p.data_capture is not None and p.data_capture.bucket is None
        ):
            self.bucket = self._artifact_bucket()

    def _build_endpoint_config(self, p: _Props, network: _Network | None) -> None:
        uses_components = p.uses_components
        self._async_options = p.async_inference
        self.async_output: dict[str, str] | None = None
        self.success_topic: sns.ITopic | None = None
        self.error_topic: sns.ITopic | None = None
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[self._variant(p)],
            kms_key_id=self.encryption_key.key_arn
            if (self.encryption_key is not None and self.volume_encryption)
            else None,
            execution_role_arn=self.role.role_arn if uses_components else None,
            vpc_config=sagemaker.CfnEndpointConfig.VpcConfigProperty(
                security_group_ids=network.security_group_ids, subnets=network.subnets
            )
            if network is not None and uses_components
            else None,
            enable_network_isolation=p.enable_network_isolation if uses_components else None,
            async_inference_config=self._async_config(p.async_inference) if p.async_inference else None,
            data_capture_config=self._data_capture_config(p.data_capture) if p.data_capture else None,
        )
        if not self.volume_encryption:
            acknowledge(
                self.endpoint_config,
                "AwsSolutions::AwsSolutions-SM2",
                f"{p.instance_type or 'Serverless'} has no attachable ML storage volume to encrypt: SageMaker rejects KmsKeyId "
                "for instance types with local NVMe storage (hardware-encrypted instance store) and for serverless variants",
            )
            acknowledge(
                self.endpoint_config,
                "NIST.800.53.R5::NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured",
                "Same as AwsSolutions-SM2: a volume key would make CreateEndpointConfig fail for this instance type",
            )

    def _variant(self, p: _Props) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        Variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty
        if p.mode is InferenceMode.SERVERLESS:
            serverless = p.serverless
            assert serverless is not None
            return Variant(
                variant_name=VARIANT_NAME,
                model_name=self.model.attr_model_name,
                initial_variant_weight=1.0,
                serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                    memory_size_in_mb=serverless.memory_size_mb,
                    max_concurrency=serverless.max_concurrency,
                    provisioned_concurrency=serverless.provisioned_concurrency,
                ),
            )
        common: dict[str, Any] = dict(
            variant_name=VARIANT_NAME,
            instance_type=p.instance_type,
            initial_instance_count=p.instance_count,
            initial_variant_weight=1.0,
            routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(routing_strategy=p.routing_strategy),
            volume_size_in_gb=p.volume_size_gb,
            inference_ami_version=p.inference_ami_version,
        )
        if p.uses_components:
            assert p.inference_component is not None
            autoscaling = p.autoscaling
            return Variant(
                **common,
                managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                    status="ENABLED",
                    min_instance_count=0 if autoscaling and autoscaling.scale_to_zero else p.instance_count,
                    max_instance_count=self._max_instances(
                        p.inference_component, autoscaling, p.spec, p.instance_count
                    ),
                ),
            )
        return Variant(**common, model_name=self.model.attr_model_name, **p.timeouts)

    def _build_alarms(self, p: _Props) -> list[cloudwatch.IAlarm]:
        """The default alarms, and the alarms that roll an update back (the 5XX and latency alarms + the deployment's)."""
        self.alarms: list[cloudwatch.Alarm] = self._alarms(p.alarms, p.alarm_topic) if p.alarms.enabled else []
        rollback_alarms: list[cloudwatch.IAlarm] = [
            a for a in self.alarms if a.node.id in ("ServerErrorsAlarm", "ModelLatencyAlarm")
        ]
        if p.deployment is not None:
            rollback_alarms += list(p.deployment.rollback_alarms)
            # SageMaker watches the rollback alarms with the execution role: "Ensure that your IAM execution role has
            # permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify"
            # (SageMaker AI Developer Guide, deployment-guardrails-configuration.html).
            if rollback_alarms:
                self.policy.add_statements(
                    iam.PolicyStatement(
                        actions=["cloudwatch:DescribeAlarms"], resources=[a.alarm_arn for a in rollback_alarms]
                    )
                )
        return rollback_alarms

    def _build_endpoint(self, p: _Props, rollback_alarms: Sequence[cloudwatch.IAlarm]) -> None:
        deployment = p.deployment
        scaling_instances = p.autoscaling is not None and not p.uses_components
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            endpoint_name=self.endpoint_name,
            retain_all_variant_properties=True if scaling_instances else None,
            # Keep the autoscaled instance count across config updates, but let capture settings change.
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DataCaptureConfig")
            ]
            if scaling_instances and p.data_capture is not None
            else None,
            deployment_config=self._endpoint_deployment(deployment, rollback_alarms)
            if deployment is not None and not p.uses_components
            else None,
        )
        self.endpoint.node.add_dependency(self.policy)

    def _build_inference_component(self, p: _Props, rollback_alarms: Sequence[cloudwatch.IAlarm]) -> None:
        self.inference_component: sagemaker.CfnInferenceComponent | None = None
        if p.uses_components:
            ic, spec = p.inference_component, p.spec
            assert ic is not None and self.inference_component_name is not None
            Spec = sagemaker.CfnInferenceComponent
            self.inference_component = Spec(
                self,
                "InferenceComponent",
                inference_component_name=self.inference_component_name,
                endpoint_name=self.endpoint.attr_endpoint_name,
                variant_name=VARIANT_NAME,
                specification=Spec.InferenceComponentSpecificationProperty(
                    model_name=self.model.attr_model_name,
                    compute_resource_requirements=Spec.InferenceComponentComputeResourceRequirementsProperty(
                        number_of_accelerator_devices_required=ic.accelerators
                        if spec and spec.is_accelerated
                        else None,
                        number_of_cpu_cores_required=ic.cpu_cores,
                        min_memory_required_in_mb=ic.min_memory_mb,
                        max_memory_required_in_mb=ic.max_memory_mb,
                    ),
                    startup_parameters=Spec.InferenceComponentStartupParametersProperty(**p.timeouts),
                    container=Spec.InferenceComponentContainerSpecificationProperty(environment=dict(ic.environment))
                    if ic.environment
                    else None,
                ),
                runtime_config=Spec.InferenceComponentRuntimeConfigProperty(copy_count=ic.copies),
                deployment_config=self._component_deployment(p.deployment, rollback_alarms) if p.deployment else None,
            )
        for alarm in rollback_alarms:
            if isinstance(alarm, cloudwatch.Alarm) and alarm.node.scope is self:
                (self.inference_component or self.endpoint).node.add_dependency(alarm)

    def _build_autoscaling(self, p: _Props) -> None:
        self.scalable_target: appscaling.ScalableTarget | None = None
        self.wake_up_action: appscaling.StepScalingAction | None = None
        """The +1 step action that wakes the endpoint from zero (``scale_to_zero`` only); more alarms may trigger it."""
        if p.autoscaling is not None:
            self.scalable_target = self._autoscaling(p.autoscaling)

    # ================================================================ import

    @staticmethod
    def from_endpoint_name(
        scope: Construct, construct_id: str, endpoint_name: str, *, inference_component_name: str | None = None
    ) -> ImportedLlmEndpoint:
        """An existing endpoint (and optionally one of its inference components): grants and metrics only."""
        return ImportedLlmEndpoint(
            scope, construct_id, endpoint_name=endpoint_name, inference_component_name=inference_component_name
        )

    # ================================================================ grants

    def grant_invoke_async(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``InvokeEndpointAsync``, uploading request payloads and reading results (ASYNC only)."""
        if self.async_output is None:
            raise ValueError("grant_invoke_async needs hosting=HostingMode.async_()")
        out = self.async_output
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:InvokeEndpointAsync"], resource_arns=[self.endpoint_arn]
        )
        bucket = self._async_bucket
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:PutObject"], resource_arns=[bucket.arn_for_objects(out["input"] + "*")]
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject"],
            resource_arns=[bucket.arn_for_objects(out["output"] + "*"), bucket.arn_for_objects(out["failure"] + "*")],
        )
        key = bucket.encryption_key or self.encryption_key
        if key is not None:
            key.grant_encrypt_decrypt(grantee)
        return grant

    # ================================================================= batch

    def add_batch_transform(self, construct_id: str, **options: Any) -> LlmBatchPipeline:
        """Add a batch-transform pipeline for this endpoint's model; see :class:`LlmBatchPipeline` for options.

        The model must come from ``ModelSource.s3_tarball`` (or the Hub): batch transform cannot use the
        ``ModelDataSource`` of ``ModelSource.s3_prefix``. Unless given, the pipeline uses this endpoint's
        instance type, ``encryption_key`` (if it has one) and ``alarm_topic``.
        """
        if "instance_type" not in options and self.instance_type is None:
            raise ValueError(
                "add_batch_transform: a serverless endpoint has no instance type; pass instance_type='ml.g5.2xlarge' (or similar)"
            )
        options.setdefault("instance_type", self.instance_type)
        options.setdefault("encryption_key", self.encryption_key)
        options.setdefault("alarm_topic", self.alarm_topic)
        return LlmBatchPipeline(
            self, construct_id, model=self.model, model_role=self.role, model_policy=self.policy, **options
        )

    # ============================================================ validation

    def _validate(self, p: _Props) -> None:
        problems = ProblemCollector.for_construct(self)
        for problem in p.model.problems() + p.container.problems(p.spec):
            problems.add(problem)
        for problem in name_problems("endpoint_name", p.endpoint_name):
            problems.add(problem)
        if p.mode is InferenceMode.SERVERLESS:
            self._validate_serverless(problems, p)
        elif p.instance_type is not None:
            self._validate_instances(problems, p)
        for what, value in p.timeout_durations.items():
            seconds = value.to_seconds()
            problems.check(60 <= seconds <= 3600, f"{what} must be between 60 seconds and 1 hour, got {int(seconds)} s")
        if p.model.kind is ModelSourceKind.HUGGING_FACE and p.enable_network_isolation:
            problems.add(
                "a Hugging Face Hub model needs network access at start-up, but enable_network_isolation is True; "
                "stage the weights in S3 (ModelSource.s3_prefix) or disable isolation"
            )
        problems.check(
            not p.security_groups or p.vpc is not None, "security_groups need vpc; pass the VPC they belong to"
        )
        if p.inference_component is not None:
            for problem in component_problems(
                p.inference_component, p.spec, p.container, prefix="hosting.inference_component"
            ):
                problems.add(problem)
        if p.async_inference is not None:
            self._validate_async(problems, p.async_inference)
        if p.data_capture is not None:
            self._validate_data_capture(problems, p.data_capture, p.mode)
        if p.autoscaling is not None:
            self._validate_autoscaling(problems, p.autoscaling, p.mode, p.serverless)
        if p.deployment is not None:
            self._validate_deployment(problems, p.deployment, p.mode)
        if p.alarms.enabled:
            self._validate_alarms(problems, p.alarms)
        for problem in RULES.problems(self._plan(p)):
            problems.add(problem)
        problems.raise_if_any()

    def _validate_serverless(self, problems: ProblemCollector, p: _Props) -> None:
        if p.instance_type is not None:
            gpu = p.spec is not None and p.spec.is_accelerated
            problems.add(
                f"HostingMode.serverless() runs on CPU only and takes no instance type; remove instance_type={p.instance_type!r}"
                + (
                    " (serverless endpoints have no GPUs: use HostingMode.real_time() or HostingMode.inference_component() "
                    "for this model)"
                    if gpu
                    else ""
                )
            )
        problems.check(p.volume_size_gb is None, "volume_size_gb does not apply to serverless endpoints; remove it")
        serverless = p.serverless
        if serverless is not None:
            problems.check(
                serverless.memory_size_mb in (1024, 2048, 3072, 4096, 5120, 6144),
                f"hosting.serverless.memory_size_mb must be 1024, 2048, 3072, 4096, 5120 or 6144, got {serverless.memory_size_mb}",
            )
            problems.check(
                1 <= serverless.max_concurrency <= 200,
                f"hosting.serverless.max_concurrency must be between 1 and 200, got {serverless.max_concurrency}",
            )
            pc = serverless.provisioned_concurrency
            problems.check(
                pc is None or 1 <= pc <= serverless.max_concurrency,
                f"hosting.serverless.provisioned_concurrency must be between 1 and max_concurrency ({serverless.max_concurrency}), got {pc}",
            )
        if p.spec is None and p.instance_type is None:
            cdk.Annotations.of(self).add_warning_v2(
                "cdk-llm-serving:serverless-small-models-only",
                "Serverless endpoints have no GPU and at most 6 GB of memory: only small (sub-1B) models fit.",
            )

    def _validate_instances(self, problems: ProblemCollector, p: _Props) -> None:
        instance_type, spec = p.instance_type, p.spec
        assert instance_type is not None
        if not instance_type.startswith("ml."):
            problems.add(f"instance_type must be a SageMaker type starting with 'ml.', got {instance_type!r}")
        elif spec is None and instance_type in hosting_instance_types():
            # A real SageMaker type (an unknown one is rule SAGEMAKER.HOSTING_INSTANCE_TYPE's error) without hardware facts.
            cdk.Annotations.of(self).add_warning_v2(
                "cdk-llm-serving:instance-type-without-hardware-facts",
                f"{instance_type} is a SageMaker hosting type but not in the bundled hardware table "
                "(sagemaker_endpoint/data/instances.json): the accelerator, memory and tensor-parallel checks are skipped, "
                "and the ML storage volume gets no KMS key (SageMaker rejects one for types with NVMe instance storage)",
            )
        problems.check(
            1 <= p.instance_count <= 100, f"instance_count must be between 1 and 100, got {p.instance_count}"
        )
        problems.check(
            p.routing_strategy in _ROUTING_STRATEGIES,
            f"routing_strategy must be one of {', '.join(_ROUTING_STRATEGIES)}, got {p.routing_strategy!r}",
        )
        if p.volume_size_gb is not None:
            problems.check(
                1 <= p.volume_size_gb <= 512, f"volume_size_gb must be between 1 and 512, got {p.volume_size_gb}"
            )
            problems.check(
                spec is None or not spec.local_nvme,
                f"volume_size_gb cannot be set for {instance_type}: it has local NVMe instance storage; remove it",
            )

    @staticmethod
    def _validate_async(problems: ProblemCollector, a: AsyncInferenceOptions) -> None:
        problems.check(
            1 <= a.max_concurrent_invocations_per_instance <= 1000,
            "hosting.async_inference.max_concurrent_invocations_per_instance must be between 1 and 1000, "
            f"got {a.max_concurrent_invocations_per_instance}",
        )
        for prefix_name in ("output_prefix", "failure_prefix", "input_prefix"):
            prefix = getattr(a, prefix_name)
            problems.check(
                prefix.endswith("/") and not prefix.startswith("/"),
                f"hosting.async_inference.{prefix_name} must be a folder like 'async/output/' (no leading '/', trailing '/'), got {prefix!r}",
            )

    @staticmethod
    def _validate_data_capture(problems: ProblemCollector, d: DataCaptureOptions, mode: InferenceMode) -> None:
        problems.check(
            mode in (InferenceMode.REAL_TIME, InferenceMode.ASYNC),
            f"data_capture is supported for HostingMode.real_time() and HostingMode.async_() only, not {mode.factory}",
        )
        problems.check(
            0 <= d.sampling_percentage <= 100,
            f"data_capture.sampling_percentage must be between 0 and 100, got {d.sampling_percentage}",
        )
        problems.check(d.capture_input or d.capture_output, "data_capture must capture the input, the output or both")

    @staticmethod
    def _validate_alarms(problems: ProblemCollector, o: AlarmOptions) -> None:
        problems.check(o.server_errors >= 1, f"alarms.server_errors must be at least 1, got {o.server_errors}")
        problems.check(o.model_latency_p90.to_seconds() > 0, "alarms.model_latency_p90 must be longer than 0 seconds")
        for name in ("gpu_memory_percent", "disk_percent"):
            value = getattr(o, name)
            problems.check(0 < value <= 100, f"alarms.{name} must be a percentage in (0, 100], got {value}")
        problems.check(o.async_backlog >= 1, f"alarms.async_backlog must be at least 1, got {o.async_backlog}")

    @staticmethod
    def _validate_deployment(problems: ProblemCollector, d: DeploymentOptions, mode: InferenceMode) -> None:
        t = d.traffic
        problems.check(1 <= t.percent <= 100, f"deployment.traffic.percent must be between 1 and 100, got {t.percent}")
        problems.check(0 <= t.wait.to_seconds() <= 3600, "deployment.traffic.wait must be at most 1 hour")
        problems.check(
            1 <= d.rolling_batch_percent <= 100,
            f"deployment.rolling_batch_percent must be between 1 and 100, got {d.rolling_batch_percent}",
        )
        problems.check(
            mode is not InferenceMode.SERVERLESS or t.type is TrafficShiftType.ALL_AT_ONCE,
            "serverless endpoints update all at once; use TrafficShift(type=TrafficShiftType.ALL_AT_ONCE)",
        )
        timeout = d.max_execution_timeout
        problems.check(
            timeout is None or 600 <= timeout.to_seconds() <= 28800,
            "deployment.max_execution_timeout must be between 10 minutes and 8 hours",
        )
        problems.check(
            len(d.rollback_alarms) <= 8, "deployment.rollback_alarms: at most 8 extra alarms (SageMaker allows 10)"
        )

    def _plan(self, p: _Props) -> EndpointPlan:
        """What the SAGEMAKER.* rules see."""
        stack = cdk.Stack.of(self)
        if p.autoscaling is None:
            smallest_fleet = p.instance_count
        else:
            smallest_fleet = 0 if p.autoscaling.scale_to_zero else p.autoscaling.min_capacity
        return EndpointPlan(
            mode=p.mode,
            model=p.model,
            container=p.container,
            environment=p.container.environment(p.model, p.spec),
            enable_network_isolation=p.enable_network_isolation,
            vpc=p.vpc is not None,
            data_capture=p.data_capture is not None,
            deployment=p.deployment,
            smallest_fleet=smallest_fleet,
            region=None if cdk.Token.is_unresolved(stack.region) else stack.region,
            instance_type=p.instance_type,
        )

    @staticmethod
    def _validate_autoscaling(
        p: ProblemCollector, a: AutoScalingOptions, mode: InferenceMode, serverless: ServerlessOptions | None
    ) -> None:
        if a.scale_to_zero:
            p.check(a.min_capacity >= 0, f"autoscaling.min_capacity must be 0 or more, got {a.min_capacity}")
        else:
            p.check(
                a.min_capacity >= 1,
                f"autoscaling.min_capacity must be at least 1, got {a.min_capacity}"
                + (
                    "; to release every instance or copy when idle, also set scale_to_zero=True (INFERENCE_COMPONENT, ASYNC)"
                    if a.min_capacity == 0
                    else ""
                ),
            )
        # max_capacity may be a token (e.g. a Service Catalog launch parameter) for an instance-scaled variant:
        # its parameter's MinValue/MaxValue checks it at deploy time instead (the gateway's throttles do the same).
        token = cdk.Token.is_unresolved(a.max_capacity)
        p.check(
            not token or mode in (InferenceMode.REAL_TIME, InferenceMode.ASYNC),
            "autoscaling.max_capacity can be a token only with real-time or async instance hosting (inference "
            "components and serverless derive sizes from it at synth): pass a number",
        )
        p.check(token or a.max_capacity >= 1, f"autoscaling.max_capacity must be at least 1, got {a.max_capacity}")
        p.check(
            token or a.max_capacity >= a.min_capacity,
            f"autoscaling.max_capacity ({a.max_capacity}) must be at least min_capacity ({a.min_capacity})",
        )
        if a.scale_to_zero:
            p.check(
                mode in (InferenceMode.ASYNC, InferenceMode.INFERENCE_COMPONENT),
                f"scale_to_zero is not possible with {mode.factory}: use HostingMode.inference_component() (real-time, wakes on "
                "NoCapacityInvocationFailures) or HostingMode.async_() (wakes on HasBacklogWithoutCapacity)",
            )
        if mode is InferenceMode.SERVERLESS:
            p.check(
                serverless is None or serverless.provisioned_concurrency is not None,
                "serverless endpoints scale by themselves; autoscaling only applies to provisioned concurrency "
                "(set HostingMode.serverless(provisioned_concurrency=...)) — otherwise remove autoscaling",
            )
            if serverless is not None:
                p.check(
                    a.max_capacity <= serverless.max_concurrency,
                    f"autoscaling.max_capacity ({a.max_capacity}) cannot exceed hosting.serverless.max_concurrency ({serverless.max_concurrency})",
                )
            p.check(
                0 < a.target_provisioned_concurrency_utilization <= 1,
                "autoscaling.target_provisioned_concurrency_utilization must be in (0, 1]",
            )
        if mode in (InferenceMode.REAL_TIME, InferenceMode.INFERENCE_COMPONENT):
            p.check(
                a.target_concurrent_requests is not None
                or a.target_invocations_per_instance is not None
                or a.step_scaling is not None,
                "autoscaling needs a signal: target_concurrent_requests, target_invocations_per_instance or step_scaling",
            )
        for name in ("target_concurrent_requests", "target_invocations_per_instance"):
            value = getattr(a, name)
            p.check(value is None or value > 0, f"autoscaling.{name} must be positive, got {value}")
        p.check(a.target_backlog_per_instance > 0, "autoscaling.target_backlog_per_instance must be positive")

    # ============================================================== pieces

    @staticmethod
    def _max_instances(
        ic: InferenceComponentOptions,
        autoscaling: AutoScalingOptions | None,
        spec: InstanceSpec | None,
        instance_count: int,
    ) -> int:
        if ic.max_instances is not None:
            return max(ic.max_instances, instance_count)
        copies = max(ic.copies, autoscaling.max_capacity if autoscaling else ic.copies)
        per_instance = spec.accelerators // ic.accelerators if spec is not None and spec.is_accelerated else 1
        return max(instance_count, math.ceil(copies / max(per_instance, 1)))

    def _artifact_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "ArtifactBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.encryption_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(id="ExpireNoncurrent", noncurrent_version_expiration=cdk.Duration.days(7)),
            ],
        )
        acknowledge(
            bucket,
            "AwsSolutions::AwsSolutions-S1",
            "Holds machine-written inference payloads and captures only; object-level access is audited with CloudTrail data events if required",
        )
        acknowledge(
            bucket,
            "NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled",
            "Holds machine-written inference payloads and captures only; object-level access is audited with CloudTrail data events if required",
        )
        acknowledge(
            bucket,
            "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
            "Inference payloads and captures are regenerable working data; cross-Region replication would double cost for no recovery value",
        )
        return bucket

    @property
    def _async_bucket(self) -> s3.IBucket:
        bucket = self._async_options.output_bucket if self._async_options else None
        return bucket or self.bucket  # type: ignore[return-value]

    def _async_config(self, a: AsyncInferenceOptions) -> sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty:
        bucket = a.output_bucket or self.bucket
        assert bucket is not None
        self.async_output = {"input": a.input_prefix, "output": a.output_prefix, "failure": a.failure_prefix}
        self.policy.add_statements(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(a.input_prefix + "*")]),
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[
                    bucket.arn_for_objects(a.output_prefix + "*"),
                    bucket.arn_for_objects(a.failure_prefix + "*"),
                ],
            ),
        )
        self._grant_key_use(bucket)
        for prefix in (a.input_prefix, a.output_prefix, a.failure_prefix):
            self._acknowledge_prefix(bucket, prefix, "Async requests and results are one object each under this prefix")
        Config = sagemaker.CfnEndpointConfig
        notification = None
        if a.notifications:
            self.success_topic = sns.Topic(self, "SuccessTopic", enforce_ssl=True, master_key=self.encryption_key)
            self.error_topic = sns.Topic(self, "ErrorTopic", enforce_ssl=True, master_key=self.encryption_key)
            self.policy.add_statements(
                iam.PolicyStatement(
                    actions=["sns:Publish"], resources=[self.success_topic.topic_arn, self.error_topic.topic_arn]
                )
            )
            notification = Config.AsyncInferenceNotificationConfigProperty(
                success_topic=self.success_topic.topic_arn,
                error_topic=self.error_topic.topic_arn,
                include_inference_response_in=["SUCCESS_NOTIFICATION_TOPIC"]
                if a.include_response_in_notification
                else None,
            )
        key = bucket.encryption_key or self.encryption_key
        return Config.AsyncInferenceConfigProperty(
            output_config=Config.AsyncInferenceOutputConfigProperty(
                s3_output_path=f"s3://{bucket.bucket_name}/{a.output_prefix}",
                s3_failure_path=f"s3://{bucket.bucket_name}/{a.failure_prefix}",
                kms_key_id=key.key_arn if key else None,
                notification_config=notification,
            ),
            client_config=Config.AsyncInferenceClientConfigProperty(
                max_concurrent_invocations_per_instance=a.max_concurrent_invocations_per_instance
            ),
        )

    def _acknowledge_prefix(self, bucket: s3.IBucket, prefix: str, reason: str) -> None:
        acknowledge(
            self.policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, bucket.arn_for_objects(prefix + '*'))}]",
            reason + "; access is limited to exactly that prefix",
        )

    def _grant_key_use(self, bucket: s3.IBucket) -> None:
        key = bucket.encryption_key or self.encryption_key
        if key is not None:
            self.policy.add_statements(
                iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn])
            )

    def _data_capture_config(self, d: DataCaptureOptions) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
        bucket = d.bucket or self.bucket
        assert bucket is not None
        self.policy.add_statements(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(d.prefix + "*")])
        )
        self._grant_key_use(bucket)
        self._acknowledge_prefix(
            bucket, d.prefix, "Data capture writes one object per batch of captured requests under this prefix"
        )
        self.capture_destination = f"s3://{bucket.bucket_name}/{d.prefix}"
        Config = sagemaker.CfnEndpointConfig
        modes = [
            Config.CaptureOptionProperty(capture_mode=mode)
            for mode, on in (("Input", d.capture_input), ("Output", d.capture_output))
            if on
        ]
        key = bucket.encryption_key or self.encryption_key
        return Config.DataCaptureConfigProperty(
            enable_capture=True,
            initial_sampling_percentage=d.sampling_percentage,
            destination_s3_uri=self.capture_destination,
            capture_options=modes,
            kms_key_id=key.key_arn if key else None,
            capture_content_type_header=Config.CaptureContentTypeHeaderProperty(
                json_content_types=list(d.json_content_types)
            ),
        )

    @staticmethod
    def _timeout_seconds(d: DeploymentOptions) -> int | None:
        return int(d.max_execution_timeout.to_seconds()) if d.max_execution_timeout else None

    def _endpoint_deployment(
        self, d: DeploymentOptions, alarms: Sequence[cloudwatch.IAlarm]
    ) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        E = sagemaker.CfnEndpoint
        t = d.traffic
        size = E.CapacitySizeProperty(type="CAPACITY_PERCENT", value=t.percent)
        routing = E.TrafficRoutingConfigProperty(
            type=t.type.value,
            wait_interval_in_seconds=int(t.wait.to_seconds()),
            canary_size=size if t.type is TrafficShiftType.CANARY else None,
            linear_step_size=size if t.type is TrafficShiftType.LINEAR else None,
        )
        return E.DeploymentConfigProperty(
            blue_green_update_policy=E.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=routing,
                termination_wait_in_seconds=int(d.termination_wait.to_seconds()),
                maximum_execution_timeout_in_seconds=self._timeout_seconds(d),
            ),
            auto_rollback_configuration=E.AutoRollbackConfigProperty(
                alarms=[E.AlarmProperty(alarm_name=a.alarm_name) for a in alarms]
            )
            if alarms
            else None,
        )

    def _component_deployment(
        self, d: DeploymentOptions, alarms: Sequence[cloudwatch.IAlarm]
    ) -> sagemaker.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty:
        C = sagemaker.CfnInferenceComponent
        return C.InferenceComponentDeploymentConfigProperty(
            rolling_update_policy=C.InferenceComponentRollingUpdatePolicyProperty(
                maximum_batch_size=C.InferenceComponentCapacitySizeProperty(
                    type="CAPACITY_PERCENT", value=d.rolling_batch_percent
                ),
                wait_interval_in_seconds=int(d.traffic.wait.to_seconds()),
                maximum_execution_timeout_in_seconds=self._timeout_seconds(d),
            ),
            auto_rollback_configuration=C.AutoRollbackConfigurationProperty(
                alarms=[C.AlarmProperty(alarm_name=a.alarm_name) for a in alarms]
            )
            if alarms
            else None,
        )

    def _alarms(self, o: AlarmOptions, topic: sns.ITopic | None) -> list[cloudwatch.Alarm]:
        alarms: list[cloudwatch.Alarm] = []

        def add(
            construct_id: str, metric: cloudwatch.IMetric, threshold: float, description: str, periods: int = 1
        ) -> None:
            alarms.append(
                threshold_alarm(
                    self,
                    construct_id,
                    metric,
                    threshold=threshold,
                    periods=periods,
                    description=f"{description} (endpoint {self.endpoint_name})",
                    topic=topic,
                )
            )

        add("ServerErrorsAlarm", self.metric_server_errors(), o.server_errors, "Model or platform 5XX errors")
        add(
            "ModelLatencyAlarm",
            self.metric_model_latency(),
            o.model_latency_p90.to_seconds() * 1_000_000,
            f"p90 model latency above {o.model_latency_p90.to_seconds():g} s (ModelLatency is in microseconds)",
        )
        if self.hosting.kind is InferenceMode.SERVERLESS:
            return alarms
        if self.instance is not None and self.instance.is_gpu:
            scale = 1 if self.inference_component_name else self.instance.accelerators
            add(
                "GpuMemoryAlarm",
                self.metric_gpu_memory_utilization(),
                o.gpu_memory_percent * scale,
                f"GPU memory above {o.gpu_memory_percent:g}% for 15 minutes",
                periods=3,
            )
        add("DiskAlarm", self.metric_disk_utilization(), o.disk_percent, f"ML storage above {o.disk_percent:g}%")
        if self.hosting.kind is InferenceMode.ASYNC:
            add(
                "AsyncBacklogAlarm",
                self.metric_async_backlog(),
                o.async_backlog,
                f"More than {o.async_backlog} queued async requests for 15 minutes",
                periods=3,
            )
        return alarms

    def _autoscaling(self, a: AutoScalingOptions) -> appscaling.ScalableTarget:
        if self.hosting.kind is InferenceMode.INFERENCE_COMPONENT:
            assert self.inference_component is not None
            resource_id = f"inference-component/{self.inference_component_name}"
            dimension = "sagemaker:inference-component:DesiredCopyCount"
        else:
            resource_id = f"endpoint/{self.endpoint.attr_endpoint_name}/variant/{VARIANT_NAME}"
            dimension = (
                "sagemaker:variant:DesiredProvisionedConcurrency"
                if self.hosting.kind is InferenceMode.SERVERLESS
                else "sagemaker:variant:DesiredInstanceCount"
            )
        target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=resource_id,
            scalable_dimension=dimension,
            min_capacity=0 if a.scale_to_zero else a.min_capacity,
            max_capacity=a.max_capacity,
            role=_scaling_service_linked_role(self),
        )
        target.node.add_dependency(self.inference_component or self.endpoint)
        self._target_tracking(target, a)
        if a.step_scaling is not None:
            s = a.step_scaling
            target.scale_on_metric(
                "StepScaling",
                metric=s.metric,
                scaling_steps=list(s.steps),
                adjustment_type=s.adjustment_type,
                cooldown=s.cooldown,
                evaluation_periods=s.evaluation_periods,
            )
        if a.scale_to_zero:
            self._wake_up(target)
        for i, sched in enumerate(a.schedules):
            target.scale_on_schedule(
                f"Schedule{i}",
                schedule=sched.schedule,
                min_capacity=sched.min_capacity,
                max_capacity=sched.max_capacity,
                time_zone=sched.time_zone,
            )
        return target

    def _target_tracking(self, target: appscaling.ScalableTarget, a: AutoScalingOptions) -> None:
        cooldowns: _Cooldowns = {"scale_in_cooldown": a.scale_in_cooldown, "scale_out_cooldown": a.scale_out_cooldown}
        components = self.hosting.kind is InferenceMode.INFERENCE_COMPONENT
        P = appscaling.PredefinedMetric
        if self.hosting.kind is InferenceMode.SERVERLESS:
            target.scale_to_track_metric(
                "ProvisionedConcurrencyTracking",
                target_value=a.target_provisioned_concurrency_utilization,
                predefined_metric=P.SAGEMAKER_VARIANT_PROVISIONED_CONCURRENCY_UTILIZATION,
                **cooldowns,
            )
        elif self.hosting.kind is InferenceMode.ASYNC:
            target.scale_to_track_metric(
                "BacklogTracking",
                target_value=a.target_backlog_per_instance,
                **cooldowns,
                custom_metric=cloudwatch.Metric(
                    namespace="AWS/SageMaker",
                    metric_name="ApproximateBacklogSizePerInstance",
                    dimensions_map={"EndpointName": self.endpoint_name},
                    statistic="Average",
                    period=cdk.Duration.minutes(1),
                ),
            )
        else:
            # (construct ID, target, metric per inference-component copy, metric per variant instance)
            for construct_id, target_value, per_copy, per_instance in (
                (
                    "ConcurrencyTracking",
                    a.target_concurrent_requests,
                    P.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION,
                    P.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION,
                ),
                (
                    "InvocationsTracking",
                    a.target_invocations_per_instance,
                    P.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY,
                    P.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
                ),
            ):
                if target_value is not None:
                    target.scale_to_track_metric(
                        construct_id,
                        target_value=target_value,
                        **cooldowns,
                        predefined_metric=per_copy if components else per_instance,
                    )

    def _wake_up(self, target: appscaling.ScalableTarget) -> None:
        """Scale from zero: a +1 step action run by an alarm on the signal that requests found no capacity."""
        if self.hosting.kind is InferenceMode.INFERENCE_COMPONENT:
            signal = self.metric_no_capacity_failures()
            description = "Wake-up: requests found no model copy (scale from zero)"
        else:
            signal = cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="HasBacklogWithoutCapacity",
                dimensions_map={"EndpointName": self.endpoint_name},
                statistic="Maximum",
                period=cdk.Duration.minutes(1),
            )
            description = "Wake-up: queued requests but no instances (scale from zero)"
        wake = appscaling.StepScalingAction(
            self,
            "WakeUpAction",
            scaling_target=target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM,
            cooldown=cdk.Duration.minutes(1),
        )
        wake.add_adjustment(adjustment=1, lower_bound=0)
        self.wake_up_action = wake
        wake_up_alarm(self, "WakeUpAlarm", signal, wake, description=description)


def _scaling_service_linked_role(scope: Construct) -> iam.IRole:
    """Application Auto Scaling's service-linked role for SageMaker (created by AWS on first use).

    Without it CDK creates an empty role per target; the service-linked role is what AWS recommends.
    """
    arn = cdk.Stack.of(scope).format_arn(
        service="iam",
        region="",
        resource="role",
        resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
        arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
    )
    return iam.Role.from_role_arn(scope, "ScalingServiceLinkedRole", arn, mutable=False)


def component_problems(
    ic: InferenceComponentOptions, spec: InstanceSpec | None, container: LlmContainer, *, prefix: str
) -> list[str]:
    """Problems of one copy's compute reservation on ``spec`` (``prefix`` names where the options were given)."""
    p = ProblemCollector("")
    p.check(ic.accelerators >= 1, f"{prefix}.accelerators must be at least 1, got {ic.accelerators}")
    if spec is not None and spec.is_accelerated:
        p.check(
            ic.accelerators <= spec.accelerators,
            f"{prefix}.accelerators ({ic.accelerators}) is more than the {spec.accelerators} "
            f"accelerator(s) of {spec.name}",
        )
        tp = container.tensor_parallel_degree
        p.check(
            not isinstance(tp, int) or tp <= ic.accelerators,
            f"tensor parallel degree {tp} is more than the {ic.accelerators} accelerator(s) reserved per copy; "
            f"raise {prefix}.accelerators or lower the degree",
        )
    if spec is not None:
        p.check(
            ic.min_memory_mb <= spec.memory_gib * 1024,
            f"{prefix}.min_memory_mb ({ic.min_memory_mb}) is more than {spec.name}'s memory ({spec.memory_gib} GiB)",
        )
        p.check(
            ic.cpu_cores is None or ic.cpu_cores <= spec.vcpus,
            f"{prefix}.cpu_cores ({ic.cpu_cores}) is more than {spec.name}'s {spec.vcpus} vCPUs",
        )
    p.check(ic.min_memory_mb >= 128, f"{prefix}.min_memory_mb must be at least 128, got {ic.min_memory_mb}")
    p.check(
        ic.max_memory_mb is None or ic.max_memory_mb >= ic.min_memory_mb,
        f"{prefix}.max_memory_mb must be at least min_memory_mb",
    )
    p.check(
        ic.cpu_cores is None or ic.cpu_cores >= 0.25, f"{prefix}.cpu_cores must be at least 0.25, got {ic.cpu_cores}"
    )
    p.check(ic.copies >= 1, f"{prefix}.copies must be at least 1, got {ic.copies}")
    p.check(
        len(ic.environment) <= _MAX_COMPONENT_ENV,
        f"{prefix}.environment has {len(ic.environment)} variables; SageMaker allows at most "
        f"{_MAX_COMPONENT_ENV} per inference component (put the rest in the container options, which go on the model)",
    )
    p.check(
        ic.max_instances is None or ic.max_instances >= 1,
        f"{prefix}.max_instances must be at least 1, got {ic.max_instances}",
    )
    return p.problems
