"""LoraAdapterFleet: one base model on a SageMaker inference-component endpoint, hundreds of LoRA adapters on it,
each an inference component of its own (seed 003, re:Invent AIM313)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct, IValidation

from .._alarms import threshold_alarm, wake_up_alarm
from .._errors import ProblemCollector, PropsValidationError
from .._nag import acknowledge, nag_resource
from .._types import typed_props
from ..sagemaker_endpoint.base import INVOKE_ACTIONS, HostedLlmEndpointBase, LlmEndpointBase, name_problems
from ..sagemaker_endpoint.construct import SageMakerLlmEndpoint, component_problems
from ..sagemaker_endpoint.containers import ContainerKind, LlmContainer, LoraOptions, ModelSource, ModelSourceKind
from ..sagemaker_endpoint.instances import instance_spec
from ..sagemaker_endpoint.options import (
    AlarmOptions,
    AutoScalingOptions,
    DeploymentOptions,
    HostingMode,
    InferenceComponentOptions,
    InferenceMode,
)
from .adapters import (
    AdapterAlarmOptions,
    AdapterPackaging,
    AdapterStore,
    LoraAdapter,
    adapter_problems,
    artifact_url,
    component_name,
    shard_of,
)
from .cost import (
    DEFAULT_DEDICATED_INSTANCE_TYPE,
    DEFAULT_FLEET_INSTANCE_TYPE,
    DEFAULT_REGION,
    CostComparison,
    FleetCostEstimate,
    TrafficAssumption,
    compare_with_dedicated,
    estimate_hourly_cost,
)

#: Nested stacks the adapters are spread over, by default (fixed: see ``adapter_stacks``).
DEFAULT_ADAPTER_STACKS = 4
#: Most nested adapter stacks (each is one resource of the fleet's stack).
MAX_ADAPTER_STACKS = 50
#: CloudFormation's resource limit per stack (nested stacks included).
STACK_RESOURCE_LIMIT = 500
#: Longest ``component_name_prefix``: leaves at least 22 characters for adapter names.
MAX_PREFIX = 40
#: Default scaling of the base copies: 1-4 copies, ~5 concurrent requests per copy.
DEFAULT_FLEET_AUTOSCALING = AutoScalingOptions(min_capacity=1, max_capacity=4, target_concurrent_requests=5.0)


def default_lora_container() -> LlmContainer:
    """LMI (vLLM) with LoRA: 8 adapters in GPU memory, rank ≤ 16, 64 in host memory (sagemaker.md §7.3)."""
    return LlmContainer.lmi(lora=LoraOptions(max_loras=8, max_lora_rank=16, max_cpu_loras=64))


class LoraAdapterComponent(LlmEndpointBase):
    """One adapter of a :class:`LoraAdapterFleet`: its names, grants and per-adapter invocation metrics (it has no
    compute of its own, so no GPU-memory, disk or async-backlog metrics: those are the fleet's).

    Pass it to ``SageMakerModelAlias.for_endpoint(alias=..., endpoint=adapter)`` to route a gateway alias
    to this adapter (``endpoint_name``, ``endpoint_arn``, ``inference_component_name`` and
    ``inference_component_arn`` are what the gateway reads).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        fleet: LoraAdapterFleet,
        adapter: LoraAdapter,
        inference_component_name: str,
        resource: sagemaker.CfnInferenceComponent,
        artifact_url: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.fleet = fleet
        self.adapter = adapter
        self.container = fleet.container
        """The fleet's serving container (its kind tells the gateway which container answers)."""
        self.name = adapter.name
        self.endpoint_name = fleet.endpoint_name
        self.inference_component_name = inference_component_name
        self.resource = resource
        """The ``AWS::SageMaker::InferenceComponent`` (in the fleet's stack or in one of its adapter stacks)."""
        self.artifact_url = artifact_url
        self.alarms: list[cloudwatch.Alarm] = []
        # grant_invoke (LlmEndpointBase) covers exactly this adapter: the endpoint and this inference component.


class LoraAdapterFleet(HostedLlmEndpointBase):
    """One base model and many LoRA adapters on one SageMaker endpoint.

    The base model runs as an inference component (compute reservation, copies autoscaled on concurrent
    requests per copy, optional scale to zero) on an endpoint with managed instance scaling; it is a
    :class:`SageMakerLlmEndpoint` with ``HostingMode.inference_component`` (:attr:`base`). Each adapter is an
    *adapter inference component* (``BaseInferenceComponentName`` + ``Container.ArtifactUrl``, no compute of
    its own) that can be added, changed and removed on its own: its resource is named after the adapter and
    lives in a nested stack picked by a stable hash of its name, so one adapter's change touches only that
    adapter's resources (and the hash in its nested stack's ``TemplateURL``). Adapters come from ``adapters``
    and :meth:`add_adapter`.

    ``packaging=AdapterPackaging.MODEL_ARTIFACT`` is the static alternative: adapters baked into the model
    folder (``adapters/<name>/``), loaded by LMI at start-up, selected in the request body.
    """

    @typed_props
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        base_model: ModelSource,
        adapters: Sequence[LoraAdapter] = (),
        adapter_store: AdapterStore | None = None,
        packaging: AdapterPackaging = AdapterPackaging.INFERENCE_COMPONENTS,
        container: LlmContainer | None = None,
        instance_type: str = DEFAULT_FLEET_INSTANCE_TYPE,
        instance_count: int = 1,
        base_component: InferenceComponentOptions | None = None,
        autoscaling: AutoScalingOptions | None = None,
        deployment: DeploymentOptions | None = None,
        alarms: AlarmOptions | None = None,
        alarm_topic: sns.ITopic | None = None,
        adapter_alarms: AdapterAlarmOptions | None = None,
        adapter_stacks: int = DEFAULT_ADAPTER_STACKS,
        sequential_adapter_stacks: bool = True,
        component_name_prefix: str | None = None,
        dashboard: bool = True,
        endpoint_name: str | None = None,
        startup_health_check_timeout: cdk.Duration | None = None,
        model_data_download_timeout: cdk.Duration | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        encryption_key: kms.IKey | None = None,
        execution_role: iam.IRole | None = None,
        inference_ami_version: str | None = None,
    ) -> None:
        """
        :param base_model: the base weights (:meth:`ModelSource.s3_prefix` recommended).
        :param adapters: the adapters. More with :meth:`add_adapter`. Default: - none
        :param adapter_store: the S3 folder of the adapter artifacts; the role reads exactly that prefix.
            Required with INFERENCE_COMPONENTS packaging once there are adapters; unset for MODEL_ARTIFACT.
            Default: - none (then adapters cannot be added as components)
        :param packaging: ``INFERENCE_COMPONENTS`` (one component per adapter) or ``MODEL_ARTIFACT`` (static).
            Default: ``AdapterPackaging.INFERENCE_COMPONENTS``
        :param container: a LoRA-enabled container. Default: - ``LlmContainer.lmi(lora=LoraOptions(max_loras=8,
            max_lora_rank=16, max_cpu_loras=64))`` (``default_lora_container()``)
        :param instance_type: the ``ml.*`` hosting type of the base copies. Default: ``ml.g5.12xlarge`` (4 × A10G: four
            1-GPU copies of an 8B model)
        :param instance_count: initial instances, and the managed-scaling minimum unless ``scale_to_zero``. Default: 1.
        :param base_component: compute per base copy and initial copies. Default: - ``InferenceComponentOptions()``
            (1 GPU, 1 GiB reserved, 1 copy; instances scale up to what ``autoscaling.max_capacity`` copies need)
        :param autoscaling: scaling of the base copies (adapters scale with it); ``scale_to_zero=True`` wakes on any
            adapter's no-capacity failures; ``AutoScalingOptions(enabled=False)`` keeps the copies fixed.
            Default: - ``DEFAULT_FLEET_AUTOSCALING`` (1-4 copies at ~5 concurrent requests per copy)
        :param deployment: rolling updates of the base copies with rollback on alarms. Default: - SageMaker's
        :param alarms: base-model alarms (5XX, latency, GPU memory, disk); ``AlarmOptions(enabled=False)`` creates
            none. Default: - ``AlarmOptions()``
        :param alarm_topic: notified when a base-model or per-adapter alarm changes to ALARM or OK.
            Default: - the alarms have no actions
        :param adapter_alarms: one 5XX alarm per adapter. Default: - none (the dashboard shows every adapter)
        :param adapter_stacks: nested stacks the adapter components are spread over by a stable hash of their
            names; 0 keeps them in this stack (about 480 adapters, 160 with per-adapter and wake-up alarms).
            Choose once: changing it moves named components between stacks, which CloudFormation cannot do in
            one deployment. Default: 4 (roughly 1,600 adapters, 550 with per-adapter and wake-up alarms; a
            synth-time check names a stack that would exceed 500 resources).
        :param sequential_adapter_stacks: deploy the adapter stacks one after another, so CloudFormation
            creates about ``adapters ÷ adapter_stacks`` adapter components at a time. Default: True.
        :param component_name_prefix: prepended (with ``-``) to adapter names to form their inference
            component names, which are unique per account and Region; ``""`` uses the bare names. Default: - a
            24-character name unique to this construct path (adapter names may then have up to 38 characters)
        :param dashboard: create a CloudWatch dashboard (base model + per-adapter traffic). Default: True.
        :param endpoint_name: the SageMaker endpoint name. Default: - generated from the construct path
        :param startup_health_check_timeout: base copies, 60-3600 s. Default: - 15 minutes
        :param model_data_download_timeout: base copies, 60-3600 s. Default: - 15 minutes
        :param vpc: place the endpoint in this VPC. Default: - none
        :param vpc_subnets: the subnets in ``vpc``. Default: - the VPC's private subnets with egress, or its isolated
            subnets if it has none
        :param security_groups: groups of the endpoint's network interfaces. Default: - a new group (no inbound, HTTPS
            egress)
        :param encryption_key: as for :class:`SageMakerLlmEndpoint` (volumes where SageMaker allows a key).
            Default: - a new customer-managed KMS key with rotation, created only when something can use it
        :param execution_role: the role SageMaker runs the base model with; either way it gets exactly the model and
            adapter-store reads. Default: - a new role trusted by SageMaker of this account
        :param inference_ami_version: ``InferenceAmiVersion`` of the variant. Default: - SageMaker's
        """
        super().__init__(scope, construct_id)
        container = container or default_lora_container()
        base_component = base_component or InferenceComponentOptions()
        autoscaling = DEFAULT_FLEET_AUTOSCALING if autoscaling is None else autoscaling
        self.packaging = packaging
        self.adapter_store = adapter_store
        self.adapter_alarm_options = adapter_alarms
        self.container = container
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.base_component_options = base_component
        self.autoscaling: AutoScalingOptions | None = autoscaling if autoscaling.enabled else None
        """The base copies' autoscaling (``None``: fixed copies)."""
        self.alarm_topic = alarm_topic
        self.component_name_prefix = (
            component_name_prefix
            if component_name_prefix is not None
            else cdk.Names.unique_resource_name(self, max_length=24, separator="-")
        )
        self._adapters: dict[str, LoraAdapter] = {}
        self._components: dict[str, LoraAdapterComponent] = {}
        self._validate(
            base_model=base_model, adapters=adapters, adapter_stacks=adapter_stacks, prefix_given=component_name_prefix
        )
        self._build_base(
            base_model=base_model,
            container=container,
            instance_type=instance_type,
            instance_count=instance_count,
            base_component=base_component,
            autoscaling=autoscaling,
            deployment=deployment,
            alarms=alarms,
            alarm_topic=alarm_topic,
            endpoint_name=endpoint_name,
            startup_health_check_timeout=startup_health_check_timeout,
            model_data_download_timeout=model_data_download_timeout,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
            encryption_key=encryption_key,
            execution_role=execution_role,
            inference_ami_version=inference_ami_version,
        )
        self._grant_adapter_store()
        self._build_adapter_stacks(adapter_stacks, sequential=sequential_adapter_stacks)
        for adapter in adapters:
            self._register(adapter)
        self.dashboard: cloudwatch.Dashboard | None = self._dashboard() if dashboard else None
        self.node.add_validation(_StackCapacity(self))

    # ================================================================ builders

    def _validate(
        self, *, base_model: ModelSource, adapters: Sequence[LoraAdapter], adapter_stacks: int, prefix_given: str | None
    ) -> None:
        p = ProblemCollector.for_construct(self)
        self._validate_fleet(
            p, base_model=base_model, adapters=adapters, adapter_stacks=adapter_stacks, prefix_given=prefix_given
        )
        # The base endpoint checks them too, but the user gave them as base_component: say so.
        for problem in component_problems(
            self.base_component_options, instance_spec(self.instance_type), self.container, prefix="base_component"
        ):
            p.add(problem)
        seen: set[str] = set()
        for adapter in adapters:
            for problem in self._adapter_problems(adapter, seen):
                p.add(problem)
        p.raise_if_any()

    def _build_base(self, *, base_model: ModelSource, **options: Any) -> None:
        """The base model: a :class:`SageMakerLlmEndpoint` in INFERENCE_COMPONENT mode, and its parts as attributes."""
        hosting = HostingMode(
            kind=InferenceMode.INFERENCE_COMPONENT, inference_component_options=options.pop("base_component")
        )
        self.base = SageMakerLlmEndpoint(self, "Base", model=base_model, hosting=hosting, **options)
        base = self.base
        assert base.inference_component is not None and base.inference_component_name is not None
        self.endpoint_name = base.endpoint_name
        self.inference_component_name = base.inference_component_name
        self.base_component: sagemaker.CfnInferenceComponent = base.inference_component
        self.endpoint = base.endpoint
        self.model = base.model
        self.role = base.role
        self.policy = base.policy
        self.scalable_target = base.scalable_target
        self.alarms: list[cloudwatch.Alarm] = base.alarms
        self.encryption_key = base.encryption_key

    def _grant_adapter_store(self) -> None:
        """One fixed read grant on the adapter store's prefix, so adding an adapter never changes the role."""
        store = self.adapter_store
        if store is None:
            return
        for statement in store.model_source.read_statements():
            self.policy.add_statements(statement)
        acknowledge(
            self.policy,
            "AwsSolutions::AwsSolutions-IAM5[Resource::"
            f"{nag_resource(self, store.bucket.arn_for_objects(store.key_prefix + '*'))}]",
            "LoRA adapters are tarballs under the fleet's adapter store; read access is limited to "
            "exactly that prefix (one fixed grant, so adding an adapter never changes the role)",
        )

    def _build_adapter_stacks(self, count: int, *, sequential: bool) -> None:
        self.adapter_stacks: list[cdk.NestedStack] = []
        self._in_stack_scope: Construct | None = None
        if self.packaging is AdapterPackaging.INFERENCE_COMPONENTS:
            if count:
                for i in range(count):
                    of_endpoint = (
                        "" if cdk.Token.is_unresolved(self.endpoint_name) else f" of endpoint {self.endpoint_name}"
                    )
                    shard = cdk.NestedStack(
                        self,
                        f"AdapterStack{i}",
                        description=f"LoRA adapter components {i + 1}/{count}{of_endpoint}",
                    )
                    # Keeps every shard a valid template (and unchanged) whatever adapters it holds.
                    cdk.CfnWaitConditionHandle(shard, "Anchor")
                    if sequential and self.adapter_stacks:
                        shard.node.add_dependency(self.adapter_stacks[-1])
                    self.adapter_stacks.append(shard)
            else:
                self._in_stack_scope = Construct(self, "Components")
        self._handles = Construct(self, "Adapters")

    # ================================================================ adapters

    def add_adapter(
        self, name: str, artifact: str | None = None, *, rank: int | None = None
    ) -> LoraAdapterComponent | None:
        """Add one adapter (same rules as ``adapters``); returns its component (``None`` for MODEL_ARTIFACT).

        :param name: the adapter's name (SageMaker name rule).
        :param artifact: the adapter's ``.tar.gz`` under the adapter store. Default: ``"<name>/adapter.tar.gz"``.
        :param rank: its LoRA rank, checked against ``max_lora_rank`` (required for MODEL_ARTIFACT).
        """
        adapter = LoraAdapter(name=name, artifact=artifact, rank=rank)
        problems = self._adapter_problems(adapter, {n.lower() for n in self._adapters})
        if self.packaging is AdapterPackaging.INFERENCE_COMPONENTS and self.adapter_store is None:
            problems.insert(0, "add_adapter needs the fleet's adapter_store (the S3 folder its role may read)")
        if problems:
            raise PropsValidationError(f"LoraAdapterFleet.add_adapter at {self.node.path}", problems)
        return self._register(adapter)

    @property
    def adapters(self) -> tuple[LoraAdapter, ...]:
        """Every adapter, in the order added."""
        return tuple(self._adapters.values())

    @property
    def adapter_names(self) -> list[str]:
        """Adapter names, in the order added."""
        return list(self._adapters)

    @property
    def adapter_component_names(self) -> dict[str, str]:
        """Adapter name → inference component name to invoke (INFERENCE_COMPONENTS packaging)."""
        return {name: c.inference_component_name for name, c in self._components.items()}  # type: ignore[misc]

    def adapter(self, name: str) -> LoraAdapterComponent:
        """The adapter ``name`` (for ``SageMakerModelAlias.for_endpoint``, grants and metrics)."""
        if self.packaging is AdapterPackaging.MODEL_ARTIFACT:
            raise ValueError(
                f"adapter({name!r}): with MODEL_ARTIFACT packaging adapters have no inference component of their own; "
                "callers invoke the base component and name the adapter in the request body (LMI 'adapters' field)"
            )
        if name not in self._components:
            raise KeyError(f"no adapter {name!r} in this fleet; adapters: {', '.join(self._components) or 'none'}")
        return self._components[name]

    def adapter_stack_of(self, name: str) -> cdk.NestedStack | None:
        """The nested stack holding adapter ``name`` (``None`` when adapters stay in the fleet's stack)."""
        return self.adapter_stacks[shard_of(name, len(self.adapter_stacks))] if self.adapter_stacks else None

    def _adapter_problems(self, adapter: LoraAdapter, seen: set[str]) -> list[str]:
        if not isinstance(adapter, LoraAdapter):
            return [f"adapters must be LoraAdapter values, got {type(adapter).__name__}"]
        out = adapter_problems(
            adapter,
            packaging=self.packaging,
            prefix=self.component_name_prefix,
            store=self.adapter_store,
            lora=self.container.lora,
        )
        if isinstance(adapter.name, str):
            if adapter.name.lower() in seen:
                out.append(
                    f"adapter {adapter.name!r} appears more than once (names are case-insensitive); names must be unique"
                )
            seen.add(adapter.name.lower())
        return out

    def _register(self, adapter: LoraAdapter) -> LoraAdapterComponent | None:
        self._adapters[adapter.name] = adapter
        if self.packaging is AdapterPackaging.MODEL_ARTIFACT:
            return None
        assert self.adapter_store is not None
        scope = self.adapter_stack_of(adapter.name) or self._in_stack_scope
        assert scope is not None
        # The adapter's name is its construct ID (a deliberate exception to "IDs never from prop values"):
        # its logical ID then depends on nothing but that name, so other adapters never move.
        home = Construct(scope, adapter.name)
        full_name = component_name(self.component_name_prefix, adapter.name)
        url = artifact_url(adapter, self.adapter_store)
        Spec = sagemaker.CfnInferenceComponent
        resource = Spec(
            home,
            "Resource",
            inference_component_name=full_name,
            endpoint_name=self.endpoint.attr_endpoint_name,
            # An adapter component: the base component's copies serve it; no compute, copies or variant of its own.
            specification=Spec.InferenceComponentSpecificationProperty(
                base_inference_component_name=self.inference_component_name,
                container=Spec.InferenceComponentContainerSpecificationProperty(artifact_url=url),
            ),
        )
        resource.node.add_dependency(self.base_component)
        component = LoraAdapterComponent(
            self._handles,
            adapter.name,
            fleet=self,
            adapter=adapter,
            inference_component_name=full_name,
            resource=resource,
            artifact_url=url,
        )
        self._build_adapter_alarms(home, component)
        self._components[adapter.name] = component
        return component

    def _build_adapter_alarms(self, home: Construct, component: LoraAdapterComponent) -> None:
        """The adapter's optional 5XX alarm and, with scale to zero, its wake-up alarm (next to its component)."""
        name, full_name = component.name, component.inference_component_name
        options = self.adapter_alarm_options
        if options is not None:
            component.alarms.append(
                threshold_alarm(
                    home,
                    "ServerErrorsAlarm",
                    component.metric_server_errors(),
                    threshold=options.server_errors,
                    description=f"5XX errors of LoRA adapter {name} (component {full_name})",
                    topic=self.alarm_topic,
                )
            )
        if self.base.wake_up_action is not None:
            # A request to a scaled-to-zero fleet may be counted against the adapter's component rather than the
            # base's: every adapter's no-capacity failures wake the base copies too.
            component.alarms.append(
                wake_up_alarm(
                    home,
                    "WakeUpAlarm",
                    component.metric_no_capacity_failures(),
                    self.base.wake_up_action,
                    description=f"Wake-up: a request to LoRA adapter {name} found no base model copy (scale from zero)",
                )
            )

    # ================================================================== grants

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow invoking the base model and every adapter of this fleet, present and future.

        Adapter components are matched by the fleet's name prefix (``inference-component/<prefix>-*``), so the
        grant does not grow with the fleet; with an empty prefix the current adapters are listed. For one
        adapter use ``fleet.adapter(name).grant_invoke(grantee)``.
        """
        arns = [self.endpoint_arn, self.component_arn(self.inference_component_name or "")]
        if self.packaging is AdapterPackaging.INFERENCE_COMPONENTS:
            if self.component_name_prefix:
                arns.append(self.component_arn(f"{self.component_name_prefix}-*"))
            else:
                arns += [self.component_arn(c.inference_component_name or "") for c in self._components.values()]
        return iam.Grant.add_to_principal(grantee=grantee, actions=INVOKE_ACTIONS, resource_arns=arns)

    # ==================================================================== cost

    def estimate_hourly_cost(
        self,
        *,
        adapters: int | None = None,
        region: str | None = None,
        traffic: TrafficAssumption | None = None,
        price_per_hour: float | None = None,
    ) -> FleetCostEstimate:
        """Instances and USD per hour this fleet needs for ``adapters`` adapters (default: its own count).

        Uses this fleet's instance type, GPUs per copy and autoscaling target; see :mod:`.cost` for the model.
        ``region`` defaults to the stack's; a Region-agnostic stack is priced in us-east-1 (``DEFAULT_REGION``), and the
        result says so (``region_assumed=True``): pass ``region=`` for another.
        """
        options, assumed = self._cost_options(adapters, region, traffic)
        estimate = estimate_hourly_cost(**options, price_per_hour=price_per_hour)
        return dataclasses.replace(estimate, region_assumed=assumed)

    def compare_with_dedicated(
        self,
        *,
        adapters: int | None = None,
        region: str | None = None,
        traffic: TrafficAssumption | None = None,
        dedicated_instance_type: str = DEFAULT_DEDICATED_INSTANCE_TYPE,
        price_per_hour: float | None = None,
        dedicated_price_per_hour: float | None = None,
    ) -> CostComparison:
        """This fleet against one ``dedicated_instance_type`` endpoint per adapter, under the same traffic
        (Region as for :meth:`estimate_hourly_cost`)."""
        options, assumed = self._cost_options(adapters, region, traffic)
        comparison = compare_with_dedicated(
            **options,
            dedicated_instance_type=dedicated_instance_type,
            price_per_hour=price_per_hour,
            dedicated_price_per_hour=dedicated_price_per_hour,
        )
        return dataclasses.replace(comparison, fleet=dataclasses.replace(comparison.fleet, region_assumed=assumed))

    def _cost_options(
        self, adapters: int | None, region: str | None, traffic: TrafficAssumption | None
    ) -> tuple[dict[str, Any], bool]:
        assumed = False
        if region is None:
            region = cdk.Stack.of(self).region
            if cdk.Token.is_unresolved(region):
                region, assumed = DEFAULT_REGION, True
        target = self.autoscaling.target_concurrent_requests if self.autoscaling else None
        return {
            "adapters": adapters if adapters is not None else max(1, len(self._adapters)),
            "instance_type": self.instance_type,
            "region": region,
            "accelerators_per_copy": self.base_component_options.accelerators,
            "traffic": traffic or TrafficAssumption(target_concurrent_requests_per_copy=target or 5.0),
            "min_instances": self.instance_count,
        }, assumed

    # =============================================================== dashboard

    def metric_adapters(
        self,
        metric_name: str,
        statistic: str = "Sum",
        *,
        period: cdk.Duration | None = None,
        label: str | None = None,
    ) -> cloudwatch.MathExpression:
        """``metric_name`` of every adapter of this fleet, one line each (a CloudWatch SEARCH over the
        ``InferenceComponentName`` dimension, matched on the fleet's name prefix; dashboards only, alarms
        cannot use SEARCH). Default: ``statistic`` over 5 minutes."""
        period = period or cdk.Duration.minutes(5)
        prefix = f' "{self.component_name_prefix}"' if self.component_name_prefix else ""
        query = f'{{AWS/SageMaker,InferenceComponentName}} MetricName="{metric_name}"{prefix}'
        return cloudwatch.MathExpression(
            expression=f"SEARCH('{query}', '{statistic}', {int(period.to_seconds())})",
            using_metrics={},
            label=label or "",
            period=period,
        )

    def _dashboard(self) -> cloudwatch.Dashboard:
        base = self.base
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=cdk.Duration.hours(6))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Base model: invocations and 5XX",
                width=8,
                left=[base.metric_invocations(), base.metric_server_errors()],
            ),
            cloudwatch.GraphWidget(
                title="Base model: latency (p90, microseconds)", width=8, left=[base.metric_model_latency()]
            ),
            cloudwatch.GraphWidget(
                title="Base copies: concurrent requests per copy, no-capacity failures",
                width=8,
                left=[base.metric_concurrent_requests()],
                right=[base.metric_no_capacity_failures()],
            ),
        )
        if self.packaging is AdapterPackaging.INFERENCE_COMPONENTS:
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Invocations per adapter", width=8, left=[self.metric_adapters("Invocations")]
                ),
                cloudwatch.GraphWidget(
                    title="5XX errors per adapter", width=8, left=[self.metric_adapters("Invocation5XXErrors")]
                ),
                cloudwatch.GraphWidget(
                    title="Model latency per adapter (p90, microseconds)",
                    width=8,
                    left=[self.metric_adapters("ModelLatency", "p90")],
                ),
            )
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="GPU memory per copy (%)", width=12, left=[base.metric_gpu_memory_utilization()]
            ),
        ]
        if self.alarms:
            widgets.append(cloudwatch.AlarmStatusWidget(title="Base model alarms", width=12, alarms=list(self.alarms)))
        dashboard.add_widgets(*widgets)
        return dashboard

    # ============================================================== validation

    def _validate_fleet(
        self,
        p: ProblemCollector,
        *,
        base_model: ModelSource,
        adapters: Sequence[LoraAdapter],
        adapter_stacks: int,
        prefix_given: str | None,
    ) -> None:
        container, packaging = self.container, self.packaging
        if container.lora is None:
            p.add(
                "container has no LoRA options: use LlmContainer.lmi(lora=LoraOptions(...)) or "
                "LlmContainer.vllm(lora=LoraOptions(...))"
            )
        if packaging is AdapterPackaging.INFERENCE_COMPONENTS:
            p.check(
                container.kind in (ContainerKind.LMI, ContainerKind.VLLM),
                "adapter inference components need the LMI container (OPTION_ENABLE_LORA) or the vLLM DLC "
                f"(VLLM_ALLOW_RUNTIME_LORA_UPDATING), not {container.kind.name}",
            )
            p.check(
                not adapters or self.adapter_store is not None,
                "adapter_store is required for adapter inference components: the S3 folder holding the adapter "
                "artifacts, which the execution role may read",
            )
            p.check(
                isinstance(adapter_stacks, int) and 0 <= adapter_stacks <= MAX_ADAPTER_STACKS,
                f"adapter_stacks must be between 0 (adapters in this stack) and {MAX_ADAPTER_STACKS}, got {adapter_stacks!r}",
            )
        else:
            p.check(
                container.kind is ContainerKind.LMI,
                "MODEL_ARTIFACT packaging needs the LMI container, which loads adapters/<name>/ from the model "
                f"folder at start-up; {container.kind.name} does not",
            )
            p.check(
                base_model.kind is ModelSourceKind.S3_PREFIX,
                "MODEL_ARTIFACT packaging needs base_model=ModelSource.s3_prefix(...): the adapters live in its "
                "adapters/ sub-folder",
            )
            p.check(
                self.adapter_store is None,
                "adapter_store is not used with MODEL_ARTIFACT packaging (adapters are inside the model folder); remove it",
            )
            p.check(
                self.adapter_alarm_options is None,
                "adapter_alarms need adapter inference components; with MODEL_ARTIFACT use the base model alarms",
            )
            lora = container.lora
            if lora is not None and lora.max_cpu_loras is not None and len(adapters) > lora.max_cpu_loras:
                cdk.Annotations.of(self).add_warning_v2(
                    "cdk-llm-serving:static-adapters-above-cpu-cache",
                    f"{len(adapters)} adapters are packaged but LoraOptions.max_cpu_loras is {lora.max_cpu_loras}: "
                    "adapters beyond the host-memory cache are loaded again from disk when used",
                )
        if self.adapter_store is not None:
            for problem in self.adapter_store.problems():
                p.add(problem)
        if prefix_given:
            for problem in name_problems("component_name_prefix", prefix_given):
                p.add(problem)
            p.check(
                len(prefix_given) <= MAX_PREFIX,
                f"component_name_prefix must be at most {MAX_PREFIX} characters (adapter names share its 63), "
                f"got {len(prefix_given)}",
            )
        o = self.adapter_alarm_options
        p.check(
            o is None or o.server_errors >= 1,
            f"adapter_alarms.server_errors must be at least 1, got {o.server_errors if o else None}",
        )


@jsii.implements(IValidation)
class _StackCapacity:
    """At synth: every stack holding adapter components stays within CloudFormation's 500 resources."""

    def __init__(self, fleet: LoraAdapterFleet) -> None:
        self._fleet = fleet

    def validate(self) -> list[str]:
        fleet = self._fleet
        if fleet.packaging is AdapterPackaging.MODEL_ARTIFACT:
            return (
                []
                if fleet.adapter_names
                else [
                    "LoraAdapterFleet: MODEL_ARTIFACT packaging needs at least one adapter (declare what the model folder holds)"
                ]
            )
        stacks: list[cdk.Stack] = list(fleet.adapter_stacks) or [cdk.Stack.of(fleet)]
        counts = {s.node.path: 0 for s in stacks}
        for c in cdk.Stack.of(fleet).node.find_all():  # nested stacks are part of their parent's tree
            if isinstance(c, cdk.CfnResource) and cdk.Stack.of(c).node.path in counts:
                counts[cdk.Stack.of(c).node.path] += 1
        out = []
        for path, count in counts.items():
            if count > STACK_RESOURCE_LIMIT:
                advice = (
                    "raise adapter_stacks (choose it before the first deployment)"
                    if fleet.adapter_stacks
                    else "set adapter_stacks (e.g. 4) to spread the adapters over nested stacks"
                )
                out.append(
                    f"LoraAdapterFleet: stack {path} would hold {count} resources; CloudFormation allows "
                    f"{STACK_RESOURCE_LIMIT}: {advice}"
                )
        return out
