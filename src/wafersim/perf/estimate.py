"""The one interface every system type answers: `estimate(request) -> Estimate`.

ESTIMATORS maps a system kind to the function that answers for it; a new kind of system plugs in there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from wafersim.bounds import Batch, Bounds, Count, Seconds, Tokens, check
from wafersim.catalog import ModelSpec, Precision, SystemSpec
from wafersim.errors import WafersimError
from wafersim.perf.economics import CostAssumptions, usd_per_million_tokens

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
        if not isinstance(self.model, ModelSpec):
            raise WafersimError(
                f"model must be a ModelSpec (catalog.model(id)), got {type(self.model).__name__}", field="model"
            )
        if not isinstance(self.system, SystemSpec):
            raise WafersimError(
                f"system must be a SystemSpec (catalog.system(id)), got {type(self.system).__name__}",
                field="system",
            )
        if not isinstance(self.cost, CostAssumptions):
            raise WafersimError(f"cost must be CostAssumptions, got {type(self.cost).__name__}", field="cost")
        names = [name for name in _RequestBounds.model_fields if name != "context"]
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


Estimator = Callable[[EstimateRequest], Estimate]


def _analytical(request: EstimateRequest) -> Estimate:
    from wafersim.perf.analytical import estimate_analytical

    return estimate_analytical(request)


def _wafer(request: EstimateRequest) -> Estimate:
    from wafersim.perf.wafer.estimator import estimate_wafer

    return estimate_wafer(request)


# The one place a system kind is registered.
ESTIMATORS: dict[str, Estimator] = {
    "gpu": _analytical,
    "tpu": _analytical,
    "lpu": _analytical,
    "wafer": _wafer,
}


def estimate(request: EstimateRequest) -> Estimate:
    result = ESTIMATORS[request.system.kind](request)
    return with_costs(result, request)


def with_costs(result: Estimate, request: EstimateRequest) -> Estimate:
    """Capex of the deployment (all `count` accelerators bought, busy or idle) and dollars per million output
    tokens, for any system kind."""
    price = request.system.price
    if not result.fits or price is None or result.power_w is None or not result.output_tokens_per_s:
        return result
    capex = price.usd_per_accelerator * request.count
    usd = usd_per_million_tokens(capex, result.power_w, result.output_tokens_per_s, request.cost)
    return replace(result, capex_usd=capex, usd_per_million_tokens=usd)
