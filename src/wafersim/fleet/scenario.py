"""A planning scenario: demand, model mix, SLOs, power budget per period and the supply options to buy from.

Parsed from YAML into frozen pydantic models (`extra="forbid"`, so a misspelt key is an error, not a silent
default). Every error names the file and the field at fault: ``scenario.yaml: field 'options.1.system': ...``.
Building a `Scenario` from a dict does no I/O; `load_scenario` reads the file and checks ids against the catalog.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wafersim.catalog import Catalog, load_catalog
from wafersim.errors import WafersimError

SECONDS_PER_DAY = 86_400.0


class _Spec(BaseModel):
    # YAML reads ".inf" and ".nan" as floats; no budget, price or rate here may be either.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class LengthSpec(_Spec):
    """One token-length distribution (the serving layer's `Lengths`)."""

    kind: Literal["fixed", "lognormal"]
    value: int | None = Field(None, ge=1)
    median: float | None = Field(None, ge=1)
    sigma: float | None = Field(None, ge=0)
    maximum: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _complete(self) -> LengthSpec:
        if self.kind == "fixed" and self.value is None:
            raise ValueError("a fixed length needs 'value'")
        if self.kind == "lognormal" and (self.median is None or self.sigma is None):
            raise ValueError("a lognormal length needs 'median' and 'sigma'")
        return self


class Lengths(_Spec):
    """Request lengths: resampled from a trace (shipped name or path) or from two distributions."""

    trace: str | None = None
    prompt: LengthSpec | None = None
    output: LengthSpec | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Lengths:
        if (self.trace is None) == (self.prompt is None or self.output is None):
            raise ValueError("give either 'trace' or both 'prompt' and 'output'")
        return self


class Demand(_Spec):
    weekly_active_users: float = Field(gt=0)
    # Requests per weekly active user per day, averaged over the week (light users included).
    requests_per_user_per_day: float = Field(gt=0)
    peak_to_mean: float = Field(ge=1)  # the fleet is sized for the diurnal peak
    growth_per_period: float = Field(1.0, gt=0)  # users multiply by this from one period to the next
    lengths: Lengths
    simulated_requests: int = Field(2000, ge=50, le=200_000)  # the most one capacity probe replays
    # A probe spans at least this many request lifetimes (TTFT + output × TPOT at the SLO): steady state.
    min_span_lifetimes: float = Field(2.0, ge=0.5)

    def peak_requests_per_user_s(self) -> float:
        return self.requests_per_user_per_day / SECONDS_PER_DAY * self.peak_to_mean


class ModelShare(_Spec):
    id: str
    share: float = Field(gt=0, le=1)  # of requests


class SLOSpec(_Spec):
    ttft_p90_s: float = Field(gt=0)
    tpot_p90_s: float = Field(gt=0)


class Period(_Spec):
    name: str
    years: float = Field(gt=0)
    power_mw: float = Field(gt=0)  # the budget in force in this period (cumulative across tranches)
    weekly_active_users: float | None = Field(None, gt=0)  # overrides the growth rule


class PowerBasis(_Spec):
    # "it": budgets are IT load (what the systems draw); "facility": IT × PUE must fit.
    basis: Literal["it", "facility"]
    pue: float = Field(ge=1)


class SupplyOption(_Spec):
    id: str
    system: str  # catalog id
    accelerators_per_system: int = Field(ge=1)  # the unit bought and counted ("systems"): rack, node, CS-3
    replica_accelerators: int | None = Field(None, ge=1)  # simulated serving unit; default the whole system
    # A model that needs a different serving unit (a large model over several CS-3s) names it here.
    replica_accelerators_by_model: dict[str, int] = Field(default_factory=dict)
    # Wafer systems: size each model's replica by this objective (perf/wafer/sizing.py OBJECTIVES:
    # usd-per-mtok, tokens-per-mw, fewest) where replica_accelerators_by_model does not name the model.
    replica_objective: str | None = None
    it_power_w_per_system: float | None = Field(None, gt=0)  # default: catalog W per accelerator × count
    price_usd_per_system: float | None = Field(None, gt=0)  # default: catalog price × count (None: unpriced)
    price_source: str | None = None
    amortisation_years: float = Field(gt=0)
    usd_per_kwh: float = Field(ge=0)
    availability: float = Field(1.0, gt=0, le=1)  # share of systems in service on average
    spares: int = Field(0, ge=0)  # N+k: k spare systems in every pool (option × model) in use

    @model_validator(mode="after")
    def _divides(self) -> SupplyOption:
        # Capacity scales linearly from the simulated replica to systems: one must be a multiple of the other.
        per_system = self.accelerators_per_system
        for model, replica in [(None, self.replica), *self.replica_accelerators_by_model.items()]:
            if replica < 1:
                raise ValueError(f"replica_accelerators_by_model.{model} must be ≥ 1, got {replica}")
            if per_system % replica and replica % per_system:
                what = "replica_accelerators" if model is None else f"replica_accelerators_by_model.{model}"
                raise ValueError(
                    f"{what} ({replica}) and accelerators_per_system ({per_system}): one must divide the other"
                )
        return self

    @model_validator(mode="after")
    def _objective_known(self) -> SupplyOption:
        if self.replica_objective is not None:
            from wafersim.perf.wafer.sizing import OBJECTIVES

            if self.replica_objective not in OBJECTIVES:
                raise ValueError(
                    f"replica_objective '{self.replica_objective}': choose one of {', '.join(OBJECTIVES)}"
                )
        return self

    @property
    def replica(self) -> int:
        return self.replica_accelerators or self.accelerators_per_system

    def replica_for(self, model: str) -> int:
        return self.replica_accelerators_by_model.get(model, self.replica)


class Sensitivity(_Spec):
    relative_change: float = Field(0.2, gt=0, lt=1)


class Scenario(_Spec):
    name: str
    description: str = ""
    seed: int = 0
    objective: Literal["min_cost", "max_users"] = "min_cost"
    demand: Demand
    models: tuple[ModelShare, ...] = Field(min_length=1)
    slo: SLOSpec
    power: PowerBasis
    periods: tuple[Period, ...] = Field(min_length=1)
    options: tuple[SupplyOption, ...] = Field(min_length=1)
    sensitivity: Sensitivity = Sensitivity()

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        total = sum(m.share for m in self.models)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"model shares must add up to 1, got {total:g}")
        for what, ids in (("models", [m.id for m in self.models]), ("options", [o.id for o in self.options])):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"{what}: duplicate id(s) {', '.join(duplicates)}")
        return self

    def users(self, period: int) -> float:
        explicit = self.periods[period].weekly_active_users
        if explicit is not None:
            return explicit
        return self.demand.weekly_active_users * self.demand.growth_per_period**period

    def it_budget_w(self, period: int) -> float:
        budget_w = self.periods[period].power_mw * 1e6
        return budget_w / self.power.pue if self.power.basis == "facility" else budget_w


def _field_error(source: str, error: ValidationError) -> WafersimError:
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: field '{location}': {message}")
    return WafersimError("\n".join(lines))


def scenario_from_dict(data: object, source: str = "scenario") -> Scenario:
    if not isinstance(data, dict):
        raise WafersimError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise _field_error(source, error) from None


def check_catalog(scenario: Scenario, catalog: Catalog, source: str) -> None:
    """Unknown systems and models are named by the field that refers to them."""
    for index, share in enumerate(scenario.models):
        try:
            catalog.model(share.id)
        except WafersimError as error:
            raise WafersimError(f"{source}: field 'models.{index}.id': {error}") from None
    for index, option in enumerate(scenario.options):
        try:
            catalog.system(option.system)
        except WafersimError as error:
            raise WafersimError(f"{source}: field 'options.{index}.system': {error}") from None
        known = {m.id for m in scenario.models}
        for model in option.replica_accelerators_by_model:
            if model not in known:
                raise WafersimError(
                    f"{source}: field 'options.{index}.replica_accelerators_by_model.{model}': "
                    f"not one of the scenario's models ({', '.join(sorted(known))})"
                )


def load_scenario(path: Path | str, catalog: Catalog | None = None) -> Scenario:
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WafersimError(f"{path}: no such scenario file") from None
    except (IsADirectoryError, UnicodeDecodeError) as error:
        raise WafersimError(f"{path}: cannot read the scenario ({error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise WafersimError(f"{where}: not valid YAML ({problem})") from None
    scenario = scenario_from_dict(data, str(path))
    check_catalog(scenario, catalog or load_catalog(), str(path))
    return scenario
