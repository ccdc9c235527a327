"""Data shipped with the package: the version matrix, the inf2 instance table, the dated price table, and the
dated upstream facts the rules check against (Helm values keys, system CPU requests, vllm-neuron model families,
EC2 instance families)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._data import load_json


def _load(name: str) -> dict[str, Any]:
    return load_json(__package__, name)


@dataclass(frozen=True, kw_only=True)
class KubectlLayerPin:
    """The PyPI kubectl layer package that matches one Kubernetes minor version."""

    pypi: str
    """PyPI distribution, e.g. ``aws-cdk.lambda-layer-kubectl-v34``."""
    version: str
    """Pinned version of the distribution."""
    module: str
    """Python module it installs."""
    class_name: str
    """The layer construct class in ``module``."""


@dataclass(frozen=True, kw_only=True)
class ComponentVersions:
    """Pinned versions of everything installed for one Kubernetes minor version (one matrix row)."""

    kubernetes: str
    """Kubernetes minor version of the row, e.g. ``"1.34"``."""
    kubectl_layer: KubectlLayerPin
    """The kubectl layer of this Kubernetes minor."""
    karpenter: str
    """Karpenter chart version (``karpenter-crd`` and ``karpenter``)."""
    kserve: str
    """KServe chart version (``kserve-crd`` and the controller chart)."""
    knative_operator: str
    """Knative operator chart version."""
    knative_serving: str
    """Knative Serving version the KnativeServing CR asks for."""
    cert_manager: str
    """cert-manager chart version."""
    neuron_chart: str
    """``neuron-helm-chart`` version (device plugin, scheduler, node problem detector)."""
    neuron_custom_scheduler_image: str
    """kube-scheduler image of the Neuron chart's custom scheduler (same minor as the cluster: version-skew policy)."""


@dataclass(frozen=True, kw_only=True)
class Inf2Instance:
    """One Inferentia2 instance size."""

    name: str
    """Instance type, e.g. ``inf2.xlarge``."""
    vcpu: int
    """vCPUs."""
    memory_gib: int
    """Host memory in GiB."""
    neuron_devices: int
    """Inferentia2 devices (``aws.amazon.com/neuron``)."""
    neuron_cores: int
    """NeuronCore-v2 cores (2 per device)."""
    device_memory_gib: int
    """Inferentia2 accelerator memory of the instance (32 GiB per device)."""
    schedulable_cpu: float
    """CPU a pod can request after kube-reserved and the node DaemonSets."""
    schedulable_memory_gib: float
    """Memory (GiB) a pod can request after kube-reserved, system-reserved, eviction threshold and DaemonSets."""


def version_matrix() -> dict[str, ComponentVersions]:
    """Every supported Kubernetes minor version → its pinned component versions."""
    rows = _load("version_matrix.json")["kubernetes"]
    out = {}
    for k8s, row in rows.items():
        layer = row["kubectl_layer"]
        out[k8s] = ComponentVersions(
            kubernetes=k8s,
            kubectl_layer=KubectlLayerPin(
                pypi=layer["pypi"], version=layer["version"], module=layer["module"], class_name=layer["class"]
            ),
            **{k: v for k, v in row.items() if k != "kubectl_layer"},
        )
    return out


def karpenter_minimums() -> dict[str, str]:
    """Kubernetes minor version → the oldest Karpenter release that supports it."""
    return dict(_load("version_matrix.json")["karpenter_min_for_kubernetes"])


def kserve_modes(kserve_version: str) -> dict[str, str]:
    """Deployment-mode names and controller chart for a pinned KServe release."""
    return dict(_load("version_matrix.json")["kserve_deployment_modes"][kserve_version])


def inf2_instances() -> dict[str, Inf2Instance]:
    """Instance name → shape, for every Inferentia2 size."""
    return {name: Inf2Instance(name=name, **shape) for name, shape in _load("inf2_instances.json")["instances"].items()}


def cores_per_device() -> int:
    return int(_load("inf2_instances.json")["cores_per_device"])


def inf2_prices(region: str) -> dict[str, float]:
    """On-demand USD/hour per inf2 size in ``region``; raises KeyError naming the known regions."""
    regions = _load("inf2_prices.json")["regions"]
    if region not in regions:
        raise KeyError(f"no inf2 prices for region {region!r}; known regions: {', '.join(sorted(regions))}")
    return dict(regions[region])


def prices_as_of() -> str:
    return str(_load("inf2_prices.json")["as_of"])


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.lstrip("v").split("."))


def helm_values_keys() -> dict[str, dict[str, Any]]:
    """``<chart>@<version>`` -> ``{"source", "keys", "free_form"}``: the values keys read in each pinned chart."""
    return dict(_load("helm_values_keys.json")["charts"])


def system_requests() -> dict[str, Any]:
    """CPU requests of what runs on the system node group, EKS's kube-reserved formula, and their sources."""
    return _load("system_requests.json")


def vllm_neuron_models() -> dict[str, Any]:
    """Model families vllm-neuron supports, families known to fail, and the source."""
    return _load("vllm_neuron_models.json")


def ec2_instance_families() -> dict[str, Any]:
    """EC2 instance families (``m7i``, ``c7g`` ...) of the EC2 API model's instance types, and the source."""
    return _load("ec2_instance_families.json")
