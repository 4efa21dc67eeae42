"""Wafer-scale fabric architectures (WSE-2, WSE-3) as frozen, sourced specifications.

The numbers live in `catalog/data/fabric/<name>.toml`, one `source` per section (see shared facts.md, section 1).
Building a spec from a mapping does no I/O; `load_arch` is the only function that reads a file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wafersim.errors import WafersimError
from wafersim.files import read_text

DATA_DIR = Path(__file__).parent / "data" / "fabric"
ARCH_NAMES = ("wse-2", "wse-3")

Op = Literal["fma", "mixed_fma", "add", "mul"]
DTypeName = Literal["fp16", "bf16", "fp32"]


class _Frozen(BaseModel):
    # inf and nan parse from TOML (and JSON) but no bandwidth, size or rate may be either.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class FabricSize(_Frozen):
    width_pes: int = Field(gt=0)
    height_pes: int = Field(gt=0)
    program_width_pes: int = Field(gt=0)
    program_height_pes: int = Field(gt=0)
    source: str

    @model_validator(mode="after")
    def _rectangle_fits(self) -> FabricSize:
        if self.program_width_pes > self.width_pes or self.program_height_pes > self.height_pes:
            raise ValueError("program rectangle larger than the fabric")
        return self


class Clock(_Frozen):
    default_hz: float = Field(gt=0)
    selectable_hz: tuple[float, ...]
    source: str


class Memory(_Frozen):
    sram_bytes_per_pe: int = Field(gt=0)
    banks_per_pe: int = Field(gt=0)
    bank_bytes: int = Field(gt=0)
    reads_per_cycle: int = Field(gt=0)
    writes_per_cycle: int = Field(gt=0)
    port_width_bits: int = Field(gt=0)
    source: str


class Simd(_Frozen):
    """Elements per cycle of one vector instruction, by operation and data type."""

    fp16_fma: int = Field(gt=0)
    fp16_fp32_fma: int = Field(gt=0)
    fp32_add: int = Field(gt=0)
    fp32_fma: int = Field(gt=0)
    bf16_op: int = Field(gt=0)
    source: str


class Stride(_Frozen):
    width_cap_by_stride_mod8: tuple[int, int, int, int, int, int, int, int]
    source: str


class Router(_Frozen):
    ports: tuple[str, ...]
    wavelet_bits: int = Field(gt=0)
    routable_colors: int = Field(gt=0)
    memcpy_reserved_colors: int = Field(ge=0)
    hop_latency_cycles: int = Field(gt=0)
    link_wavelets_per_cycle: int = Field(gt=0)
    ramp_latency_cycles: int = Field(gt=0)
    input_queue_depth_wavelets: int = Field(ge=2)
    # Route configurations one router holds per color, loaded with the program: the default route plus switch
    # positions 1-3 (SDK tutorial 16-switches); the default keeps architecture files written before it valid.
    route_positions_per_color: int = Field(default=4, gt=0)
    source: str


class HostIO(_Frozen):
    bandwidth_bits_per_s: float = Field(gt=0)
    source: str


class FabricArch(_Frozen):
    name: str
    fabric: FabricSize
    clock: Clock
    memory: Memory
    simd: Simd
    stride: Stride
    router: Router
    host_io: HostIO
    # The clock a run uses; one of clock.selectable_hz (see with_clock).
    clock_hz: float = 0.0

    @model_validator(mode="after")
    def _clock(self) -> FabricArch:
        if self.clock_hz == 0.0:
            object.__setattr__(self, "clock_hz", self.clock.default_hz)
        if self.clock_hz not in self.clock.selectable_hz:
            raise ValueError(
                f"clock_hz {self.clock_hz:g} not among selectable {list(self.clock.selectable_hz)}"
            )
        return self

    @property
    def kernel_colors(self) -> int:
        """Colors a user program may route: the routable ones minus those the memcpy framework reserves."""
        return self.router.routable_colors - self.router.memcpy_reserved_colors

    def with_clock(self, clock_hz: float) -> FabricArch:
        if clock_hz not in self.clock.selectable_hz:
            raise WafersimError(
                f"{self.name}: clock_hz {clock_hz:g} not selectable; choose one of {list(self.clock.selectable_hz)}"
            )
        return self.model_copy(update={"clock_hz": clock_hz})

    def simd_width(self, op: Op, dtype: DTypeName) -> int:
        """Elements per cycle for `op` in `dtype` (fp16 add/mul issue at the @fmach width)."""
        if dtype == "bf16":
            return self.simd.bf16_op
        if dtype == "fp16":
            return self.simd.fp16_fp32_fma if op == "mixed_fma" else self.simd.fp16_fma
        return self.simd.fp32_add if op == "add" else self.simd.fp32_fma

    def port_width(self, op: Op, dtype: DTypeName) -> int:
        """Elements per cycle the PE's SRAM ports sustain for `op` in `dtype`, each vector operand read through
        its own port from its own bank. `fma` (y = y + a * x), `add` and `mul` read two vectors and write one;
        `mixed_fma` (@fmachs) is a dot product into an fp32 scalar: two vectors read, none written per element."""
        port_bytes = self.memory.port_width_bits // 8
        size = 4 if dtype == "fp32" else 2
        per_cycle = self.memory.reads_per_cycle * port_bytes // (2 * size)
        if op != "mixed_fma":
            per_cycle = min(per_cycle, self.memory.writes_per_cycle * port_bytes // size)
        return max(1, per_cycle)

    def stride_width(self, stride: int) -> int | None:
        """Width cap a strided access imposes, or None when the access keeps full SIMD width."""
        if stride in (0, 1):
            return None
        cap = self.stride.width_cap_by_stride_mod8[abs(stride) % 8]
        return cap or None


def arch_from_mapping(data: dict[str, Any], origin: str = "<mapping>") -> FabricArch:
    """Validate a parsed mapping into a FabricArch (no I/O)."""
    try:
        return FabricArch.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise WafersimError(f"{origin}: field '{where}': {first['msg']}") from None


def load_arch(name_or_path: str | Path) -> FabricArch:
    """Read an architecture by catalog name ('wse-2', 'wse-3') or from a TOML file path."""
    path = Path(name_or_path)
    if str(name_or_path) in ARCH_NAMES:
        path = DATA_DIR / f"{name_or_path}.toml"
    elif path.suffix != ".toml":
        raise WafersimError(f"unknown fabric architecture '{name_or_path}'; choose one of {list(ARCH_NAMES)}")
    text = read_text(path, "fabric architecture file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise WafersimError(f"{path}: not valid TOML: {error}") from None
    return arch_from_mapping(data, origin=str(path))
