"""Fleet planning (layer 5): from users and megawatts to systems, tokens and dollars.

`plan(scenario)` (fleet/plan.py) returns a `Plan` (fleet/result.py); `OBJECTIVES` lists what a fleet may be
planned for. Imported on first use: the planner needs SciPy.
"""

from wafersim._exports import lazy

_API: dict[str, str] = {
    "plan": "wafersim.fleet.plan",
    "Plan": "wafersim.fleet.result",
    "OBJECTIVES": "wafersim.fleet.optimize",
    "load_scenario": "wafersim.fleet.scenario",
    "Scenario": "wafersim.fleet.scenario",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy(__name__, _API)
