"""The frontier of speed per user against output tokens per MW, over deployments of one model.

Aggregated deployments: for each system, replica sizes from the fewest accelerators that hold the model up to
its scale-up domain (wafers: up to four times the fewest), every parallel layout of one replica, and batches
from 1 up to the largest that fits. Data-parallel copies are left out: they scale tokens and power alike.

Disaggregated deployments (prefill and decode on separate pools, possibly of different systems): a decode
replica at batch b emits b / tpot tokens/s, i.e. b / (output_len · tpot) requests/s; the prefill pool is sized
to match that request rate (a fractional share of prefill replicas, the steady-state mix), and a request's
first token waits for its prefill plus the move of its KV cache over the slower of the two scale-out links.
Decode steps carry no prefill work there, so their time is the decode part of the estimate's breakdown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from wafersim.catalog import Catalog, ModelSpec, Precision, SystemSpec
from wafersim.errors import WafersimError
from wafersim.parallel import Engine
from wafersim.perf.api import _spec
from wafersim.perf.estimate import estimate
from wafersim.perf.layout import candidate_layouts
from wafersim.perf.types import Estimate, EstimateRequest

# Wafer replicas are tried up to this multiple of the fewest wafers that hold the model: more wafers give more
# SRAM for KV (bigger batches) and shorter pipelines per wafer.
WAFER_COUNT_MULTIPLES = (1, 2)
MAX_BATCH = 2048  # TensorRT-LLM's default engine max_batch_size, as `estimate` uses


@dataclass(frozen=True)
class FrontierPoint:
    mode: str  # "aggregated" or "disaggregated"
    prefill_system: str
    decode_system: str
    prefill: dict[
        str, Any
    ]  # count and layout of one prefill replica (and the pool's share per decode replica)
    decode: dict[str, Any]  # count, layout and batch of one decode replica
    output_tokens_per_s_per_user: float
    output_tokens_per_s_per_mw: float
    ttft_s: float
    tpot_s: float
    meets_slo: bool
    pareto: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Frontier:
    model: str
    systems: tuple[str, ...]
    input_len: int
    output_len: int
    slo_ttft_s: float | None
    slo_tpot_s: float | None
    disagg: bool
    points: tuple[FrontierPoint, ...] = field(repr=False)
    evaluated: int = 0  # estimates made

    @property
    def pareto(self) -> tuple[FrontierPoint, ...]:
        return tuple(
            sorted((p for p in self.points if p.pareto), key=lambda p: p.output_tokens_per_s_per_user)
        )

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "points"}
        return data | {"systems": list(self.systems), "points": [p.to_dict() for p in self.points]}


@dataclass(frozen=True)
class _Config:
    """One replica evaluated at one batch: what it is and what the estimate says."""

    system: SystemSpec
    count: int
    layout: dict[str, Any]
    answer: Estimate

    @property
    def decode_s(self) -> float:
        """Decode step time without any prefill share (the estimate's decode breakdown when it has one)."""
        parts = self.answer.breakdown.get("decode") or {}
        total = sum(parts.values())
        return total if 0 < total <= self.answer.tpot_s else self.answer.tpot_s


def _replica_counts(model: ModelSpec, system: SystemSpec, base: dict[str, Any]) -> list[int]:
    from wafersim.perf.analytical import accelerators_needed

    if system.kind == "wafer":
        probe = estimate(EstimateRequest(count=1, batch=1, **base))
        fewest = 1 if probe.fits else probe.accelerators_needed or 0
        counts = [fewest * k for k in WAFER_COUNT_MULTIPLES]
    else:
        request = EstimateRequest(count=1, **base)
        fewest = accelerators_needed(request, request.resolved_precision) or 0
        domain = max(system.scale_up.domain_size, fewest)
        counts, count = [], fewest
        while fewest and count <= domain:
            counts.append(count)
            count = 1 << count.bit_length() if count & (count - 1) else count * 2  # next power of two
    if not counts or counts[0] == 0:
        raise WafersimError(f"{model.id} does not fit on any number of {system.id}", field="systems")
    return counts


def _layouts(model: ModelSpec, system: SystemSpec, count: int) -> list[dict[str, Any]]:
    """Every layout of one replica of `count` (data-parallel copies left out: they scale tokens and power alike)."""
    if system.kind == "wafer":
        return [{}]  # the placement search decides how layers spread over the wafers
    return [
        {"tp": layout.tp, "pp": layout.pp, "ep": layout.ep, "attention_dp": layout.attention_dp}
        for layout in candidate_layouts(model, count)
        if layout.dp == 1
    ]


def _count_configs(job: tuple[SystemSpec, int, dict[str, Any]]) -> tuple[list[_Config], int]:
    """Every layout and batch of one replica size that fits, and how many estimates that took (one job of the
    search: a wafer replica's candidate placements are found once in its process and ranked at each batch)."""
    system, count, base = job
    configs, evaluated = [], 0
    for layout in _layouts(base["model"], system, count):
        largest = estimate(EstimateRequest(count=count, **layout, **base))
        evaluated += 1
        if not largest.fits:
            continue
        # Wafer estimates rank a replica's placements per batch (about a second each): a coarser ladder there.
        ladder = (8**k for k in range(4)) if system.kind == "wafer" else (2**k for k in range(12))
        batches = sorted({b for b in ladder if b < largest.batch} | {largest.batch})
        for batch in batches:
            answer = (
                largest
                if batch == largest.batch
                else estimate(EstimateRequest(count=count, batch=batch, **layout, **base))
            )
            evaluated += batch != largest.batch
            if answer.fits and answer.tpot_s and answer.power_w:
                configs.append(_Config(system, count, layout, answer))
    return configs, evaluated


def _describe(config: _Config) -> dict[str, Any]:
    return {"count": config.count, **config.layout, "batch": config.answer.batch}


def _kv_transfer_s(model: ModelSpec, precision: Precision, prefill: _Config, decode: _Config, tokens: int):
    """Each accelerator of the smaller replica moves its shard over its own scale-out link (alpha-beta)."""
    kv_bytes = 1 if precision in ("fp8", "fp4", "int8") else 2  # as the estimate keeps KV (fp8 below 16 bits)
    total_bytes = tokens * model.kv_elements_per_token_per_layer() * model.num_layers * kv_bytes
    links = (prefill.system.scale_out, decode.system.scale_out)
    lanes = min(prefill.count, decode.count)
    return max(link.latency_s for link in links) + total_bytes / (
        min(link.bw_bytes_per_s for link in links) * lanes
    )


def _meets(ttft_s: float, tpot_s: float, slo_ttft_s: float | None, slo_tpot_s: float | None) -> bool:
    return (slo_ttft_s is None or ttft_s <= slo_ttft_s) and (slo_tpot_s is None or tpot_s <= slo_tpot_s)


def _aggregated(configs: list[_Config], slo) -> list[FrontierPoint]:
    points = []
    for c in configs:
        a = c.answer
        points.append(FrontierPoint(
            mode="aggregated", prefill_system=c.system.id, decode_system=c.system.id,
            prefill=_describe(c), decode=_describe(c), output_tokens_per_s_per_user=1.0 / a.tpot_s,
            output_tokens_per_s_per_mw=a.output_tokens_per_s / (a.power_w / 1e6), ttft_s=a.ttft_s,
            tpot_s=a.tpot_s, meets_slo=_meets(a.ttft_s, a.tpot_s, *slo),
        ))  # fmt: skip
    return points


def _prefill_choices(configs: list[_Config]) -> list[_Config]:
    """Batch-1 replicas that no other is both faster and cheaper in energy per prompt than."""
    ones = [c for c in configs if c.answer.batch == 1 and c.answer.prefill_s]
    ones.sort(key=lambda c: (c.answer.prefill_s, c.answer.prefill_s * c.answer.power_w))
    chosen, best_energy = [], float("inf")
    for c in ones:
        energy = c.answer.prefill_s * c.answer.power_w
        if energy < best_energy:
            chosen.append(c)
            best_energy = energy
    return chosen


def _disaggregated(model, precision, input_len, output_len, by_system, slo) -> list[FrontierPoint]:
    points = []
    for prefill_configs in by_system.values():
        for p in _prefill_choices(prefill_configs):
            for decode_configs in by_system.values():
                for d in decode_configs:
                    step_s = d.decode_s
                    requests_per_s = d.answer.batch / (output_len * step_s)
                    share = requests_per_s * p.answer.prefill_s  # prefill replicas per decode replica
                    power_w = d.answer.power_w + share * p.answer.power_w
                    ttft_s = p.answer.prefill_s + _kv_transfer_s(model, precision, p, d, input_len)
                    points.append(FrontierPoint(
                        mode="disaggregated", prefill_system=p.system.id, decode_system=d.system.id,
                        prefill=_describe(p) | {"replicas_per_decode_replica": share}, decode=_describe(d),
                        output_tokens_per_s_per_user=1.0 / step_s,
                        output_tokens_per_s_per_mw=d.answer.batch / step_s / (power_w / 1e6),
                        ttft_s=ttft_s, tpot_s=step_s, meets_slo=_meets(ttft_s, step_s, *slo),
                    ))  # fmt: skip
    return points


def mark_pareto(points: list[FrontierPoint]) -> list[FrontierPoint]:
    """Flag the points (within the SLO) that no other such point beats on both speed per user and per MW."""
    from dataclasses import replace

    ranked = sorted(
        (i for i, p in enumerate(points) if p.meets_slo),
        key=lambda i: (-points[i].output_tokens_per_s_per_user, -points[i].output_tokens_per_s_per_mw),
    )
    best_per_mw, on_front = float("-inf"), set()
    for i in ranked:
        if points[i].output_tokens_per_s_per_mw > best_per_mw:
            on_front.add(i)
            best_per_mw = points[i].output_tokens_per_s_per_mw
    return [replace(p, pareto=i in on_front) for i, p in enumerate(points)]


def frontier(
    model: str | ModelSpec,
    systems: list[str | SystemSpec],
    *,
    input_len: int,
    output_len: int,
    precision: Precision | None = None,
    slo_ttft_s: float | None = None,
    slo_tpot_s: float | None = None,
    disagg: bool = False,
    catalog: Catalog | None = None,
    workers: int | None = None,
) -> Frontier:
    """Every deployment of `model` on `systems` (ids or specs) within reach, flagged on or off the Pareto
    frontier of output tokens/s per user against output tokens/s per MW; `disagg` adds prefill/decode pools.
    Replica sizes are evaluated on `workers` local processes (default: every core)."""
    if not systems:
        raise WafersimError("frontier needs at least one system", field="systems")
    model = _spec(model, "model", catalog)
    systems = [_spec(system, "system", catalog) for system in systems]
    for name, value in (("slo_ttft_s", slo_ttft_s), ("slo_tpot_s", slo_tpot_s)):
        if value is not None and not 0 < value < float("inf"):
            raise WafersimError(f"{name} must be a positive number of seconds, got {value}", field=name)
    base = dict(model=model, input_len=input_len, output_len=output_len, precision=precision,
                max_batch=MAX_BATCH)  # fmt: skip
    jobs = [
        (system, count, base | {"system": system})
        for system in dict.fromkeys(systems)
        for count in _replica_counts(model, system, base | {"system": system})
    ]
    # Wafer replicas cost seconds an estimate: the biggest first, so the pool's workers finish together.
    jobs.sort(key=lambda job: -(job[1] if job[0].kind == "wafer" else 0))
    by_system: dict[str, list[_Config]] = {system.id: [] for system in dict.fromkeys(systems)}
    evaluated = 0
    for _, (configs, spent) in Engine("local", workers=workers).imap(_count_configs, jobs):
        evaluated += spent
        for config in configs:
            by_system[config.system.id].append(config)
    for configs in by_system.values():  # the order jobs finished in must not change the answer
        configs.sort(key=lambda c: (c.count, sorted(c.layout.items()), c.answer.batch))
    slo = (slo_ttft_s, slo_tpot_s)
    points = [p for configs in by_system.values() for p in _aggregated(configs, slo)]
    if disagg:
        resolved = precision or model.default_precision
        points += _disaggregated(model, resolved, input_len, output_len, by_system, slo)
    return Frontier(
        model=model.id, systems=tuple(by_system), input_len=input_len, output_len=output_len,
        slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s, disagg=disagg, points=tuple(mark_pareto(points)),
        evaluated=evaluated,
    )  # fmt: skip
