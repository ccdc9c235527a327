"""LoraAdapterFleet: one base model, hundreds of LoRA adapters on one SageMaker endpoint, each managed on its own."""

from . import rules
from .adapters import AdapterAlarmOptions, AdapterPackaging, AdapterStore, LoraAdapter
from .construct import (
    DEFAULT_ADAPTER_STACKS,
    DEFAULT_FLEET_AUTOSCALING,
    LoraAdapterComponent,
    LoraAdapterFleet,
    default_lora_container,
)
from .cost import (
    DEFAULT_DEDICATED_INSTANCE_TYPE,
    DEFAULT_FLEET_INSTANCE_TYPE,
    CostComparison,
    FleetCostEstimate,
    PriceUnavailableError,
    TrafficAssumption,
    compare_with_dedicated,
    cost_table,
    estimate_hourly_cost,
)

__all__ = [
    "DEFAULT_ADAPTER_STACKS",
    "DEFAULT_DEDICATED_INSTANCE_TYPE",
    "DEFAULT_FLEET_AUTOSCALING",
    "DEFAULT_FLEET_INSTANCE_TYPE",
    "AdapterAlarmOptions",
    "AdapterPackaging",
    "AdapterStore",
    "CostComparison",
    "FleetCostEstimate",
    "LoraAdapter",
    "LoraAdapterComponent",
    "LoraAdapterFleet",
    "PriceUnavailableError",
    "TrafficAssumption",
    "compare_with_dedicated",
    "cost_table",
    "default_lora_container",
    "estimate_hourly_cost",
    "rules",
]
