"""Plug-in points are one dict each, and every face lists the same choices."""

from __future__ import annotations

import typing

import pytest

from wafersim.cli.serve import capacity, serve
from wafersim.errors import WafersimError
from wafersim.fabric.kernels.registry import KERNELS
from wafersim.fleet.optimize import OBJECTIVES
from wafersim.fleet.scenario import Scenario
from wafersim.perf.estimate import ESTIMATORS
from wafersim.perf.wafer.closed_form import CLOSED_FORMS
from wafersim.serving.engine import SCHEDULERS, SchedulerConfig
from wafersim.serving.simulator import ROUTERS, ServeConfig


def _choices(command, name: str) -> list[str]:
    return list(next(p for p in command.params if p.name == name).type.choices)


@pytest.mark.parametrize("command", [serve, capacity])
def test_cli_choices_are_the_dicts(command):
    assert _choices(command, "scheduler") == list(SCHEDULERS) == ["vllm", "sarathi", "static"]
    assert _choices(command, "router") == list(ROUTERS) == ["round-robin", "least-outstanding", "least-kv"]


def test_unknown_choices_name_their_field():
    with pytest.raises(WafersimError) as raised:
        SchedulerConfig(policy="fifo")  # type: ignore[arg-type]
    assert raised.value.field == "scheduler" and "vllm, sarathi, static" in str(raised.value)
    with pytest.raises(WafersimError) as raised:
        ServeConfig(router="random")  # type: ignore[arg-type]
    assert raised.value.field == "router"


def test_objectives_are_what_a_scenario_may_ask_for():
    allowed = typing.get_args(Scenario.model_fields["objective"].annotation)
    assert list(OBJECTIVES) == list(allowed) == ["min_cost", "max_users"]


def test_closed_forms_name_library_kernels_and_every_system_kind_has_an_estimator(catalog):
    assert CLOSED_FORMS and set(CLOSED_FORMS) <= set(KERNELS)
    assert {system.kind for system in catalog.systems.values()} <= set(ESTIMATORS)
