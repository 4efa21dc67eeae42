"""System catalog: required ids, sources on every section, user catalogs, clear errors."""

import pytest

from wafersim.catalog import load_catalog, system_from_file
from wafersim.catalog.toml_io import DATA_DIR
from wafersim.errors import WafersimError

REQUIRED_SYSTEMS = (
    "a100-sxm h100-sxm h200-sxm b200 gb200 mi300x mi325x mi355x tpu-v5e tpu-v6e tpu-v7 groq-lpu cs-2 cs-3"
)


def test_required_systems_exist(catalog):
    assert set(REQUIRED_SYSTEMS.split()) <= set(catalog.systems)


@pytest.mark.parametrize("system_id", REQUIRED_SYSTEMS.split())
def test_every_section_has_a_source(catalog, system_id):
    system = catalog.system(system_id)
    for section in ("compute", "memory", "scale_up", "scale_out", "power", "efficiency"):
        assert getattr(system, section).source.strip()
    if system.price is not None:
        assert system.price.source.strip()


def test_facts_numbers(catalog):
    h100 = catalog.system("h100-sxm")
    assert h100.compute.bf16_flops_per_s == 989e12
    assert h100.memory.bw_bytes_per_s == 3.35e12
    assert catalog.system("gb200").scale_up.domain_size == 72
    assert catalog.system("groq-lpu").memory.kind == "sram"
    assert catalog.system("cs-3").fabric_arch == "wse-3"


def test_specs_are_frozen(catalog):
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError on frozen assignment
        catalog.system("h100-sxm").name = "x"


def test_peak_falls_back_to_wider_format(catalog):
    h100 = catalog.system("h100-sxm")
    assert h100.compute.peak_flops_per_s("fp4") == h100.compute.fp8_flops_per_s
    a100 = catalog.system("a100-sxm")
    assert a100.compute.peak_flops_per_s("fp8") == a100.compute.bf16_flops_per_s


def test_user_catalog_adds_a_system(tmp_path):
    text = (DATA_DIR / "systems" / "h100-sxm.toml").read_text()
    (tmp_path / "h100-fast.toml").write_text(
        text.replace('id = "h100-sxm"', 'id = "h100-fast"').replace(
            "bw_bytes_per_s = 3.35e12", "bw_bytes_per_s = 6.7e12"
        )
    )
    catalog = load_catalog((str(tmp_path),))
    assert catalog.system("h100-fast").memory.bw_bytes_per_s == 6.7e12
    assert "h100-sxm" in catalog.systems


def test_unknown_id_names_closest(catalog):
    with pytest.raises(WafersimError, match="closest: h100-sxm"):
        catalog.system("h100")


def test_malformed_system_file_names_file_and_field(tmp_path):
    text = (
        (DATA_DIR / "systems" / "h100-sxm.toml")
        .read_text()
        .replace("bw_bytes_per_s = 3.35e12", "bw_bytes_per_s = -1")
    )
    path = tmp_path / "h100-sxm.toml"
    path.write_text(text)
    with pytest.raises(WafersimError, match=r"h100-sxm\.toml: field 'memory\.bw_bytes_per_s'"):
        system_from_file(path)
    path.write_text(text + "\nunexpected_key = 1\n")
    with pytest.raises(WafersimError, match="unexpected_key"):
        system_from_file(path)
    path.write_text("id = [")
    with pytest.raises(WafersimError, match="not valid TOML"):
        system_from_file(path)
