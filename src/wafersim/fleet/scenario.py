"""A planning scenario: demand, model mix, SLOs, power budget per period and the supply options to buy from.

Parsed from YAML into frozen pydantic models (`extra="forbid"`, so a misspelt key is an error, not a silent
default). Every error names the file and the field at fault: ``scenario.yaml: field 'options.1.system': ...``.
Building a `Scenario` from a dict does no I/O; `load_scenario` reads the file and checks ids against the catalog.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wafersim.bounds import message as bounds_message
from wafersim.catalog import Catalog, load_catalog
from wafersim.errors import WafersimError
from wafersim.files import read_text

SECONDS_PER_DAY = 86_400.0
# Weekly users: at most 10^10, above the world's population (8.2 G, UN World Population Prospects 2024) with
# room for agents counted as users; more is a typo.
MAX_USERS = 1e10
MAX_POWER_MW = 1e6
# One replica is simulated in full (its layout searched, its engines stepped): 1,024 accelerators is 32 CS-3s
# of DeepSeek-V3 many times over, and keeps one capacity search to seconds.
MAX_REPLICA = 1024


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
    weekly_active_users: float = Field(gt=0, le=MAX_USERS)
    # Requests per weekly active user per day, averaged over the week (light users included). Bounded at 10^4
    # (one every ~9 s, day and night): beyond any person's use; an agent fleet is several "users".
    requests_per_user_per_day: float = Field(gt=0, le=1e4)
    peak_to_mean: float = Field(
        ge=1, le=100
    )  # the fleet is sized for the diurnal peak (100: one spike a day)
    # users multiply by this from one period to the next (≤ 100x: beyond any service's growth)
    growth_per_period: float = Field(1.0, gt=0, le=100)
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
    ttft_p90_s: float = Field(gt=0, le=3600)  # an hour: beyond any interactive service
    tpot_p90_s: float = Field(gt=0, le=3600)


class Period(_Spec):
    name: str
    years: float = Field(gt=0, le=100)  # a century
    # The budget in force in this period (cumulative across tranches). At most 10^6 MW = 1 TW, about the whole
    # US generating capacity (EIA: ~1.3 TW in 2024); past this the MILP's numbers lose precision.
    power_mw: float = Field(gt=0, le=MAX_POWER_MW)
    weekly_active_users: float | None = Field(None, gt=0, le=MAX_USERS)  # overrides the growth rule


class PowerBasis(_Spec):
    # "it": budgets are IT load (what the systems draw); "facility": IT × PUE must fit.
    basis: Literal["it", "facility"]
    pue: float = Field(ge=1, le=10)  # 10: nine watts of overhead per IT watt, beyond any reported site


class SupplyOption(_Spec):
    id: str
    system: str  # catalog id
    # The unit bought and counted ("systems"): rack, node, CS-3. ≤ 10^5: a whole data centre as one unit.
    accelerators_per_system: int = Field(ge=1, le=100_000)
    # Simulated serving unit; default the whole system. ≤ MAX_REPLICA: one model copy, simulated in full.
    replica_accelerators: int | None = Field(None, ge=1, le=MAX_REPLICA)
    # A model that needs a different serving unit (a large model over several CS-3s) names it here.
    replica_accelerators_by_model: dict[str, Annotated[int, Field(ge=1, le=MAX_REPLICA)]] = Field(
        default_factory=dict
    )
    # Wafer systems: size each model's replica by this objective (perf/wafer/sizing.py OBJECTIVES:
    # usd-per-mtok, tokens-per-mw, fewest) where replica_accelerators_by_model does not name the model.
    replica_objective: str | None = None
    # default: catalog W per accelerator × count; ≤ 10^9 W (1 GW), a power plant per system
    it_power_w_per_system: float | None = Field(None, gt=0, le=1e9)
    # default: catalog price × count (None: unpriced); ≤ $10^11, beyond any single purchase
    price_usd_per_system: float | None = Field(None, gt=0, le=1e11)
    price_source: str | None = None
    amortisation_years: float = Field(gt=0, le=100)
    usd_per_kwh: float = Field(ge=0, le=10)  # $10/kWh: ~30x the dearest retail electricity
    availability: float = Field(1.0, gt=0, le=1)  # share of systems in service on average
    spares: int = Field(0, ge=0, le=1_000_000)  # N+k: k spare systems in every pool (option × model) in use
    # The first period in which the system can be bought (announced systems); None: from the first period.
    available_from: str | None = None
    available_source: str | None = None

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
    seed: int = Field(0, ge=0, le=2**63 - 1)  # numpy's generators take non-negative seeds
    objective: Literal["min_cost", "max_users"] = "min_cost"
    demand: Demand
    # ≤ 100 models, periods and options: each adds capacity searches and MILP variables; a century of yearly
    # tranches is 100 periods.
    models: tuple[ModelShare, ...] = Field(min_length=1, max_length=100)
    slo: SLOSpec
    power: PowerBasis
    periods: tuple[Period, ...] = Field(min_length=1, max_length=100)
    options: tuple[SupplyOption, ...] = Field(min_length=1, max_length=100)
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
        names = [p.name for p in self.periods]
        for option in self.options:
            if option.available_from is not None and option.available_from not in names:
                raise ValueError(
                    f"options.{option.id}.available_from: '{option.available_from}' is not a period "
                    f"({', '.join(names)})"
                )
        return self

    def first_period(self, option: SupplyOption) -> int:
        """Index of the first period in which `option` can be bought."""
        names = [p.name for p in self.periods]
        return names.index(option.available_from) if option.available_from is not None else 0

    @model_validator(mode="after")
    def _users_on_earth(self) -> Scenario:
        for index in range(len(self.periods)):
            if self.users(index) > MAX_USERS:
                raise ValueError(
                    f"period {self.periods[index].name!r} has {self.users(index):.3g} weekly users after growth: "
                    f"more than {MAX_USERS:.0e}, above the world's population (8.2 G, UN WPP 2024)"
                )
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
        message = bounds_message(item)
        lines.append(f"{source}: field '{location}': {message}")
    first = ".".join(str(part) for part in error.errors()[0]["loc"]) or None
    return WafersimError("\n".join(lines), field=first)


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


def scenario_path(name: str | Path) -> Path:
    """A path, or the name of a shipped scenario (fleet/data, with or without .yaml)."""
    path = Path(name)
    if path.exists():
        return path
    shipped = resources.files("wafersim.fleet") / "data" / f"{str(name).removesuffix('.yaml')}.yaml"
    if shipped.is_file():
        return Path(str(shipped))
    return path  # load_scenario names the missing file


def load_scenario(path: Path | str, catalog: Catalog | None = None) -> Scenario:
    import yaml

    path = Path(path)
    text = read_text(path, "scenario file")
    try:
        # libyaml's loader when PyYAML has it (3-4x faster on a long file), same safe subset.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise WafersimError(f"{where}: not valid YAML ({problem})") from None
    scenario = scenario_from_dict(data, str(path))
    check_catalog(scenario, catalog or load_catalog(), str(path))
    return scenario
