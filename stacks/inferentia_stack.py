"""InferentiaStack: an LLM served with vLLM on Inferentia2 through KServe on EKS (seed 004).

Karpenter launches inf2 nodes on spot first, on-demand as fallback; KServe scales the model,
to zero in Knative mode. Weights come from the stack's S3 bucket, never from a hub at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from cdk_llm_serving import (
    DEFAULT_INF2_NODE_POOLS,
    EksInferentiaCluster,
    Inf2NodePool,
    PropsValidationError,
    ServingMode,
    VllmNeuronModel,
)
from cdk_llm_serving.eks_inferentia.construct import props_problems

from .settings import settings_from_context

_MODES = {m.value: m for m in ServingMode}
# Defaults come from the library, so the flat settings cannot drift from the construct's own defaults.
_MODEL = VllmNeuronModel()
_SPOT, _ON_DEMAND = DEFAULT_INF2_NODE_POOLS


@dataclass(frozen=True, kw_only=True)
class InferentiaSettings:
    """Settings of :class:`InferentiaStack`, read from cdk.json context ``inferentia``."""

    cluster_name: str = "llm-inferentia"
    """EKS cluster name. Default: llm-inferentia"""
    kubernetes_version: str = "1.34"
    """Kubernetes minor version from the version matrix. Default: 1.34"""
    serving_mode: str = "knative"
    """``knative`` (KPA, scale to zero) or ``raw`` (Deployment + HPA). Default: knative"""
    model_name: str = _MODEL.name
    """InferenceService and served model name. Default: tinyllama-1-1b-chat"""
    model_s3_prefix: str = _MODEL.model_s3_prefix
    """Key prefix (not an s3:// URI) of the weights in the model bucket. Default: models/tinyllama-1.1b-chat-v1.0/"""
    model_family: str = _MODEL.family
    """Architecture family of the weights, as vllm-neuron's supported list names it (llama-2, llama-3.1, qwen-2.5,
    ...). Default: llama-2"""
    model_parameters_billions: float = _MODEL.parameters_billions
    """Parameter count in billions, checked against Inferentia2 device memory. Default: 1.1"""
    tensor_parallel_size: int = _MODEL.tensor_parallel_size
    """NeuronCores per replica. Default: 2"""
    max_model_len: int = _MODEL.max_model_len
    """Longest sequence in tokens. Default: 2048"""
    neuron_devices: int = _MODEL.neuron_devices
    """Inferentia2 devices per replica. Default: 1"""
    cpu: str = _MODEL.cpu
    """CPU request per replica. Default: 3"""
    memory: str = _MODEL.memory
    """Memory per replica. Default: 12Gi"""
    min_replicas: int = _MODEL.min_replicas
    """Fewest replicas (0 only in knative mode). Default: 0"""
    max_replicas: int = _MODEL.max_replicas
    """Most replicas. Default: 2"""
    concurrency_target: int = _MODEL.concurrency_target
    """In-flight requests per replica before Knative scales out. Default: 8"""
    spot_neuron_limit: int = _SPOT.neuron_limit
    """Inferentia2 devices the spot NodePool may provision. Default: 4"""
    on_demand_neuron_limit: int = _ON_DEMAND.neuron_limit
    """Inferentia2 devices the on-demand fallback NodePool may provision. Default: 2"""
    ami_alias: str = "al2023@v20260801"
    """Pinned EC2NodeClass AMI alias. Default: al2023@v20260801"""
    custom_ami_id: str | None = None
    """Pre-baked AMI for inf2 nodes. Default: - none (the ``ami_alias``)"""

    def problems(self) -> list[str]:
        """Allowed values, and the cluster's own props checks on the props these settings give it."""
        problems = []
        if self.serving_mode not in _MODES:
            problems.append(f"setting 'serving_mode' must be one of {', '.join(_MODES)}, got {self.serving_mode!r}")
        return problems + props_problems(self._shared_props())

    @classmethod
    def from_context(cls, raw: Any) -> InferentiaSettings:
        """Parse and check the ``inferentia`` context value; every problem is reported at once: names and types,
        allowed values and the cluster's props checks (its upstream rules run when the stack builds it)."""
        problems: list[str] = []
        settings = settings_from_context(cls, raw, context_key="inferentia", problems=problems)
        problems += settings.problems()
        if problems:
            raise PropsValidationError("cdk.json context 'inferentia'", problems)
        return settings

    def cluster_props(self) -> dict[str, Any]:
        """The ``EksInferentiaCluster`` props these settings give; the others keep the construct's defaults."""
        return {**self._shared_props(), "serving_mode": _MODES[self.serving_mode]}

    def _shared_props(self) -> dict[str, Any]:
        return {
            "cluster_name": self.cluster_name,
            "kubernetes_version": self.kubernetes_version,
            "model": self.model,
            "inf2_node_pools": self.node_pools,
            "ami_alias": self.ami_alias,
            "custom_ami_id": self.custom_ami_id,
        }

    @property
    def model(self) -> VllmNeuronModel:
        return VllmNeuronModel(
            name=self.model_name,
            model_s3_prefix=self.model_s3_prefix,
            family=self.model_family,
            parameters_billions=self.model_parameters_billions,
            tensor_parallel_size=self.tensor_parallel_size,
            max_model_len=self.max_model_len,
            neuron_devices=self.neuron_devices,
            cpu=self.cpu,
            memory=self.memory,
            min_replicas=self.min_replicas,
            max_replicas=self.max_replicas,
            concurrency_target=self.concurrency_target,
        )

    @property
    def node_pools(self) -> tuple[Inf2NodePool, ...]:
        sizes = ("inf2.xlarge", "inf2.8xlarge") if self.neuron_devices <= 1 else ("inf2.24xlarge", "inf2.48xlarge")
        return (
            replace(_SPOT, instance_types=sizes, neuron_limit=self.spot_neuron_limit),
            replace(_ON_DEMAND, instance_types=sizes, neuron_limit=self.on_demand_neuron_limit),
        )


class InferentiaStack(cdk.Stack):
    """EKS + Karpenter (inf2 spot/on-demand) + Neuron + KServe serving one vLLM model."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: InferentiaSettings | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("description", "cdk-llm-serving: vLLM on Inferentia2 with KServe, Karpenter and EKS")
        super().__init__(scope, construct_id, **kwargs)
        settings = settings or InferentiaSettings()
        self.settings = settings
        self.inferentia = EksInferentiaCluster(self, "Inferentia", **settings.cluster_props())
        c = self.inferentia
        ceiling = c.cost_ceiling()
        cdk.CfnOutput(self, "ClusterName", value=c.cluster.cluster_name)
        cdk.CfnOutput(
            self,
            "ModelBucketName",
            value=c.model_bucket.bucket_name,
            description=f"Upload the Hugging Face weights under s3://<bucket>/{settings.model_s3_prefix}",
        )
        cdk.CfnOutput(self, "StorageUri", value=c.storage_uri)
        cdk.CfnOutput(
            self,
            "KubeconfigCommand",
            value=f"aws eks update-kubeconfig --name {settings.cluster_name} --region {self.region}",
            description="The endpoint is private: run from the VPC (or a bastion/VPN) with cluster access",
        )
        cdk.CfnOutput(
            self,
            "InferenceEndpoint",
            value=c.inference_url_hint,
            description="OpenAI-compatible API of the InferenceService (first request after scale to zero "
            "takes minutes)",
        )
        cdk.CfnOutput(
            self,
            "Inf2CostCeilingUsdPerMonth",
            value=f"{ceiling.usd_per_month:.2f}",
            description=f"Worst-case inf2 on-demand cost at the NodePool limits, {ceiling.region} prices "
            f"as of {ceiling.prices_as_of}",
        )
