"""Hourly cost of a LoRA fleet against one dedicated endpoint per adapter (seed 003: "1 base model and 100
adapters — 95% reduction in cost").

The saving is computed, never asserted: instances needed under a traffic assumption, priced from the dated,
per-Region table bundled with the SageMaker constructs (``sagemaker_endpoint/data/instances.json``), or from a
price the caller passes.

Model (steady state, on-demand, instance-hours only; storage, data transfer and scale to zero are ignored):

* total in-flight requests = adapters × ``concurrent_requests_per_adapter``
* fleet: base copies = ⌈in-flight ÷ ``target_concurrent_requests_per_copy``⌉ (at least 1), each reserving
  ``accelerators_per_copy`` GPUs; instances = ⌈copies ÷ copies per instance⌉ (at least ``min_instances``),
  copies per instance = the instance's GPUs ÷ ``accelerators_per_copy``
* dedicated: per adapter, ⌈its in-flight ÷ target⌉ (at least 1) instances of ``dedicated_instance_type``
  (one model copy per instance, as a classic single-model endpoint)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .._types import TypedOptions
from ..sagemaker_endpoint.instances import hourly_price, instance_spec, price_table_info

#: Hours in a month for monthly figures (365 × 24 ÷ 12).
HOURS_PER_MONTH = 730
DEFAULT_FLEET_INSTANCE_TYPE = "ml.g5.12xlarge"
"""4 × A10G (96 GB): four 1-GPU copies of an 8B model, or one tensor-parallel copy of a larger one."""
DEFAULT_DEDICATED_INSTANCE_TYPE = "ml.g5.2xlarge"
"""1 × A10G: the smallest comfortable home for one fine-tuned 7-8B model in bf16 (sagemaker.md §6)."""
DEFAULT_REGION = "us-east-1"


class PriceUnavailableError(LookupError):
    """The bundled table has no price for an instance type in a Region; pass the price explicitly."""


@dataclass(frozen=True, kw_only=True)
class TrafficAssumption(TypedOptions):
    """How busy the adapters are, in the unit autoscaling works in (concurrent requests)."""

    concurrent_requests_per_adapter: float = 0.2
    """Average requests in flight per adapter, e.g. 12 requests a minute lasting 1 s each. Default: 0.2."""
    target_concurrent_requests_per_copy: float = 5.0
    """Concurrent requests one model copy serves, the autoscaling target
    (``AutoScalingOptions.target_concurrent_requests``). Default: 5."""

    def copies_for(self, concurrent_requests: float) -> int:
        """Model copies needed for ``concurrent_requests`` in flight (at least one)."""
        return max(1, math.ceil(round(concurrent_requests / self.target_concurrent_requests_per_copy, 9)))

    def problems(self) -> list[str]:
        out = []
        if self.concurrent_requests_per_adapter < 0:
            out.append(f"concurrent_requests_per_adapter must be 0 or more, got {self.concurrent_requests_per_adapter}")
        if self.target_concurrent_requests_per_copy <= 0:
            out.append(
                f"target_concurrent_requests_per_copy must be positive, got {self.target_concurrent_requests_per_copy}"
            )
        return out


@dataclass(frozen=True, kw_only=True)
class FleetCostEstimate:
    """What a fleet of ``adapters`` needs and costs per hour."""

    adapters: int
    """Adapters served."""
    instance_type: str
    """The fleet's instance type."""
    region: str
    """The Region whose prices are used."""
    price_per_hour: float
    """USD per instance-hour."""
    price_source: str
    """``"caller"`` or the bundled table and its date."""
    concurrent_requests: float
    """Requests in flight over all adapters."""
    copies: int
    """Base model copies needed."""
    accelerators_per_copy: int
    """GPUs (or Neuron chips) each copy reserves."""
    copies_per_instance: int
    """Copies that fit one instance."""
    instances: int
    """Instances needed (at least ``min_instances``)."""
    region_assumed: bool = False
    """True when ``region`` was not given and could not be known at synth (a Region-agnostic stack): the prices
    are ``DEFAULT_REGION``'s (us-east-1). Pass ``region=`` for another. Default: False."""

    @property
    def hourly_usd(self) -> float:
        return self.instances * self.price_per_hour

    @property
    def monthly_usd(self) -> float:
        return self.hourly_usd * HOURS_PER_MONTH


@dataclass(frozen=True, kw_only=True)
class CostComparison:
    """The fleet against one dedicated endpoint per adapter."""

    fleet: FleetCostEstimate
    """The fleet's estimate."""
    dedicated_instance_type: str
    """The instance type of each dedicated endpoint."""
    dedicated_price_per_hour: float
    """USD per dedicated instance-hour."""
    dedicated_instances: int
    """Instances of all dedicated endpoints together."""

    @property
    def adapters(self) -> int:
        return self.fleet.adapters

    @property
    def dedicated_hourly_usd(self) -> float:
        return self.dedicated_instances * self.dedicated_price_per_hour

    @property
    def savings_usd_per_hour(self) -> float:
        return self.dedicated_hourly_usd - self.fleet.hourly_usd

    @property
    def savings_percent(self) -> float:
        """Share of the dedicated cost the fleet saves (negative when the fleet costs more)."""
        return 100.0 * (1.0 - self.fleet.hourly_usd / self.dedicated_hourly_usd)


def _price(instance_type: str, region: str, given: float | None, argument: str) -> tuple[float, str]:
    if given is not None:
        if given <= 0:
            raise ValueError(f"{argument} must be a positive USD amount per hour, got {given}")
        return float(given), "caller"
    price = hourly_price(instance_type, region)
    as_of, source, regions = price_table_info()
    if price is None:
        raise PriceUnavailableError(
            f"no bundled SageMaker price for {instance_type} in {region} (table as of {as_of}, Regions with prices: "
            f"{', '.join(regions)}); pass {argument}=<USD per hour> from the SageMaker pricing page"
        )
    return price, f"bundled table, {as_of}"


def _copies_per_instance(instance_type: str, accelerators_per_copy: int, given: int | None) -> int:
    if given is not None:
        if given < 1:
            raise ValueError(f"copies_per_instance must be at least 1, got {given}")
        return given
    spec = instance_spec(instance_type)
    if spec is None:
        raise PriceUnavailableError(
            f"{instance_type} is not in the bundled instance table, so its GPUs are unknown; pass copies_per_instance=<n>"
        )
    if not spec.is_accelerated:
        return 1
    if accelerators_per_copy > spec.accelerators:
        raise ValueError(
            f"accelerators_per_copy ({accelerators_per_copy}) is more than the {spec.accelerators} of {instance_type}"
        )
    return spec.accelerators // accelerators_per_copy


def estimate_hourly_cost(
    *,
    adapters: int,
    instance_type: str = DEFAULT_FLEET_INSTANCE_TYPE,
    region: str = DEFAULT_REGION,
    accelerators_per_copy: int = 1,
    traffic: TrafficAssumption | None = None,
    min_instances: int = 1,
    copies_per_instance: int | None = None,
    price_per_hour: float | None = None,
) -> FleetCostEstimate:
    """Instances and hourly cost of one base model serving ``adapters`` adapters.

    :raises PriceUnavailableError: the bundled table has no price for ``instance_type`` in ``region``
        (pass ``price_per_hour``).
    """
    traffic = traffic or TrafficAssumption()
    problems = traffic.problems()
    if not isinstance(adapters, int) or adapters < 1:
        problems.append(f"adapters must be a positive integer, got {adapters!r}")
    if accelerators_per_copy < 1:
        problems.append(f"accelerators_per_copy must be at least 1, got {accelerators_per_copy}")
    if min_instances < 0:
        problems.append(f"min_instances must be 0 or more, got {min_instances}")
    if problems:
        raise ValueError("; ".join(problems))
    price, source = _price(instance_type, region, price_per_hour, "price_per_hour")
    per_instance = _copies_per_instance(instance_type, accelerators_per_copy, copies_per_instance)
    in_flight = adapters * traffic.concurrent_requests_per_adapter
    copies = traffic.copies_for(in_flight)
    return FleetCostEstimate(
        adapters=adapters,
        instance_type=instance_type,
        region=region,
        price_per_hour=price,
        price_source=source,
        concurrent_requests=in_flight,
        copies=copies,
        accelerators_per_copy=accelerators_per_copy,
        copies_per_instance=per_instance,
        instances=max(min_instances, math.ceil(copies / per_instance)),
    )


def compare_with_dedicated(
    *,
    adapters: int,
    instance_type: str = DEFAULT_FLEET_INSTANCE_TYPE,
    dedicated_instance_type: str = DEFAULT_DEDICATED_INSTANCE_TYPE,
    region: str = DEFAULT_REGION,
    accelerators_per_copy: int = 1,
    traffic: TrafficAssumption | None = None,
    min_instances: int = 1,
    copies_per_instance: int | None = None,
    price_per_hour: float | None = None,
    dedicated_price_per_hour: float | None = None,
) -> CostComparison:
    """The fleet (:func:`estimate_hourly_cost`) against ``adapters`` single-model endpoints of
    ``dedicated_instance_type`` under the same traffic.

    With the defaults (100 adapters at 0.2 concurrent requests each, 5 per copy, 1 GPU per copy): 4 copies fit
    one ml.g5.12xlarge ($7.09/h) against 100 × ml.g5.2xlarge ($151.50/h), a 95.3 % saving.

    :raises PriceUnavailableError: a price is missing from the bundled table (pass ``price_per_hour`` /
        ``dedicated_price_per_hour``).
    """
    traffic = traffic or TrafficAssumption()
    fleet = estimate_hourly_cost(
        adapters=adapters,
        instance_type=instance_type,
        region=region,
        accelerators_per_copy=accelerators_per_copy,
        traffic=traffic,
        min_instances=min_instances,
        copies_per_instance=copies_per_instance,
        price_per_hour=price_per_hour,
    )
    dedicated_price, _ = _price(dedicated_instance_type, region, dedicated_price_per_hour, "dedicated_price_per_hour")
    per_adapter = traffic.copies_for(traffic.concurrent_requests_per_adapter)
    return CostComparison(
        fleet=fleet,
        dedicated_instance_type=dedicated_instance_type,
        dedicated_price_per_hour=dedicated_price,
        dedicated_instances=adapters * per_adapter,
    )


def _usd(amount: float) -> str:
    """Cents, rounded half up (1.515 → 1.52, which binary floats would print as 1.51)."""
    return f"{Decimal(repr(round(amount, 6))).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def cost_table(adapter_counts: Sequence[int] = (1, 10, 100, 500), **options: object) -> str:
    """A Markdown table of :func:`compare_with_dedicated` for each adapter count (options passed through)."""
    rows = [compare_with_dedicated(adapters=n, **options) for n in adapter_counts]  # type: ignore[arg-type]
    first = rows[0]
    head = (
        f"| adapters | base copies | fleet {first.fleet.instance_type} instances | fleet $/h | "
        f"dedicated {first.dedicated_instance_type} endpoints | dedicated $/h | saving |\n"
        "|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {r.adapters} | {r.fleet.copies} | {r.fleet.instances} | {_usd(r.fleet.hourly_usd)} | "
        f"{r.dedicated_instances} | {_usd(r.dedicated_hourly_usd)} | {r.savings_percent:.1f} % |\n"
        for r in rows
    )
    as_of, _, _ = price_table_info()
    traffic = options.get("traffic") or TrafficAssumption()
    assert isinstance(traffic, TrafficAssumption)
    foot = (
        f"\n{first.fleet.region} on-demand prices ({first.fleet.price_source if first.fleet.price_source == 'caller' else 'table as of ' + as_of}); "
        f"{traffic.concurrent_requests_per_adapter:g} concurrent requests per adapter, "
        f"{traffic.target_concurrent_requests_per_copy:g} per copy, {first.fleet.accelerators_per_copy} GPU per copy.\n"
    )
    return head + body + foot
