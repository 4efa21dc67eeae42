"""Placement search: region shape, layers per region and wafers, chosen to maximise the objective under the SRAM
limit; per phase, a placement (prefill may use another, reached by re-laying weights and KV), the decode
micro-batching and the prefill chunk size.

Candidates: the wafer's program rectangle cut into a x b regions for a, b in REGION_SPLITS (or the one region
shape `--grid` asks for); for each, the fewest layers per region whose SRAM fits, for every wafer count up to
`count`. Objective: with a fixed batch, the lowest time per output token (then the highest throughput); with
`batch=None`, the highest deployment throughput at the largest batch the SRAM holds (and, with `max_tpot_s`,
whose TPOT stays within it). Ties go to fewer wafers. Results are cached per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from wafersim.errors import WafersimError
from wafersim.perf.monotone import largest
from wafersim.perf.tail import in_flight_context
from wafersim.perf.wafer.closed_form import ceil_div
from wafersim.perf.wafer.layer import ACT_BYTES
from wafersim.perf.wafer.pack import Packer, even_budget
from wafersim.perf.wafer.pipeline import StepTime, step_time
from wafersim.perf.wafer.placement import CODE_RESERVE_BYTES, ModelOnWafer, Placement
from wafersim.perf.wafer.sram import fits, sram_use

# Cuts of the rectangle per axis: regions from the whole wafer down to ~29 x 19 PEs on WSE-3 (smaller regions
# cannot hold a layer of any catalog model, and spend more on hand-offs than they save: docs/wafer.md's sweep).
REGION_SPLITS = (*range(1, 9), 10, 12, 16)
# The most wafers the densest packing may take before a model is declared unplaceable (bounds the search).
MAX_WAFERS = 1024
# The most regions (pipeline stages) a placement from the automatic shapes may use: smaller regions only add
# hand-offs (docs/wafer.md's sweep), and the bound keeps the search for a 671B model within seconds.
MAX_REGIONS = 400
# Most loaded / mean expert group within a step, for MoE models (an input: `Workload.expert_imbalance`).
# Default 1.5: the middle of the 1.2-1.8 range of max/mean expert load reported for real serving workloads
# (impala-blog.pages.dev/widgets/eplb, explaining DeepSeek's EPLB; secondary source, an assumption here).
DEFAULT_EXPERT_IMBALANCE = 1.5
# Prefill chunk sizes tried (tokens per pipeline pass), as powers of two up to the prompt.
MAX_CHUNK = 8192


@dataclass(frozen=True)
class Workload:
    input_len: int
    output_len: int
    count: int
    batch: int | None
    max_batch: int
    max_tpot_s: float | None
    grid: tuple[int, int] | None = None  # decode region shape (rows, cols): --grid / --decode-grid
    prefill_grid: tuple[int, int] | None = None  # prefill region shape: --prefill-grid
    expert_imbalance: float = DEFAULT_EXPERT_IMBALANCE
    output_len_cv: float = 0.0  # spread of output lengths across requests (perf.tail.in_flight_context)

    @property
    def length(self) -> int:
        return self.input_len + self.output_len

    @property
    def decode_context(self) -> int:
        # Sequences in a running batch sit, on average, half-way through their output when all outputs are
        # equal; further on when they vary, since long requests make up more of what is in flight.
        return int(in_flight_context(self.input_len, self.output_len, self.output_len_cv))


@dataclass(frozen=True)
class Phases:
    """A placement evaluated at one batch: decode step, prefill of one prompt (on its own placement when the
    phases differ, reached by re-laying weights and KV cache), SRAM."""

    placement: Placement
    batch: int
    decode: StepTime
    prefill: StepTime
    chunk: int
    chunks: int
    prefill_placement: Placement | None = None  # None: prefill runs on the decode placement
    relayout_s: float = 0.0  # one switch between the two placements

    @property
    def ttft_s(self) -> float:
        return self.relayout_s + self.prefill.path_s + (self.chunks - 1) * self.prefill.busiest_s

    @property
    def prefill_occupancy_s(self) -> float:
        """Pipeline time one prompt takes from the others: its chunks through the busiest stage, plus its
        share of switching placements there and back (prompts are prefilled together, a batch at a time)."""
        return self.chunks * self.prefill.busiest_s + 2 * self.relayout_s / self.batch

    def tpot_s(self, output_len: int) -> float:
        # Continuous batching: each step also admits the other sequences' share of new prompts.
        return self.decode.step_s + (self.batch - 1) / output_len * self.prefill_occupancy_s

    def throughput(self, output_len: int) -> float:
        return self.batch / (self.decode.step_s + self.batch / output_len * self.prefill_occupancy_s)


def _table_regions(mow: ModelOnWafer, rows: int, cols: int) -> int | None:
    """Fewest regions that hold the LM head next to a one-token workspace."""
    d, vocab = mow.model.hidden_size, mow.model.vocab_size
    free = mow.sram_per_pe - CODE_RESERVE_BYTES
    for t in range(1, 4097):
        share = ceil_div(vocab, t)
        need = (ceil_div(share, rows) + 1) * ceil_div(d, cols) * mow.weight_bytes
        need += (3 * ceil_div(share, rows) + 2 * ceil_div(d, cols)) * ACT_BYTES
        if need <= free:
            return t
    return None


def region_shapes(mow: ModelOnWafer, grid: tuple[int, int] | None) -> list[tuple[int, int]]:
    height, width = mow.fabric_hw
    if grid is not None:
        rows, cols = grid
        if rows > height or cols > width:
            raise WafersimError(
                f"decode_grid {rows}x{cols} exceeds the {mow.arch.name} program rectangle {height}x{width} "
                "(rows x cols)",
                field="decode_grid",
            )
        return [grid]
    return sorted({(height // a, width // b) for a in REGION_SPLITS for b in REGION_SPLITS})


def _wafer_counts(need: int, count: int) -> list[int]:
    """Wafer counts tried for a region shape: the fewest, all of them, and the sizes that repeat evenly."""
    return sorted({need, count} | {count // r for r in range(2, 5) if count // r >= need})


def candidates(mow: ModelOnWafer, work: Workload) -> tuple[list[Placement], int | None]:
    """Placements that hold the model for one sequence within `count` wafers, and the fewest wafers any
    region shape needs (None if no shape can hold the model on `MAX_WAFERS` wafers).

    They depend on the replica (wafers, sequence length, region shape), not on the batch: found once per
    replica and reused by every batch's search, which only ranks them (the packing is most of a search)."""
    placements, fewest = _candidates(mow, work.grid, work.length, work.decode_context, work.count)
    return list(placements), fewest


@lru_cache(maxsize=64)
def _candidates(
    mow: ModelOnWafer, grid: tuple[int, int] | None, length: int, context: int, count: int
) -> tuple[tuple[Placement, ...], int | None]:
    out: list[Placement] = []
    fewest: int | None = None
    for rows, cols in region_shapes(mow, grid):
        if grid is None and mow.model_bytes_on_wafer / (rows * cols * mow.sram_per_pe) > MAX_REGIONS:
            continue  # regions this small would cut the model into more pipeline stages than is sensible
        densest = _densest(mow, rows, cols, length, context)
        if densest is None:
            continue
        need = densest.wafers
        fewest = need if fewest is None else min(fewest, need)
        if need > count:
            continue
        for wafers in _wafer_counts(need, count):
            placement = _spread(mow, rows, cols, wafers, length, context)
            if placement is None and wafers == need:
                placement = densest
            if placement is not None and fits(mow, placement, 1, length, 1, context):
                out.append(placement)
    return tuple(out), fewest


@lru_cache(maxsize=512)
def _densest(mow: ModelOnWafer, rows: int, cols: int, length: int, context: int) -> Placement | None:
    """The tightest packing of one region shape (whatever the replica's wafer count: shared by all)."""
    return Packer(mow, rows, cols, length, context, float("inf")).pack(MAX_WAFERS)


@lru_cache(maxsize=1024)
def _spread(
    mow: ModelOnWafer, rows: int, cols: int, wafers: int, length: int, context: int
) -> Placement | None:
    """The model spread evenly over `wafers` wafers of one region shape (None if no budget tried packs it)."""
    for slack in (1.04, 1.12):
        budget = even_budget(mow, rows, cols, wafers, slack)
        found = Packer(mow, rows, cols, length, context, budget).pack(wafers)
        if found is not None:
            return found
    return None


def decode_split(p: Placement, batch: int) -> tuple[int, int]:
    """(micro-batches, sequences per micro-batch): enough micro-batches to keep every stage busy."""
    micro = max(1, min(batch, len(p.regions)))
    tokens = ceil_div(batch, micro)
    # Full micro-batches only: 82 sequences over 47 stages run as 41 micro-batches of 2, not 47.
    return ceil_div(batch, tokens), tokens


PREFILL_CHUNKS_PRICED = 3  # with a batch in flight, the largest chunk sizes that fit are priced


def best_prefill(
    mow: ModelOnWafer, p: Placement, work: Workload, batch: int
) -> tuple[float, int, StepTime] | None:
    """(TTFT without re-layout, chunk tokens, chunk step) of the best chunk size on placement p while it holds
    `batch` sequences' KV cache; None if not even a one-token chunk fits beside it. Chunks (powers of two) run
    as GEMMs (`prefill.py`) where their 2-D workspace fits, else on the decode kernels (GEMV, the workspace
    replicated along the rows), the only way left when the SRAM is nearly full. Workspace grows with the
    chunk, so the largest chunk that fits is found by bisection; at batch 1 smaller ones are priced while TTFT
    falls, and one-token decode passes beside them (the pass sizes the serving engine weighs for a lone prompt,
    serving/wafer_replica.py); with a batch, the largest few."""
    tokens = decode_split(p, batch)[1]
    # Each chunk's queries attend, on average, to half the prompt.
    context = max(1, work.input_len // 2)
    top = max(0, (min(work.input_len, MAX_CHUNK) - 1).bit_length())
    sizes = [min(2**e, work.input_len) for e in range(top + 1)]
    for gemm in (True, False):

        def chunk_fits(i: int, gemm: bool = gemm) -> bool:
            act, chunk = (tokens, sizes[i]) if gemm else (max(tokens, sizes[i]), 0)
            return fits(mow, p, batch, work.length, act, work.decode_context, chunk)

        last = largest(0, len(sizes) - 1, chunk_fits)
        if last < 0:
            continue
        best: tuple[float, int, StepTime] | None = None
        # A lone prompt (batch 1) takes whatever finishes soonest: every smaller chunk while TTFT falls. With a
        # batch in flight each pass also occupies the pipeline the others decode on, so only the largest
        # chunks that fit are priced.
        lowest = -1 if batch == 1 else max(-1, last - PREFILL_CHUNKS_PRICED)
        for i in range(last, lowest, -1):
            size = sizes[i]
            step = step_time(mow, p, size, 1, context, size, work.expert_imbalance, gemm=gemm)
            ttft = step.path_s + (ceil_div(work.input_len, size) - 1) * step.busiest_s
            if best is not None and ttft >= best[0]:
                break  # TTFT against chunk size has one minimum: smaller chunks only add passes from here
            best = (ttft, size, step)
        # One token per pass is a decode step (GEMV kernels, one-hop KV shift): through a pipeline of many
        # regions a lone prompt's passes overlap, and on short prompts that can beat any chunk.
        if batch == 1 and best is not None and best[1] > 1:
            step = step_time(mow, p, 1, 1, context, 1, work.expert_imbalance)
            ttft = step.path_s + (work.input_len - 1) * step.busiest_s
            if ttft < best[0]:
                best = (ttft, 1, step)
        return best
    return None


def evaluate(mow: ModelOnWafer, p: Placement, work: Workload, batch: int) -> Phases | None:
    """The placement at `batch` sequences, or None if their KV cache and workspaces overflow SRAM."""
    micro, tokens = decode_split(p, batch)
    if not fits(mow, p, batch, work.length, tokens, work.decode_context):
        return None
    decode = step_time(mow, p, tokens, micro, work.decode_context, 1, work.expert_imbalance)
    best = best_prefill(mow, p, work, batch)
    if best is None:
        return None
    _, size, prefill = best
    return Phases(p, batch, decode, prefill, size, ceil_div(work.input_len, size))


def workspace(mow: ModelOnWafer, work: Workload, phases: Phases) -> tuple[int, int]:
    """(GEMV-layout tokens, GEMM-layout chunk) the decode placement's workspace holds: the decode pass, and the
    prefill chunk when prefill runs there (as GEMMs if their workspace fits, else on the decode kernels)."""
    tokens = decode_split(phases.placement, phases.batch)[1]
    if phases.prefill_placement is not None:
        return tokens, 0
    p = phases.placement
    if fits(mow, p, phases.batch, work.length, tokens, work.decode_context, phases.chunk):
        return tokens, phases.chunk
    return max(tokens, phases.chunk), 0


def _homes(p: Placement) -> dict[int, set[int]]:
    """Wafers each layer's units sit on."""
    homes: dict[int, set[int]] = {}
    for r in p.regions:
        for u in r.units:
            if not u.is_head:
                homes.setdefault(u.layer, set()).add(r.wafer)
    return homes


def relayout_s(mow: ModelOnWafer, a: Placement, b: Placement, batch: int, work: Workload) -> float:
    """Time to move weights and KV cache from placement a to placement b.

    On a wafer every PE sends out and takes in its resident words through its ramp, one 16-bit word per
    wavelet per cycle, plus the crossing of the wafer; layers whose wafer changes cross the system I/O, every
    wafer's links working in parallel."""
    if a == b:
        return 0.0
    height, width = mow.fabric_hw
    words = (
        max(sram_use(mow, x, batch, work.length, 0, 1).peak_per_pe - CODE_RESERVE_BYTES for x in (a, b))
        / ACT_BYTES
    )
    fabric = (words + (height + width) * mow.arch.router.hop_latency_cycles) / mow.arch.clock_hz
    home_a = _homes(a)
    home_b = _homes(b)
    moved = sum(
        s.weight_elems * mow.weight_bytes + batch * work.length * s.cache_elems * mow.kv_bytes
        for i, s in enumerate(mow.shapes)
        if home_a[i] != home_b[i]
    )
    links = max(a.wafers, b.wafers)
    return fabric + moved / (mow.system.scale_out.bw_bytes_per_s * links)


def prefill_shapes(mow: ModelOnWafer, grid: tuple[int, int] | None) -> list[tuple[int, int]]:
    """Prefill region shapes: the one asked for (checked against the rectangle), else squares (MeshGEMM runs on p x p grids), from the whole
    program rectangle's short side down to a quarter of it."""
    if grid is not None:
        return region_shapes(mow, grid)
    height, width = mow.fabric_hw
    short = min(height, width)
    return [(short // a, short // a) for a in range(1, 5)]


def prefill_candidates(mow: ModelOnWafer, work: Workload, wafers: int, batch: int) -> list[Placement]:
    """Prefill placements on at most `wafers` wafers (the decode placement's) holding `batch` sequences."""
    out = []
    for rows, cols in prefill_shapes(mow, work.prefill_grid):
        for slack in (1.04, 1.12, float("inf")):
            budget = even_budget(mow, rows, cols, wafers, slack, True) if slack != float("inf") else slack
            found = Packer(mow, rows, cols, work.length, work.decode_context, budget, square=True).pack(
                wafers
            )
            if found is not None:
                if fits(mow, found, batch, work.length, 1, work.decode_context):
                    out.append(found)
                break
    return out


def with_prefill_placement(mow: ModelOnWafer, work: Workload, phases: Phases) -> Phases:
    """Per-phase placements: the prefill placement (any shape, or the --prefill-grid one) that gives the lowest
    TTFT, re-layout included, while holding the running batch's KV cache."""
    p, batch = phases.placement, phases.batch
    options = prefill_candidates(mow, work, p.wafers, batch)
    best = phases if work.prefill_grid in (None, (p.rows, p.cols)) else None
    for q in options:
        if q == p:
            continue
        found = best_prefill(mow, q, work, batch)
        if found is None:
            continue
        switch = relayout_s(mow, p, q, batch, work)
        ttft, size, step = found
        option = Phases(p, batch, phases.decode, step, size, ceil_div(work.input_len, size), q, switch)
        if work.max_tpot_s is not None and option.tpot_s(work.output_len) > work.max_tpot_s:
            continue  # switching placements would push the running batch past its TPOT bound
        if best is None or switch + ttft < best.ttft_s:
            best = Phases(p, batch, phases.decode, step, size, ceil_div(work.input_len, size), q, switch)
    return best if best is not None else phases


def _best_batch(mow: ModelOnWafer, p: Placement, work: Workload) -> Phases | None:
    if work.batch is not None:
        return evaluate(mow, p, work, work.batch)

    def holds(b: int) -> bool:
        return fits(mow, p, b, work.length, decode_split(p, b)[1], work.decode_context)

    top = largest(1, work.max_batch, holds)
    if work.max_tpot_s is not None:

        def quick(b: int) -> bool:
            phases = evaluate(mow, p, work, b)
            return phases is not None and phases.tpot_s(work.output_len) <= work.max_tpot_s

        top = largest(1, max(top, 1), quick)
    return evaluate(mow, p, work, top) if top >= 1 else None


SHORTLIST = 8  # candidates whose prefill is searched after ranking every candidate by its decode step


def _shortlist(mow: ModelOnWafer, work: Workload, placements: list[Placement]) -> list[Placement]:
    """The candidates ranked by their decode step alone (one sequence, or as many as the SRAM holds), best
    first; only the leading few go through the prefill chunk search, the costly part of an evaluation."""
    ranked = []
    for p in sorted(placements, key=lambda p: (p.wafers, -p.rows * p.cols, p.rows)):
        copies = max(1, work.count // p.wafers)
        if work.batch is not None:
            micro, tokens = decode_split(p, work.batch)
            if not fits(mow, p, work.batch, work.length, tokens, work.decode_context):
                continue
            step = step_time(mow, p, tokens, micro, work.decode_context, 1, work.expert_imbalance)
            key = (step.step_s, -copies * work.batch / step.step_s)
        else:
            top = largest(
                1,
                work.max_batch,
                lambda b, p=p: fits(mow, p, b, work.length, decode_split(p, b)[1], work.decode_context),
            )
            if top < 1:
                continue
            micro, tokens = decode_split(p, top)
            step = step_time(mow, p, tokens, micro, work.decode_context, 1, work.expert_imbalance)
            key = (-copies * top / step.step_s, step.step_s)
        ranked.append((key, len(ranked), p))
    ranked.sort(key=lambda x: (x[0], x[1]))
    return [p for _, _, p in ranked[:SHORTLIST]]


def _score(phases: Phases, work: Workload) -> tuple[float, float]:
    """Ranks what the deployment delivers: `count` wafers run count // wafers copies of a placement side by
    side, so a smaller placement repeated can beat one spread over every wafer."""
    copies = max(1, work.count // phases.placement.wafers)
    throughput = phases.throughput(work.output_len) * copies
    if work.batch is not None:
        return (-phases.tpot_s(work.output_len), throughput)
    return (throughput, -phases.tpot_s(work.output_len))


@dataclass(frozen=True)
class SearchResult:
    best: Phases | None
    fewest_wafers: int | None
    candidates: int
    prefill_error: str | None = None  # --prefill-grid given but no placement of that shape holds the prefill


@lru_cache(maxsize=256)
def search(mow: ModelOnWafer, work: Workload) -> SearchResult:
    placements, fewest = candidates(mow, work)
    best: Phases | None = None
    for placement in _shortlist(mow, work, placements):
        phases = _best_batch(mow, placement, work)
        if phases is None:
            continue
        # Ties (within 0.5%) keep the earlier candidate: fewer wafers, then larger regions.
        if best is None or _better(_score(phases, work), _score(best, work)):
            best = phases
    if best is None:
        return SearchResult(None, fewest, len(placements))
    chosen = with_prefill_placement(mow, work, best)
    error = None
    if (
        work.prefill_grid is not None
        and chosen.prefill_placement is None
        and work.prefill_grid
        != (
            best.placement.rows,
            best.placement.cols,
        )
    ):
        error = f"prefill_grid {work.prefill_grid[0]}x{work.prefill_grid[1]}: no placement of that shape fits"
    return SearchResult(chosen, fewest, len(placements), error)


def _better(a: tuple[float, float], b: tuple[float, float]) -> bool:
    scale = max(abs(b[0]), 1e-30)
    if (a[0] - b[0]) / scale > 0.005:
        return True
    if (b[0] - a[0]) / scale > 0.005:
        return False
    return a[1] > b[1] * 1.005


def clear_caches() -> None:
    """Forget every memo of the placement search (benchmarks and tests time or check a cold search): the
    search and its candidate packings, unit costs, SRAM figures, unit kinds and the closed forms."""
    from wafersim.perf.wafer import closed_form, pipeline, placement, sram

    for cached in (search, _candidates, _densest, _spread):
        cached.cache_clear()
    sram._MEMO.clear()
    pipeline._UNITS.clear()
    placement._KINDS.clear()
    closed_form.clear_caches()
