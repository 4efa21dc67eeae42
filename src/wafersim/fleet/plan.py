"""From a scenario to a plan: capacity per system (simulated, cached), then the fleets, then the sensitivity.

`plan(scenario)` returns a `Plan` (fleet/result.py) whose `to_dict()` the CLI prints and the HTML report draws. Every option is
planned alone (single vendor) and all together (mixed), for both objectives: the cheapest fleet that meets demand
(min_cost) and the most users the power budget serves (max_users); the scenario's `objective` picks the headline.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from wafersim.catalog import Catalog, load_catalog
from wafersim.errors import WafersimError
from wafersim.fleet.capacity import CapacityJob, ReplicaCapacity, capacities
from wafersim.fleet.optimize import (
    HOURS_PER_YEAR,
    OBJECTIVES,
    OptionData,
    Problem,
    Solution,
    period_figures,
    solve,
)
from wafersim.fleet.result import Plan
from wafersim.fleet.scenario import Scenario, load_scenario, scenario_path
from wafersim.parallel import Engine
from wafersim.perf.wafer.sizing import Sized, size_wafers
from wafersim.progress import Progress

SENSITIVE = ("price", "power", "efficiency", "demand")


def _option_data(scenario: Scenario, catalog: Catalog, caps: dict[tuple[int, int], ReplicaCapacity]):
    """Per-system figures: a system holds accelerators_per_system / replica_accelerators replicas."""
    data = []
    for o, option in enumerate(scenario.options):
        system = catalog.system(option.system)
        power_w = (
            option.it_power_w_per_system
            or system.power.system_w_per_accelerator * option.accelerators_per_system
        )
        price = option.price_usd_per_system
        if price is None and system.price is not None and system.price.usd_per_accelerator is not None:
            price = system.price.usd_per_accelerator * option.accelerators_per_system
        # Replicas per system (a fraction when one replica spans several systems).
        per = [
            option.accelerators_per_system / caps[o, m].replica_accelerators
            for m in range(len(scenario.models))
        ]
        rps = tuple(caps[o, m].max_rate_rps * per[m] for m in range(len(scenario.models)))
        tokens = tuple(caps[o, m].output_tokens_per_s * per[m] for m in range(len(scenario.models)))
        data.append(
            OptionData(
                option.id,
                power_w,
                price,
                option.amortisation_years,
                option.usd_per_kwh,
                option.availability,
                option.spares,
                rps,
                tokens,
                scenario.first_period(option),
            )  # fmt: skip
        )
    return tuple(data)


def build_problem(scenario: Scenario, options: tuple[OptionData, ...], mean_output_tokens: float) -> Problem:
    n_t = len(scenario.periods)
    per_user = scenario.demand.peak_requests_per_user_s()
    users = tuple(scenario.users(t) for t in range(n_t))
    return Problem(
        options=options,
        models=tuple(m.id for m in scenario.models),
        period_names=tuple(p.name for p in scenario.periods),
        period_years=tuple(p.years for p in scenario.periods),
        it_budget_w=tuple(scenario.it_budget_w(t) for t in range(n_t)),
        users=users,
        demand_peak_rps=tuple(tuple(u * per_user * m.share for m in scenario.models) for u in users),
        peak_to_mean=scenario.demand.peak_to_mean,
        pue=scenario.power.pue,
        output_tokens_per_request=mean_output_tokens,
    )


def _fleet(problem: Problem, solution: Solution, reason: str | None) -> dict[str, Any]:
    if not solution.feasible:
        return {"feasible": False, "reason": reason or solution.message}
    periods = [period_figures(problem, solution, t) for t in range(len(problem.period_names))]
    final = periods[-1]
    served_nothing = final["users_served"] <= 0
    return {
        "feasible": not served_nothing,
        "reason": reason if served_nothing else None,
        "systems": final["systems_total"],
        "power_mw": final["power_mw"],
        "output_tokens_per_s": final["output_tokens_per_s"],
        "users_served": final["users_served"],
        "usd_per_million_tokens": final["usd_per_million_tokens"],
        "capex_usd": final["capex_usd"],
        "total_cost_usd": solution.cost_usd,
        "solver": solution.message,
        "periods": periods,
    }


def _shortfall(problem: Problem, allowed: tuple[int, ...] | None) -> dict[str, Any]:
    """Why min_cost failed and what would close the gap: the served share, and the power demand would need."""
    served = solve(problem, "max_users", allowed)
    unbounded = solve(
        Problem(**{**problem.__dict__, "it_budget_w": tuple(math.inf for _ in problem.it_budget_w)}),
        "min_cost",
        allowed,
    )
    periods = []
    for t, name in enumerate(problem.period_names):
        share = float(served.served_share[t]) if served.feasible else 0.0
        entry: dict[str, Any] = {
            "period": name,
            "served_share": min(share, 1.0),
            "users_short": max(0.0, (1.0 - share) * problem.users[t]),
            "budget_it_mw": problem.it_budget_w[t] / 1e6,
        }
        if unbounded.feasible:
            needed = period_figures(problem, unbounded, t)["power_mw"]
            entry["power_needed_it_mw"] = needed
            if needed > entry["budget_it_mw"]:
                entry["close_by"] = (
                    f"raise the {name} IT budget from {entry['budget_it_mw']:.4g} MW to {needed:.4g} MW, "
                    f"or serve {min(share, 1.0):.1%} of the users"
                )
        periods.append(entry)
    note = (
        None if unbounded.feasible else "no usable option serves every model at the SLO, whatever the power"
    )
    candidates = [problem.options[o] for o in (range(len(problem.options)) if allowed is None else allowed)]
    first = min(option.first_period for option in candidates)
    if not unbounded.feasible and first > 0:
        note = f"not available before {problem.period_names[first]}, so the earlier periods go unserved"
    return {"periods": periods, "note": note}


def _shortfall_reason(shortfall: dict[str, Any], solver_reason: str | None) -> str:
    """A person's reason for an infeasible min_cost plan: what falls short and what would close it."""
    steps = [period["close_by"] for period in shortfall["periods"] if "close_by" in period]
    if steps:
        return "demand beyond the power budget: " + "; ".join(steps)
    return shortfall["note"] or solver_reason or "infeasible"


def _capacity_rows(scenario: Scenario, options, caps, mean_output: float) -> list[dict[str, Any]]:
    per_user = scenario.demand.peak_requests_per_user_s()
    rows = []
    for o, option in enumerate(options):
        yearly = option.usd_per_year(scenario.power.pue)
        for m, share in enumerate(scenario.models):
            cap = caps[o, m]
            tokens = option.output_tokens_per_s[m]
            rows.append(
                {
                    "option": option.id,
                    "system": cap.system,
                    "model": share.id,
                    "available": cap.available,
                    "reason": cap.reason,
                    "layout": cap.layout,
                    "replica_accelerators": cap.replica_accelerators,
                    "cached": cap.cached,
                    "span_limited": cap.span_limited,
                    "requests_per_s_per_system": option.capacity_rps[m],
                    "output_tokens_per_s_per_system": tokens,
                    "it_power_w_per_system": option.it_power_w,
                    "price_usd_per_system": option.price_usd,
                    "tokens_per_s_per_mw": tokens / (option.it_power_w / 1e6),
                    "joules_per_token": option.it_power_w / tokens if tokens > 0 else None,
                    # At the SLO capacity, busy all the time (as `wafersim estimate`'s $/Mtok).
                    "usd_per_million_tokens": yearly / (tokens * HOURS_PER_YEAR * 3600) * 1e6
                    if yearly is not None and tokens > 0
                    else None,
                    "users_per_system": option.capacity_rps[m] / per_user,
                    "ttft_p90_s": cap.ttft_p90_s,
                    "tpot_p90_s": cap.tpot_p90_s,
                }
            )
    return rows


def _unavailable_reason(scenario: Scenario, caps, o: int) -> str | None:
    reasons = [
        f"{scenario.models[m].id}: {caps[o, m].reason}"
        for m in range(len(scenario.models))
        if not caps[o, m].available
    ]
    return "; ".join(reasons) or None


def sensitivity(problem: Problem, change: float) -> list[dict[str, Any]]:
    """One input at a time moved by ±change, the mixed optimum re-solved for both objectives (capacities scale
    with efficiency, no re-simulation). A baseline row (factor 1) per objective makes each move readable."""
    rows = []
    moves = (1.0 - change, 1.0 + change)
    # Every option's price and efficiency also move alone: a shared move cannot change which vendor wins, and
    # those two inputs are the least certain per vendor (secondary prices, uncalibrated efficiencies).
    own = [
        (f"{name} ({o.id})", name, o.id)
        for o in problem.options
        if any(c > 0 for c in o.capacity_rps)
        for name in ("price", "efficiency")
        if name != "price" or o.price_usd is not None
    ]
    if len(problem.options) < 2:
        own = []
    for objective in OBJECTIVES:
        cases = [("baseline", 1.0, None, "baseline")]
        cases += [(name, f, None, name) for name in SENSITIVE for f in moves]
        cases += [(label, f, option, name) for label, name, option in own for f in moves]
        for name, factor, option, parameter in cases:
            scaled = problem if name == "baseline" else problem.scaled(option, **{parameter: factor})
            fleet = _fleet(scaled, solve(scaled, objective), None)
            mix = fleet["periods"][-1]["systems"] if fleet.get("periods") else None
            rows.append(
                {
                    "objective": objective,
                    "parameter": name,
                    "factor": factor,
                    "feasible": fleet["feasible"],
                    "systems": fleet.get("systems"),
                    "mix": mix,
                    "mix_text": ", ".join(f"{k} {v}" for k, v in mix.items() if v) if mix else None,
                    "total_cost_usd": fleet.get("total_cost_usd"),
                    "usd_per_million_tokens": fleet.get("usd_per_million_tokens"),
                    "users_served": fleet.get("users_served"),
                    "power_mw": fleet.get("power_mw"),
                }
            )
    return rows


def _mean_output_tokens(scenario: Scenario) -> float:
    from wafersim.fleet.capacity import serving_lengths

    _, output = serving_lengths(scenario.demand.lengths)
    rng = np.random.default_rng(scenario.seed)
    return float(np.mean(output.sample(rng, scenario.demand.simulated_requests)))


def replica_sizes(scenario: Scenario, catalog: Catalog) -> dict[tuple[int, int], Sized]:
    """Wafer options with a `replica_objective`: each model's replica size (systems) as that objective chooses
    it at the scenario's mean lengths and within its p90 TPOT target (models named in
    `replica_accelerators_by_model` keep their size). Pairs that no count holds keep the configured size, and
    their capacity says why."""
    from wafersim.fleet.capacity import serving_lengths
    from wafersim.perf.types import EstimateRequest
    from wafersim.serving.replica import layout_lengths
    from wafersim.serving.workload import synthetic

    # The mean lengths the capacity search lays its replica out for (fleet/capacity.py draws the same).
    prompt, output = serving_lengths(scenario.demand.lengths)
    rng = np.random.default_rng(scenario.seed)
    base = synthetic(rng, 1.0, count=scenario.demand.simulated_requests, prompt=prompt, output=output)
    mean_prompt, mean_output = float(np.mean(base.prompt_tokens)), float(np.mean(base.output_tokens))
    out: dict[tuple[int, int], Sized] = {}
    for o, option in enumerate(scenario.options):
        system = catalog.system(option.system)
        if option.replica_objective is None or system.kind != "wafer":
            continue
        for m, share in enumerate(scenario.models):
            if share.id in option.replica_accelerators_by_model:
                continue
            model = catalog.model(share.id)
            input_len, output_len = layout_lengths(model, mean_prompt, mean_output)
            request = EstimateRequest(
                model, system, 1, input_len, output_len, max_tpot_s=scenario.slo.tpot_p90_s
            )
            found = size_wafers(request, option.replica_objective)
            if isinstance(found, Sized) and found.count % option.accelerators_per_system == 0:
                out[o, m] = found
    return out


def _with_sizing(rows: list[dict[str, Any]], sized, scenario: Scenario) -> list[dict[str, Any]]:
    """Capacity rows of objective-sized wafer replicas say which objective chose their size and why."""
    n = len(scenario.models)
    for i, row in enumerate(rows):
        found = sized.get((i // n, i % n))
        if found is not None:
            row["replica_sizing"] = found.to_dict()
    return rows


def plan(
    scenario: Scenario | str | Path,
    catalog: Catalog | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> Plan:
    """Plan a fleet for a scenario: a `Scenario`, a YAML path, or a shipped name (openai-cerebras-750mw).

    Capacities come from the serving simulator, cached on disk (`cache_dir`, default $WAFERSIM_CACHE_DIR or
    ~/.cache/wafersim/fleet); `workers` local processes (default ≤ 2), or `engine` (e.g. Ray), run the
    searches the cache misses. `progress(done, to_run, what)` is told as each capacity search finishes (raising
    from it cancels the plan).
    """
    started = time.perf_counter()
    catalog = catalog or load_catalog()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario_path(scenario), catalog)
    if workers is not None and workers < 1:
        raise WafersimError(f"workers must be ≥ 1, got {workers}", field="workers")
    pairs = [(o, m) for o in range(len(scenario.options)) for m in range(len(scenario.models))]
    sized = replica_sizes(scenario, catalog)
    jobs = [
        CapacityJob(
            catalog.system(scenario.options[o].system),
            catalog.model(scenario.models[m].id),
            sized[o, m].count if (o, m) in sized else scenario.options[o].replica_for(scenario.models[m].id),
            scenario.demand.lengths,
            scenario.slo,
            scenario.demand.simulated_requests,
            scenario.seed,
            scenario.demand.min_span_lifetimes,
        )
        for o, m in pairs
    ]
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    results = capacities(jobs, cache_dir, use_cache, workers, progress, engine)
    caps = dict(zip(pairs, results, strict=True))
    capacity_s = time.perf_counter() - started
    mean_output = _mean_output_tokens(scenario)
    options = _option_data(scenario, catalog, caps)
    problem = build_problem(scenario, options, mean_output)
    out_options = []
    for o, option in enumerate(scenario.options):
        reason = _unavailable_reason(scenario, caps, o)
        data = options[o]
        plans = {}
        for objective in OBJECTIVES:
            if reason is not None:
                plans[objective] = {"feasible": False, "reason": f"capacity not available: {reason}"}
                continue
            if objective == "min_cost" and data.price_usd is None:
                plans[objective] = {"feasible": False, "reason": "unpriced: give price_usd_per_system"}
                continue
            solution = solve(problem, objective, (o,))
            fleet = _fleet(problem, solution, None)
            if objective == "min_cost" and not fleet["feasible"]:
                fleet["shortfall"] = _shortfall(problem, (o,))
                fleet["reason"] = _shortfall_reason(fleet["shortfall"], fleet["reason"])
            plans[objective] = fleet
        budget_w = problem.it_budget_w[-1]
        at_budget = math.floor(budget_w / data.it_power_w + 1e-9)
        entry = {
            "id": option.id,
            "system": option.system,
            "accelerators_per_system": option.accelerators_per_system,
            "it_power_w_per_system": data.it_power_w,
            "price_usd_per_system": data.price_usd,
            "price_source": option.price_source,
            "available_from": option.available_from or scenario.periods[0].name,
            "available_source": option.available_source,
            "systems_in_final_budget": at_budget,
            "capex_in_final_budget_usd": at_budget * data.price_usd if data.price_usd is not None else None,
            "plans": plans,
        }
        headline = plans[scenario.objective]
        for key in ("feasible", "reason", "systems", "power_mw", "output_tokens_per_s", "users_served",
                    "usd_per_million_tokens", "capex_usd"):  # fmt: skip
            entry[key] = headline.get(key)
        out_options.append(entry)
    mixed = {}
    for objective in OBJECTIVES:
        fleet = _fleet(problem, solve(problem, objective), None)
        if objective == "min_cost" and not fleet["feasible"]:
            fleet["shortfall"] = _shortfall(problem, None)
            fleet["reason"] = _shortfall_reason(fleet["shortfall"], fleet["reason"])
        mixed[objective] = fleet
    chosen = dict(mixed[scenario.objective])
    data = plain(
        {
            "scenario": scenario.name,
            "objective": scenario.objective,
            "seed": scenario.seed,
            "slo": scenario.slo.model_dump(),
            "power_basis": scenario.power.basis,
            "pue": scenario.power.pue,
            "periods": [
                {
                    "name": p.name,
                    "years": p.years,
                    "power_mw": p.power_mw,
                    "weekly_active_users": scenario.users(t),
                }
                for t, p in enumerate(scenario.periods)
            ],
            "mean_output_tokens": mean_output,
            "capacity": _with_sizing(_capacity_rows(scenario, options, caps, mean_output), sized, scenario),
            "options": out_options,
            "mixed": mixed,
            "chosen": chosen,
            "feasible": chosen["feasible"],
            "sensitivity": sensitivity(problem, scenario.sensitivity.relative_change),
            "timing": {
                "capacity_s": capacity_s,
                "total_s": time.perf_counter() - started,
                "capacity_cached": sum(r.cached for r in results),
                "capacity_simulated": sum(not r.cached and r.available for r in results),
            },
        }
    )
    return Plan.from_dict(data)


def plain(value: Any) -> Any:
    """JSON-ready: NumPy scalars to Python numbers, non-finite floats to None."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value
