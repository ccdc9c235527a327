"""Kubernetes manifests of EksInferentiaCluster, and the semantic checks the CRD schemas cannot express.

The builders are plain functions returning dicts, so tests can check and mutate them without a
synth. :func:`semantic_problems` runs on the complete set of generated manifests (the construct
raises :class:`~cdk_llm_serving.PropsValidationError` with its findings).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .data import Inf2Instance, cores_per_device, inf2_instances

NEURON_RESOURCE = "aws.amazon.com/neuron"
NEURON_TAINT = {"key": NEURON_RESOURCE, "value": "true", "effect": "NoSchedule"}
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
KARPENTER_NODE_CLASS_GROUP = "karpenter.k8s.aws"
NEURON_NODE_CLASS = "neuron"
GENERAL_NODE_CLASS = "default"
SERVING_NAMESPACE = "llm"
MODEL_SERVICE_ACCOUNT = "llm-model-reader"


class ServingMode(enum.Enum):
    """How KServe runs the predictor."""

    KNATIVE = "knative"
    """Knative Serving with the Knative Pod Autoscaler: request-concurrency scaling, scale to zero."""
    RAW_DEPLOYMENT = "raw"
    """A plain Deployment with a HorizontalPodAutoscaler on CPU; at least one replica."""


@dataclass(frozen=True, kw_only=True)
class Inf2NodePool:
    """A Karpenter NodePool for Inferentia2 nodes (tainted ``aws.amazon.com/neuron=true:NoSchedule``)."""

    name: str
    """NodePool name (a Kubernetes name)."""
    capacity_type: str
    """``spot`` or ``on-demand``."""
    instance_types: tuple[str, ...]
    """Allowed inf2 sizes, e.g. ``("inf2.xlarge", "inf2.8xlarge")``."""
    neuron_limit: int
    """Most Inferentia2 devices (``aws.amazon.com/neuron``) the pool may provision in total."""
    weight: int
    """Karpenter tries higher weights first (1-100)."""
    zones: tuple[str, ...] = ()
    """Availability zones to restrict to. Default: any zone of the cluster's subnets."""
    consolidate_after: str = "5m"
    """How long a node must be empty or underutilized before consolidation. Default: 5m"""
    disruption_budget_nodes: str = "10%"
    """Most nodes disrupted at once by voluntary disruption. Default: 10%"""


DEFAULT_INF2_NODE_POOLS: tuple[Inf2NodePool, ...] = (
    Inf2NodePool(name="inf2-spot", capacity_type="spot", instance_types=("inf2.xlarge", "inf2.8xlarge"), neuron_limit=4, weight=100),
    Inf2NodePool(
        name="inf2-on-demand",
        capacity_type="on-demand",
        instance_types=("inf2.xlarge", "inf2.8xlarge"),
        neuron_limit=2,
        weight=10,
        consolidate_after="10m",
    ),
)


@dataclass(frozen=True, kw_only=True)
class VllmNeuronModel:
    """An LLM served by vLLM on Neuron through a KServe InferenceService. Weights come from S3."""

    name: str = "llama-3-2-1b"
    """InferenceService name and vLLM served model name. Default: llama-3-2-1b"""
    model_s3_prefix: str = "models/llama-3.2-1b-instruct/"
    """Key prefix of the Hugging Face-format weights in the model bucket. Default: models/llama-3.2-1b-instruct/"""
    image: str = "public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:0.13.0-neuronx-py312-sdk2.28.0-ubuntu24.04"
    """vLLM Neuron container (pinned; Neuron SDK 2.28 is the last release with NxD Inference on Inf2)."""
    tensor_parallel_size: int = 2
    """NeuronCores the model is sharded over (2 per Inferentia2 device). Default: 2"""
    max_model_len: int = 2048
    """Longest sequence (prompt + completion) in tokens. Default: 2048"""
    max_num_seqs: int = 8
    """Most concurrent sequences per replica (the compiled batch size). Default: 8"""
    neuron_devices: int = 1
    """Inferentia2 devices per replica. Default: 1"""
    cpu: str = "3"
    """CPU request per replica. Default: 3 (fits inf2.xlarge)"""
    memory: str = "12Gi"
    """Memory request and limit per replica. Default: 12Gi (fits inf2.xlarge)"""
    min_replicas: int = 0
    """Fewest replicas; 0 scales to zero (Knative mode only). Default: 0"""
    max_replicas: int = 2
    """Most replicas. Default: 2"""
    concurrency_target: int = 8
    """Knative mode: in-flight requests per replica before scaling out. Default: 8"""
    cpu_target_percent: int = 80
    """Raw-deployment mode: HPA CPU utilisation target. Default: 80"""
    extra_env: Mapping[str, str] = field(default_factory=dict)
    """More environment variables for the vLLM container. Default: none"""


# ---------------------------------------------------------------- builders


def ec2_node_class(*, name: str, role_name: str, cluster_name: str, ami_alias: str | None, ami_id: str | None,
                   root_volume_gib: int) -> dict[str, Any]:
    ami_terms = [{"id": ami_id}] if ami_id else [{"alias": ami_alias}]
    spec: dict[str, Any] = {
        "role": role_name,
        "amiSelectorTerms": ami_terms,
        "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": cluster_name}}],
        # The cluster security group EKS creates (and tags with the cluster name) lets nodes reach the control plane.
        "securityGroupSelectorTerms": [{"tags": {"aws:eks:cluster-name": cluster_name}}],
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",
                "ebs": {"volumeSize": f"{root_volume_gib}Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True},
            }
        ],
        "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
        "tags": {"app.kubernetes.io/managed-by": "cdk-llm-serving"},
    }
    if ami_id:
        spec["amiFamily"] = "AL2023"  # a custom AMI still needs the bootstrap format
    return {"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass", "metadata": {"name": name}, "spec": spec}


def _req(key: str, values: Iterable[str], operator: str = "In") -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


def inf2_node_pool(pool: Inf2NodePool) -> dict[str, Any]:
    reqs = [
        _req("karpenter.k8s.aws/instance-family", ["inf2"]),
        _req("node.kubernetes.io/instance-type", pool.instance_types),
        _req("karpenter.sh/capacity-type", [pool.capacity_type]),
        _req("kubernetes.io/arch", ["amd64"]),
    ]
    if pool.zones:
        reqs.append(_req("topology.kubernetes.io/zone", pool.zones))
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": pool.name},
        "spec": {
            "weight": pool.weight,
            "template": {
                "metadata": {"labels": {"llm.aws/accelerator": "neuron"}},
                "spec": {
                    "nodeClassRef": {"group": KARPENTER_NODE_CLASS_GROUP, "kind": "EC2NodeClass", "name": NEURON_NODE_CLASS},
                    "requirements": reqs,
                    "taints": [dict(NEURON_TAINT)],
                    "expireAfter": "720h",
                },
            },
            "limits": {NEURON_RESOURCE: str(pool.neuron_limit)},
            "disruption": {
                "consolidationPolicy": "WhenEmptyOrUnderutilized",
                "consolidateAfter": pool.consolidate_after,
                "budgets": [{"nodes": pool.disruption_budget_nodes}],
            },
        },
    }


def general_node_pool(cpu_limit: int) -> dict[str, Any]:
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "general"},
        "spec": {
            "weight": 50,
            "template": {
                "spec": {
                    "nodeClassRef": {"group": KARPENTER_NODE_CLASS_GROUP, "kind": "EC2NodeClass", "name": GENERAL_NODE_CLASS},
                    "requirements": [
                        _req("karpenter.k8s.aws/instance-category", ["c", "m", "r"]),
                        _req("karpenter.k8s.aws/instance-generation", ["5"], "Gt"),
                        _req("karpenter.sh/capacity-type", ["spot", "on-demand"]),
                        _req("kubernetes.io/arch", ["amd64"]),
                    ],
                    "expireAfter": "720h",
                }
            },
            "limits": {"cpu": str(cpu_limit)},
            "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "1m", "budgets": [{"nodes": "10%"}]},
        },
    }


def inference_service(*, model: VllmNeuronModel, mode: ServingMode, mode_name: str, storage_uri: str, region: str) -> dict[str, Any]:
    args = [
        "--model=/mnt/models",
        f"--served-model-name={model.name}",
        f"--tensor-parallel-size={model.tensor_parallel_size}",
        f"--max-model-len={model.max_model_len}",
        f"--max-num-seqs={model.max_num_seqs}",
        "--no-enable-prefix-caching",
        "--port=8080",
    ]
    env = [
        {"name": "STORAGE_URI", "value": storage_uri},  # KServe's storage initializer copies it to /mnt/models
        {"name": "AWS_DEFAULT_REGION", "value": region},
        {"name": "NEURON_COMPILED_ARTIFACTS", "value": "/cache/neuron"},
        {"name": "VLLM_USE_V1", "value": "0"},
        {"name": "HF_HUB_OFFLINE", "value": "1"},  # weights come from S3, never from a hub at run time
    ] + [{"name": k, "value": v} for k, v in sorted(model.extra_env.items())]
    annotations = {DEPLOYMENT_MODE_ANNOTATION: mode_name}
    predictor: dict[str, Any] = {
        "serviceAccountName": MODEL_SERVICE_ACCOUNT,
        "minReplicas": model.min_replicas,
        "maxReplicas": model.max_replicas,
        "nodeSelector": {"karpenter.k8s.aws/instance-family": "inf2"},
        "tolerations": [{"key": NEURON_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
        "terminationGracePeriodSeconds": 120,  # spot notices give two minutes
        "containers": [
            {
                "name": "kserve-container",
                "image": model.image,
                "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
                "args": args,
                "env": env,
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {
                    "requests": {NEURON_RESOURCE: str(model.neuron_devices), "cpu": model.cpu, "memory": model.memory},
                    "limits": {NEURON_RESOURCE: str(model.neuron_devices), "memory": model.memory},
                },
                "readinessProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10, "failureThreshold": 3},
                "volumeMounts": [{"name": "neuron-cache", "mountPath": "/cache"}],
            }
        ],
        "volumes": [{"name": "neuron-cache", "emptyDir": {}}],
    }
    if mode is ServingMode.KNATIVE:
        annotations.update({
            "autoscaling.knative.dev/class": "kpa.autoscaling.knative.dev",
            "autoscaling.knative.dev/scale-to-zero-pod-retention-period": "15m",
            # cold start = node launch + image pull + Neuron load/compile
            "serving.knative.dev/progress-deadline": "1800s",
        })
        predictor.update({"scaleMetric": "concurrency", "scaleTarget": model.concurrency_target})
    else:
        annotations["serving.kserve.io/autoscalerClass"] = "hpa"
        predictor.update({"scaleMetric": "cpu", "scaleTarget": model.cpu_target_percent})
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": model.name, "namespace": SERVING_NAMESPACE, "annotations": annotations},
        "spec": {"predictor": predictor},
    }


def knative_serving(version: str) -> list[dict[str, Any]]:
    """The knative-serving namespace and the operator's KnativeServing CR, with Kourier as ingress."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "knative-serving"}},
        {
            "apiVersion": "operator.knative.dev/v1beta1",
            "kind": "KnativeServing",
            "metadata": {"name": "knative-serving", "namespace": "knative-serving"},
            "spec": {
                "version": version,
                "ingress": {"kourier": {"enabled": True}},
                "config": {
                    "network": {"ingress-class": "kourier.ingress.networking.knative.dev"},
                    "autoscaler": {"enable-scale-to-zero": "true", "scale-to-zero-grace-period": "60s"},
                    "deployment": {"progress-deadline": "1800s"},
                },
            },
        },
    ]


# ---------------------------------------------------------------- semantic checks

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEM = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9, "": 1}
_MEM_RE = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|)$")


def parse_cpu(q: str) -> float | None:
    m = _CPU.match(str(q))
    return None if not m else float(m.group(1)) / (1000 if m.group(2) else 1)


def parse_memory_gib(q: str) -> float | None:
    m = _MEM_RE.match(str(q))
    return None if not m else float(m.group(1)) * _MEM[m.group(2)] / 2**30


def _arg(args: Sequence[str], name: str) -> str | None:
    for a in args:
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return None


def _pool_sizes(pool: Mapping[str, Any], table: Mapping[str, Inf2Instance]) -> list[Inf2Instance]:
    for r in pool["spec"]["template"]["spec"].get("requirements", []):
        if r["key"] == "node.kubernetes.io/instance-type" and r["operator"] == "In":
            return [table[t] for t in r["values"] if t in table]
    return []


def semantic_problems(manifests: Sequence[Mapping[str, Any]], *, knative_mode_names: Iterable[str]) -> list[str]:
    """Cross-resource checks CEL or the schemas cannot make offline. Returns one line per problem."""
    table = inf2_instances()
    cores = cores_per_device()
    knative_names = set(knative_mode_names)
    problems: list[str] = []
    classes = {m["metadata"]["name"] for m in manifests if m.get("kind") == "EC2NodeClass"}
    pools = [m for m in manifests if m.get("kind") == "NodePool"]
    for p in pools:
        ref = p["spec"]["template"]["spec"]["nodeClassRef"]
        if ref.get("kind") != "EC2NodeClass" or ref.get("name") not in classes:
            problems.append(
                f"NodePool {p['metadata']['name']!r} references EC2NodeClass {ref.get('name')!r}, "
                f"which is not defined (defined: {', '.join(sorted(classes)) or 'none'})"
            )
        for s in [t for r in p["spec"]["template"]["spec"].get("requirements", [])
                  if r["key"] == "node.kubernetes.io/instance-type" for t in r.get("values", [])]:
            if s.startswith("inf2.") and s not in table:
                problems.append(f"NodePool {p['metadata']['name']!r} allows unknown instance type {s!r}; known: {', '.join(table)}")
    neuron_pools = [p for p in pools if any(t.get("key") == NEURON_RESOURCE for t in p["spec"]["template"]["spec"].get("taints", []))]
    for isvc in (m for m in manifests if m.get("kind") == "InferenceService"):
        name = isvc["metadata"]["name"]
        pred = isvc["spec"]["predictor"]
        c = pred["containers"][0]
        req = c.get("resources", {}).get("requests", {})
        devices = int(req.get(NEURON_RESOURCE, "0"))
        cpu = parse_cpu(req.get("cpu", "0"))
        mem = parse_memory_gib(req.get("memory", "0"))
        if cpu is None or mem is None:
            problems.append(f"InferenceService {name!r}: cannot parse cpu {req.get('cpu')!r} or memory {req.get('memory')!r}")
            continue
        tp = int(_arg(c.get("args", []), "tensor-parallel-size") or 1)
        if devices < 1:
            problems.append(f"InferenceService {name!r} requests no {NEURON_RESOURCE}; it would not land on an inf2 node")
        elif tp > devices * cores:
            problems.append(
                f"InferenceService {name!r}: tensor parallel size {tp} exceeds the {devices * cores} NeuronCores of "
                f"{devices} Inferentia2 device(s) ({cores} cores per device); request more devices or lower tensor parallelism"
            )
        tolerated = {t.get("key") for t in pred.get("tolerations", [])}
        if devices and NEURON_RESOURCE not in tolerated:
            problems.append(f"InferenceService {name!r} does not tolerate the {NEURON_RESOURCE} taint of the inf2 NodePools")
        for p in neuron_pools:
            pname = p["metadata"]["name"]
            sizes = _pool_sizes(p, table)
            if not any(s.neuron_devices >= devices for s in sizes):
                problems.append(
                    f"InferenceService {name!r} requests {devices} Inferentia2 device(s) but NodePool {pname!r} allows only "
                    f"{', '.join(f'{s.name} ({s.neuron_devices})' for s in sizes) or 'no known inf2 size'}"
                )
            elif not any(s.neuron_devices >= devices and s.schedulable_cpu >= cpu and s.schedulable_memory_gib >= mem for s in sizes):
                problems.append(
                    f"InferenceService {name!r} requests cpu {req.get('cpu')} and memory {req.get('memory')}, more than any size in "
                    f"NodePool {pname!r} can allocate: "
                    + ", ".join(f"{s.name} ({s.schedulable_cpu} cpu, {s.schedulable_memory_gib}Gi)" for s in sizes)
                )
        if devices and neuron_pools:
            limit_total = sum(int(p["spec"].get("limits", {}).get(NEURON_RESOURCE, "0")) for p in neuron_pools)
            need = int(pred.get("maxReplicas", 1)) * devices
            if limit_total < need:
                problems.append(
                    f"InferenceService {name!r}: maxReplicas {pred.get('maxReplicas')} x {devices} device(s) = {need} "
                    f"{NEURON_RESOURCE}, but the inf2 NodePool limits add up to {limit_total}"
                )
            for p in neuron_pools:
                lim = int(p["spec"].get("limits", {}).get(NEURON_RESOURCE, "0"))
                if lim < devices:
                    problems.append(f"NodePool {p['metadata']['name']!r} limit of {lim} {NEURON_RESOURCE} cannot fit one replica of {name!r} ({devices})")
        mode = isvc["metadata"].get("annotations", {}).get(DEPLOYMENT_MODE_ANNOTATION)
        if int(pred.get("minReplicas", 1)) == 0 and mode not in knative_names:
            problems.append(
                f"InferenceService {name!r}: minReplicas 0 (scale to zero) needs Knative mode, but the deployment mode is {mode!r}; "
                "set min_replicas >= 1 or use ServingMode.KNATIVE"
            )
    return problems


def cost_ceiling_per_hour(pools: Iterable[Inf2NodePool], prices: Mapping[str, float]) -> dict[str, float]:
    """Worst-case USD/hour per inf2 NodePool when it runs at its Neuron-device limit.

    For each allowed size, the most nodes the limit lets Karpenter launch is ceil(limit / devices per node)
    (Karpenter checks limits before launching, so the last node may overshoot); the ceiling is the
    most expensive of those fleets, priced on demand (spot costs less).
    """
    table = inf2_instances()
    out = {}
    for p in pools:
        out[p.name] = max(math.ceil(p.neuron_limit / table[t].neuron_devices) * prices[t] for t in p.instance_types)
    return out
