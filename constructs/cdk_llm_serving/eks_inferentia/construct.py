"""EksInferentiaCluster: EKS + Karpenter (Inferentia2 spot/on-demand) + Neuron + KServe serving vLLM.

Uses aws-cdk-lib's ``aws_eks_v2`` (stable since 2.240): native ``AWS::EKS::Cluster`` with access
entries, no nested stacks, and the kubectl handler only because Helm charts and manifests need it.
The v1 module would add its own outdated Neuron device plugin for inf2 node groups.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from .._errors import ProblemCollector
from .._nag import acknowledge
from .._types import typed_props
from .._vpc import select_subnets
from . import manifests as mf
from .data import (
    ComponentVersions,
    inf2_instances,
    inf2_prices,
    karpenter_minimums,
    kserve_modes,
    prices_as_of,
    version_matrix,
    version_tuple,
)
from .manifests import DEFAULT_INF2_NODE_POOLS, Inf2NodePool, ServingMode, VllmNeuronModel
from .rules import RULES, EksPlan, HelmRelease, SystemNodeGroup, knative_features_needed, predictor_pod_spec


@dataclass(frozen=True)
class _Chart:
    """One Helm release the cluster installs: construct ID, chart, repository, pinned version, namespace."""

    construct_id: str
    chart: str
    repository: str
    version: str
    namespace: str = "kube-system"
    skip_crds: bool = False
    wait: bool = True


_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")
_AMI_ALIAS = re.compile(r"^(al2023|bottlerocket)@(v\d{8}|v\d+\.\d+\.\d+|latest)$")
_AMI_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")

#: Karpenter's interruption events (karpenter-provider-aws getting-started cloudformation.yaml, v1.14.1).
INTERRUPTION_EVENTS: tuple[tuple[str, str, str], ...] = (
    ("ScheduledChange", "aws.health", "AWS Health Event"),
    ("SpotInterruption", "aws.ec2", "EC2 Spot Instance Interruption Warning"),
    ("Rebalance", "aws.ec2", "EC2 Instance Rebalance Recommendation"),
    ("InstanceStateChange", "aws.ec2", "EC2 Instance State-change Notification"),
    ("CapacityReservationInterruption", "aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning"),
)

#: AWS-managed policies of the Karpenter node role, with the reason each is acknowledged.
_NODE_POLICIES = {
    "AmazonEKSWorkerNodePolicy": "EKS worker nodes need the AWS-maintained node policy; it tracks EKS API changes",
    "AmazonEKS_CNI_Policy": "The VPC CNI on Karpenter nodes needs the AWS-maintained CNI policy to attach ENIs",
    "AmazonEC2ContainerRegistryPullOnly": "Nodes pull images from ECR; the AWS-managed pull-only policy is the narrowest managed option",
    "AmazonSSMManagedInstanceCore": "SSM Session Manager replaces SSH for node debugging; AWS-maintained policy",
}

#: How cdk-nag prints an AWS-managed policy in an IAM4 finding id.
_IAM4 = "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{}]"
_EC2 = "arn:<AWS::Partition>:ec2:<AWS::Region>"
#: Wildcard resources of the Karpenter controller policy (as cdk-nag prints them), with the reason for each.
_KARPENTER_WILDCARDS: tuple[tuple[str, str], ...] = (
    (
        "*",
        "Karpenter's read-only EC2 Describe*, pricing:GetProducts and iam:ListInstanceProfiles do not support "
        "resource-level permissions; limited by aws:RequestedRegion where AWS allows",
    ),
    (
        f"{_EC2}::image/*",
        "Karpenter launches from AMIs chosen by EC2NodeClass selectors at run time; upstream policy "
        "grants RunInstances on any image",
    ),
    (f"{_EC2}::snapshot/*", "Karpenter launches from AMI snapshots chosen at run time; upstream Karpenter policy"),
    (
        f"{_EC2}:*:security-group/*",
        "Security groups are selected by discovery tag at run time; upstream Karpenter policy",
    ),
    (f"{_EC2}:*:subnet/*", "Subnets are selected by discovery tag at run time; upstream Karpenter policy"),
    (f"{_EC2}:*:capacity-reservation/*", "Capacity reservations are selected at run time; upstream Karpenter policy"),
    (f"{_EC2}:*:placement-group/*", "Placement groups are selected at run time; upstream Karpenter policy"),
    (
        f"{_EC2}:*:launch-template/*",
        "Launch templates Karpenter creates; scoped by the cluster and karpenter.sh/nodepool tag conditions",
    ),
    (f"{_EC2}:*:fleet/*", "Fleets Karpenter creates; scoped by the cluster-owned request tag conditions"),
    (f"{_EC2}:*:instance/*", "Instances Karpenter launches and terminates; scoped by cluster-owned tag conditions"),
    (f"{_EC2}:*:volume/*", "Volumes created with Karpenter instances; scoped by cluster-owned request tag conditions"),
    (
        f"{_EC2}:*:network-interface/*",
        "ENIs created with Karpenter instances; scoped by cluster-owned request tag conditions",
    ),
    (
        f"{_EC2}:*:spot-instances-request/*",
        "Spot requests created by Karpenter; scoped by cluster-owned request tag conditions",
    ),
    (
        "arn:<AWS::Partition>:iam::<AWS::AccountId>:instance-profile/*",
        "Karpenter names the instance profiles it creates; scoped by cluster and EC2NodeClass tag conditions",
    ),
    (
        "arn:<AWS::Partition>:ssm:<AWS::Region>::parameter/aws/service/*",
        "Public AWS SSM parameters resolve EKS AMI ids; read-only",
    ),
)


@dataclass(frozen=True, kw_only=True)
class CostCeiling:
    """Worst-case inf2 spend when every inf2 NodePool runs at its Neuron-device limit (on-demand prices)."""

    region: str
    """Region of the prices."""
    prices_as_of: str
    """Date of the price table (``eks_inferentia/data/inf2_prices.json``)."""
    per_pool_usd_per_hour: dict[str, float]
    """NodePool name -> its worst-case USD per hour."""
    usd_per_hour: float
    """All inf2 NodePools together, USD per hour."""
    usd_per_month: float
    """``usd_per_hour`` x ``hours_per_month`` (730 unless given)."""


class EksInferentiaCluster(Construct):
    """An EKS cluster that serves an LLM with vLLM on Inferentia2 through KServe, with Karpenter-provisioned nodes.

    Everything installed is pinned by the version matrix row of ``kubernetes_version``. Before anything
    is added to the cluster, what it installs (``plan``: node group, Helm values, manifests, model) is
    checked against the upstream rules of :mod:`cdk_llm_serving.eks_inferentia.rules` (EKS AMI types,
    Knative's PodSpec field mask, Neuron scheduler mode, Helm values keys, system node CPU, Karpenter and
    Neuron placement, vLLM on Neuron) and every problem is raised together.
    """

    @typed_props
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster_name: str = "llm-inferentia",
        kubernetes_version: str = "1.34",
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        admin_role: iam.IRole | None = None,
        system_node_instance_type: str = "m7i.xlarge",
        system_node_count: int = 2,
        inf2_node_pools: Sequence[Inf2NodePool] = DEFAULT_INF2_NODE_POOLS,
        general_pool_cpu_limit: int = 64,
        ami_alias: str = "al2023@v20260801",
        custom_ami_id: str | None = None,
        root_volume_gib: int = 200,
        serving_mode: ServingMode = ServingMode.KNATIVE,
        model: VllmNeuronModel | None = None,
        model_bucket: s3.IBucket | None = None,
    ) -> None:
        """
        :param cluster_name: EKS cluster name (1-100 letters, digits, hyphens, underscores); literal because
            Karpenter's IAM condition keys contain it. Default: "llm-inferentia"
        :param kubernetes_version: a Kubernetes minor version of the version matrix, as a string: "1.33" or "1.34".
            It pins every chart, the kubectl layer and the Neuron custom scheduler image. Default: "1.34"
        :param vpc: VPC of the cluster; its subnets need egress to the chart and image registries (NAT).
            Default: - a new 2-AZ VPC with one NAT gateway and KMS-encrypted flow logs
        :param vpc_subnets: subnets of the cluster, the system node group and the Karpenter nodes, at least two in
            two Availability Zones (they get the tag ``karpenter.sh/discovery=<cluster_name>`` that the
            EC2NodeClasses select; tag them yourself if the VPC is imported).
            Default: - the VPC's private subnets with egress
        :param admin_role: role given cluster-admin through an access entry.
            Default: - none (grant later with ``cluster.grant_cluster_admin``)
        :param system_node_instance_type: EC2 instance type of the managed node group (AL2023 AMI) for the
            controllers (Karpenter, KServe, cert-manager, Knative, Kourier); their CPU requests are checked against
            its allocatable CPU. Default: "m7i.xlarge"
        :param system_node_count: nodes in the system node group (at least 2 for Karpenter's replicas). Default: 2
        :param inf2_node_pools: Inferentia2 NodePools (spot ones weighted above on-demand ones).
            Default: - ``DEFAULT_INF2_NODE_POOLS``: inf2-spot (weight 100, 4 devices) and inf2-on-demand
            (weight 10, 2 devices), both inf2.xlarge/inf2.8xlarge
        :param general_pool_cpu_limit: vCPU limit of the general-purpose (c/m/r, generation > 5) NodePool.
            Default: 64
        :param ami_alias: pinned EC2NodeClass AMI alias (``al2023@vYYYYMMDD``, never ``@latest``); Karpenter picks
            the AL2023 Neuron variant for inf2. Default: "al2023@v20260801"
        :param custom_ami_id: a pre-baked AMI (e.g. with the vLLM image cached) for the Neuron EC2NodeClass instead
            of the alias. Default: - none (the alias)
        :param root_volume_gib: encrypted gp3 root volume of Karpenter nodes, 30-16384 GiB (Neuron images are 10+
            GB). Default: 200
        :param serving_mode: KServe deployment mode. Default: ``ServingMode.KNATIVE`` (scale to zero)
        :param model: the model to serve.
            Default: - ``VllmNeuronModel()`` (TinyLlama-1.1B-Chat, TP 2 on one inf2 device)
        :param model_bucket: bucket holding the weights under ``model.model_s3_prefix``.
            Default: - a new KMS-encrypted, versioned bucket with access logs
        """
        super().__init__(scope, construct_id)
        model = model or VllmNeuronModel()
        pools = tuple(inf2_node_pools)
        self._validate(
            dict(
                cluster_name=cluster_name,
                kubernetes_version=kubernetes_version,
                vpc=vpc,
                vpc_subnets=vpc_subnets,
                system_node_count=system_node_count,
                general_pool_cpu_limit=general_pool_cpu_limit,
                root_volume_gib=root_volume_gib,
                ami_alias=ami_alias,
                custom_ami_id=custom_ami_id,
                inf2_node_pools=pools,
                model=model,
            )
        )
        layer_cls = self._resolve_versions(kubernetes_version)
        self._modes = kserve_modes(self.versions.kserve)
        self.serving_mode = serving_mode
        self.mode_name = self._modes["knative" if serving_mode is ServingMode.KNATIVE else "raw"]
        self.model = model
        self.inf2_node_pools = pools
        self.cluster_name = cluster_name

        self._build_vpc(vpc, vpc_subnets)
        self._build_cluster(kubernetes_version, layer_cls, system_node_instance_type, system_node_count, admin_role)
        self._build_karpenter_node_role()
        self._build_interruption_handling()
        self._build_karpenter_controller()
        self._build_model_bucket(model_bucket)
        self._build_plan(
            kubernetes_version=kubernetes_version,
            system_node_instance_type=system_node_instance_type,
            system_node_count=system_node_count,
            ami_alias=ami_alias,
            custom_ami_id=custom_ami_id,
            root_volume_gib=root_volume_gib,
            general_pool_cpu_limit=general_pool_cpu_limit,
        )
        self._check_plan()
        self._build_helm_releases()
        self._build_node_pools()
        self._build_model_serving()
        self._acknowledge_cdk_internals()

    # ------------------------------------------------------------------ validation

    def _validate(self, props: Mapping[str, Any]) -> None:
        """Plain props checks (names, ranges), all reported at once; the upstream rules run later on the plan."""
        problems = ProblemCollector.for_construct(self)
        for problem in props_problems(props):
            problems.add(problem)
        problems.raise_if_any()

    def _resolve_versions(self, kubernetes_version: str) -> type:
        """The matrix row of ``kubernetes_version`` (``self.versions``) and its kubectl layer class."""
        self.versions: ComponentVersions = version_matrix()[kubernetes_version]
        v = self.versions
        minimum = karpenter_minimums().get(kubernetes_version)
        problems = ProblemCollector.for_construct(self)
        if minimum and version_tuple(v.karpenter) < version_tuple(minimum):
            problems.add(
                f"version matrix: Karpenter {v.karpenter} does not support Kubernetes {kubernetes_version} "
                f"(needs >= {minimum})"
            )
        layer_cls: type | None = None
        try:
            layer_cls = getattr(importlib.import_module(v.kubectl_layer.module), v.kubectl_layer.class_name)
        except ImportError:
            problems.add(
                f"Kubernetes {kubernetes_version} needs the kubectl layer package: "
                f"pip install '{v.kubectl_layer.pypi}=={v.kubectl_layer.version}'"
            )
        problems.raise_if_any()
        assert layer_cls is not None
        return layer_cls

    # ------------------------------------------------------------------ network + cluster

    def _build_vpc(self, vpc: ec2.IVpc | None, vpc_subnets: ec2.SubnetSelection | None) -> None:
        self.log_key = kms.Key(
            self,
            "LogKey",
            enable_key_rotation=True,
            description="Encrypts the VPC flow logs and the kubectl provider's Lambda logs",
        )
        self.log_key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com"))
        self.vpc = vpc if vpc is not None else self._new_vpc()
        self.subnets = select_subnets(self.vpc, vpc_subnets)
        """The subnets of the cluster, the system node group and the Karpenter nodes."""
        for subnet in self.subnets.subnets:
            cdk.Tags.of(subnet).add("karpenter.sh/discovery", self.cluster_name)

    def _new_vpc(self) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19),
            ],
        )
        flow_log = vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogGroup", retention=logs.RetentionDays.ONE_MONTH, encryption_key=self.log_key)
            ),
        )
        acknowledge(
            flow_log,
            "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
            "CDK-generated flow-log delivery role; its inline policy only writes to this VPC's flow-log group",
        )
        for subnet in vpc.public_subnets:
            acknowledge(
                subnet,
                "NIST.800.53.R5::NIST.800.53.R5-VPCSubnetAutoAssignPublicIpDisabled",
                "Public subnets hold only the NAT gateway; nodes and the cluster endpoint are in private subnets",
            )
            acknowledge(
                subnet,
                "NIST.800.53.R5::NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW",
                "The public subnets' route to the internet gateway is what lets the NAT gateway reach chart "
                "and image registries",
            )
        acknowledge(
            vpc,
            "NIST.800.53.R5::NIST.800.53.R5-VPCDefaultSecurityGroupClosed",
            "Nothing in this VPC uses the default security group; cluster and nodes get their own groups",
        )
        return vpc

    def _build_cluster(
        self,
        kubernetes_version: str,
        layer_cls: type,
        system_node_instance_type: str,
        system_node_count: int,
        admin_role: iam.IRole | None,
    ) -> None:
        private = ec2.SubnetSelection(subnets=self.subnets.subnets)
        self.secrets_key = kms.Key(
            self,
            "SecretsKey",
            enable_key_rotation=True,
            description=f"Envelope encryption of Kubernetes secrets in {self.cluster_name}",
        )
        self.kubectl_layer = layer_cls(self, "KubectlLayer")
        self.cluster = eks.Cluster(
            self,
            "Cluster",
            cluster_name=self.cluster_name,
            version=eks.KubernetesVersion.of(kubernetes_version),
            vpc=self.vpc,
            vpc_subnets=[private],
            default_capacity_type=eks.DefaultCapacityType.NODEGROUP,  # not Auto Mode: we run our own Karpenter
            default_capacity=0,
            endpoint_access=eks.EndpointAccess.PRIVATE,
            secrets_encryption_key=self.secrets_key,
            cluster_logging=list(eks.ClusterLoggingTypes),
            kubectl_provider_options=eks.KubectlProviderOptions(kubectl_layer=self.kubectl_layer),
        )
        system_instance = ec2.InstanceType(system_node_instance_type)
        # Explicit AL2023: without @aws-cdk/aws-eks:defaultToAL2023, CDK picks AL2, which EKS rejects from
        # Kubernetes 1.33 on.
        arm = system_instance.architecture is ec2.InstanceArchitecture.ARM_64
        self.system_node_ami_type = (
            eks.NodegroupAmiType.AL2023_ARM_64_STANDARD if arm else eks.NodegroupAmiType.AL2023_X86_64_STANDARD
        )
        self.system_nodes = self.cluster.add_nodegroup_capacity(
            "SystemNodes",
            instance_types=[system_instance],
            ami_type=self.system_node_ami_type,
            min_size=system_node_count,
            desired_size=system_node_count,
            max_size=system_node_count + 1,
            subnets=private,
            labels={"llm.aws/role": "system"},
        )
        if admin_role is not None:
            self.cluster.grant_cluster_admin("AdminAccess", admin_role.role_arn)

    # ------------------------------------------------------------------ Karpenter IAM + interruption

    def _build_karpenter_node_role(self) -> None:
        self.node_role = iam.Role(
            self,
            "KarpenterNodeRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(n) for n in _NODE_POLICIES],
        )
        for name, reason in _NODE_POLICIES.items():
            acknowledge(self.node_role, _IAM4.format(name), reason)
        eks.AccessEntry(
            self,
            "KarpenterNodeAccess",
            cluster=self.cluster,  # type: ignore[arg-type]  # jsii gap: Cluster lacks ICluster's optional kubectlProviderOptions (cluster.d.ts)
            principal=self.node_role.role_arn,
            access_entry_type=eks.AccessEntryType.EC2_LINUX,
            access_policies=[],
        )

    def _build_interruption_handling(self) -> None:
        self.interruption_queue = sqs.Queue(
            self,
            "InterruptionQueue",
            retention_period=cdk.Duration.minutes(5),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        acknowledge(
            self.interruption_queue,
            "AwsSolutions::AwsSolutions-SQS3",
            "Karpenter consumes and deletes interruption events itself; events older than 5 minutes are stale, "
            "so a DLQ would only hold noise",
        )
        acknowledge(
            self.interruption_queue,
            "NIST.800.53.R5::NIST.800.53.R5-SQSQueueSSE",
            "Encrypted with SQS-managed SSE: EventBridge can deliver to it without a customer key policy",
        )
        self.interruption_rules: dict[str, events.Rule] = {}
        for rid, source, detail_type in INTERRUPTION_EVENTS:
            rule = events.Rule(
                self,
                f"{rid}Rule",
                event_pattern=events.EventPattern(source=[source], detail_type=[detail_type]),
                description=f"Karpenter interruption handling: {detail_type}",
            )
            rule.add_target(targets.SqsQueue(self.interruption_queue))
            self.interruption_rules[rid] = rule

    def _build_karpenter_controller(self) -> None:
        self.karpenter_service_account = self.cluster.add_service_account(
            "KarpenterServiceAccount",
            name="karpenter",
            namespace="kube-system",
            identity_type=eks.IdentityType.POD_IDENTITY,
        )
        self.karpenter_role = self.karpenter_service_account.role
        self.karpenter_policy = iam.ManagedPolicy(
            self,
            "KarpenterControllerPolicy",
            description=f"Karpenter v1 controller of EKS cluster {self.cluster_name}",
            statements=_karpenter_statements(
                cdk.Stack.of(self),
                self.cluster_name,
                self.cluster.cluster_arn,
                self.node_role.role_arn,
                self.interruption_queue.queue_arn,
            ),
        )
        self.karpenter_role.add_managed_policy(self.karpenter_policy)
        self._acknowledge_karpenter_policy()

    # ------------------------------------------------------------------ what gets installed (plain data, checked first)

    def _build_model_bucket(self, model_bucket: s3.IBucket | None) -> None:
        self.model_bucket = model_bucket if model_bucket is not None else self._create_model_bucket()
        self.storage_uri = f"s3://{self.model_bucket.bucket_name}/{self.model.model_s3_prefix}"

    def _build_plan(
        self,
        *,
        kubernetes_version: str,
        system_node_instance_type: str,
        system_node_count: int,
        ami_alias: str,
        custom_ami_id: str | None,
        root_volume_gib: int,
        general_pool_cpu_limit: int,
    ) -> None:
        # Several devices per replica need the Neuron scheduler extension for connected-device placement. Its
        # default-scheduler mode configures a self-managed control plane's kube-scheduler, which EKS does not have:
        # use the chart's custom kube-scheduler.
        needs_scheduler = self.model.neuron_devices > 1
        self.inference_service_manifest = mf.inference_service(
            model=self.model,
            mode=self.serving_mode,
            mode_name=self.mode_name,
            storage_uri=self.storage_uri,
            region=cdk.Stack.of(self).region,
            scheduler_name=mf.NEURON_CUSTOM_SCHEDULER_DEFAULT_NAME if needs_scheduler else None,
        )
        self.helm_values: dict[str, dict[str, Any]] = self._helm_values(needs_scheduler)
        self.knative_serving_manifests = (
            mf.knative_serving(
                self.versions.knative_serving,
                features=knative_features_needed(
                    predictor_pod_spec(self.inference_service_manifest["spec"]["predictor"])
                ),
            )
            if self.serving_mode is ServingMode.KNATIVE
            else []
        )
        role_name = self.node_role.role_name
        self.ec2_node_class_manifests = [
            mf.ec2_node_class(
                name=mf.NEURON_NODE_CLASS,
                role_name=role_name,
                cluster_name=self.cluster_name,
                ami_alias=ami_alias,
                ami_id=custom_ami_id,
                root_volume_gib=root_volume_gib,
            ),
            mf.ec2_node_class(
                name=mf.GENERAL_NODE_CLASS,
                role_name=role_name,
                cluster_name=self.cluster_name,
                ami_alias=ami_alias,
                ami_id=None,
                root_volume_gib=min(root_volume_gib, 100),
            ),
        ]
        self.node_pool_manifests = [mf.inf2_node_pool(p) for p in self.inf2_node_pools] + [
            mf.general_node_pool(general_pool_cpu_limit)
        ]
        system_nodes = self.system_nodes.node.default_child
        assert isinstance(system_nodes, eks.CfnNodegroup)
        assert system_nodes.ami_type is not None  # always set: ami_type=self.system_node_ami_type above
        self.plan = EksPlan(
            kubernetes_version=kubernetes_version,
            system_nodes=SystemNodeGroup(
                instance_type=system_node_instance_type,
                node_count=system_node_count,
                ami_type=system_nodes.ami_type,
            ),  # the CloudFormation value
            helm_releases=tuple(
                HelmRelease(chart=c.chart, version=c.version, values=self.helm_values.get(c.chart))
                for c in self._charts()
            ),
            manifests=(
                *self.ec2_node_class_manifests,
                *self.node_pool_manifests,
                self.inference_service_manifest,
                *(m for m in self.knative_serving_manifests if m["kind"] == "KnativeServing"),
            ),
            knative_mode_name=self._modes["knative"],
            model=self.model,
            subnet_availability_zones=tuple(s.availability_zone for s in self.subnets.subnets),
        )
        """What this cluster installs, as plain data: the subject of the upstream rules in :mod:`.rules`."""

    def _helm_values(self, needs_scheduler: bool) -> dict[str, dict[str, Any]]:
        scheduler_image, _, scheduler_tag = self.versions.neuron_custom_scheduler_image.rpartition(":")
        knative = self.serving_mode is ServingMode.KNATIVE
        return {
            "karpenter": {
                "settings": {"clusterName": self.cluster_name, "interruptionQueue": self.interruption_queue.queue_name},
                "serviceAccount": {"create": False, "name": "karpenter"},
                "controller": {
                    "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
                },
            },
            "neuron-helm-chart": {
                # The device plugin has no switch in chart 1.1.2: it is always installed.
                "scheduler": (
                    {
                        "enabled": True,
                        "defaultScheduler": {"enabled": False},
                        "customScheduler": {
                            "enabled": True,
                            "image": {"repository": scheduler_image, "tag": scheduler_tag},
                        },
                    }
                    if needs_scheduler
                    else {"enabled": False}
                ),
                # Monitor only: node recovery acts through an Auto Scaling group, which Karpenter nodes do not have.
                "npd": {"enabled": True, "nodeRecovery": {"enabled": False}},
            },
            "cert-manager": {"crds": {"enabled": True}},
            self._modes["controller_chart"]: {
                "kserve": {
                    "controller": {
                        "deploymentMode": self.mode_name,
                        **({"gateway": {"disableIstioVirtualHost": True}} if knative else {}),  # Kourier, not Istio
                    }
                }
            },
        }

    def _charts(self) -> list[_Chart]:
        """Every Helm release, in install order (the KServe controller last: it needs Knative's CRD in Knative mode)."""
        v, controller = self.versions, self._modes["controller_chart"]
        ecr, kserve = "oci://public.ecr.aws", "oci://ghcr.io/kserve/charts"
        knative = _Chart(
            "KnativeOperatorChart",
            "knative-operator",
            "https://knative.github.io/operator",
            v.knative_operator,
            "knative-operator",
        )
        return [
            _Chart("KarpenterCrdChart", "karpenter-crd", f"{ecr}/karpenter/karpenter-crd", v.karpenter),
            _Chart("KarpenterChart", "karpenter", f"{ecr}/karpenter/karpenter", v.karpenter, skip_crds=True),
            _Chart("NeuronChart", "neuron-helm-chart", f"{ecr}/neuron/neuron-helm-chart", v.neuron_chart, wait=False),
            _Chart("CertManagerChart", "cert-manager", "https://charts.jetstack.io", v.cert_manager, "cert-manager"),
            _Chart("KServeCrdChart", "kserve-crd", f"{kserve}/kserve-crd", v.kserve, "kserve"),
            *([knative] if self.serving_mode is ServingMode.KNATIVE else []),
            _Chart("KServeChart", controller, f"{kserve}/{controller}", v.kserve, "kserve"),
        ]

    def _check_plan(self) -> None:
        """The upstream rules of :mod:`.rules` on what the cluster is about to install, all reported at once."""
        problems = ProblemCollector.for_construct(self)
        for problem in RULES.problems(self.plan):
            problems.add(problem)
        problems.raise_if_any()

    # ------------------------------------------------------------------ Helm releases, in order

    def _build_helm_releases(self) -> None:
        """The Helm releases of :meth:`_charts`, in order, each waiting for what it needs (15 minutes at most)."""
        charts: dict[str, eks.HelmChart] = {}
        for c in self._charts():
            charts[c.construct_id] = self.cluster.add_helm_chart(
                c.construct_id,
                chart=c.chart,
                repository=c.repository,
                version=c.version,
                namespace=c.namespace,  # created if missing (HelmChart's createNamespace defaults to true)
                skip_crds=c.skip_crds,
                wait=c.wait,
                timeout=cdk.Duration.minutes(15),
                values=self.helm_values.get(c.chart),
            )
        self.karpenter_crd_chart = charts["KarpenterCrdChart"]
        self.karpenter_chart = charts["KarpenterChart"]
        self.neuron_chart = charts["NeuronChart"]
        self.cert_manager_chart = charts["CertManagerChart"]
        self.kserve_crd_chart = charts["KServeCrdChart"]
        self.kserve_chart = charts["KServeChart"]
        self.karpenter_chart.node.add_dependency(
            self.karpenter_crd_chart, self.karpenter_service_account, self.system_nodes
        )
        for chart in (self.neuron_chart, self.cert_manager_chart):
            chart.node.add_dependency(self.system_nodes)
        self.kserve_crd_chart.node.add_dependency(self.cert_manager_chart)
        self._build_knative(charts.get("KnativeOperatorChart"))
        self.kserve_chart.node.add_dependency(
            self.kserve_crd_chart, *([self.knative_service_crd] if self.knative_service_crd else [])
        )

    def _build_knative(self, operator_chart: eks.HelmChart | None) -> None:
        """Knative mode (``operator_chart`` given): the KnativeServing CR, and a wait until the Knative Service CRD exists."""
        self.knative_operator_chart: eks.HelmChart | None = operator_chart
        self.knative_serving: eks.KubernetesManifest | None = None
        self.knative_service_crd: eks.KubernetesObjectValue | None = None
        if operator_chart is None:
            return
        operator_chart.node.add_dependency(self.system_nodes)
        self.knative_serving = self.cluster.add_manifest("KnativeServing", *self.knative_serving_manifests)
        self.knative_serving.node.add_dependency(operator_chart)
        # The KnativeServing CR only asks the operator to install Serving. KServe's controller looks for the Knative
        # Service CRD when it starts (controller.go SetupWithManager) and rejects InferenceServices for good if it is
        # missing, so wait until the CRD is Established: the reason InitialNamesAccepted is set only with status True
        # (apiextensions establishing controller).
        self.knative_service_crd = eks.KubernetesObjectValue(
            self,
            "KnativeServiceCrd",
            cluster=self.cluster,  # type: ignore[arg-type]  # jsii gap: Cluster lacks ICluster's optional kubectlProviderOptions (cluster.d.ts)
            object_type="customresourcedefinition",
            object_name="services.serving.knative.dev",
            json_path='.status.conditions[?(@.reason=="InitialNamesAccepted")].status',
            timeout=cdk.Duration.minutes(10),
        )
        self.knative_service_crd.node.add_dependency(self.knative_serving)

    # ------------------------------------------------------------------ Karpenter node classes and pools

    def _build_node_pools(self) -> None:
        self.node_classes = self.cluster.add_manifest("KarpenterNodeClasses", *self.ec2_node_class_manifests)
        self.node_classes.node.add_dependency(self.karpenter_chart)
        self.node_pools = self.cluster.add_manifest("KarpenterNodePools", *self.node_pool_manifests)
        self.node_pools.node.add_dependency(self.node_classes)

    # ------------------------------------------------------------------ model serving

    def _build_model_serving(self) -> None:
        cluster, bucket, prefix = self.cluster, self.model_bucket, self.model.model_s3_prefix
        self.serving_namespace = cluster.add_manifest(
            "ServingNamespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": mf.SERVING_NAMESPACE}}
        )
        self.model_service_account = cluster.add_service_account(
            "ModelServiceAccount",
            name=mf.MODEL_SERVICE_ACCOUNT,
            namespace=mf.SERVING_NAMESPACE,
            identity_type=eks.IdentityType.POD_IDENTITY,
        )
        self.model_service_account.node.add_dependency(self.serving_namespace)
        read = [
            iam.PolicyStatement(
                sid="ReadModelWeights", actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}*")]
            ),
            iam.PolicyStatement(
                sid="ListModelWeights",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            ),
        ]
        if bucket.encryption_key is not None:
            read.append(
                iam.PolicyStatement(
                    sid="DecryptModelWeights", actions=["kms:Decrypt"], resources=[bucket.encryption_key.key_arn]
                )
            )
        self.model_read_policy = iam.ManagedPolicy(
            self, "ModelReadPolicy", description="Read the served model's weights", statements=read
        )
        self.model_service_account.role.add_managed_policy(self.model_read_policy)
        if isinstance(bucket, s3.Bucket):
            cfn_bucket = bucket.node.default_child
            assert isinstance(cfn_bucket, s3.CfnBucket)
            bucket_id = cdk.Stack.of(self).get_logical_id(cfn_bucket)
            finding = f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}*]"
        else:
            finding = "AwsSolutions::AwsSolutions-IAM5"
        acknowledge(
            self.model_read_policy,
            finding,
            "The storage initializer downloads every file of the model, and only files under the model's key prefix",
        )
        self.inference_service = cluster.add_manifest("InferenceService", self.inference_service_manifest)
        self.inference_service.node.add_dependency(
            self.kserve_chart, self.node_pools, self.neuron_chart, self.model_service_account
        )

    # ------------------------------------------------------------------ public API

    @property
    def helm_charts(self) -> list[eks.HelmChart]:
        """Every Helm release, in install order."""
        charts = [
            self.karpenter_crd_chart,
            self.karpenter_chart,
            self.neuron_chart,
            self.cert_manager_chart,
            self.kserve_crd_chart,
        ]
        if self.knative_operator_chart is not None:
            charts.append(self.knative_operator_chart)
        return [*charts, self.kserve_chart]

    def cost_ceiling(self, *, region: str = "us-east-1", hours_per_month: float = 730) -> CostCeiling:
        """Worst-case inf2 cost when every inf2 NodePool is at its Neuron-device limit, from the dated price table.

        Excludes the EKS control plane, the system node group, the general pool, NAT and storage.
        Raises ``KeyError`` for a region without prices.
        """
        per_pool = mf.cost_ceiling_per_hour(self.inf2_node_pools, inf2_prices(region))
        hourly = round(sum(per_pool.values()), 4)
        return CostCeiling(
            region=region,
            prices_as_of=prices_as_of(),
            per_pool_usd_per_hour=per_pool,
            usd_per_hour=hourly,
            usd_per_month=round(hourly * hours_per_month, 2),
        )

    def grant_upload(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` upload the model's weights: ``s3:PutObject`` (and the bucket's ``grant_put`` companions,
        with encrypt on its KMS key) on ``<model_bucket>/<model.model_s3_prefix>*`` only."""
        return self.model_bucket.grant_put(grantee, f"{self.model.model_s3_prefix}*")

    # ------------------------------------------------------------------ metrics
    # Only metrics that exist without extra agents: SQS's for the interruption queue (AWS/SQS), EventBridge's for the
    # interruption rules (AWS/Events) and the control-plane metrics EKS vends for clusters on Kubernetes 1.28 and later
    # (AWS/EKS, dimension ClusterName; EKS User Guide "Monitor cluster data with Amazon CloudWatch"; names as in
    # aws-cdk-lib 2.275 aws-eks-v2/lib/eks-canned-metrics.generated.d.ts). Node and pod metrics need Container Insights.

    def metric_interruption_queue_depth(self, **options: Any) -> cloudwatch.Metric:
        """Interruption events waiting for Karpenter (``AWS/SQS`` ``ApproximateNumberOfMessagesVisible``).

        Karpenter receives and deletes each event within seconds; a queue that keeps growing means the controller
        is not running or cannot read the queue, so spot interruption warnings and rebalance recommendations go
        unanswered. Default: maximum over 5 minutes.
        """
        return self.interruption_queue.metric_approximate_number_of_messages_visible(**options)

    def metric_interruption_queue_oldest_event_age(self, **options: Any) -> cloudwatch.Metric:
        """Seconds the oldest interruption event has waited (``AWS/SQS`` ``ApproximateAgeOfOldestMessage``); the
        queue keeps events 5 minutes, a spot warning gives 2. Default: maximum over 5 minutes."""
        return self.interruption_queue.metric_approximate_age_of_oldest_message(**options)

    def metric_interruption_events(self, event: str, **options: Any) -> cloudwatch.Metric:
        """How often the interruption rule for ``event`` matched (``AWS/Events`` ``TriggeredRules``), for any instance
        in the account and Region. ``event`` is an id of :data:`INTERRUPTION_EVENTS`: ``ScheduledChange``,
        ``SpotInterruption``, ``Rebalance``, ``InstanceStateChange`` or ``CapacityReservationInterruption``.
        Default: sum over 5 minutes.
        """
        return self._rule_metric("TriggeredRules", self._interruption_rule(event), options)

    def metric_interruption_delivery_failures(self) -> cloudwatch.MathExpression:
        """Interruption events EventBridge failed to deliver to the queue, all rules together (``AWS/Events``
        ``FailedInvocations``, sent only when not zero, so missing data counts as 0), in 5 minutes."""
        metrics = {
            f"r{i}": self._rule_metric("FailedInvocations", rule, {})
            for i, rule in enumerate(self.interruption_rules.values())
        }
        return cloudwatch.MathExpression(
            expression=" + ".join(f"FILL({m}, 0)" for m in metrics),
            using_metrics=metrics,
            label="Interruption events not delivered to Karpenter's queue",
            period=cdk.Duration.minutes(5),
        )

    def metric(self, metric_name: str, **options: Any) -> cloudwatch.Metric:
        """A control-plane metric EKS publishes for this cluster (``AWS/EKS``, dimension ``ClusterName``), e.g.
        ``apiserver_request_total_429``. Default: sum (their valid statistic) over 1 minute (their frequency)."""
        options.setdefault("statistic", "Sum")
        options.setdefault("period", cdk.Duration.minutes(1))
        return cloudwatch.Metric(
            namespace="AWS/EKS", metric_name=metric_name, dimensions_map={"ClusterName": self.cluster_name}, **options
        )

    def metric_pending_pods(self, **options: Any) -> cloudwatch.Metric:
        """Pods waiting in the EKS kube-scheduler's queues (``scheduler_pending_pods``). Default: sum over 1 minute
        (the count at that minute)."""
        return self.metric("scheduler_pending_pods", **options)

    def metric_unschedulable_pods(self, **options: Any) -> cloudwatch.Metric:
        """Pods the EKS kube-scheduler found no node for (``scheduler_pending_pods_UNSCHEDULABLE``): Karpenter
        launches nodes for them, so a count that stays above 0 means inf2 capacity, a NodePool limit or an EC2 quota
        stops it. Replicas with several Neuron devices are placed by the Neuron custom scheduler and are not
        counted. Default: sum over 1 minute (the count at that minute)."""
        return self.metric("scheduler_pending_pods_UNSCHEDULABLE", **options)

    def metric_api_server_errors(self, **options: Any) -> cloudwatch.Metric:
        """API server requests answered with HTTP 5XX (``apiserver_request_total_5XX``). Default: sum over 5
        minutes."""
        options.setdefault("period", cdk.Duration.minutes(5))
        return self.metric("apiserver_request_total_5XX", **options)

    def _interruption_rule(self, event: str) -> events.Rule:
        if event not in self.interruption_rules:
            raise KeyError(f"no interruption rule {event!r}; rules: {', '.join(self.interruption_rules)}")
        return self.interruption_rules[event]

    @staticmethod
    def _rule_metric(metric_name: str, rule: events.Rule, options: dict[str, Any]) -> cloudwatch.Metric:
        options.setdefault("statistic", "Sum")
        options.setdefault("period", cdk.Duration.minutes(5))
        return cloudwatch.Metric(
            namespace="AWS/Events", metric_name=metric_name, dimensions_map={"RuleName": rule.rule_name}, **options
        )

    @property
    def inference_url_hint(self) -> str:
        """How to reach the OpenAI-compatible endpoint from a machine with cluster access.

        Raw mode: the predictor Service in the serving namespace. Knative mode: Kourier, which the operator
        installs in the KnativeServing namespace, with the predictor Knative Service's host under
        Knative's default domain ``svc.cluster.local`` (KServe keeps the ``-predictor`` host because
        ``disableIstioVirtualHost`` is set).
        """
        if self.serving_mode is ServingMode.RAW_DEPLOYMENT:
            ns, svc, host = mf.SERVING_NAMESPACE, f"{self.model.name}-predictor", ""
        else:
            ns, svc = mf.KNATIVE_SERVING_NAMESPACE, "kourier-internal"
            host = f" -H 'Host: {self.model.name}-predictor.{mf.SERVING_NAMESPACE}.svc.cluster.local'"
        return (
            f"kubectl -n {ns} port-forward svc/{svc} 8080:80 & "
            f"curl{host} localhost:8080/v1/completions -H 'Content-Type: application/json' "
            f'-d \'{{"model": "{self.model.name}", "prompt": "Hello", "max_tokens": 32}}\''
        )

    # ------------------------------------------------------------------ internals

    def _create_model_bucket(self) -> s3.Bucket:
        self.model_bucket_key = kms.Key(
            self, "ModelBucketKey", enable_key_rotation=True, description="Encrypts model weights"
        )
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(90))],
        )
        loop = "This is the access-log bucket of the model bucket; logging it to itself would loop"
        acknowledge(self.access_log_bucket, "AwsSolutions::AwsSolutions-S1", loop)
        acknowledge(self.access_log_bucket, "NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled", loop)
        acknowledge(
            self.access_log_bucket,
            "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
            "Access logs are kept 90 days for audit in one region; cross-region replication is a deployment choice",
        )
        acknowledge(
            self.access_log_bucket,
            "NIST.800.53.R5::NIST.800.53.R5-S3DefaultEncryptionKMS",
            "S3 server access logging can only deliver to SSE-S3 encrypted buckets",
        )
        bucket = s3.Bucket(
            self,
            "ModelBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.model_bucket_key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="model-bucket/",
        )
        acknowledge(
            bucket,
            "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
            "Model weights are reproducible from their source; cross-region replication is a deployment choice",
        )
        return bucket

    def _acknowledge_karpenter_policy(self) -> None:
        for resource, reason in _KARPENTER_WILDCARDS:
            acknowledge(self.karpenter_policy, f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", reason)

    def _acknowledge_cdk_internals(self) -> None:
        """CDK-created kubectl provider and cluster internals: acknowledged narrowly where they sit."""
        acknowledge(
            self.cluster.role,
            _IAM4.format("AmazonEKSClusterPolicy"),
            "The EKS control-plane role requires the AWS-maintained cluster policy",
        )
        for name in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"):
            acknowledge(
                self.system_nodes.role,
                _IAM4.format(name),
                "Managed node group role created by CDK with the AWS-maintained policies EKS nodes require",
            )
        provider = self.cluster.node.find_child("KubectlProvider")
        why = (
            "CDK's kubectl/Helm provider (aws_eks_v2), created and maintained by aws-cdk-lib; it runs only at "
            "deploy time"
        )
        for finding in (
            _IAM4.format("service-role/AWSLambdaBasicExecutionRole"),
            _IAM4.format("service-role/AWSLambdaVPCAccessExecutionRole"),
            _IAM4.format("AmazonEC2ContainerRegistryReadOnly"),
            "AwsSolutions::AwsSolutions-L1",
            "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
            "NIST.800.53.R5::NIST.800.53.R5-LambdaConcurrency",
            "NIST.800.53.R5::NIST.800.53.R5-LambdaDLQ",
        ):
            acknowledge(provider, finding, why)
        handler = provider.node.find_child("Handler")
        self._encrypt_provider_logs(provider)
        stack = cdk.Stack.of(self)
        condition = handler.node.find_child("HasEcrPublic")
        assert isinstance(condition, cdk.CfnCondition)
        has_ecr_public = stack.get_logical_id(condition)
        acknowledge(
            handler,
            'AwsSolutions::AwsSolutions-IAM4[Policy::{"Fn::If":["'
            + has_ecr_public
            + '",{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},'
            + '":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly"]]},'
            + '{"Ref":"AWS::NoValue"}]}]',
            "CDK grants the kubectl handler public-ECR read so it can pull OCI Helm charts from public.ecr.aws",
        )
        on_event = provider.node.find_child("Provider").node.find_child("framework-onEvent")
        cfn_handler = handler.node.default_child
        assert isinstance(cfn_handler, cdk.CfnResource)
        handler_id = stack.get_logical_id(cfn_handler)
        acknowledge(
            on_event,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{handler_id}.Arn>:*]",
            "CDK provider framework invokes any version of the kubectl handler function it fronts",
        )

    def _encrypt_provider_logs(self, provider: IConstruct) -> None:
        """With ``@aws-cdk/aws-lambda:useCdkManagedLogGroup`` (a recommended flag) aws_eks_v2 creates the
        kubectl handler's and the provider framework's log groups itself, unencrypted: encrypt them with our key."""
        for fn in (
            provider.node.find_child("Handler"),
            provider.node.find_child("Provider").node.find_child("framework-onEvent"),
        ):
            group = fn.node.try_find_child("LogGroup")
            if group is not None:
                cfn = group.node.default_child
                assert isinstance(cfn, logs.CfnLogGroup)
                cfn.kms_key_id = self.log_key.key_arn  # the L1 property, so cdk-nag sees it too
                cfn.node.add_dependency(self.log_key)


def props_problems(props: Mapping[str, Any]) -> list[str]:
    """The plain props checks of :class:`EksInferentiaCluster` (names, ranges, formats) for its keyword arguments
    ``props``, the missing ones at their defaults, without building anything.

    The constructor runs them first; a settings parser (``stacks/inferentia_stack.py``) runs them to report them
    together with its own problems. Types are checked by ``@typed_props`` on the constructor, the upstream rules of
    :mod:`.rules` on the built cluster's plan.
    """
    signature = inspect.signature(EksInferentiaCluster.__init__)
    defaults = {n: p.default for n, p in signature.parameters.items() if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(props) - set(defaults))
    if unknown:
        raise TypeError(f"not EksInferentiaCluster props: {', '.join(unknown)}")
    p = {**defaults, **props}
    cluster_name, kubernetes_version, ami_alias = p["cluster_name"], p["kubernetes_version"], p["ami_alias"]
    matrix = version_matrix()
    problems = ProblemCollector("EksInferentiaCluster props")
    problems.check(
        bool(_CLUSTER_NAME.match(cluster_name)), f"cluster_name {cluster_name!r} must match {_CLUSTER_NAME.pattern}"
    )
    problems.check(
        kubernetes_version in matrix,
        f"kubernetes_version {kubernetes_version!r} is not in the version "
        f"matrix; supported: {', '.join(sorted(matrix))}",
    )
    problems.check(
        p["system_node_count"] >= 2,
        f"system_node_count must be at least 2 (Karpenter runs 2 replicas), got {p['system_node_count']}",
    )
    problems.check(
        p["general_pool_cpu_limit"] >= 1,
        f"general_pool_cpu_limit must be at least 1, got {p['general_pool_cpu_limit']}",
    )
    problems.check(30 <= p["root_volume_gib"] <= 16384, f"root_volume_gib must be 30-16384, got {p['root_volume_gib']}")
    problems.check(bool(_AMI_ALIAS.match(ami_alias)), f"ami_alias {ami_alias!r} must look like al2023@v20260801")
    problems.check(
        ami_alias.split("@")[-1] != "latest", "ami_alias must be pinned (not @latest) so nodes do not change under you"
    )
    if p["custom_ami_id"] is not None:
        problems.check(
            bool(_AMI_ID.match(p["custom_ami_id"])),
            f"custom_ami_id {p['custom_ami_id']!r} must look like ami-0123456789abcdef0",
        )
    if p["vpc"] is not None and p["vpc_subnets"] is None and not p["vpc"].private_subnets:
        problems.add(
            "vpc has no private subnets with egress (PRIVATE_WITH_EGRESS), the default of vpc_subnets: "
            "the nodes pull Helm charts and images from public registries through NAT; add such subnets "
            "or choose the subnets with vpc_subnets"
        )
    _validate_pools(problems, tuple(p["inf2_node_pools"]))
    _validate_model(problems, p["model"] or VllmNeuronModel())
    return problems.problems


def _validate_pools(problems: ProblemCollector, pools: tuple[Inf2NodePool, ...]) -> None:
    problems.check(bool(pools), "inf2_node_pools must not be empty")
    table = inf2_instances()
    seen: set[str] = set()
    for p in pools:
        problems.check(
            bool(_NAME.match(p.name)) and p.name != "general",
            f"NodePool name {p.name!r} must be a DNS label other than 'general'",
        )
        problems.check(p.name not in seen, f"NodePool name {p.name!r} is used twice")
        seen.add(p.name)
        problems.check(
            p.capacity_type in ("spot", "on-demand"),
            f"NodePool {p.name!r}: capacity_type must be spot or on-demand, got {p.capacity_type!r}",
        )
        problems.check(1 <= p.weight <= 100, f"NodePool {p.name!r}: weight must be 1-100, got {p.weight}")
        problems.check(
            p.neuron_limit >= 1, f"NodePool {p.name!r}: neuron_limit must be at least 1, got {p.neuron_limit}"
        )
        bad = [t for t in p.instance_types if t not in table]
        problems.check(
            bool(p.instance_types) and not bad,
            f"NodePool {p.name!r}: instance_types must be inf2 sizes ({', '.join(table)}), "
            f"got {list(p.instance_types)}",
        )
    spot = [p.weight for p in pools if p.capacity_type == "spot"]
    on_demand = [p.weight for p in pools if p.capacity_type == "on-demand"]
    if spot and on_demand:
        problems.check(
            min(spot) > max(on_demand),
            "spot NodePools must have higher weights than on-demand ones (on-demand is the fallback)",
        )


def _validate_model(problems: ProblemCollector, model: VllmNeuronModel) -> None:
    problems.check(bool(_NAME.match(model.name)), f"model name {model.name!r} must be a DNS label")
    problems.check(
        model.tensor_parallel_size >= 1, f"tensor_parallel_size must be at least 1, got {model.tensor_parallel_size}"
    )
    problems.check(model.neuron_devices >= 1, f"neuron_devices must be at least 1, got {model.neuron_devices}")
    problems.check(
        model.max_model_len >= 1 and model.max_num_seqs >= 1,
        f"max_model_len and max_num_seqs must be at least 1, got {model.max_model_len} and {model.max_num_seqs}",
    )
    problems.check(
        model.parameters_billions > 0, f"parameters_billions must be positive, got {model.parameters_billions}"
    )
    problems.check(
        model.max_replicas >= max(1, model.min_replicas),
        f"max_replicas ({model.max_replicas}) must be >= max(1, min_replicas ({model.min_replicas}))",
    )
    problems.check(model.min_replicas >= 0, f"min_replicas must be >= 0, got {model.min_replicas}")
    prefix = model.model_s3_prefix
    if "://" in prefix:
        problems.add(
            f"model_s3_prefix {prefix!r} is a URI: pass the key prefix only (e.g. 'models/my-model/'); "
            "the bucket is model_bucket"
        )
    else:
        problems.check(
            prefix.endswith("/") and not prefix.startswith("/"),
            f"model_s3_prefix {prefix!r} must be a key prefix ending in '/'",
        )
    problems.check(mf.parse_cpu(model.cpu) is not None, f"model cpu {model.cpu!r} is not a Kubernetes CPU quantity")
    problems.check(
        mf.parse_memory_gib(model.memory) is not None,
        f"model memory {model.memory!r} is not a Kubernetes memory quantity",
    )


def _karpenter_statements(
    stack: cdk.Stack, cluster_name: str, cluster_arn: str, node_role_arn: str, queue_arn: str
) -> list[iam.PolicyStatement]:
    """Karpenter v1 controller permissions (re-expressed from the v1.14.1 getting-started CloudFormation template)."""
    return [
        *_karpenter_ec2_statements(stack, cluster_name),
        *_karpenter_other_statements(stack, cluster_name, cluster_arn, node_role_arn, queue_arn),
    ]


def _owned(cluster_name: str) -> dict[str, str]:
    return {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}


def _request_owned(cluster_name: str) -> dict[str, str]:
    return {
        f"aws:RequestTag/kubernetes.io/cluster/{cluster_name}": "owned",
        "aws:RequestTag/eks:eks-cluster-name": cluster_name,
    }


def _karpenter_ec2_statements(stack: cdk.Stack, cluster_name: str) -> list[iam.PolicyStatement]:
    p, r = stack.partition, stack.region
    ec2_arn = f"arn:{p}:ec2:{r}:*"
    owned, req_owned = _owned(cluster_name), _request_owned(cluster_name)
    created = ["fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request"]
    nodepool_tagged = {"aws:ResourceTag/karpenter.sh/nodepool": "*"}
    nodepool_requested = {"aws:RequestTag/karpenter.sh/nodepool": "*"}
    return [
        iam.PolicyStatement(
            sid="AllowScopedEC2InstanceAccessActions",
            actions=["ec2:RunInstances", "ec2:CreateFleet"],
            resources=[
                f"arn:{p}:ec2:{r}::image/*",
                f"arn:{p}:ec2:{r}::snapshot/*",
                f"{ec2_arn}:security-group/*",
                f"{ec2_arn}:subnet/*",
                f"{ec2_arn}:capacity-reservation/*",
                f"{ec2_arn}:placement-group/*",
            ],
        ),
        iam.PolicyStatement(
            sid="AllowScopedEC2LaunchTemplateAccessActions",
            actions=["ec2:RunInstances", "ec2:CreateFleet"],
            resources=[f"{ec2_arn}:launch-template/*"],
            conditions={"StringEquals": owned, "StringLike": nodepool_tagged},
        ),
        iam.PolicyStatement(
            sid="AllowScopedEC2InstanceActionsWithTags",
            actions=["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            resources=[f"{ec2_arn}:{t}/*" for t in created],
            conditions={"StringEquals": req_owned, "StringLike": nodepool_requested},
        ),
        iam.PolicyStatement(
            sid="AllowScopedResourceCreationTagging",
            actions=["ec2:CreateTags"],
            resources=[f"{ec2_arn}:{t}/*" for t in created],
            conditions={
                "StringEquals": {
                    **req_owned,
                    "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                },
                "StringLike": nodepool_requested,
            },
        ),
        iam.PolicyStatement(
            sid="AllowScopedResourceTagging",
            actions=["ec2:CreateTags"],
            resources=[f"{ec2_arn}:instance/*"],
            conditions={
                "StringEquals": owned,
                "StringLike": nodepool_tagged,
                "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster_name},
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                },
            },
        ),
        iam.PolicyStatement(
            sid="AllowScopedDeletion",
            actions=["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            resources=[f"{ec2_arn}:instance/*", f"{ec2_arn}:launch-template/*"],
            conditions={"StringEquals": owned, "StringLike": nodepool_tagged},
        ),
        # Describe*, GetProducts and ListInstanceProfiles have no resource-level permissions: AWS requires "*".
        iam.PolicyStatement(
            sid="AllowRegionalReadActions",
            resources=["*"],
            conditions={"StringEquals": {"aws:RequestedRegion": r}},
            actions=[
                "ec2:DescribeCapacityReservations",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceStatus",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribePlacementGroups",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
        ),
    ]


def _karpenter_other_statements(
    stack: cdk.Stack, cluster_name: str, cluster_arn: str, node_role_arn: str, queue_arn: str
) -> list[iam.PolicyStatement]:
    p, r, a = stack.partition, stack.region, stack.account
    owned, req_owned = _owned(cluster_name), _request_owned(cluster_name)
    profile_arn = f"arn:{p}:iam::{a}:instance-profile/*"
    region_tag = "topology.kubernetes.io/region"
    node_class = "karpenter.k8s.aws/ec2nodeclass"
    return [
        iam.PolicyStatement(
            sid="AllowSSMReadActions",
            actions=["ssm:GetParameter"],
            resources=[f"arn:{p}:ssm:{r}::parameter/aws/service/*"],
        ),
        iam.PolicyStatement(sid="AllowPricingReadActions", actions=["pricing:GetProducts"], resources=["*"]),
        iam.PolicyStatement(
            sid="AllowInterruptionQueueActions",
            actions=["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            resources=[queue_arn],
        ),
        iam.PolicyStatement(
            sid="AllowPassingInstanceRole",
            actions=["iam:PassRole"],
            resources=[node_role_arn],
            conditions={"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}},
        ),
        iam.PolicyStatement(
            sid="AllowScopedInstanceProfileCreationActions",
            actions=["iam:CreateInstanceProfile"],
            resources=[profile_arn],
            conditions={
                "StringEquals": {**req_owned, f"aws:RequestTag/{region_tag}": r},
                "StringLike": {f"aws:RequestTag/{node_class}": "*"},
            },
        ),
        iam.PolicyStatement(
            sid="AllowScopedInstanceProfileTagActions",
            actions=["iam:TagInstanceProfile"],
            resources=[profile_arn],
            conditions={
                "StringEquals": {
                    **owned,
                    f"aws:ResourceTag/{region_tag}": r,
                    **req_owned,
                    f"aws:RequestTag/{region_tag}": r,
                },
                "StringLike": {f"aws:ResourceTag/{node_class}": "*", f"aws:RequestTag/{node_class}": "*"},
            },
        ),
        iam.PolicyStatement(
            sid="AllowScopedInstanceProfileActions",
            actions=["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
            resources=[profile_arn],
            conditions={
                "StringEquals": {**owned, f"aws:ResourceTag/{region_tag}": r},
                "StringLike": {f"aws:ResourceTag/{node_class}": "*"},
            },
        ),
        iam.PolicyStatement(
            sid="AllowInstanceProfileReadActions", actions=["iam:GetInstanceProfile"], resources=[profile_arn]
        ),
        # ListInstanceProfiles has no resource-level permissions: AWS requires "*".
        iam.PolicyStatement(
            sid="AllowUnscopedInstanceProfileListAction", actions=["iam:ListInstanceProfiles"], resources=["*"]
        ),
        iam.PolicyStatement(
            sid="AllowAPIServerEndpointDiscovery", actions=["eks:DescribeCluster"], resources=[cluster_arn]
        ),
    ]
