"""Systems in the news (issue 10): ids with sourced figures and a status; a user's custom accelerator."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wafersim.catalog import load_catalog, system_from_file
from wafersim.cli.main import cli
from wafersim.errors import WafersimError

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NEWS = {"gb300": "shipping", "vera-rubin": "announced", "mi450": "announced", "sn40l": "shipping"}


@pytest.mark.parametrize("system_id", sorted(NEWS))
def test_news_systems_have_status_and_sources(catalog, system_id):
    system = catalog.system(system_id)
    assert system.status == NEWS[system_id]
    for section in ("compute", "memory", "scale_up", "scale_out", "power", "efficiency"):
        assert getattr(system, section).source.strip()


def test_figures_follow_facts(catalog):
    gb300, rubin, mi450, sn40l = (catalog.system(s) for s in ("gb300", "vera-rubin", "mi450", "sn40l"))
    assert gb300.compute.fp4_flops_per_s == 15e15 and gb300.memory.bw_bytes_per_s == 8e12
    assert rubin.memory.bw_bytes_per_s == 22e12 and rubin.scale_up.domain_size == 72
    assert mi450.memory.capacity_bytes == 432e9 and mi450.scale_up.bw_bytes_per_s == 1.8e12
    tiers = {tier.kind: tier for tier in sn40l.memory_tiers}
    assert sn40l.memory.capacity_bytes == 64e9 and tiers["sram"].capacity_bytes == 520e6
    assert tiers["ddr"].capacity_bytes == 1.5e12 and tiers["ddr"].bw_bytes_per_s == 100e9
    # Borrowed factors say so; the LPU borrows none.
    assert "borrows the nvidia-blackwell" in rubin.efficiency.source
    assert "No GPU factors" in catalog.system("groq-lpu").efficiency.source


def test_catalog_table_and_json_show_status():
    runner = CliRunner()
    out = runner.invoke(cli, ["catalog", "systems", "--json"])
    rows = {r["id"]: r for r in json.loads(out.output)["systems"]}
    assert rows["vera-rubin"]["status"] == "announced" and rows["h100-sxm"]["status"] == "shipping"
    table = runner.invoke(cli, ["catalog", "systems"]).output
    assert "announced" in table and "status" in table


def test_custom_accelerator_example_loads_with_defaults():
    catalog = load_catalog((str(EXAMPLES),))
    chip = catalog.system("custom-accelerator")
    assert chip.price is None and chip.status == "announced"
    assert chip.usable_memory_fraction == 0.9
    assert chip.compute.peak_flops_per_s("fp4") == chip.compute.fp8_flops_per_s  # next wider format
    assert chip.efficiency.compute == catalog.system("b200").efficiency.compute
    assert "borrowed from b200" in chip.efficiency.source


def test_custom_accelerator_estimates_through_the_cli():
    out = CliRunner().invoke(cli, [
        "estimate", "--model", "llama-3.1-8b", "--system", "custom-accelerator", "--catalog", str(EXAMPLES),
        "--count", "1", "--input-len", "1000", "--output-len", "200", "--batch", "1", "--json",
    ])  # fmt: skip
    assert out.exit_code == 0, out.output
    answer = json.loads(out.output)
    assert answer["fits"] and answer["output_tokens_per_s_per_user"] > 0
    assert answer["usd_per_million_tokens"] is None  # no price given


def _write_variant(tmp_path, old: str, new: str) -> Path:
    text = (EXAMPLES / "custom-accelerator.toml").read_text().replace(old, new)
    path = tmp_path / "custom-accelerator.toml"
    path.write_text(text)
    return path


def test_missing_required_figure_is_named(tmp_path):
    path = _write_variant(tmp_path, "bw_bytes_per_s = 6e12\n", "")
    with pytest.raises(WafersimError, match=r"custom-accelerator.toml.*memory.*bw_bytes_per_s"):
        system_from_file(path)


def test_efficiency_from_unknown_system_is_named(tmp_path):
    path = _write_variant(tmp_path, 'efficiency_from = "b200"', 'efficiency_from = "b2000"')
    with pytest.raises(WafersimError, match="efficiency_from.*b2000"):
        system_from_file(path)


def test_efficiency_twice_is_refused(tmp_path):
    path = _write_variant(
        tmp_path,
        'efficiency_from = "b200"',
        'efficiency_from = "b200"\nefficiency = { compute = 0.3, memory_bw = 0.6, network = 0.7, '
        'step_overhead_s = 0.0, source = "x" }',
    )
    with pytest.raises(WafersimError, match="either 'efficiency' or 'efficiency_from'"):
        system_from_file(path)
