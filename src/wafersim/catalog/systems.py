"""Accelerator systems: one accelerator package (a GPU, a TPU chip, an LPU chip, or one CS system with its wafer)
together with its scale-up domain, power and price. Loaded from `data/systems/<id>.toml`.

Conventions: SI units, named in the field (`_bytes`, `_bytes_per_s`, `_flops_per_s`, `_s`, `_w`, `_usd`).
Link bandwidths are per accelerator and per direction. Every section carries the `source` of its numbers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wafersim.catalog.precision import Precision

Fraction = float


class _Spec(BaseModel):
    # inf and nan parse from TOML (and JSON) but no bandwidth, size or rate may be either.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ComputeSpec(_Spec):
    """Dense (not 2:4-sparse) peak matrix throughput per accelerator."""

    bf16_flops_per_s: float = Field(gt=0)
    fp8_flops_per_s: float | None = Field(default=None, gt=0)
    fp4_flops_per_s: float | None = Field(default=None, gt=0)
    int8_ops_per_s: float | None = Field(default=None, gt=0)
    source: str = Field(min_length=1)

    def peak_flops_per_s(self, precision: Precision) -> float:
        """Peak for matrix math with operands in `precision`.

        Hardware without a unit for the format computes in the next wider format it has (weight-only
        quantisation: the weights are stored narrow and widened on load), so fp4 falls back to fp8, then bf16.
        """
        chain = {
            "fp4": (self.fp4_flops_per_s, self.fp8_flops_per_s, self.bf16_flops_per_s),
            "fp8": (self.fp8_flops_per_s, self.bf16_flops_per_s),
            "int8": (self.int8_ops_per_s, self.fp8_flops_per_s, self.bf16_flops_per_s),
            "bf16": (self.bf16_flops_per_s,),
        }[precision]
        return next(value for value in chain if value is not None)


class MemorySpec(_Spec):
    kind: Literal["hbm", "sram"]
    # ≥ 100 MB: below any accelerator that serves LLMs (Groq's LPU, the smallest, has 230 MB of SRAM); a
    # smaller figure is a unit slip (GB for bytes) that would send the accelerator-count search to 10^10.
    capacity_bytes: float = Field(ge=1e8)
    bw_bytes_per_s: float = Field(gt=0)
    source: str = Field(min_length=1)


class MemoryTierSpec(_Spec):
    """A memory tier beside `memory` on dataflow chips (SambaNova SN40L: on-chip SRAM and DDR beside HBM)."""

    kind: Literal["sram", "ddr"]
    capacity_bytes: float = Field(gt=0)
    bw_bytes_per_s: float | None = Field(default=None, gt=0, description="None: not published")
    source: str = Field(min_length=1)


class LinkSpec(_Spec):
    """A class of interconnect seen from one accelerator (alpha-beta model)."""

    name: str = Field(min_length=1)
    bw_bytes_per_s: float = Field(gt=0, description="per accelerator, per direction")
    latency_s: float = Field(ge=0, description="alpha: fixed cost of one message or collective step")
    domain_size: int = Field(ge=1, description="accelerators reachable at this bandwidth")
    source: str = Field(min_length=1)


class PowerSpec(_Spec):
    accelerator_w: float = Field(gt=0)
    system_w_per_accelerator: float = Field(gt=0, description="IT power incl. host, fans and network share")
    source: str = Field(min_length=1)


class PriceSpec(_Spec):
    usd_per_accelerator: float = Field(gt=0, description="system capex divided by accelerators")
    source: str = Field(min_length=1)


class EfficiencySpec(_Spec):
    """Achievable fractions of peak, with where they came from (a source or the calibration that set them)."""

    compute: Fraction = Field(gt=0, le=1, description="of peak matrix FLOP/s")
    moe_compute: Fraction | None = Field(
        default=None, gt=0, le=1, description="of peak FLOP/s in grouped expert GEMMs (None: as compute)"
    )
    memory_bw: Fraction = Field(gt=0, le=1, description="of peak memory bandwidth")
    network: Fraction = Field(gt=0, le=1, description="of link bandwidth in collectives")
    step_overhead_s: float = Field(ge=0, description="fixed cost per forward pass (launch, sync, sampling)")
    source: str = Field(min_length=1)


class ServiceSpec(_Spec):
    """A hosted service's path around the accelerators: what a client waits for beyond their own time (not
    accelerator or fabric timing). Optional; wafer systems carry one (perf/wafer/service.py uses it)."""

    host_round_trip_s: float = Field(
        ge=0,
        description="per decode step: tokens to the host, sampling and streaming out, next token back in",
    )
    request_latency_s: float = Field(
        ge=0, description="once per request: client-API network round trip, request handling, tokenisation"
    )
    load: Fraction = Field(
        ge=0, lt=1, description="busy share of the prompt pipeline at the load the service runs (queueing)"
    )
    source: str = Field(min_length=1)


class SystemSpec(_Spec):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    name: str
    vendor: str
    kind: Literal["gpu", "tpu", "lpu", "rdu", "wafer"]
    status: Literal["shipping", "announced"] = Field(
        default="shipping", description="announced: not yet measured by anyone outside the vendor"
    )
    compute: ComputeSpec
    memory: MemorySpec
    scale_up: LinkSpec
    scale_out: LinkSpec
    power: PowerSpec
    price: PriceSpec | None = None
    efficiency: EfficiencySpec
    memory_tiers: tuple[MemoryTierSpec, ...] = Field(
        default=(),
        description="tiers beside `memory` (dataflow chips); `memory` is the one weights stream from",
    )
    fabric_arch: str | None = Field(default=None, description="fabric architecture id for wafer systems")
    service: ServiceSpec | None = Field(
        default=None, description="hosted-service path (client-visible latency)"
    )
    usable_memory_fraction: Fraction = Field(
        default=0.9,
        gt=0,
        le=1,
        description="share of memory the serving runtime may use (vLLM's gpu_memory_utilization default 0.9)",
    )
