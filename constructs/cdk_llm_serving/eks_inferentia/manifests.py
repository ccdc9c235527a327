"""Kubernetes manifests of EksInferentiaCluster.

The builders are plain functions returning dicts, so tests can check and mutate them without a
synth. The checks the CRD schemas cannot express (Knative's field mask, Karpenter and Neuron
placement, vLLM on Neuron) are the upstream rules in :mod:`.rules`, run on the complete plan.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._types import TypedOptions
from .data import inf2_instances

NEURON_RESOURCE = "aws.amazon.com/neuron"
NEURON_TAINT = {"key": NEURON_RESOURCE, "value": "true", "effect": "NoSchedule"}
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
KARPENTER_NODE_CLASS_GROUP = "karpenter.k8s.aws"
NEURON_NODE_CLASS = "neuron"
GENERAL_NODE_CLASS = "default"
SERVING_NAMESPACE = "llm"
MODEL_SERVICE_ACCOUNT = "llm-model-reader"
#: Name of the Neuron chart's custom kube-scheduler
#: (neuron-helm-charts 1.1.2 values.yaml scheduler.customScheduler.fullnameOverride).
NEURON_CUSTOM_SCHEDULER_DEFAULT_NAME = "my-scheduler"
#: Knative Serving's namespace; the operator installs Kourier there too
#: (knative/operator pkg/reconciler/common/transformers.go:32).
KNATIVE_SERVING_NAMESPACE = "knative-serving"


class ServingMode(enum.Enum):
    """How KServe runs the predictor (``EksInferentiaCluster(serving_mode=...)``)."""

    KNATIVE = "knative"
    """Knative Serving with the Knative Pod Autoscaler: request-concurrency scaling, scale to zero. The default
    of ``serving_mode``."""
    RAW_DEPLOYMENT = "raw"
    """A plain Deployment with a HorizontalPodAutoscaler on CPU; at least one replica (``min_replicas >= 1``)."""


@dataclass(frozen=True, kw_only=True)
class Inf2NodePool(TypedOptions):
    """A Karpenter NodePool for Inferentia2 nodes (tainted ``aws.amazon.com/neuron=true:NoSchedule``)."""

    name: str
    """NodePool name: a DNS label other than ``general`` (that one is the general-purpose pool). Required."""
    capacity_type: str
    """``"spot"`` or ``"on-demand"``. Required."""
    instance_types: Sequence[str]
    """Allowed inf2 sizes, e.g. ``("inf2.xlarge", "inf2.8xlarge")`` (kept as a tuple). Required."""
    neuron_limit: int
    """Most Inferentia2 devices (``aws.amazon.com/neuron``) the pool may provision in total, at least 1.
    Required."""
    weight: int
    """Karpenter tries higher weights first (1-100); spot pools must weigh more than on-demand ones. Required."""
    zones: Sequence[str] = ()
    """Availability zones to restrict to. Default: - any zone of the cluster's subnets"""
    consolidate_after: str = "5m"
    """How long a node must be empty or underutilized before consolidation. Default: ``"5m"``"""
    disruption_budget_nodes: str = "10%"
    """Most nodes disrupted at once by voluntary disruption. Default: ``"10%"``"""

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "instance_types", tuple(self.instance_types))
        object.__setattr__(self, "zones", tuple(self.zones))


DEFAULT_INF2_NODE_POOLS: tuple[Inf2NodePool, ...] = (
    Inf2NodePool(
        name="inf2-spot",
        capacity_type="spot",
        instance_types=("inf2.xlarge", "inf2.8xlarge"),
        neuron_limit=4,
        weight=100,
    ),
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
class VllmNeuronModel(TypedOptions):
    """An LLM served by vLLM on Neuron through a KServe InferenceService. Weights come from S3."""

    name: str = "tinyllama-1-1b-chat"
    """InferenceService name and vLLM served model name (a DNS label). Default: ``"tinyllama-1-1b-chat"``"""
    model_s3_prefix: str = "models/tinyllama-1.1b-chat-v1.0/"
    """Key prefix (not an ``s3://`` URI, ending in ``/``) of the Hugging Face-format weights in the model bucket.
    Default: ``"models/tinyllama-1.1b-chat-v1.0/"``"""
    family: str = "llama-2"
    """Architecture family of the weights, as vllm-neuron's supported list names it: llama-2, llama-3.1, llama-3.3,
    llama-4-scout, llama-4-maverick, qwen-2.5 or qwen-3.
    Default: "llama-2" (TinyLlama-1.1B uses the Llama 2 architecture)"""
    parameters_billions: float = 1.1
    """Parameter count in billions (16-bit weights), checked against Inferentia2 device memory. Default: 1.1"""
    image: str = "public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:0.13.0-neuronx-py312-sdk2.28.0-ubuntu24.04"
    """vLLM Neuron container (pinned; Neuron SDK 2.28 is the last release with NxD Inference on Inf2).
    Default: ``"public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:0.13.0-neuronx-py312-sdk2.28.0-ubuntu24.04"``"""
    tensor_parallel_size: int = 2
    """NeuronCores the model is sharded over (2 per Inferentia2 device). Default: 2"""
    max_model_len: int = 2048
    """Longest sequence (prompt + completion) in tokens. Default: 2048"""
    max_num_seqs: int = 8
    """Most concurrent sequences per replica (the compiled batch size). Default: 8"""
    neuron_devices: int = 1
    """Inferentia2 devices per replica; more than 1 uses the Neuron chart's custom scheduler. Default: 1"""
    cpu: str = "3"
    """CPU request per replica (a Kubernetes quantity). Default: "3" (fits inf2.xlarge)"""
    memory: str = "12Gi"
    """Memory request and limit per replica (a Kubernetes quantity). Default: "12Gi" (fits inf2.xlarge)"""
    min_replicas: int = 0
    """Fewest replicas; 0 scales to zero (Knative mode only). Default: 0"""
    max_replicas: int = 2
    """Most replicas. Default: 2"""
    concurrency_target: int = 8
    """Knative mode: in-flight requests per replica before scaling out. Default: 8"""
    cpu_target_percent: int = 80
    """Raw-deployment mode: HPA CPU utilisation target. Default: 80"""
    extra_env: Mapping[str, str] = field(default_factory=dict)
    """More environment variables for the vLLM container. Default: - none"""

    @property
    def num_gpu_blocks(self) -> int:
        """KV-cache blocks vllm-neuron needs: ceil(max_model_len / block_size) x max_num_seqs, with block_size =
        max_model_len because prefix caching is off (vllm-neuron README Known Issues 2; platform.py)."""
        block_size = self.max_model_len
        return math.ceil(self.max_model_len / block_size) * self.max_num_seqs


# ---------------------------------------------------------------- builders


def ec2_node_class(
    *, name: str, role_name: str, cluster_name: str, ami_alias: str | None, ami_id: str | None, root_volume_gib: int
) -> dict[str, Any]:
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
                "ebs": {
                    "volumeSize": f"{root_volume_gib}Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "deleteOnTermination": True,
                },
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
                    "nodeClassRef": {
                        "group": KARPENTER_NODE_CLASS_GROUP,
                        "kind": "EC2NodeClass",
                        "name": NEURON_NODE_CLASS,
                    },
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
                    "nodeClassRef": {
                        "group": KARPENTER_NODE_CLASS_GROUP,
                        "kind": "EC2NodeClass",
                        "name": GENERAL_NODE_CLASS,
                    },
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
            "disruption": {
                "consolidationPolicy": "WhenEmptyOrUnderutilized",
                "consolidateAfter": "1m",
                "budgets": [{"nodes": "10%"}],
            },
        },
    }


def vllm_container(model: VllmNeuronModel, *, storage_uri: str, region: str) -> dict[str, Any]:
    """The predictor's vLLM container: OpenAI-compatible server on port 8080, weights from ``/mnt/models``."""
    args = [
        "--model=/mnt/models",
        f"--served-model-name={model.name}",
        f"--tensor-parallel-size={model.tensor_parallel_size}",
        f"--max-model-len={model.max_model_len}",
        f"--max-num-seqs={model.max_num_seqs}",
        "--no-enable-prefix-caching",
        f"--num-gpu-blocks-override={model.num_gpu_blocks}",
        "--port=8080",
    ]
    env = [
        {"name": "STORAGE_URI", "value": storage_uri},  # KServe's storage initializer copies it to /mnt/models
        {"name": "AWS_DEFAULT_REGION", "value": region},
        {"name": "NEURON_COMPILED_ARTIFACTS", "value": "/cache/neuron"},
        {"name": "VLLM_USE_V1", "value": "0"},
        {"name": "HF_HUB_OFFLINE", "value": "1"},  # weights come from S3, never from a hub at run time
    ] + [{"name": k, "value": v} for k, v in sorted(model.extra_env.items())]
    return {
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


def inference_service(
    *,
    model: VllmNeuronModel,
    mode: ServingMode,
    mode_name: str,
    storage_uri: str,
    region: str,
    scheduler_name: str | None = None,
) -> dict[str, Any]:
    """The InferenceService; ``scheduler_name`` places the pods with the Neuron custom scheduler
    (multi-device replicas)."""
    annotations = {DEPLOYMENT_MODE_ANNOTATION: mode_name}
    predictor: dict[str, Any] = {
        "serviceAccountName": MODEL_SERVICE_ACCOUNT,
        "minReplicas": model.min_replicas,
        "maxReplicas": model.max_replicas,
        "nodeSelector": {"karpenter.k8s.aws/instance-family": "inf2"},
        "tolerations": [{"key": NEURON_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
        # a consolidated serving node costs a new image pull and Neuron load; Karpenter leaves pods with this alone
        "annotations": {"karpenter.sh/do-not-disrupt": "true"},
        "containers": [vllm_container(model, storage_uri=storage_uri, region=region)],
        "volumes": [{"name": "neuron-cache", "emptyDir": {}}],
    }
    if scheduler_name is not None:
        predictor["schedulerName"] = scheduler_name
    if mode is ServingMode.KNATIVE:
        annotations.update(
            {
                "autoscaling.knative.dev/class": "kpa.autoscaling.knative.dev",
                "autoscaling.knative.dev/scale-to-zero-pod-retention-period": "15m",
                # cold start = node launch + image pull + Neuron load/compile
                "serving.knative.dev/progress-deadline": "1800s",
            }
        )
        # no terminationGracePeriodSeconds: Knative rejects it and uses the revision timeout (300 s default), above
        # spot's 2-minute notice
        predictor.update({"scaleMetric": "concurrency", "scaleTarget": model.concurrency_target})
    else:
        annotations["serving.kserve.io/autoscalerClass"] = "hpa"
        predictor.update(
            {"scaleMetric": "cpu", "scaleTarget": model.cpu_target_percent, "terminationGracePeriodSeconds": 120}
        )  # spot notices give two minutes
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": model.name, "namespace": SERVING_NAMESPACE, "annotations": annotations},
        "spec": {"predictor": predictor},
    }


def knative_serving(version: str, *, features: Mapping[str, str]) -> list[dict[str, Any]]:
    """The knative-serving namespace and the operator's KnativeServing CR, with Kourier as in-cluster ingress.

    ``features`` goes to config-features (the PodSpec fields the predictor needs, see
    :func:`.rules.knative_features_needed`). Kourier's gateway Service is ClusterIP: the operator's
    default is a LoadBalancer, which on EKS would expose the model through an internet-facing load balancer.
    """
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": KNATIVE_SERVING_NAMESPACE}},
        {
            "apiVersion": "operator.knative.dev/v1beta1",
            "kind": "KnativeServing",
            "metadata": {"name": "knative-serving", "namespace": KNATIVE_SERVING_NAMESPACE},
            "spec": {
                "version": version,
                "ingress": {"kourier": {"enabled": True, "service-type": "ClusterIP"}},
                "config": {
                    "network": {"ingress-class": "kourier.ingress.networking.knative.dev"},
                    "autoscaler": {"enable-scale-to-zero": "true", "scale-to-zero-grace-period": "60s"},
                    "deployment": {"progress-deadline": "1800s"},
                    "features": dict(features),
                },
            },
        },
    ]


# ---------------------------------------------------------------- quantities

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEM = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9, "": 1}
_MEM_RE = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|)$")


def parse_cpu(q: str) -> float | None:
    m = _CPU.match(str(q))
    return None if not m else float(m.group(1)) / (1000 if m.group(2) else 1)


def parse_memory_gib(q: str) -> float | None:
    m = _MEM_RE.match(str(q))
    return None if not m else float(m.group(1)) * _MEM[m.group(2)] / 2**30


def vllm_arg(args: Sequence[str], name: str) -> str | None:
    """The value of ``--name=value`` in a vLLM argument list, or None."""
    for a in args:
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return None


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
