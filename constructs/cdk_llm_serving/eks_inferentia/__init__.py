"""EksInferentiaCluster: EKS + Karpenter + Neuron + KServe serving vLLM on Inferentia2."""

from . import rules
from .construct import INTERRUPTION_EVENTS, CostCeiling, EksInferentiaCluster
from .data import ComponentVersions, Inf2Instance, inf2_instances, version_matrix
from .manifests import DEFAULT_INF2_NODE_POOLS, Inf2NodePool, ServingMode, VllmNeuronModel
from .rules import EksPlan

__all__ = [
    "DEFAULT_INF2_NODE_POOLS",
    "INTERRUPTION_EVENTS",
    "ComponentVersions",
    "CostCeiling",
    "EksInferentiaCluster",
    "EksPlan",
    "Inf2Instance",
    "Inf2NodePool",
    "ServingMode",
    "VllmNeuronModel",
    "inf2_instances",
    "rules",
    "version_matrix",
]
