"""The bundled SageMaker instance table (hardware facts and a dated price table)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._data import load_json


def load_data(name: str) -> dict[str, Any]:
    """One JSON file from this package's ``data/`` folder (shipped in the wheel)."""
    return load_json(__package__, name)


@dataclass(frozen=True, kw_only=True)
class InstanceSpec:
    """Hardware facts about one ``ml.*`` hosting instance type."""

    name: str
    """The ``ml.*`` instance type."""
    accelerator: str | None
    """``nvidia-a10g``, ``neuron-inferentia2``... or ``None`` for CPU instances."""
    accelerators: int
    """GPUs, or Inferentia2 chips."""
    accelerator_memory_gib: int
    """Accelerator memory of the whole instance (all GPUs or chips)."""
    vcpus: int
    """Virtual CPUs."""
    memory_gib: int
    """Host memory."""
    local_nvme: bool
    """Instance-store NVMe: SageMaker rejects ``KmsKeyId`` and ``VolumeSizeInGB`` for these types."""

    @property
    def is_gpu(self) -> bool:
        return bool(self.accelerator and self.accelerator.startswith("nvidia"))

    @property
    def is_accelerated(self) -> bool:
        return self.accelerators > 0


def instance_spec(instance_type: str) -> InstanceSpec | None:
    """Facts for ``instance_type`` or ``None`` when it is not in the bundled table."""
    raw = load_data("instances.json")["instances"].get(instance_type)
    return None if raw is None else InstanceSpec(name=instance_type, **raw)


def known_instance_types() -> list[str]:
    return sorted(load_data("instances.json")["instances"])


def hourly_price(instance_type: str, region: str) -> float | None:
    """On-demand SageMaker real-time price (USD/hour) from the dated table, or ``None``."""
    price: float | None = load_data("instances.json")["prices_usd_per_hour"].get(region, {}).get(instance_type)
    return price


def price_table_info() -> tuple[str, str, list[str]]:
    """(as-of date, source, regions with prices)."""
    data = load_data("instances.json")
    return data["prices_as_of"], data["prices_source"], sorted(data["prices_usd_per_hour"])


def hosting_instance_types() -> list[str]:
    """Every instance type SageMaker accepts for a production variant (bundled from botocore's API model)."""
    return list(load_data("hosting_instance_types.json")["instance_types"])
