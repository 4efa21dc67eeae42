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
