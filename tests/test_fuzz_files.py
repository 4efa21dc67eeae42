"""Fuzzing every input file: HF configs, catalog TOML, traces (CSV/JSONL) and scenario YAML.

Property: reading (and, where cheap, using) the file gives a valid answer or a WafersimError that names the
file; nothing else escapes, and nothing runs past a time bound. The CI profile (tests/conftest.py) replays the
same examples every run."""

from __future__ import annotations

import json
import math
import os
import tomllib
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wafersim.catalog import load_catalog
from wafersim.catalog.catalog import DATA_DIR, model_from_file
from wafersim.errors import WafersimError
from wafersim.fleet.scenario import load_scenario
from wafersim.perf import EstimateRequest, estimate
from wafersim.serving.workload import read_trace

from .test_issue13_regressions import time_limit

ROOT = Path(__file__).resolve().parent.parent
# WAFERSIM_FUZZ_EXAMPLES=500 explores further (locally); the suite's default keeps it to seconds.
FUZZ = settings(
    max_examples=int(os.environ.get("WAFERSIM_FUZZ_EXAMPLES", 25)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
BOUND_S = 20  # the most one example may take (a hang fails here, not the suite)

# Values a hand-edited file can hold where a number belongs.
ODD = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 1, -1, 2, 3, 7, 64, 4096, 10**6, 10**12, 10**18]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, 1.5, 1e12, 1e18, math.inf, -math.inf, math.nan]),
    st.text(max_size=6),
    st.booleans(),
    st.none(),
    st.lists(st.integers(min_value=0, max_value=5), max_size=3),
)


def _names_file(error: WafersimError, path: Path) -> bool:
    return path.name in str(error)


def _llama8b() -> dict:
    return tomllib.loads((DATA_DIR / "models" / "llama-3.1-8b.toml").read_text())["hf_config"]


CONFIG_KEYS = sorted(_llama8b()) + ["num_local_experts", "num_experts_per_tok", "kv_lora_rank", "sliding_window",
                                    "layer_types", "head_dim", "architectures", "state_size"]  # fmt: skip


@FUZZ
@given(
    changes=st.dictionaries(st.sampled_from(CONFIG_KEYS), ODD, max_size=4),
    drop=st.sets(st.sampled_from(CONFIG_KEYS), max_size=2),
)
def test_hf_config(tmp_path_factory, changes, drop):
    config = {k: v for k, v in {**_llama8b(), **changes}.items() if k not in drop}
    path = tmp_path_factory.mktemp("cfg") / "config.json"
    path.write_text(json.dumps(config))
    with time_limit(BOUND_S):
        try:
            model = model_from_file(path)
        except WafersimError as error:
            assert _names_file(error, path), str(error)
            return
        catalog = load_catalog()
        try:
            answer = estimate(EstimateRequest(model=model, system=catalog.system("h100-sxm"), count=8,
                                              input_len=min(64, model.max_context - 1), output_len=1, batch=1))  # fmt: skip
        except WafersimError as error:
            assert str(error)
            return
    assert answer.fits in (True, False)


SYSTEM_FIELDS = [("memory", "bw_bytes_per_s"), ("memory", "capacity_bytes"), ("compute", "bf16_flops_per_s"),
                 ("scale_up", "domain_size"), ("scale_up", "latency_s"), ("power", "accelerator_w"),
                 ("efficiency", "compute"), (None, "usable_memory_fraction"), (None, "kind")]  # fmt: skip


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value == math.inf else "-inf" if value == -math.inf else repr(value))
        )
    if isinstance(value, int):
        return str(value)
    if value is None:
        return '""'
    return json.dumps(value)


@FUZZ
@given(field=st.sampled_from(SYSTEM_FIELDS), value=ODD)
def test_catalog_system_toml(tmp_path_factory, field, value):
    section, key = field
    lines, current = [], None
    for line in (DATA_DIR / "systems" / "h100-sxm.toml").read_text().splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and line.startswith(f"{key} ="):
            line = f"{key} = {_toml_value(value)}"
        lines.append(line)
    text = "\n".join(lines)
    if section is None:
        text = f"{key} = {_toml_value(value)}\n" + "\n".join(l for l in lines if not l.startswith(f"{key} ="))  # noqa: E741
    folder = tmp_path_factory.mktemp("cat")
    path = folder / "h100-sxm.toml"
    path.write_text(text)
    with time_limit(BOUND_S):
        try:
            catalog = load_catalog((str(folder),))
        except WafersimError as error:
            assert _names_file(error, path), str(error)
            return
        try:
            answer = estimate(EstimateRequest(model=catalog.model("llama-3.1-8b"), system=catalog.system("h100-sxm"),
                                              count=1, input_len=100, output_len=10, batch=1))  # fmt: skip
        except WafersimError as error:
            assert str(error)
            return
    assert answer.fits in (True, False)


CSV_CELLS = st.one_of(
    st.sampled_from(["2023-11-16 18:15:46.6805900", "2023-11-16 18:15:46", "2023-13-45 99:99:99", "", "x"]),
    st.integers(min_value=-5, max_value=10**20).map(str),
    st.floats().map(str),
    # No lone surrogates: the test writes the file as UTF-8 (undecodable bytes are fuzzed by the binary tests).
    st.text(alphabet=st.characters(blacklist_characters=",\n\r", blacklist_categories=("Cs",)), max_size=8),
)


@FUZZ
@given(
    header=st.sampled_from(
        [
            "TIMESTAMP,ContextTokens,GeneratedTokens",
            "GeneratedTokens,TIMESTAMP,ContextTokens",
            "time,prompt,output",
            "",
        ]
    ),  # fmt: skip
    rows=st.lists(st.lists(CSV_CELLS, min_size=2, max_size=4), max_size=6),
)
def test_csv_trace(tmp_path_factory, header, rows):
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_text("\n".join([header, *(",".join(r) for r in rows)]))
    with time_limit(BOUND_S):
        try:
            workload = read_trace(path)
        except WafersimError as error:
            assert _names_file(error, path), str(error)
            return
    assert len(workload) >= 1 and (workload.prompt_tokens >= 1).all() and (workload.arrival_s >= 0).all()


JSON_VALUES = st.one_of(
    ODD.filter(lambda v: not isinstance(v, str) or v.isprintable()),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@FUZZ
@given(
    records=st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {"arrival_s": JSON_VALUES, "prompt_tokens": JSON_VALUES, "output_tokens": JSON_VALUES}
            ),
            JSON_VALUES,
        ),
        max_size=5,
    ),
    garbage=st.one_of(st.none(), st.binary(max_size=12)),
)
def test_jsonl_trace(tmp_path_factory, records, garbage):
    path = tmp_path_factory.mktemp("jsonl") / "t.jsonl"
    data = "\n".join(json.dumps(r) for r in records).encode()
    path.write_bytes(data + (b"\n" + garbage if garbage is not None else b""))
    with time_limit(BOUND_S):
        try:
            workload = read_trace(path)
        except WafersimError as error:
            assert _names_file(error, path), str(error)
            return
    assert len(workload) >= 1 and (workload.output_tokens >= 1).all() and (workload.arrival_s >= 0).all()


SCENARIO_PATHS = [("demand", "weekly_active_users"), ("demand", "requests_per_user_per_day"), ("demand", "peak_to_mean"),
                  ("demand", "growth_per_period"), ("demand", "simulated_requests"), ("slo", "ttft_p90_s"),
                  ("power", "pue"), ("periods", 0, "power_mw"), ("periods", 1, "years"),
                  ("options", 0, "replica_accelerators"), ("options", 0, "accelerators_per_system"),
                  ("options", 1, "spares"), ("options", 0, "system"), ("models", 0, "share"), ("objective",),
                  ("seed",)]  # fmt: skip


@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(SCENARIO_PATHS), ODD), max_size=3))
def test_scenario_yaml(tmp_path_factory, edits):
    data = yaml.safe_load((ROOT / "scenarios" / "small-test.yaml").read_text())
    for where, value in edits:
        node = data
        for part in where[:-1]:
            node = node[part]
        node[where[-1]] = value
    path = tmp_path_factory.mktemp("yaml") / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    with time_limit(BOUND_S):
        try:
            spec = load_scenario(path)
        except WafersimError as error:
            assert _names_file(error, path), str(error)
            return
    assert all(math.isfinite(p.power_mw) for p in spec.periods)


@FUZZ
@given(raw=st.binary(max_size=64), suffix=st.sampled_from([".yaml", ".csv", ".jsonl", ".json", ".toml"]))
def test_arbitrary_bytes_in_any_file(tmp_path_factory, raw, suffix):
    path = tmp_path_factory.mktemp("raw") / f"f{suffix}"
    path.write_bytes(raw)
    reader = {".yaml": load_scenario, ".csv": read_trace, ".jsonl": read_trace, ".json": model_from_file,
              ".toml": model_from_file}[suffix]  # fmt: skip
    with time_limit(BOUND_S):
        try:
            reader(path)
        except WafersimError as error:
            assert _names_file(error, path), str(error)
