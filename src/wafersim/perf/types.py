"""What every system kind answers with: the request (`EstimateRequest`) and the answer (`Estimate`).

In their own module so that the estimators (perf/analytical.py, perf/wafer/estimator.py) and the registry that
dispatches to them (perf/estimate.py) import the types without importing each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from wafersim.catalog import ModelSpec, Precision, SystemSpec
from wafersim.errors import WafersimError
from wafersim.perf.economics import CostAssumptions

# TensorRT-LLM's default engine max_batch_size (trtllm-build --max_batch_size, 2048): the largest batch the
# maximum-throughput mode will pick even where memory would allow more (per replica).
DEFAULT_MAX_BATCH = 2048


@dataclass(frozen=True)
class EstimateRequest:
    model: ModelSpec
    system: SystemSpec
    count: int
    input_len: int
    output_len: int
    tp: int | None = None
    pp: int | None = None
    ep: int | None = None
    attention_dp: bool | None = None  # None: the tool chooses (MoE models only)
    precision: Precision | None = None  # None: the model's native precision
    kv_precision: Precision | None = None  # None: fp8 for 8/4-bit deployments, else bf16
    batch: int | None = None  # None: the largest that fits (maximum throughput)
    max_batch: int = DEFAULT_MAX_BATCH
    max_tpot_s: float | None = None  # with batch=None: the largest batch whose TPOT stays within this
    cost: CostAssumptions = field(default_factory=CostAssumptions)  # for usd_per_million_tokens

    def __post_init__(self) -> None:
        for name in ("count", "input_len", "output_len", "max_batch"):
            if getattr(self, name) < 1:
                raise WafersimError(f"{name} must be ≥ 1, got {getattr(self, name)}", field=name)
        if self.max_tpot_s is not None and self.max_tpot_s <= 0:
            raise WafersimError(f"max_tpot_s must be > 0 seconds, got {self.max_tpot_s}", field="max_tpot_s")
        if self.batch is not None and self.batch < 1:
            raise WafersimError(f"batch must be ≥ 1, got {self.batch}", field="batch")
        if self.input_len + self.output_len > self.model.max_context:
            raise WafersimError(
                f"input_len + output_len = {self.input_len + self.output_len} exceeds the "
                f"{self.model.max_context}-token context of {self.model.id}",
                field="input_len",
            )

    @property
    def resolved_precision(self) -> Precision:
        return self.precision or self.model.default_precision


@dataclass(frozen=True)
class Estimate:
    """Answer for one deployment. Times in seconds, rates per second, memory in bytes."""

    model: str
    system: str
    count: int
    precision: str
    kv_precision: str
    input_len: int
    output_len: int
    fits: bool
    reason: str | None = None
    batch: int = 0
    tp: int = 0
    pp: int = 0
    ep: int = 0
    dp: int = 0
    attention_dp: bool = False
    ttft_s: float | None = None
    tpot_s: float | None = None
    prefill_s: float | None = None
    output_tokens_per_s_per_user: float | None = None
    output_tokens_per_s: float | None = None
    memory_bytes_per_accelerator: float | None = None
    memory: dict[str, float] = field(default_factory=dict)
    accelerators_needed: int | None = None
    power_w: float | None = None
    joules_per_token: float | None = None
    capex_usd: float | None = None
    usd_per_million_tokens: float | None = None
    breakdown: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # system-kind specific figures (e.g. wafer use)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data
