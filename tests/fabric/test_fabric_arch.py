import pytest
from pydantic import ValidationError

from wafersim.catalog.fabric_arch import DATA_DIR, arch_from_mapping, load_arch
from wafersim.errors import WafersimError


def test_wse2_numbers_match_the_facts(wse2):
    assert (wse2.fabric.width_pes, wse2.fabric.height_pes) == (757, 996)
    assert (wse2.fabric.program_width_pes, wse2.fabric.program_height_pes) == (750, 994)
    assert wse2.memory.sram_bytes_per_pe == 48 * 1024
    assert (wse2.simd.fp16_fma, wse2.simd.fp16_fp32_fma, wse2.simd.fp32_add) == (4, 2, 2)
    assert wse2.router.routable_colors == 24 and wse2.router.wavelet_bits == 32
    assert wse2.router.ports == ("N", "E", "S", "W", "RAMP")
    assert wse2.clock_hz == 1.1e9


def test_wse3_numbers_match_the_facts(wse3):
    assert (wse3.fabric.width_pes, wse3.fabric.height_pes) == (762, 1172)
    assert (wse3.simd.fp16_fma, wse3.simd.fp16_fp32_fma, wse3.simd.fp32_add) == (8, 4, 4)
    assert wse3.memory.sram_bytes_per_pe == 49152


@pytest.mark.parametrize("name", ["wse-2", "wse-3"])
def test_every_section_names_a_source(name):
    arch = load_arch(name)
    for section in ("fabric", "clock", "memory", "simd", "stride", "router", "host_io"):
        assert len(getattr(arch, section).source) > 10


def test_specs_are_frozen_and_strict(wse2):
    with pytest.raises(ValidationError):
        wse2.clock_hz = 1.0
    data = wse2.model_dump()
    data["router"]["wormholes"] = 3
    with pytest.raises(WafersimError, match="router.wormholes"):
        arch_from_mapping(data)


def test_clock_is_selectable(wse2):
    assert wse2.with_clock(850e6).clock_hz == 850e6
    with pytest.raises(WafersimError, match="not selectable"):
        wse2.with_clock(2e9)


def test_simd_and_stride_rules(wse2, wse3):
    assert wse2.simd_width("fma", "fp16") == 4 and wse3.simd_width("fma", "fp16") == 8
    assert wse2.simd_width("mixed_fma", "fp16") == 2 and wse2.simd_width("add", "fp32") == 2
    assert wse2.stride_width(1) is None and wse2.stride_width(0) is None
    assert wse2.stride_width(8) == 1 and wse2.stride_width(9) == 2 and wse2.stride_width(4) == 4
    assert wse2.stride_width(3) is None


def test_load_by_path_and_bad_names(tmp_path):
    assert load_arch(DATA_DIR / "wse-3.toml").name == "wse-3"
    with pytest.raises(WafersimError, match="unknown fabric architecture"):
        load_arch("wse-9")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = ")
    with pytest.raises(WafersimError, match="not valid TOML"):
        load_arch(bad)
