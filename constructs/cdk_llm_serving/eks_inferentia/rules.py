"""Upstream rules for EksInferentiaCluster (EKS, Karpenter, Neuron, Knative, KServe, vLLM on Neuron), checked at
synth time (see :mod:`cdk_llm_serving._rules`).

Each rule cites the source it was read from; add a rule here (never as a stray ``if`` in a
construct) and give it a negative test with ``expect_rule("EKS.<NAME>", ...)``.

The subject of every rule is an :class:`EksPlan`: what the construct is about to emit, as plain
data (the system node group, every Helm release with its values, every generated manifest, the
model). ``EksInferentiaCluster.plan`` holds the plan of a built cluster, so a test can change one
field with :func:`dataclasses.replace` and run :data:`RULES` on it.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Token

from .._rules import RuleSet
from .data import (
    Inf2Instance,
    cores_per_device,
    ec2_instance_families,
    helm_values_keys,
    inf2_instances,
    system_requests,
    version_tuple,
    vllm_neuron_models,
)
from .manifests import (
    DEPLOYMENT_MODE_ANNOTATION,
    NEURON_CUSTOM_SCHEDULER_DEFAULT_NAME,
    NEURON_RESOURCE,
    VllmNeuronModel,
    parse_cpu,
    parse_memory_gib,
    vllm_arg,
)


@dataclass(frozen=True, kw_only=True)
class HelmRelease:
    """One Helm release the construct installs."""

    chart: str
    """Chart name, e.g. ``karpenter``."""
    version: str
    """Pinned chart version (from the version matrix)."""
    values: Mapping[str, Any] | None = None
    """The values passed to the chart. Default: - none (the chart's own values.yaml)"""


@dataclass(frozen=True, kw_only=True)
class SystemNodeGroup:
    """The managed node group that runs the controllers."""

    instance_type: str
    """EC2 instance type (``system_node_instance_type``)."""
    node_count: int
    """Nodes the group starts with (its minimum size)."""
    ami_type: str
    """The ``AWS::EKS::Nodegroup`` ``AmiType`` value, e.g. ``AL2023_x86_64_STANDARD``."""


@dataclass(frozen=True, kw_only=True)
class EksPlan:
    """What EksInferentiaCluster is about to emit, as plain data."""

    kubernetes_version: str
    """The cluster's Kubernetes minor version, e.g. ``"1.34"``."""
    system_nodes: SystemNodeGroup
    """The managed node group of the controllers."""
    helm_releases: tuple[HelmRelease, ...]
    """Every Helm release, in install order."""
    manifests: tuple[Mapping[str, Any], ...]
    """EC2NodeClasses, NodePools, the InferenceService and (Knative mode) the KnativeServing CR."""
    knative_mode_name: str
    """The deployment-mode annotation value that means Knative for the pinned KServe."""
    model: VllmNeuronModel
    """The served model."""
    subnet_availability_zones: tuple[str, ...]
    """The Availability Zone of each subnet of the cluster (an unresolved token where it is known only at deploy
    time, as in an environment-agnostic stack)."""

    def kinds(self, kind: str) -> list[Mapping[str, Any]]:
        return [m for m in self.manifests if m.get("kind") == kind]

    def release(self, chart: str) -> HelmRelease | None:
        return next((r for r in self.helm_releases if r.chart == chart), None)


#: Rules for EksInferentiaCluster; the subject is the :class:`EksPlan` of the cluster.
RULES: RuleSet[EksPlan] = RuleSet("EKS")


def _get(d: Mapping[str, Any] | None, path: str, default: Any = None) -> Any:
    cur: Any = d or {}
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return default
        cur = cur[part]
    return cur


def _isvcs(plan: EksPlan) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """(name, predictor, first container) of every InferenceService."""
    for isvc in plan.kinds("InferenceService"):
        pred = isvc["spec"]["predictor"]
        yield isvc["metadata"]["name"], pred, pred["containers"][0]


def _devices(container: Mapping[str, Any]) -> int:
    return int(container.get("resources", {}).get("requests", {}).get(NEURON_RESOURCE, "0"))


def _neuron_pools(plan: EksPlan) -> list[Mapping[str, Any]]:
    return [
        p
        for p in plan.kinds("NodePool")
        if any(t.get("key") == NEURON_RESOURCE for t in p["spec"]["template"]["spec"].get("taints", []))
    ]


def _pool_sizes(pool: Mapping[str, Any], table: Mapping[str, Inf2Instance]) -> list[Inf2Instance]:
    for r in pool["spec"]["template"]["spec"].get("requirements", []):
        if r["key"] == "node.kubernetes.io/instance-type" and r["operator"] == "In":
            return [table[t] for t in r["values"] if t in table]
    return []


# ---------------------------------------------------------------- EKS cluster and managed node group


@RULES.rule(
    "EKS.CLUSTER_SUBNETS",
    "EKS creates a cluster only in at least two subnets, in at least two different Availability Zones",
    source="botocore 1.44.5 data/eks/2017-11-01/service-2.json CreateClusterRequest.resourcesVpcConfig ('You "
    "must specify at least two subnets'); EKS User Guide network-reqs.adoc ('The subnets must be in "
    "at least two different Availability Zones')",
)
def _cluster_subnets(plan: EksPlan) -> Iterable[str]:
    azs = plan.subnet_availability_zones
    if len(azs) < 2:
        yield (
            f"vpc_subnets selects {len(azs)} subnet(s); EKS needs at least two, in two Availability Zones: "
            "select more subnets (or leave vpc_subnets unset for the VPC's private subnets)"
        )
    elif not any(Token.is_unresolved(az) for az in azs) and len(set(azs)) < 2:
        yield (
            f"vpc_subnets selects {len(azs)} subnets, all in {azs[0]}; EKS needs subnets in at least two "
            "Availability Zones"
        )


@RULES.rule(
    "EKS.NODEGROUP_AMI_TYPE",
    "EKS rejects Amazon Linux 2 AMI types for managed node groups on Kubernetes 1.33 and later",
    source="aws/aws-cdk#37012 (CREATE_FAILED: 'AMI Type AL2_x86_64 is only supported for kubernetes versions "
    "1.32 or earlier', seen on 1.33 and 1.34); EKS User Guide eks-ami-build-scripts / al2023: 'Amazon "
    "EKS stopped publishing EKS-optimized Amazon Linux 2 (AL2) AMIs on November 26, 2025. AL2023 and "
    "Bottlerocket ... including 1.33 and higher'",
)
def _nodegroup_ami_type(plan: EksPlan) -> Iterable[str]:
    ami = plan.system_nodes.ami_type
    if ami.startswith("AL2_") and version_tuple(plan.kubernetes_version) >= (1, 33):
        yield (
            f"system node group AmiType {ami!r} does not exist for Kubernetes {plan.kubernetes_version} (AL2 AMIs "
            "end at 1.32): use AL2023_x86_64_STANDARD (or AL2023_ARM_64_STANDARD for Graviton)"
        )


#: EC2 instance sizes: every size in botocore's InstanceType enum matches (see data/ec2_instance_families.json).
_EC2_SIZE = re.compile(r"^(nano|micro|small|medium|large|xlarge|[1-9][0-9]*xlarge|metal|metal-[1-9][0-9]*xl)$")
_EC2_SIZE_WORDS = ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "metal")
#: aws_eks_v2 adds its own Neuron device plugin manifest to a node group whose instance type starts with one of these
#: (aws-cdk-lib 2.275 aws-eks-v2/lib/cluster.js addNodegroupCapacity, instance-types.js inferentia/trainium).
_CDK_NEURON_PREFIXES = ("inf1", "inf2", "trn1")


@RULES.rule(
    "EKS.SYSTEM_NODE_INSTANCE_TYPE",
    "the system node group's instance type must be an EC2 instance type (<family>.<size>), and not one for "
    "which aws_eks_v2 adds its own Neuron device plugin",
    source="botocore 1.44.5 data/ec2/2016-11-15/service-2.json InstanceType (families in "
    "eks_inferentia/data/ec2_instance_families.json); aws-cdk-lib 2.275.0 aws-eks-v2/lib/cluster.js "
    "addNodegroupCapacity (inf1/inf2/trn1 types -> addNeuronDevicePlugin, an outdated plugin next to "
    "the Neuron chart's)",
)
def _system_node_instance_type(plan: EksPlan) -> Iterable[str]:
    itype = plan.system_nodes.instance_type
    family, dot, size = itype.partition(".")
    known = ec2_instance_families()
    wrong = []
    if family not in known["families"]:
        close = difflib.get_close_matches(family, known["families"], n=3)
        wrong.append(
            f"{family!r} is not one of the EC2 instance families in {known['source']}"
            + (f" (did you mean {', '.join(close)}?)" if close else "")
        )
    if not dot or not _EC2_SIZE.match(size):
        close = difflib.get_close_matches(size, _EC2_SIZE_WORDS, n=1)
        hint = f" (did you mean {family}.{close[0]}?)" if close and not wrong else ""
        wrong.append(
            f"{size!r} is not an EC2 size: nano, micro, small, medium, large, xlarge, <N>xlarge or metal{hint}"
        )
    if wrong:
        yield f"system_node_instance_type {itype!r} is not an EC2 instance type: {'; '.join(wrong)}"
    elif itype.startswith(_CDK_NEURON_PREFIXES):
        yield (
            f"system_node_instance_type {itype!r}: aws_eks_v2 adds its own, outdated Neuron device plugin to a "
            "node group of inf1/inf2/trn1 instances, next to the Neuron chart's; the system nodes run only "
            "controllers: use a general-purpose type such as m7i.xlarge"
        )


_SIZE_VCPU = {"medium": 1, "large": 2, "xlarge": 4}
_FAMILY = re.compile(r"^[cmr]\d+[a-z-]*\.(?P<size>medium|large|xlarge|(?P<n>\d+)xlarge)$")


def _vcpus(instance_type: str) -> int | None:
    """vCPUs of a c/m/r (generation 5+) instance from its size name (EC2 naming: large 2, xlarge 4, Nxlarge 4N);
    None if unknown."""
    m = _FAMILY.match(instance_type)
    if not m:
        return None
    return 4 * int(m.group("n")) if m.group("n") else _SIZE_VCPU[m.group("size")]


def kube_reserved_cpu_millicores(vcpus: int) -> int:
    """CPU EKS's AL2023 nodeadm reserves for the kubelet on a node with ``vcpus``."""
    table = system_requests()["kube_reserved_cpu"]
    total = vcpus * 1000
    edges = [*table["ranges_millicores"], max(total, table["ranges_millicores"][-1])]
    reserved = 0
    for i, share in enumerate(table["reserved_per_10000"]):
        lo, hi = edges[i], edges[i + 1]
        if total > lo:
            reserved += (min(total, hi) - lo) * share // 10000
    return reserved


def system_cpu_requests(plan: EksPlan) -> list[tuple[str, int]]:
    """(component, total CPU millicores) of everything the plan runs on the system node group."""
    data = system_requests()
    knative = bool(plan.kinds("KnativeServing"))
    scheduler = bool(_get(_release_values(plan, "neuron-helm-chart"), "scheduler.enabled", False)) and bool(
        _get(_release_values(plan, "neuron-helm-chart"), "scheduler.customScheduler.enabled", True)
    )
    applies = {"always": True, "knative": knative, "neuron_scheduler": scheduler}
    out = [(d["name"], d["cpu_millicores"] * d["replicas"]) for d in data["deployments"] if applies[d["when"]]]
    karpenter_cpu = parse_cpu(str(_get(_release_values(plan, "karpenter"), "controller.resources.requests.cpu", "0")))
    if karpenter_cpu:
        out.append(("karpenter", round(karpenter_cpu * 1000) * int(data["karpenter_replicas"]["value"])))
    out += [
        (f"{d['name']} (DaemonSet, per node)", d["cpu_millicores"] * plan.system_nodes.node_count)
        for d in data["per_node"]
    ]
    return out


def _release_values(plan: EksPlan, chart: str) -> Mapping[str, Any] | None:
    r = plan.release(chart)
    return r.values if r else None


@RULES.rule(
    "EKS.SYSTEM_NODE_CPU",
    "the CPU requests of the controllers and DaemonSets on the system node group must fit its allocatable CPU",
    source="kube-scheduler NodeResourcesFit (requests vs node allocatable); allocatable = vCPU - "
    "kube-reserved from awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go "
    "getCPUMillicoresToReserve; requests from eks_inferentia/data/system_requests.json (each entry "
    "cites its chart or manifest at the pinned version)",
)
def _system_node_cpu(plan: EksPlan) -> Iterable[str]:
    nodes = plan.system_nodes
    vcpus = _vcpus(nodes.instance_type)
    if vcpus is None:
        return  # no shape data for this instance type
    per_node = vcpus * 1000 - kube_reserved_cpu_millicores(vcpus)
    allocatable = per_node * nodes.node_count
    requests = system_cpu_requests(plan)
    total = sum(cpu for _, cpu in requests)
    if total > allocatable:
        listed = ", ".join(f"{name} {cpu}m" for name, cpu in requests if cpu)
        yield (
            f"system node group {nodes.node_count} x {nodes.instance_type} allocates {allocatable}m CPU "
            f"({per_node}m per node) but its pods request {total}m ({listed}); the rest stay Pending or are "
            "preempted by Karpenter (system-cluster-critical): use a larger system_node_instance_type (e.g. "
            "m7i.xlarge) or more system nodes"
        )


# ---------------------------------------------------------------- Helm values


def unknown_values_keys(
    values: Mapping[str, Any], keys: Iterable[str], free_form: Iterable[str], prefix: str = ""
) -> Iterator[str]:
    """Dotted paths in ``values`` that are neither known keys, parents of known keys, nor under a free-form key
    (outermost only)."""
    keys, free_form = set(keys), set(free_form)
    for k, v in values.items():
        path = f"{prefix}{k}"
        if path in free_form:
            continue
        if any(known.startswith(f"{path}.") for known in keys | free_form) and isinstance(v, Mapping):
            yield from unknown_values_keys(v, keys, free_form, f"{path}.")
        elif path not in keys:
            yield path


@RULES.rule(
    "EKS.HELM_VALUES_KEYS",
    "Helm silently ignores a values key the chart does not define: every key passed must exist in the pinned "
    "chart's values.yaml",
    source="Helm merges user values over the chart's values.yaml and templates read only the keys they "
    "reference; known keys per pinned chart in eks_inferentia/data/helm_values_keys.json (as of "
    "2026-12-01, each with its values.yaml source)",
)
def _helm_values_keys(plan: EksPlan) -> Iterable[str]:
    known = helm_values_keys()
    for release in plan.helm_releases:
        if not release.values:
            continue
        ref = f"{release.chart}@{release.version}"
        entry = known.get(ref)
        if entry is None:
            yield (
                f"no list of values keys for chart {ref}: read its values.yaml and add the keys to "
                "helm_values_keys.json"
            )
            continue
        for path in unknown_values_keys(release.values, entry["keys"], entry["free_form"]):
            yield (
                f"Helm chart {ref} has no values key {path!r}, so it would be ignored (source: "
                f"{entry['source'].split(';')[0]}); remove it or use a key the chart defines"
            )


# ---------------------------------------------------------------- Neuron scheduler


def _neuron_scheduler(plan: EksPlan) -> tuple[bool, bool, bool, str]:
    values = _release_values(plan, "neuron-helm-chart")
    enabled = bool(_get(values, "scheduler.enabled", False))
    custom = bool(_get(values, "scheduler.customScheduler.enabled", True))  # chart default true
    default = bool(_get(values, "scheduler.defaultScheduler.enabled", False))
    name = str(_get(values, "scheduler.customScheduler.fullnameOverride", NEURON_CUSTOM_SCHEDULER_DEFAULT_NAME))
    return enabled, custom, default, name


@RULES.rule(
    "EKS.NEURON_SCHEDULER_MODE",
    "on EKS only the Neuron chart's custom-scheduler mode works; pods needing it must name that scheduler, "
    "and a named scheduler must exist",
    source="aws-neuron/neuron-helm-charts 1.1.2: templates/custom-scheduler.yaml (a second kube-scheduler, "
    "profile schedulerName = customScheduler fullnameOverride 'my-scheduler', with the extender at "
    "k8s-neuron-scheduler.kube-system:12345); scheduler-extn.yaml + _helpers.tpl (defaultScheduler "
    "mode: hostNetwork NodePort 32700 and nodeSelector node-role.kubernetes.io/master, an extender "
    "for a self-managed control-plane kube-scheduler, which EKS does not have)",
)
def _neuron_scheduler_mode(plan: EksPlan) -> Iterable[str]:
    enabled, custom, default, name = _neuron_scheduler(plan)
    if enabled and default:
        yield (
            "Neuron chart scheduler.defaultScheduler.enabled=true configures EKS's managed kube-scheduler, which "
            "cannot load the extender and has no master nodes for it: use scheduler.customScheduler.enabled=true"
        )
    for isvc, pred, c in _isvcs(plan):
        wanted = pred.get("schedulerName")
        if _devices(c) > 1 and not (enabled and custom and wanted == name):
            yield (
                f"InferenceService {isvc!r} requests {_devices(c)} Inferentia2 devices: enable the Neuron "
                "scheduler in custom mode (scheduler.enabled, scheduler.customScheduler.enabled) and set the "
                f"predictor's schedulerName to {name!r} (got scheduler.enabled={enabled}, "
                f"customScheduler.enabled={custom}, schedulerName={wanted!r})"
            )
        elif wanted not in (None, "default-scheduler") and not (enabled and custom and wanted == name):
            yield (
                f"InferenceService {isvc!r} names schedulerName {wanted!r}, but no such scheduler is installed; "
                "its pods would stay Pending"
            )


_TAG_MINOR = re.compile(r":v?(\d+)\.(\d+)(?:[.\-].*)?$")


@RULES.rule(
    "EKS.NEURON_SCHEDULER_SKEW",
    "the Neuron custom kube-scheduler must not be newer than the API server and at most one minor version older",
    source="kubernetes.io Version Skew Policy (kube-controller-manager, kube-scheduler, and "
    "cloud-controller-manager: must not be newer than kube-apiserver, may be up to one minor version "
    "older); neuron-helm-charts 1.1.2 values.yaml defaults the custom scheduler to eks-distro "
    "kube-scheduler v1.28.5",
)
def _neuron_scheduler_skew(plan: EksPlan) -> Iterable[str]:
    enabled, custom, _, _ = _neuron_scheduler(plan)
    if not (enabled and custom):
        return
    values = _release_values(plan, "neuron-helm-chart")
    repo = _get(
        values, "scheduler.customScheduler.image.repository", "public.ecr.aws/eks-distro/kubernetes/kube-scheduler"
    )
    tag = _get(values, "scheduler.customScheduler.image.tag", "v1.28.5-eks-1-28-latest")
    m = _TAG_MINOR.search(f"{repo}:{tag}")
    cluster = version_tuple(plan.kubernetes_version)[:2]
    if not m:
        yield (
            f"cannot read the Kubernetes version of the Neuron custom scheduler image {repo}:{tag}; pin a "
            "kube-scheduler vMAJOR.MINOR.PATCH tag"
        )
        return
    sched = (int(m.group(1)), int(m.group(2)))
    if not (sched <= cluster and sched[1] >= cluster[1] - 1 and sched[0] == cluster[0]):
        yield (
            f"Neuron custom scheduler image {repo}:{tag} is kube-scheduler {sched[0]}.{sched[1]} on a Kubernetes "
            f"{plan.kubernetes_version} cluster: use the cluster's minor (or one older), e.g. "
            f"registry.k8s.io/kube-scheduler:v{cluster[0]}.{cluster[1]}.x"
        )


# ---------------------------------------------------------------- Knative Serving PodSpec field mask

#: PodSpec fields Knative always keeps (knative/serving knative-v1.21.1 pkg/apis/serving/fieldmask.go:228-236).
KNATIVE_PODSPEC_ALLOWED = frozenset(
    {"serviceAccountName", "containers", "volumes", "imagePullSecrets", "enableServiceLinks"}
)
#: PodSpec fields Knative keeps only when a config-features flag is not Disabled
#: (fieldmask.go:238-286; flag names features.go:57-79).
KNATIVE_PODSPEC_FEATURES: Mapping[str, str] = {
    "affinity": "kubernetes.podspec-affinity",
    "topologySpreadConstraints": "kubernetes.podspec-topologyspreadconstraints",
    "hostAliases": "kubernetes.podspec-hostaliases",
    "nodeSelector": "kubernetes.podspec-nodeselector",
    "runtimeClassName": "kubernetes.podspec-runtimeclassname",
    "tolerations": "kubernetes.podspec-tolerations",
    "securityContext": "kubernetes.podspec-securitycontext",
    "shareProcessNamespace": "kubernetes.podspec-shareprocessnamespace",
    "priorityClassName": "kubernetes.podspec-priorityclassname",
    "schedulerName": "kubernetes.podspec-schedulername",
    "initContainers": "kubernetes.podspec-init-containers",
    "dnsPolicy": "kubernetes.podspec-dnspolicy",
    "dnsConfig": "kubernetes.podspec-dnsconfig",
    "hostIPC": "kubernetes.podspec-hostipc",
    "hostPID": "kubernetes.podspec-hostpid",
    "hostNetwork": "kubernetes.podspec-hostnetwork",
}
#: Container fields Knative keeps (fieldmask.go:306-340); lifecycle, stdin, stdinOnce, tty, volumeDevices and the
#: rest are rejected.
KNATIVE_CONTAINER_ALLOWED = frozenset(
    {
        "name",
        "args",
        "command",
        "env",
        "workingDir",
        "envFrom",
        "image",
        "imagePullPolicy",
        "livenessProbe",
        "ports",
        "readinessProbe",
        "resources",
        "securityContext",
        "startupProbe",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "volumeMounts",
    }
)
#: Predictor fields that are KServe's own (ComponentExtensionSpec, the predictor implementations), not the inlined
#: PodSpec (kserve/kserve v0.20.0 pkg/apis/serving/v1beta1/predictor.go PredictorSpec, component.go
#: ComponentExtensionSpec).
KSERVE_PREDICTOR_FIELDS = frozenset(
    {
        "name",
        "sklearn",
        "xgboost",
        "tensorflow",
        "pytorch",
        "triton",
        "onnx",
        "huggingface",
        "pmml",
        "lightgbm",
        "paddle",
        "model",
        "storageUris",
        "storageContainerName",
        "workerSpec",
        "minReplicas",
        "maxReplicas",
        "scaleTarget",
        "scaleMetric",
        "scaleMetricType",
        "autoScaling",
        "containerConcurrency",
        "timeout",
        "canaryTrafficPercent",
        "logger",
        "batcher",
        "labels",
        "annotations",
        "deploymentStrategy",
    }
)


def knative_features_needed(pod_spec: Mapping[str, Any]) -> dict[str, str]:
    """The config-features flags a predictor PodSpec needs ``enabled`` to pass Knative's field mask."""
    return {KNATIVE_PODSPEC_FEATURES[f]: "enabled" for f in sorted(pod_spec) if f in KNATIVE_PODSPEC_FEATURES}


def predictor_pod_spec(predictor: Mapping[str, Any]) -> dict[str, Any]:
    """The PodSpec KServe copies into the Knative Service (the predictor without KServe's own fields)."""
    return {k: v for k, v in predictor.items() if k not in KSERVE_PREDICTOR_FIELDS}


def _flag_on(features: Mapping[str, str], key: str) -> bool:
    # features.go asFlag: case-insensitive Enabled / Allowed / Disabled; anything else keeps the default (Disabled)
    return str(features.get(key, "")).lower() in ("enabled", "allowed")


@RULES.rule(
    "EKS.KNATIVE_PODSPEC_FIELDS",
    "Knative Serving rejects PodSpec fields outside its field mask: "
    "nodeSelector/tolerations/schedulerName/... only when enabled in config-features, "
    "terminationGracePeriodSeconds and other fields never",
    source="knative/serving knative-v1.21.1 pkg/apis/serving/fieldmask.go:218-300 (PodSpecMask), 306-340 "
    "(ContainerMask); pkg/apis/config/features.go:57-79,82-115 (flag names, all podspec flags "
    "Disabled by default), 205-216 (asFlag); k8s_validation.go:398 (ValidatePodSpec -> "
    "CheckDisallowedFields); KServe v0.20.0 ksvc_reconciler.go:214 copies the predictor PodSpec into "
    "the ksvc; knative/operator knative-v1.21.1 pkg/reconciler/common/config_maps.go:34 "
    "(KnativeServing spec.config.features -> config-features)",
)
def _knative_podspec(plan: EksPlan) -> Iterable[str]:
    servings = plan.kinds("KnativeServing")
    features: Mapping[str, str] = _get(servings[0], "spec.config.features", {}) if servings else {}
    for isvc in plan.kinds("InferenceService"):
        if isvc["metadata"].get("annotations", {}).get(DEPLOYMENT_MODE_ANNOTATION) != plan.knative_mode_name:
            continue
        name = isvc["metadata"]["name"]
        pod = predictor_pod_spec(isvc["spec"]["predictor"])
        for field_name in sorted(pod):
            if field_name in KNATIVE_PODSPEC_ALLOWED:
                continue
            if field_name == "automountServiceAccountToken":
                if pod[field_name] is not False:
                    yield f"InferenceService {name!r}: Knative only allows automountServiceAccountToken: false"
                continue
            flag = KNATIVE_PODSPEC_FEATURES.get(field_name)
            if flag is None:
                yield (
                    f"InferenceService {name!r}: Knative Serving never allows predictor field {field_name!r} (its "
                    "webhook rejects the Knative Service): remove it (Knative sets terminationGracePeriodSeconds "
                    "from the revision timeout)"
                )
            elif not _flag_on(features, flag):
                yield (
                    f"InferenceService {name!r}: predictor field {field_name!r} needs Knative feature {flag!r} "
                    "enabled (KnativeServing spec.config.features), got "
                    f"{features.get(flag, 'unset (Disabled)')!r}"
                )
        for c in pod.get("containers", []):
            for field_name in sorted(set(c) - KNATIVE_CONTAINER_ALLOWED):
                yield (
                    f"InferenceService {name!r}: Knative Serving never allows container field {field_name!r} "
                    f"(container {c.get('name')!r})"
                )


# ---------------------------------------------------------------- Karpenter + Neuron placement


@RULES.rule(
    "EKS.NODEPOOL_NODECLASS_REF",
    "a Karpenter NodePool's nodeClassRef must name an EC2NodeClass that exists, or Karpenter launches nothing for it",
    source="aws/karpenter-provider-aws v1.14.1 pkg/apis/crds/karpenter.sh_nodepools.yaml "
    "(spec.template.spec.nodeClassRef group/kind/name) and docs concepts/nodepools (the NodePool is "
    "not Ready while its NodeClass is missing)",
)
def _nodeclass_ref(plan: EksPlan) -> Iterable[str]:
    classes = {m["metadata"]["name"] for m in plan.kinds("EC2NodeClass")}
    for p in plan.kinds("NodePool"):
        ref = p["spec"]["template"]["spec"]["nodeClassRef"]
        if ref.get("kind") != "EC2NodeClass" or ref.get("name") not in classes:
            yield (
                f"NodePool {p['metadata']['name']!r} references EC2NodeClass {ref.get('name')!r}, "
                f"which is not defined (defined: {', '.join(sorted(classes)) or 'none'})"
            )


@RULES.rule(
    "EKS.NEURON_TOLERATION",
    "pods must tolerate the aws.amazon.com/neuron NoSchedule taint of the inf2 NodePools to land on their nodes",
    source="kubernetes.io Taints and Tolerations (NoSchedule); Karpenter v1 NodePool "
    "spec.template.spec.taints are applied to every node it launches",
)
def _neuron_toleration(plan: EksPlan) -> Iterable[str]:
    for name, pred, c in _isvcs(plan):
        tolerated = {t.get("key") for t in pred.get("tolerations", [])}
        if _devices(c) and NEURON_RESOURCE not in tolerated:
            yield f"InferenceService {name!r} does not tolerate the {NEURON_RESOURCE} taint of the inf2 NodePools"


@RULES.rule(
    "EKS.NEURON_DEVICES_PER_NODE",
    "a replica's aws.amazon.com/neuron request must fit the devices of one instance size its NodePools allow",
    source="Neuron device plugin advertises aws.amazon.com/neuron = Inferentia2 devices per node (Neuron "
    "docs 'Kubernetes environment setup'); devices per inf2 size from Neuron docs 'Amazon EC2 Inf2 "
    "Architecture' (eks_inferentia/data/inf2_instances.json)",
)
def _devices_per_node(plan: EksPlan) -> Iterable[str]:
    table = inf2_instances()
    for name, _, c in _isvcs(plan):
        devices = _devices(c)
        if devices < 1:
            yield f"InferenceService {name!r} requests no {NEURON_RESOURCE}; it would not land on an inf2 node"
            continue
        for p in _neuron_pools(plan):
            sizes = _pool_sizes(p, table)
            if not any(s.neuron_devices >= devices for s in sizes):
                yield (
                    f"InferenceService {name!r} requests {devices} Inferentia2 device(s) but NodePool "
                    f"{p['metadata']['name']!r} allows only "
                    f"{', '.join(f'{s.name} ({s.neuron_devices})' for s in sizes) or 'no known inf2 size'}"
                )


@RULES.rule(
    "EKS.POD_FITS_NODE",
    "a replica's CPU and memory requests must fit the allocatable capacity of an inf2 size that has its devices",
    source="kube-scheduler NodeResourcesFit; schedulable inf2 capacity after kube-reserved and node "
    "DaemonSets in eks_inferentia/data/inf2_instances.json (awslabs/amazon-eks-ami nodeadm "
    "kube-reserved formula)",
)
def _pod_fits(plan: EksPlan) -> Iterable[str]:
    table = inf2_instances()
    for name, _, c in _isvcs(plan):
        req = c.get("resources", {}).get("requests", {})
        devices = _devices(c)
        cpu, mem = parse_cpu(req.get("cpu", "0")), parse_memory_gib(req.get("memory", "0"))
        if cpu is None or mem is None:
            yield f"InferenceService {name!r}: cannot parse cpu {req.get('cpu')!r} or memory {req.get('memory')!r}"
            continue
        for p in _neuron_pools(plan):
            sizes = _pool_sizes(p, table)
            fitting = [s for s in sizes if s.neuron_devices >= devices]
            if fitting and not any(s.schedulable_cpu >= cpu and s.schedulable_memory_gib >= mem for s in fitting):
                yield (
                    f"InferenceService {name!r} requests cpu {req.get('cpu')} and memory {req.get('memory')}, "
                    f"more than any size in NodePool {p['metadata']['name']!r} can allocate: "
                    + ", ".join(f"{s.name} ({s.schedulable_cpu} cpu, {s.schedulable_memory_gib}Gi)" for s in fitting)
                )


@RULES.rule(
    "EKS.TENSOR_PARALLEL_CORES",
    "vLLM's tensor parallel size on Neuron must not exceed the NeuronCores of the devices a replica requests "
    "(2 per Inferentia2)",
    source="vllm-project/vllm-neuron worker/neuronx_distributed_model_loader.py (tp_degree = "
    "tensor_parallel_size, one rank per NeuronCore); Neuron docs 'Amazon EC2 Inf2 Architecture' (2 "
    "NeuronCore-v2 per Inferentia2 device)",
)
def _tensor_parallel(plan: EksPlan) -> Iterable[str]:
    cores = cores_per_device()
    for name, _, c in _isvcs(plan):
        devices = _devices(c)
        tp = int(vllm_arg(c.get("args", []), "tensor-parallel-size") or 1)
        if devices >= 1 and tp > devices * cores:
            yield (
                f"InferenceService {name!r}: tensor parallel size {tp} exceeds the {devices * cores} NeuronCores "
                f"of {devices} Inferentia2 device(s) ({cores} cores per device); request more devices or lower "
                "tensor parallelism"
            )


@RULES.rule(
    "EKS.NODEPOOL_NEURON_LIMITS",
    "Karpenter stops launching once a NodePool reaches its limits: the inf2 limits must cover maxReplicas x "
    "devices, and each one replica",
    source="Karpenter v1 docs concepts/nodepools 'spec.limits' (a NodePool does not provision past its "
    "limits); aws/karpenter-provider-aws v1.14.1 pkg/apis/v1/labels.go (aws.amazon.com/neuron is a "
    "well-known resource)",
)
def _nodepool_limits(plan: EksPlan) -> Iterable[str]:
    pools = _neuron_pools(plan)
    for name, pred, c in _isvcs(plan):
        devices = _devices(c)
        if not (devices and pools):
            continue
        limit_total = sum(int(p["spec"].get("limits", {}).get(NEURON_RESOURCE, "0")) for p in pools)
        need = int(pred.get("maxReplicas", 1)) * devices
        if limit_total < need:
            yield (
                f"InferenceService {name!r}: maxReplicas {pred.get('maxReplicas')} x {devices} device(s) = {need} "
                f"{NEURON_RESOURCE}, but the inf2 NodePool limits add up to {limit_total}"
            )
        for p in pools:
            lim = int(p["spec"].get("limits", {}).get(NEURON_RESOURCE, "0"))
            if lim < devices:
                yield (
                    f"NodePool {p['metadata']['name']!r} limit of {lim} {NEURON_RESOURCE} cannot fit one replica "
                    f"of {name!r} ({devices})"
                )


@RULES.rule(
    "EKS.SCALE_TO_ZERO_MODE",
    "only KServe's Knative mode scales to zero; in Standard mode the HPA raises minReplicas 0 to 1",
    source="kserve/kserve v0.20.0 "
    "pkg/controller/v1beta1/inferenceservice/reconcilers/hpa/hpa_reconciler.go:153-157 (minReplicas "
    "below DefaultMinReplicas=1 becomes 1)",
)
def _scale_to_zero(plan: EksPlan) -> Iterable[str]:
    for isvc in plan.kinds("InferenceService"):
        pred = isvc["spec"]["predictor"]
        mode = isvc["metadata"].get("annotations", {}).get(DEPLOYMENT_MODE_ANNOTATION)
        if int(pred.get("minReplicas", 1)) == 0 and mode != plan.knative_mode_name:
            yield (
                f"InferenceService {isvc['metadata']['name']!r}: minReplicas 0 (scale to zero) needs Knative "
                f"mode, but the deployment mode is {mode!r}; set min_replicas >= 1 or use ServingMode.KNATIVE"
            )


# ---------------------------------------------------------------- vLLM on Neuron


@RULES.rule(
    "EKS.VLLM_NEURON_MODEL_FAMILY",
    "vllm-neuron serves only the model families in its supported list; Llama 3.2 is not on it and fails to "
    "compile on SDK 2.28",
    source="vllm-project/vllm-neuron README 'Models Supported' (Llama 2/3.1/3.3, Llama 4 Scout/Maverick, "
    "Qwen 2.5, Qwen 3); kubernetes-sigs/wg-serving#70/#71 (Llama-3.2-1B: NCC_ITEN404 on Neuron SDK "
    "2.28); eks_inferentia/data/vllm_neuron_models.json",
)
def _model_family(plan: EksPlan) -> Iterable[str]:
    data = vllm_neuron_models()
    family = plan.model.family
    if family in data["known_failures"]:
        yield f"model family {family!r}: {data['known_failures'][family]}; choose one of {', '.join(data['supported'])}"
    elif family not in data["supported"]:
        yield f"model family {family!r} is not served by vllm-neuron; supported: {', '.join(data['supported'])}"


@RULES.rule(
    "EKS.NEURON_DEVICE_MEMORY",
    "16-bit weights sharded over the tensor-parallel NeuronCores must fit each core's share of Inferentia2 "
    "device memory (16 GiB)",
    source="Neuron docs 'Amazon EC2 Inf2 Architecture' (32 GiB accelerator memory per Inferentia2, 2 "
    "NeuronCore-v2 each; eks_inferentia/data/inf2_instances.json device_memory_gib); NxD Inference "
    "shards weights over tp_degree cores (vllm-neuron neuronx_distributed_model_loader.py)",
)
def _device_memory(plan: EksPlan) -> Iterable[str]:
    table = inf2_instances()
    per_core = min(s.device_memory_gib / s.neuron_cores for s in table.values())
    weights_gib = plan.model.parameters_billions * 1e9 * 2 / 2**30
    for name, _, c in _isvcs(plan):
        tp = int(vllm_arg(c.get("args", []), "tensor-parallel-size") or 1)
        if tp > _devices(c) * cores_per_device():
            continue  # EKS.TENSOR_PARALLEL_CORES reports it
        if weights_gib / tp > per_core:
            yield (
                f"InferenceService {name!r}: {plan.model.parameters_billions}B parameters are {weights_gib:.1f} "
                f"GiB of 16-bit weights, {weights_gib / tp:.1f} GiB per NeuronCore at tensor parallel size {tp}, "
                f"more than the {per_core:.0f} GiB each core has (before the KV cache): raise "
                "tensor_parallel_size and neuron_devices (inf2.24xlarge/48xlarge) or serve a smaller model"
            )


@RULES.rule(
    "EKS.VLLM_NEURON_GPU_BLOCKS",
    "vllm-neuron needs --num-gpu-blocks-override = ceil(max_model_len / block_size) x max_num_seqs "
    "(block_size = max_model_len without prefix caching)",
    source="vllm-project/vllm-neuron README 'Known Issues' 2 (to avoid a potential OOB error); "
    "vllm_neuron/platform.py:204-210 (prefix caching off: block_size = max_model_len; on: block_size "
    "must be set)",
)
def _gpu_blocks(plan: EksPlan) -> Iterable[str]:
    for name, _, c in _isvcs(plan):
        args: Sequence[str] = c.get("args", [])
        max_len = int(vllm_arg(args, "max-model-len") or 0)
        seqs = int(vllm_arg(args, "max-num-seqs") or 0)
        prefix_caching = "--enable-prefix-caching" in args
        block = vllm_arg(args, "block-size")
        if prefix_caching and block is None:
            yield f"InferenceService {name!r}: with --enable-prefix-caching vllm-neuron needs --block-size"
            continue
        block_size = int(block) if prefix_caching and block else max_len
        if not (max_len and seqs and block_size):
            yield (
                f"InferenceService {name!r}: pass --max-model-len and --max-num-seqs so the block count can be checked"
            )
            continue
        want = math.ceil(max_len / block_size) * seqs
        got = vllm_arg(args, "num-gpu-blocks-override")
        if got is None or int(got) < want or (not prefix_caching and int(got) != want):
            yield (
                f"InferenceService {name!r}: pass --num-gpu-blocks-override={want} (ceil({max_len}/{block_size}) "
                f"x {seqs}), got {got!r}"
            )
