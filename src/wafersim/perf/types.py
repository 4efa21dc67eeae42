"""What every system kind answers with: the request (`EstimateRequest`) and the answer (`Estimate`).

In their own module so that the estimators (perf/analytical.py, perf/wafer/estimator.py) and the registry that
dispatches to them (perf/estimate.py) import the types without importing each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

from pydantic import Field

from wafersim.bounds import Batch, Bounds, Count, Seconds, Tokens, check
from wafersim.catalog import ModelSpec, Precision, SystemSpec
from wafersim.errors import WafersimError
from wafersim.perf.economics import CostAssumptions
from wafersim.perf.tail import in_flight_context

# TensorRT-LLM's default engine max_batch_size (trtllm-build --max_batch_size, 2048): the largest batch the
# maximum-throughput mode will pick even where memory would allow more (per replica).
DEFAULT_MAX_BATCH = 2048


class _RequestBounds(Bounds):
    """The scalar arguments of an EstimateRequest, with their bounds (see wafersim.bounds)."""

    count: Count
    input_len: Tokens
    output_len: Tokens
    tp: Count | None = None
    pp: Count | None = None
    ep: Count | None = None
    attention_dp: bool | None = None
    precision: Precision | None = None
    kv_precision: Precision | None = None
    batch: Batch | None = None
    max_batch: Batch = DEFAULT_MAX_BATCH
    max_tpot_s: Seconds | None = None
    max_ttft_s: Seconds | None = None
    # Coefficient of variation of tokens per expert: 1.28 measured without load balancing (perf/moe.py); 100
    # would put every token on one expert many times over.
    expert_load_cv: Annotated[float, Field(ge=0, le=100)] | None = None
    # Coefficient of variation of the output length across requests: 0 = every request generates output_len
    # tokens; 1 = the geometric law (maximum entropy for a known mean, what perf/tail.py assumes).
    output_len_cv: Annotated[float, Field(ge=0, le=10)] = 0.0


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
    max_ttft_s: float | None = None  # ... and whose p99 TTFT under Poisson arrivals stays within this
    expert_load_cv: float | None = None  # MoE routing skew (perf/moe.py; None: the sourced default)
    output_len_cv: float = 0.0  # spread of output lengths across requests (std / mean; see in_flight_context)
    cost: CostAssumptions = field(default_factory=CostAssumptions)  # for usd_per_million_tokens
    # Speculative decoding: a draft model (perf.wafer.speculative.Speculative) or the target's multi-token
    # prediction heads (perf.speculative.MTPHeads); None: plain decoding.
    speculative: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, ModelSpec):
            raise WafersimError(
                f"model must be a ModelSpec (catalog.model(id)), got {type(self.model).__name__}",
                field="model",
            )
        if not isinstance(self.system, SystemSpec):
            raise WafersimError(
                f"system must be a SystemSpec (catalog.system(id)), got {type(self.system).__name__}",
                field="system",
            )
        if not isinstance(self.cost, CostAssumptions):
            raise WafersimError(f"cost must be CostAssumptions, got {type(self.cost).__name__}", field="cost")
        names = list(_RequestBounds.model_fields)
        checked = check(_RequestBounds, {name: getattr(self, name) for name in names})
        for name in names:  # integral floats (8.0) and numpy integers become plain ints
            object.__setattr__(self, name, getattr(checked, name))
        if self.input_len + self.output_len > self.model.max_context:
            raise WafersimError(
                f"input_len + output_len = {self.input_len + self.output_len} exceeds the "
                f"{self.model.max_context}-token context of {self.model.id}",
                field="input_len",
            )

    @property
    def in_flight_context(self) -> float:
        """Mean context of a sequence in a continuously refilled batch (limits.Workload.mean_context)."""
        return in_flight_context(self.input_len, self.output_len, self.output_len_cv, self.model.max_context)

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
    output_len_cv: float = 0.0  # the request's spread of output lengths (KV and attention in flight)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data
