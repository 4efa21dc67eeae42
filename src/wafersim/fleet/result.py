"""What `plan(scenario)` answers: frozen records whose `to_dict()` is `wafersim plan --json`.

Figures are for the scenario's final period unless a record names a period; powers in MW where the name says
`_mw` (IT power), rates per second, money in US dollars.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any


def _plain(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _frozen(value: Any) -> Any:
    """JSON-like data made read-only: dicts to mappings, lists to tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


class _Record:
    """A frozen dataclass whose dict has its fields' names and order."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        return cls(**{f.name: _frozen(data[f.name]) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Fleet(_Record):
    """One fleet (single vendor or mixed) for one objective; `solver` is None when no fleet was solved for."""

    feasible: bool
    reason: str | None = None
    systems: int | None = None
    power_mw: float | None = None
    output_tokens_per_s: float | None = None
    users_served: float | None = None
    usd_per_million_tokens: float | None = None
    capex_usd: float | None = None
    total_cost_usd: float | None = None
    solver: str | None = None
    periods: tuple[Mapping[str, Any], ...] = ()  # per period: systems per option and model, power, users, $
    shortfall: Mapping[str, Any] | None = None  # an infeasible min_cost fleet: per period what would close it

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        shortfall = data.pop("shortfall")
        if self.solver is None:  # not solved: only why
            data = {"feasible": self.feasible, "reason": self.reason}
        if shortfall is not None:
            data["shortfall"] = shortfall
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fleet:
        return cls(**{f.name: _frozen(data[f.name]) for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class PlanPeriod(_Record):
    name: str
    years: float
    power_mw: float  # the period's power budget, on the scenario's power basis
    weekly_active_users: float


@dataclass(frozen=True)
class CapacityRow(_Record):
    """One (option, model) pair: the simulated replica capacity at the SLO, per system."""

    option: str
    system: str
    model: str
    available: bool
    reason: str | None
    layout: str | None
    replica_accelerators: int
    cached: bool
    span_limited: bool
    requests_per_s_per_system: float
    output_tokens_per_s_per_system: float
    it_power_w_per_system: float
    price_usd_per_system: float | None
    tokens_per_s_per_mw: float
    joules_per_token: float | None
    usd_per_million_tokens: float | None
    users_per_system: float
    ttft_p90_s: float | None
    tpot_p90_s: float | None


@dataclass(frozen=True)
class OptionPlan(_Record):
    """One supply option planned alone, for both objectives; the headline figures are the scenario objective's."""

    id: str
    system: str
    accelerators_per_system: int
    it_power_w_per_system: float
    price_usd_per_system: float | None
    price_source: str | None
    systems_in_final_budget: int
    capex_in_final_budget_usd: float | None
    plans: Mapping[str, Fleet]  # objective -> fleet
    feasible: bool
    reason: str | None
    systems: int | None
    power_mw: float | None
    output_tokens_per_s: float | None
    users_served: float | None
    usd_per_million_tokens: float | None
    capex_usd: float | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OptionPlan:
        plans = {name: Fleet.from_dict(fleet) for name, fleet in data["plans"].items()}
        return cls(
            **{**{f.name: _frozen(data[f.name]) for f in fields(cls)}, "plans": MappingProxyType(plans)}
        )


@dataclass(frozen=True)
class SensitivityRow(_Record):
    objective: str
    parameter: str
    factor: float
    feasible: bool
    systems: int | None
    mix: Mapping[str, int] | None
    mix_text: str | None
    total_cost_usd: float | None
    usd_per_million_tokens: float | None
    users_served: float | None
    power_mw: float | None


@dataclass(frozen=True)
class PlanTiming(_Record):
    capacity_s: float
    total_s: float
    capacity_cached: int
    capacity_simulated: int


@dataclass(frozen=True)
class Plan(_Record):
    """The plan for a scenario: capacity per system, every option alone, the mixed fleet, the sensitivity."""

    scenario: str
    objective: str
    seed: int
    slo: Mapping[str, float]
    power_basis: str
    pue: float
    periods: tuple[PlanPeriod, ...]
    mean_output_tokens: float
    capacity: tuple[CapacityRow, ...]
    options: tuple[OptionPlan, ...]
    mixed: Mapping[str, Fleet]  # objective -> the mixed fleet
    chosen: Fleet  # the mixed fleet for the scenario's objective
    feasible: bool
    sensitivity: tuple[SensitivityRow, ...]
    timing: PlanTiming

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            scenario=data["scenario"],
            objective=data["objective"],
            seed=data["seed"],
            slo=_frozen(data["slo"]),
            power_basis=data["power_basis"],
            pue=data["pue"],
            periods=tuple(PlanPeriod.from_dict(p) for p in data["periods"]),
            mean_output_tokens=data["mean_output_tokens"],
            capacity=tuple(CapacityRow.from_dict(r) for r in data["capacity"]),
            options=tuple(OptionPlan.from_dict(o) for o in data["options"]),
            mixed=MappingProxyType({k: Fleet.from_dict(v) for k, v in data["mixed"].items()}),
            chosen=Fleet.from_dict(data["chosen"]),
            feasible=data["feasible"],
            sensitivity=tuple(SensitivityRow.from_dict(r) for r in data["sensitivity"]),
            timing=PlanTiming.from_dict(data["timing"]),
        )
