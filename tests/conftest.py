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
