"""What the simulator needs from a system type: the time of one iteration and the KV cache it can hold.

`ReplicaModel` is the one interface; the GPU/TPU/LPU implementation prices iterations with the performance
layer's `IterationCost`, the wafer one (`wafer_replica.py`: several micro-batches in flight across pipeline
stages, KV in the SRAM left after weights) with the wafer estimator's fabric costs. A new system kind registers
a builder in REPLICA_BUILDERS; the simulator is untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from wafersim.bounds import MAX_ACCELERATORS, Batch, Bounds, Count, Seconds, check
from wafersim.catalog import ModelSpec, Precision, SystemSpec
from wafersim.errors import WafersimError
from wafersim.perf.cost import IterationCost
from wafersim.perf.estimate import DEFAULT_MAX_BATCH, Estimate, EstimateRequest, estimate
from wafersim.perf.layout import Layout
from wafersim.perf.memory import TOKEN_BUDGET, activation_bytes, kv_bytes_per_sequence, stage_weight_bytes
from wafersim.perf.work import StepWork


class ReplicaModel(Protocol):
    """One engine: a model copy on `accelerators` accelerators that runs one iteration at a time."""

    @property
    def kv_capacity_tokens(self) -> int: ...

    @property
    def max_context_tokens(self) -> int: ...

    @property
    def sliding_window(self) -> int | None: ...

    @property
    def accelerators(self) -> int: ...

    @property
    def power_w(self) -> float: ...

    @property
    def kv_bytes_per_token(self) -> float:
        """KV bytes one accelerator holds per cached token (what it sends when the KV moves)."""
        ...

    def iteration_time_s(self, work: StepWork) -> np.ndarray:
        """Seconds for each iteration described by `work` (fields may be arrays: many iterations at once)."""
        ...


@dataclass(frozen=True)
class ReplicaSpec:
    """How to build one engine: which layout, precision and batch limit. No I/O."""

    model: ModelSpec
    system: SystemSpec
    layout: Layout  # dp = engines the --count accelerators hold (each tp × pp); unused for wafers
    precision: Precision
    max_batch: int = DEFAULT_MAX_BATCH
    # Wafer systems: the placement search, not a layout, decides an engine's wafers; it needs the wafers on hand
    # (--count) and the workload's mean (prompt, output) tokens, as the estimate does.
    count: int | None = None
    mean_tokens: tuple[int, int] | None = None
    max_tpot_s: float | None = None  # wafer systems: the TPOT bound the placement's batch is chosen within


class PerfReplica:
    """A GPU/TPU/LPU engine priced by the analytical performance layer."""

    def __init__(self, spec: ReplicaSpec) -> None:
        self.spec = spec
        layout = Layout(spec.layout.tp, spec.layout.pp, spec.layout.ep, 1)
        self.cost = IterationCost(spec.model, spec.system, layout, spec.precision)
        system = spec.system
        usable = system.memory.capacity_bytes * system.usable_memory_fraction
        weights = max(stage_weight_bytes(self.cost))
        # Workspace for the largest iteration the runtime admits (the token budget or the batch's decodes).
        workspace = activation_bytes(self.cost, spec.max_batch, TOKEN_BUDGET)
        # Per-token KV of one accelerator of the fullest stage; windowed layers are charged as full ones
        # (conservative: the paged allocator here does not free blocks that slid out of the window).
        self.kv_bytes_per_token = kv_bytes_per_sequence(self.cost, 1)
        free = usable - weights - workspace
        self._kv_capacity = int(max(free, 0.0) // self.kv_bytes_per_token)
        self.memory = {"usable_bytes": usable, "weights_bytes": weights, "activation_bytes": workspace}

    @property
    def kv_capacity_tokens(self) -> int:
        return self._kv_capacity

    @property
    def max_context_tokens(self) -> int:
        return self.spec.model.max_context

    @property
    def sliding_window(self) -> int | None:
        return self.spec.model.sliding_window

    @property
    def accelerators(self) -> int:
        return self.spec.layout.tp * self.spec.layout.pp

    @property
    def power_w(self) -> float:
        return self.spec.system.power.system_w_per_accelerator * self.accelerators

    def iteration_time_s(self, work: StepWork) -> np.ndarray:
        return np.asarray(self.cost.time_s(work), dtype=float)


def layout_lengths(model: ModelSpec, prompt_tokens: float, output_tokens: float) -> tuple[int, int]:
    """Whole-token mean lengths for choosing a layout or placement."""
    input_len = max(1, int(round(prompt_tokens)))
    output_len = max(1, int(round(output_tokens)))
    # Mean lengths of a trace are within the context; clip only for the layout choice, never for requests.
    output_len = (
        max(1, min(output_len, model.max_context - input_len)) if input_len < model.max_context else 1
    )
    return min(input_len, model.max_context - output_len), output_len


def choose_layout(
    model: ModelSpec,
    system: SystemSpec,
    count: int,
    prompt_tokens: float,
    output_tokens: float,
    tp: int | None = None,
    pp: int | None = None,
    ep: int | None = None,
    precision: Precision | None = None,
    max_tpot_s: float | None = None,
) -> Estimate:
    """The estimate's maximum-throughput layout for the workload's mean lengths (raises if nothing fits) — within
    the TPOT target when one is given, so that a deployment is not laid out for a batch its users would not
    accept."""
    input_len, output_len = layout_lengths(model, prompt_tokens, output_tokens)

    def best(pp_: int | None) -> Estimate:
        request = EstimateRequest(
            model, system, count, input_len, output_len, tp=tp, pp=pp_, ep=ep, precision=precision,
            max_tpot_s=max_tpot_s,
        )  # fmt: skip
        return estimate(request)

    # The engine runs one step per pipeline pass: it does not keep pp independent steps in flight as vLLM's
    # virtual engines do, so a lone prompt's prefill would leave pp - 1 stages idle. Layouts without pipeline
    # stages are therefore preferred when one fits; --pp asks for pipelining explicitly.
    result = best(pp if pp is not None else 1)
    if pp is None and not result.fits:
        result = best(None)
    if not result.fits:
        raise WafersimError(
            f"{model.id} on {count} × {system.id} cannot hold one request of the workload's mean length "
            f"({input_len} + {output_len} tokens): {result.reason}"
        )
    return result


def _analytical_replica(spec: ReplicaSpec) -> ReplicaModel:
    return PerfReplica(spec)


def _wafer_replica(spec: ReplicaSpec) -> ReplicaModel:
    # Imported here: the wafer layer is only loaded for wafer systems.
    from wafersim.serving.wafer_replica import wafer_replica

    if spec.count is None or spec.mean_tokens is None:
        raise ValueError("a wafer ReplicaSpec needs count and mean_tokens (the placement search's inputs)")
    return wafer_replica(
        spec.model, spec.system, spec.count, *spec.mean_tokens, spec.precision, spec.max_batch,
        max_tpot_s=spec.max_tpot_s,
    )  # fmt: skip


# The one place a system kind is registered.
REPLICA_BUILDERS: dict[str, Callable[[ReplicaSpec], ReplicaModel]] = {
    "gpu": _analytical_replica,
    "tpu": _analytical_replica,
    "lpu": _analytical_replica,
    "rdu": _analytical_replica,
    "wafer": _wafer_replica,
}


def build_replica(spec: ReplicaSpec) -> ReplicaModel:
    replica = REPLICA_BUILDERS[spec.system.kind](spec)
    if replica.kv_capacity_tokens < 1:
        memory = getattr(replica, "memory", {})
        gib = 2**30
        detail = ", ".join(f"{k.removesuffix('_bytes')} {v / gib:.1f} GiB" for k, v in memory.items())
        raise WafersimError(
            f"{spec.model.id} on {spec.layout.tp * spec.layout.pp} × {spec.system.id} (tp={spec.layout.tp} "
            f"pp={spec.layout.pp}) leaves no memory for the KV cache ({detail}): it cannot hold one request; "
            f"the workspace is sized for max_batch {spec.max_batch} sequences, and a smaller max_batch "
            "leaves more for the KV cache",
            field="max_batch",
        )
    return replica


@dataclass(frozen=True)
class Deployment:
    """`replicas` × `count` accelerators; each replica holds `layout.dp` engines of tp × pp accelerators."""

    replica: ReplicaModel
    engines: int
    layout: Layout
    precision: Precision
    accelerators: int
    power_w: float


class _DeploymentBounds(Bounds):
    count: Count
    replicas: Count
    tp: Count | None = None
    pp: Count | None = None
    ep: Count | None = None
    max_batch: Batch
    max_tpot_s: Seconds | None = None


def plan_deployment(
    model: ModelSpec,
    system: SystemSpec,
    count: int,
    replicas: int,
    prompt_tokens: float,
    output_tokens: float,
    tp: int | None = None,
    pp: int | None = None,
    ep: int | None = None,
    precision: Precision | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    max_tpot_s: float | None = None,
) -> Deployment:
    checked = check(_DeploymentBounds, {"count": count, "replicas": replicas, "tp": tp, "pp": pp, "ep": ep,
                                        "max_batch": max_batch, "max_tpot_s": max_tpot_s})  # fmt: skip
    count, replicas, max_batch = checked.count, checked.replicas, checked.max_batch
    if count * replicas > MAX_ACCELERATORS:
        raise WafersimError(
            f"replicas × count = {replicas * count:,} accelerators is more than any fleet announced "
            f"(limit {MAX_ACCELERATORS:,})",
            field="replicas",
        )
    if system.kind == "wafer":
        return _plan_wafer(
            model, system, count, replicas, prompt_tokens, output_tokens, tp, pp, ep, precision, max_batch,
            max_tpot_s,
        )  # fmt: skip
    chosen = choose_layout(
        model, system, count, prompt_tokens, output_tokens, tp, pp, ep, precision, max_tpot_s
    )
    layout = Layout(chosen.tp, chosen.pp, chosen.ep, chosen.dp, chosen.attention_dp)
    precision_used: Precision = chosen.precision  # type: ignore[assignment]
    replica = build_replica(ReplicaSpec(model, system, layout, precision_used, max_batch))
    accelerators = replicas * count
    return Deployment(
        replica=replica,
        engines=replicas * layout.dp,
        layout=layout,
        precision=precision_used,
        accelerators=accelerators,
        power_w=system.power.system_w_per_accelerator * accelerators,
    )


def _plan_wafer(
    model: ModelSpec,
    system: SystemSpec,
    count: int,
    replicas: int,
    prompt_tokens: float,
    output_tokens: float,
    tp: int | None,
    pp: int | None,
    ep: int | None,
    precision: Precision | None,
    max_batch: int,
    max_tpot_s: float | None = None,
) -> Deployment:
    """Wafers: the placement search picks an engine's wafers; `count` wafers hold count // that many engines,
    each laid out for the batch whose TPOT stays within `max_tpot_s` (as GPU layouts are chosen)."""
    for name, value in (("tp", tp), ("pp", pp), ("ep", ep)):
        if value not in (None, 0, 1):
            raise WafersimError(
                f"{name} {value}: {system.id} is a wafer-scale system; the placement search decides how layers "
                "spread over regions and wafers (leave tp, pp and ep unset)",
                field=name,
            )
    precision_used: Precision = precision or model.default_precision
    lengths = layout_lengths(model, prompt_tokens, output_tokens)
    spec = ReplicaSpec(
        model, system, Layout(), precision_used, max_batch, count=count, mean_tokens=lengths,
        max_tpot_s=max_tpot_s,
    )  # fmt: skip
    replica = build_replica(spec)
    per_replica = count // replica.accelerators
    accelerators = replicas * count
    return Deployment(
        replica=replica,
        engines=replicas * per_replica,
        # As the wafer estimate reports it: tp and ep do not apply (0), pp = pipeline stages (regions).
        layout=Layout(0, getattr(replica, "stages", 1), 0, per_replica),
        precision=precision_used,
        accelerators=accelerators,
        power_w=system.power.system_w_per_accelerator * accelerators,
    )


def kv_transfer_time(
    prefill: Deployment, decode: Deployment, prefill_system: SystemSpec, decode_system: SystemSpec
):
    """Seconds to move a request's KV from a prefill engine to a decode engine, as a function of its tokens.

    Every accelerator sends its own shard over its own scale-out link at the same time, so the time is set by
    the larger per-accelerator shard of the two sides over the slower of the two links (alpha-beta).
    """
    bytes_per_token = max(prefill.replica.kv_bytes_per_token, decode.replica.kv_bytes_per_token)
    links = (prefill_system.scale_out, decode_system.scale_out)
    efficiency = min(prefill_system.efficiency.network, decode_system.efficiency.network)
    bw_bytes_per_s = min(link.bw_bytes_per_s for link in links) * efficiency
    latency_s = max(link.latency_s for link in links)

    def transfer_s(tokens):
        return latency_s + np.asarray(tokens, dtype=float) * bytes_per_token / bw_bytes_per_s

    return transfer_s
