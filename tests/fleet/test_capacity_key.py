"""The capacity cache key covers everything that changes an answer, the fabric's code and data included."""

from pathlib import Path

import wafersim
from wafersim.fleet.capacity import _answer_sources

ROOT = Path(wafersim.__file__).parent


def test_key_hashes_fabric_catalog_perf_and_serving_code_and_data():
    sources = {path.relative_to(ROOT).as_posix() for path in _answer_sources()}
    assert "fabric/fast_engine.py" in sources and "catalog/data/fabric/wse-3.toml" in sources
    assert "catalog/data/systems/cs-3.toml" in sources and "catalog/models.py" in sources
    assert "perf/wafer/closed_form.py" in sources and "serving/engine.py" in sources
    assert "perf/data/validation.toml" in sources
    # Every Python file and data file under those packages, none left out.
    for package in ("catalog", "fabric", "perf", "serving"):
        for path in (ROOT / package).rglob("*.py"):
            assert path.relative_to(ROOT).as_posix() in sources
