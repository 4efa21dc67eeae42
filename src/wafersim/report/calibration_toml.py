"""Writes a calibration into the data files: the fitted efficiency factors into each system's TOML (its single-line
`efficiency = {...}`, with the source saying how they were fitted) and the fitted input length into the
validation data (`wafersim calibrate --write`)."""

from __future__ import annotations

import re
from pathlib import Path

from wafersim.catalog.toml_io import DATA_DIR
from wafersim.perf.calibration import (
    BORROWED,
    CALIBRATED_DATASET,
    FAMILIES,
    NETWORK_EFFICIENCY,
    Calibration,
)
from wafersim.perf.validation import DEFAULT_POINTS


def efficiency_line(family: str, factors: dict[str, float], borrowed_by: str | None = None) -> str:
    members = ", ".join(FAMILIES[family])
    if borrowed_by:
        source = (
            f"NOT calibrated on this system (no calibration point): borrows the {family} factors, which "
            f"`wafersim calibrate` fitted on the calibration points of {members} (perf/data/validation.toml)"
        )
    else:
        source = (
            f"calibrated by `wafersim calibrate` on the calibration points of {members} "
            f"(perf/data/validation.toml; family {family}); network fixed at {NETWORK_EFFICIENCY} (nccl-tests busbw)"
        )
    moe = f"moe_compute = {factors['moe_compute']}, " if "moe_compute" in factors else ""
    return (
        f"efficiency = {{ compute = {factors['compute']}, {moe}memory_bw = {factors['memory_bw']}, "
        f'network = {NETWORK_EFFICIENCY}, step_overhead_s = {factors["step_overhead_s"]}, source = "{source}" }}'
    )


def write_calibration(
    result: Calibration, systems_dir: Path = DATA_DIR / "systems", points_path: Path = DEFAULT_POINTS
) -> list[Path]:
    """Write the factors into the system files and the fitted input length into the validation data."""
    written = []
    assignments = {s: (f, None) for f, members in FAMILIES.items() for s in members}
    assignments.update({s: (f, s) for s, f in BORROWED.items()})
    for system_id, (family, borrowed) in assignments.items():
        path = systems_dir / f"{system_id}.toml"
        text = path.read_text(encoding="utf-8")
        line = efficiency_line(family, result.factors[family], borrowed)
        new_text, n = re.subn(r"^efficiency = \{.*\}$", lambda _m, new=line: new, text, count=1, flags=re.M)
        if n != 1:
            raise ValueError(f"{path}: no single-line 'efficiency = {{...}}' to replace")
        path.write_text(new_text, encoding="utf-8")
        written.append(path)
    text = points_path.read_text(encoding="utf-8")
    pattern = rf"(\[dataset\.{re.escape(CALIBRATED_DATASET)}\][^\[]*?^input_len = )\d+"
    new_text, n = re.subn(
        pattern, lambda m: f"{m.group(1)}{result.dataset_input_len}", text, count=1, flags=re.M | re.S
    )
    if n != 1:
        raise ValueError(f"{points_path}: dataset {CALIBRATED_DATASET} has no input_len line")
    points_path.write_text(new_text, encoding="utf-8")
    written.append(points_path)
    return written
