import contextlib
import io
import json
import os

import pytest
from hypothesis import HealthCheck, settings

from wafersim.catalog import load_catalog

# CI runs property tests derandomised (the same examples every run, so a red build is reproducible) and
# without the per-example deadline a loaded shared runner would trip; locally they explore new examples.
settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true") else "dev")


# The terminal size the CLI sees. pytest-xdist starts its workers after the controller has loaded GNU readline,
# which writes COLUMNS=80 and LINES=24 into the process environment the workers inherit (Python's os.environ
# does not show it): the CLI would then draw 80-column tables where a serial run draws its piped 160. Each
# worker gets the controller's own values back, so a test sees the environment a serial run sees.
TERMINAL_ENV = ("COLUMNS", "LINES")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["terminal_env"] = {name: os.environ.get(name) for name in TERMINAL_ENV}


def pytest_configure(config):
    for name, value in getattr(config, "workerinput", {}).get("terminal_env", {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def shared_cli_json():
    """`wafersim ARGS --json`, parsed: each distinct command runs once per session (exit code 0 asserted) and
    every test asking for it gets its own fresh copy. `validate --group test` predicts every test point (about
    15 s); the CLI test and the API-equals-CLI test check the same answer, so they share one run."""
    from wafersim.cli.main import main

    outputs: dict[tuple[str, ...], str] = {}

    def run(args: list[str]) -> dict:
        key = (*args, "--json")
        if key not in outputs:
            text = io.StringIO()
            with contextlib.redirect_stdout(text):
                code = main(list(key))
            assert code == 0, f"wafersim {' '.join(key)} exited {code}"
            outputs[key] = text.getvalue()
        return json.loads(outputs[key])

    return run
