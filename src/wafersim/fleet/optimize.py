"""The fleet as a mixed-integer program (SciPy `milp`, i.e. HiGHS): which systems, how many, serving which model.

Variables, for every option o, model m and period t:
  x[o,m,t]  integer ≥ 0  systems of option o serving model m in period t
  y[o,m,t]  binary       the pool (o, m) is in use in t; it then carries k spare systems (N+k), only if k > 0
  φ[t]      continuous   share of period t's demand served (objective max_users only)

Constraints:
  capacity    Σ_o cap[o,m] · a_o · (x[o,m,t] − k_o · y[o,m,t]) ≥ D[m,t]   (· φ[t] for max_users)
  pools       x[o,m,t] ≤ U[o,t] · y[o,m,t]                                (U: systems the budget holds)
  power       Σ_{o,m} P_o · x[o,m,t] ≤ B_t                               (IT watts)
  no retiring Σ_m x[o,m,t] ≥ Σ_m x[o,m,t−1]                              (tranches add systems)

min_cost minimises Σ_t years_t · Σ x · (price/amortisation + P · PUE · $/kWh · hours); options without a price
cannot be bought there (they are reported as unpriced, never given an invented price). max_users maximises the
user-years served, then, with that fixed, minimises cost (or IT power if an option is unpriced).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from wafersim.errors import WafersimError

HOURS_PER_YEAR = 365.25 * 24

# The one place an objective is registered: the name a scenario's `objective` takes -> what `solve` finds.
OBJECTIVES: dict[str, str] = {
    "min_cost": "the cheapest fleet that meets every period's demand within its power budget",
    "max_users": "the most users each period's power budget serves, then the cheapest such fleet",
}


@contextlib.contextmanager
def _native_stdout_silenced():
    """HiGHS (inside SciPy 1.17) prints debug lines straight to file descriptor 1, which would corrupt
    `wafersim plan --json`; point fd 1 at /dev/null while it runs."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1 (embedded interpreters): nothing to protect
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@dataclass(frozen=True)
class OptionData:
    """One supply option as the optimiser sees it; per-model capacities are per SYSTEM (0: cannot serve)."""

    id: str
    it_power_w: float
    price_usd: float | None
    amortisation_years: float
    usd_per_kwh: float
    availability: float
    spares: int
    capacity_rps: tuple[float, ...]  # per model, at the SLO
    output_tokens_per_s: tuple[float, ...]  # per model, at that rate
    first_period: int = 0  # announced systems: none can be bought before this period

    def usd_per_year(self, pue: float) -> float | None:
        if self.price_usd is None:
            return None
        energy = self.it_power_w * pue / 1e3 * HOURS_PER_YEAR * self.usd_per_kwh
        return self.price_usd / self.amortisation_years + energy


@dataclass(frozen=True)
class Problem:
    options: tuple[OptionData, ...]
    models: tuple[str, ...]
    period_names: tuple[str, ...]
    period_years: tuple[float, ...]
    it_budget_w: tuple[float, ...]  # per period; float("inf") for "no budget"
    users: tuple[float, ...]  # weekly active users per period
    demand_peak_rps: tuple[tuple[float, ...], ...]  # [period][model]
    peak_to_mean: float
    pue: float
    output_tokens_per_request: float

    def scaled(self, only: str | None = None, **factors: float) -> Problem:
        """The same problem with price, power, capacity (efficiency) or demand multiplied (sensitivity); with
        `only`, price, power and efficiency move for that option alone."""
        from dataclasses import replace

        price, power = factors.get("price", 1.0), factors.get("power", 1.0)
        efficiency, demand = factors.get("efficiency", 1.0), factors.get("demand", 1.0)
        options = tuple(
            o
            if only is not None and o.id != only
            else replace(
                o,
                price_usd=None if o.price_usd is None else o.price_usd * price,
                it_power_w=o.it_power_w * power,
                capacity_rps=tuple(c * efficiency for c in o.capacity_rps),
                output_tokens_per_s=tuple(c * efficiency for c in o.output_tokens_per_s),
            )
            for o in self.options
        )
        return replace(
            self,
            options=options,
            users=tuple(u * demand for u in self.users),
            demand_peak_rps=tuple(tuple(d * demand for d in row) for row in self.demand_peak_rps),
        )


@dataclass
class Solution:
    objective: str
    feasible: bool
    message: str
    systems: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [option, model, period] ints
    pools: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [option, model, period] 0/1
    served_share: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [period]
    cost_usd: float | None = None


def _index(problem: Problem):
    n_o, n_m, n_t = len(problem.options), len(problem.models), len(problem.period_names)
    return n_o, n_m, n_t, (lambda o, m, t: (o * n_m + m) * n_t + t)


def solve(
    problem: Problem, objective: str, allowed: tuple[int, ...] | None = None, time_limit_s: float = 30.0
) -> Solution:
    """Optimal fleet using only the options at indices `allowed` (all by default)."""
    n_o, n_m, n_t, at = _index(problem)
    allowed_set = set(range(n_o) if allowed is None else allowed)
    n_x = n_o * n_m * n_t
    spares = any(problem.options[o].spares > 0 for o in allowed_set)
    n_y = n_x if spares else 0
    n_phi = n_t if objective == "max_users" else 0
    n = n_x + n_y + n_phi
    lower, upper = np.zeros(n), np.full(n, np.inf)
    integrality = np.zeros(n)
    integrality[: n_x + n_y] = 1
    upper[n_x : n_x + n_y] = 1.0
    yearly = [o.usd_per_year(problem.pue) for o in problem.options]
    rows: list[np.ndarray] = []
    low_b: list[float] = []
    high_b: list[float] = []

    def add(row: np.ndarray, lo: float, hi: float) -> None:
        rows.append(row)
        low_b.append(lo)
        high_b.append(hi)

    for o, option in enumerate(problem.options):
        usable = o in allowed_set and (objective == "max_users" or yearly[o] is not None)
        for m in range(n_m):
            serves = usable and option.capacity_rps[m] > 0
            for t in range(n_t):
                if not serves or t < option.first_period:
                    upper[at(o, m, t)] = 0.0
                    if n_y:
                        upper[n_x + at(o, m, t)] = 0.0
                elif np.isfinite(problem.it_budget_w[t]):
                    upper[at(o, m, t)] = np.floor(problem.it_budget_w[t] / option.it_power_w + 1e-9)
    # Without a power budget a pool's size still needs a bound for x ≤ U·y. No optimum holds more systems of an
    # option than would meet every model's peak demand on that option alone (plus spares); a loose big-M such as
    # 1e9 breaks HiGHS's feasibility tolerances.
    big_m = []
    for option in problem.options:
        total = 0.0
        for m in range(n_m):
            if option.capacity_rps[m] > 0:
                peak = max(problem.demand_peak_rps[t][m] for t in range(n_t))
                total += np.ceil(peak / (option.capacity_rps[m] * option.availability)) + option.spares + 1
        big_m.append(max(total, 1.0))
    for t in range(n_t):
        for m in range(n_m):  # capacity
            row = np.zeros(n)
            for o, option in enumerate(problem.options):
                effective = option.capacity_rps[m] * option.availability
                row[at(o, m, t)] = effective
                if n_y:
                    row[n_x + at(o, m, t)] = -effective * option.spares
            demand = problem.demand_peak_rps[t][m]
            if n_phi:
                row[n_x + n_y + t] = -demand
                add(row, 0.0, np.inf)
            else:
                add(row, demand, np.inf)
        if np.isfinite(problem.it_budget_w[t]):  # power
            row = np.zeros(n)
            for o, option in enumerate(problem.options):
                for m in range(n_m):
                    row[at(o, m, t)] = option.it_power_w
            add(row, 0.0, problem.it_budget_w[t])
        for o in range(n_o):
            for m in range(n_m):
                if n_y and upper[at(o, m, t)] > 0:  # a pool with spares must be switched on to hold systems
                    row = np.zeros(n)
                    bound = upper[at(o, m, t)]
                    if not np.isfinite(bound):
                        bound = big_m[o]
                    row[at(o, m, t)] = 1.0
                    row[n_x + at(o, m, t)] = -bound
                    add(row, -np.inf, 0.0)
            if t > 0:  # no retiring
                row = np.zeros(n)
                for m in range(n_m):
                    row[at(o, m, t)] = 1.0
                    row[at(o, m, t - 1)] = -1.0
                add(row, 0.0, np.inf)

    def cost_vector() -> np.ndarray | None:
        """None when a purchasable option has no price (max_users may buy it; min_cost has fixed it at 0)."""
        c = np.zeros(n)
        for o in allowed_set:
            if yearly[o] is None:
                if objective == "min_cost":
                    continue
                return None
            for m in range(n_m):
                for t in range(n_t):
                    c[at(o, m, t)] = yearly[o] * problem.period_years[t]
        return c

    def power_vector() -> np.ndarray:
        c = np.zeros(n)
        for o, option in enumerate(problem.options):
            for m in range(n_m):
                for t in range(n_t):
                    c[at(o, m, t)] = option.it_power_w * problem.period_years[t]
        return c

    constraints = [LinearConstraint(np.array(rows), np.array(low_b), np.array(high_b))] if rows else []
    options = {"time_limit": time_limit_s, "mip_rel_gap": 1e-7}

    def run(c: np.ndarray, extra: list[LinearConstraint]):
        scale = max(float(np.max(np.abs(c))), 1.0)  # keep HiGHS's numbers near 1
        with _native_stdout_silenced():
            return milp(c / scale, integrality=integrality, bounds=Bounds(lower, upper),
                        constraints=constraints + extra, options=options)  # fmt: skip

    if objective == "min_cost":
        c = cost_vector()
        assert c is not None  # unpriced options are skipped for min_cost
        if not any(yearly[o] is not None for o in allowed_set):
            return Solution(objective, False, "no allowed option has a price: cost cannot be minimised")
        result = run(c, [])
    elif objective == "max_users":
        c = np.zeros(n)
        for t in range(n_t):
            c[n_x + n_y + t] = -problem.users[t] * problem.period_years[t]
        first = run(c, [])
        if first.x is None:
            return Solution(objective, False, f"solver: {first.message}")
        served = first.x[n_x + n_y :]
        fix = np.zeros((n_t, n))
        for t in range(n_t):
            fix[t, n_x + n_y + t] = 1.0
        # Second stage: the same users for the least money (or power), within a hair of the optimum.
        keep = LinearConstraint(fix, served * (1 - 1e-9) - 1e-12, np.inf)
        second_c = cost_vector()
        result = run(power_vector() if second_c is None else second_c, [keep])
        if result.x is None:
            result = first
    else:
        raise WafersimError(
            f"objective {objective!r}: expected one of {', '.join(OBJECTIVES)}", field="objective"
        )
    if result.x is None:
        return Solution(objective, False, f"solver: {result.message}")
    x = np.rint(result.x[:n_x]).reshape(n_o, n_m, n_t)
    y = np.rint(result.x[n_x : n_x + n_y]).reshape(n_o, n_m, n_t) if n_y else (x > 0).astype(float)
    phi = result.x[n_x + n_y :] if n_phi else np.ones(n_t)
    cost = None
    c = cost_vector()
    if c is not None:
        cost = float(c[:n_x] @ result.x[:n_x])
    # status 0 = proven optimal; 1 = stopped at the time limit with a feasible (maybe not optimal) fleet.
    message = "optimal" if result.status == 0 else f"best found, not proven optimal ({result.message})"
    return Solution(objective, True, message, x, y, np.asarray(phi, dtype=float), cost)


def period_figures(problem: Problem, solution: Solution, t: int) -> dict:
    """What a solution means in period t: systems, power, tokens, users, dollars."""
    x, y = solution.systems[:, :, t], solution.pools[:, :, t]
    n_m = len(problem.models)
    systems = x.sum(axis=1)
    power_w = float(sum(o.it_power_w * systems[i] for i, o in enumerate(problem.options)))
    cap_rps = np.zeros(n_m)
    tokens = 0.0
    for i, option in enumerate(problem.options):
        for m in range(n_m):
            effective = option.availability * (x[i, m] - option.spares * y[i, m])
            cap_rps[m] += option.capacity_rps[m] * max(effective, 0.0)
            tokens += option.output_tokens_per_s[m] * max(effective, 0.0)
    per_user = np.array(problem.demand_peak_rps[t]) / problem.users[t]
    users_served = float(np.min(cap_rps / per_user))
    demand_users = problem.users[t]
    served_users = min(users_served, demand_users) if solution.objective == "min_cost" else users_served
    mean_rps = served_users * float(per_user.sum()) / problem.peak_to_mean
    tokens_per_year = mean_rps * problem.output_tokens_per_request * HOURS_PER_YEAR * 3600
    yearly = [o.usd_per_year(problem.pue) for o in problem.options]
    priced = all(yearly[i] is not None for i in range(len(systems)) if systems[i] > 0)
    usd_per_year = (
        sum(yearly[i] * systems[i] for i in range(len(systems)) if systems[i] > 0) if priced else None
    )
    capex = (
        sum(problem.options[i].price_usd * systems[i] for i in range(len(systems)) if systems[i] > 0)
        if priced
        else None
    )
    return {
        "period": problem.period_names[t],
        "systems": {problem.options[i].id: int(systems[i]) for i in range(len(systems))},
        "systems_by_model": {
            problem.options[i].id: {problem.models[m]: int(x[i, m]) for m in range(n_m)}
            for i in range(len(systems))
        },
        "systems_total": int(systems.sum()),
        "power_mw": power_w / 1e6,
        "facility_power_mw": power_w * problem.pue / 1e6,
        "budget_it_mw": problem.it_budget_w[t] / 1e6 if np.isfinite(problem.it_budget_w[t]) else None,
        "output_tokens_per_s": tokens,
        "capacity_rps": {problem.models[m]: float(cap_rps[m]) for m in range(n_m)},
        "demand_peak_rps": {problem.models[m]: problem.demand_peak_rps[t][m] for m in range(n_m)},
        "users_served": users_served,
        "weekly_active_users": demand_users,
        "served_share": float(solution.served_share[t]),
        "capex_usd": capex,
        "usd_per_year": usd_per_year,
        "usd_per_million_tokens": (usd_per_year / tokens_per_year * 1e6)
        if usd_per_year is not None and tokens_per_year > 0
        else None,
    }
