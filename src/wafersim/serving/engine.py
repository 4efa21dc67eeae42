"""One engine's scheduler: what runs in each iteration, and the KV blocks it holds.

Policies:
- "vllm": continuous batching with paged KV blocks (vLLM's default before chunked prefill). A step prefills
  every waiting request that fits (token budget, sequence slots, free blocks above a watermark) and pauses
  decodes; otherwise every running sequence decodes one token. When the blocks run out the newest sequence
  is preempted and recomputed later (vLLM's recompute preemption).
- "sarathi": chunked prefill with a token budget (Sarathi-Serve). Each step decodes every running sequence and
  fills the rest of the budget with prompt chunks, oldest first.
- "static": a batch is taken from the queue, prefilled, and decoded until its longest output is done;
  finished sequences keep their slot (padding), new requests wait for the next batch.

With prefill/decode disaggregation an engine has a role: a "prefill" engine runs vLLM prefill steps only and
hands each request (its KV) off after its first token; a "decode" engine admits handed-off requests straight
into its batch (a preempted one is recomputed there with a prefill step, as vLLM would).

Decode-only stretches are advanced in one jump up to the next event that changes the batch (a completion,
KV exhaustion, or an arrival that would be admitted), with their iterations priced together.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from wafersim.errors import WafersimError
from wafersim.serving.batch import SMALL_BATCH, RunningBatch
from wafersim.serving.pricing import IterationPricer
from wafersim.serving.state import COMPLETED, Requests, Series

Policy = Literal["vllm", "sarathi", "static"]

_accumulate = np.add.accumulate


@dataclass(frozen=True)
class SchedulerConfig:
    policy: Policy = "vllm"
    block_tokens: int = 16  # vLLM's default KV block size
    max_batch: int = 2048  # sequences in flight (TensorRT-LLM's default max_batch_size, as the estimate uses)
    prefill_tokens: int = 8192  # tokens one prefill step may carry; a longer prompt still runs alone
    chunk_tokens: int = 2048  # Sarathi/vLLM chunked-prefill budget per step (decodes included)
    watermark: float = 0.01  # share of blocks kept free at admission (vLLM's watermark), against thrashing
    max_jump_iterations: int = 4096  # bounds one priced decode stretch (memory), not the simulation

    def __post_init__(self) -> None:
        if self.policy not in SCHEDULERS:
            raise WafersimError(
                f"scheduler {self.policy!r}: expected one of {', '.join(SCHEDULERS)}", field="scheduler"
            )
        for name in ("block_tokens", "max_batch", "prefill_tokens", "chunk_tokens", "max_jump_iterations"):
            if getattr(self, name) < 1:
                raise WafersimError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if not 0 <= self.watermark < 1:
            raise WafersimError(f"watermark must be in [0, 1), got {self.watermark}")


@dataclass(slots=True)
class Segment:
    kind: str  # prefill (then decodes) | decode | mixed | static
    start_s: float
    ends_s: np.ndarray  # absolute end time of each iteration
    ids: np.ndarray  # the sequences its decode steps advance
    chunks: list | None = None  # sarathi: (request, tokens) prefilled this step
    decode_from: int = 0  # iterations before the decode steps (1 after a vLLM prefill)
    blocks_before: int = 0  # KV blocks `ids` held when the decode steps began

    @property
    def end_s(self) -> float:
        return float(self.ends_s[-1])


class Engine(RunningBatch):
    """One engine: its queue and scheduling policy over the running batch it holds (batch.py)."""

    def __init__(
        self,
        index: int,
        requests: Requests,
        pricer: IterationPricer,
        capacity_tokens: int,
        config: SchedulerConfig,
        series: Series,
        segments: list | None = None,
        role: Literal["both", "prefill", "decode"] = "both",
        handoff: Callable[[np.ndarray, float], None] | None = None,
    ) -> None:
        super().__init__(requests, config.block_tokens, capacity_tokens)
        self.index, self.pricer, self.config, self.series = index, pricer, config, series
        self.watermark_blocks = int(config.watermark * self.capacity_blocks)
        self.waiting: deque[int] = deque()
        self.prefilling: list[list[int]] = []  # sarathi: [request, tokens done, tokens to prefill]
        self.reserved_blocks = 0  # blocks held by prefilling requests
        self.segment: Segment | None = None
        self.event = None  # the loop's handle on this engine's pending segment end
        self.segments = segments  # chrome-trace records, when asked for
        self.role, self.handoff = role, handoff
        if role != "both" and config.policy != "vllm":
            raise WafersimError(
                "prefill/decode disaggregation runs vLLM-style engines: use scheduler 'vllm'",
                field="scheduler",
            )
        self._planner = SCHEDULERS[config.policy]
        if role == "prefill" and handoff is None:
            raise ValueError("a prefill engine needs somewhere to hand requests off to")

    # --- queue ----------------------------------------------------------------------------------------

    def admissible_blocks(self) -> int:
        """Blocks one request may hold at most: the whole cache less the admission watermark."""
        return self.capacity_blocks - self.watermark_blocks

    def outstanding(self) -> int:
        return len(self.waiting) + len(self.running) + len(self.prefilling)

    def kv_fraction(self) -> float:
        return self.blocks_used / self.capacity_blocks

    def enqueue(self, rid: int, now_s: float, front: bool = False) -> None:
        (self.waiting.appendleft if front else self.waiting.append)(rid)
        self.r.enqueued_at_s[rid] = now_s
        self.series.queue(now_s, self.index, len(self.waiting))

    def _admit(self, now_s: float, token_budget: int, full_length: bool) -> list[int]:
        """Pop requests from the queue, oldest first, while budget, slots and blocks allow."""
        r, ids, tokens = self.r, [], 0
        slots = self.config.max_batch - len(self.running) - len(self.prefilling)
        while self.waiting and len(ids) < slots:
            rid = self.waiting[0]
            # A preempted request recomputes the tokens it had generated too.
            length = r.prompt_list[rid] + int(r.generated[rid])
            if ids and not r.kv_ready[rid] and tokens + length > token_budget:
                break
            need = -(-(r.prompt_list[rid] + r.output_list[rid] if full_length else length + 1) // self.block)
            if self.blocks_used + need > self.admissible_blocks():
                break
            self.waiting.popleft()
            r.queued_s[rid] += now_s - r.enqueued_at_s[rid]
            self.blocks_used += need
            ids.append(rid)
            tokens += 0 if r.kv_ready[rid] else length  # a handed-off request needs no prefill
        if ids:
            self.series.queue(now_s, self.index, len(self.waiting))
        return ids

    def would_admit_head(self) -> bool:
        """Whether a decode stretch should stop at the next step for the request just queued."""
        if self.config.policy == "static" or len(self.waiting) != 1 or self.prefilling:
            return False
        rid = self.waiting[0]
        if len(self.running) >= self.config.max_batch:
            return False
        need = -(-(self.r.prompt_list[rid] + int(self.r.generated[rid]) + 1) // self.block)
        return self.blocks_used + need <= self.admissible_blocks()

    # --- planning -------------------------------------------------------------------------------------

    def plan(self, now_s: float, horizon_s: float = float("inf")) -> Segment | None:
        """What runs next from `now_s`. `horizon_s`: when the next request is known to reach this engine (a
        decode stretch planned past it would only be cut there), or infinity."""
        segment = self._planner(self, now_s, horizon_s)
        self.segment = segment
        if segment is not None:
            self.series.kv(now_s, self.index, self.blocks_used * self.block, len(self.running))
        return segment

    def _plan_vllm(self, now_s: float, horizon_s: float) -> Segment | None:
        if not self.waiting:  # nothing to admit (the common case): straight to the decode stretch
            return self._decode_segment(now_s, now_s)
        admitted = self._admit(now_s, max(self.config.prefill_tokens, 1), full_length=False)
        ids = np.asarray(admitted, dtype=np.int64) if admitted else None
        if ids is not None and self.role == "decode":
            ids = self._join_ready(ids)
        if ids is not None and len(ids):
            return self._prefill_segment(now_s, ids, horizon_s)
        return self._decode_segment(now_s, now_s)

    def _prefill_segment(self, now_s: float, ids: np.ndarray, horizon_s: float = float("inf")) -> Segment:
        """A vLLM prefill step, and when nothing else waits, the decode stretch after it, as one segment.

        The prefill's effects (first tokens, joining the batch) are applied now, stamped with its end time:
        nothing can change them while it runs (an arrival only queues, and cannot cut a step short).
        """
        r = self.r
        if len(ids) == 1:  # the common case at low load: skip the gathers (prefill_batch_s does the same)
            rid = int(ids[0])
            end_s = now_s + self.pricer.prefill_one_s(r.prompt_list[rid] + int(r.generated[rid]))
        else:
            end_s = now_s + self.pricer.prefill_batch_s(r.prompt[ids] + r.generated[ids])
        self._apply_prefill(ids, end_s)
        # No stretch when the next request arrives during the prefill: it would be cut back to the prefill.
        if not self.waiting and self.role != "prefill" and end_s < horizon_s:
            tail = self._decode_segment(end_s, now_s, preempt=False, lead=1)
            if tail is not None:
                tail.kind, tail.decode_from = "prefill", 1
                tail.ends_s[0] = end_s
                return tail
        return Segment("prefill", now_s, np.array([end_s]), self.running, decode_from=1)

    def _apply_prefill(self, ids: np.ndarray, end_s: float) -> None:
        r = self.r
        if len(ids) == 1:  # the common case at low load, kept scalar
            rid = int(ids[0])
            generated = int(r.generated[rid]) + 1
            r.generated[rid] = generated
            if r.first_token_s[rid] != r.first_token_s[rid]:  # NaN: no token yet
                r.first_token_s[rid] = end_s
            if generated >= r.output_list[rid]:
                r.finish_s[rid] = end_s
                r.status[rid] = COMPLETED
                self.blocks_used -= -(-(r.prompt_list[rid] + generated) // self.block)
            else:
                self._continue(ids, end_s)
            return
        r.generated[ids] += 1
        first = np.isnan(r.first_token_s[ids])
        r.first_token_s[ids[first]] = end_s
        done = r.generated[ids] >= r.output[ids]
        if done.any():
            self._finish(ids[done], end_s)
            self.blocks_used -= int(self._blocks(r.prompt[ids[done]] + r.generated[ids[done]]).sum())
            ids = ids[~done]
        self._continue(ids, end_s)

    def _continue(self, ids: np.ndarray, end_s: float) -> None:
        """After their prefill, sequences decode here, or (prefill engine) leave with their KV."""
        if self.role != "prefill":
            self._join(ids)
            return
        r = self.r
        # The KV leaves as the step ends (streamed layer by layer, as Splitwise does); blocks free with it.
        self.blocks_used -= int(self._blocks(r.prompt[ids] + r.generated[ids]).sum())
        r.kv_ready[ids] = True
        self.handoff(ids, end_s)

    def _join_ready(self, ids: np.ndarray) -> np.ndarray:
        """Handed-off requests join the batch at once; returns the others (preempted ones to recompute)."""
        r = self.r
        ready = r.kv_ready[ids]
        if ready.any():
            joining = ids[ready]
            lengths = r.prompt[joining] + r.generated[joining]
            # _admit reserved room for one more token than they hold; they hold their KV as it is.
            self.blocks_used += int((self._blocks(lengths) - self._blocks(lengths + 1)).sum())
            self._join(joining)
        return ids[~ready]

    def _preempt_newest(self, now_s: float) -> None:
        rid = int(self.running[-1])
        length = self._len_rel[-1] + self._step
        self.r.generated[rid] = length - self.r.prompt[rid]  # decode steps do not write it back
        self.r.kv_ready[rid] = False  # its KV is dropped: it will be recomputed
        self.blocks_used -= int(self._blocks(length))
        self.running, self._len_rel, self._left_rel = (
            self.running[:-1],
            self._len_rel[:-1],
            self._left_rel[:-1],
        )
        self.r.preemptions[rid] += 1
        self.enqueue(rid, now_s, front=True)

    def _decode_steps(self, now_s: float, limit: int, preempt: bool = True) -> int:
        """How many decode steps fit before KV exhaustion (preempting until at least one does, or 0)."""
        while True:
            free = self.capacity_blocks - self.blocks_used
            # A sequence needs at most ceil(steps / block) new blocks: when that fits, skip the exact count.
            if len(self._len_rel) * self._blocks(limit) <= free:
                return limit
            lengths = self.run_len
            if self._extra_blocks(lengths, limit) <= free:
                return limit
            if self._extra_blocks(lengths, 1) <= free:
                low, high = 1, limit  # extra blocks grow with steps: bisect for the last that fits
                while low < high:
                    mid = (low + high + 1) // 2
                    if self._extra_blocks(lengths, mid) <= free:
                        low = mid
                    else:
                        high = mid - 1
                return low
            if not preempt:
                return 0
            self._preempt_newest(now_s)
            if not len(self.running):
                return 0  # one running sequence always fits alone (checked at arrival)

    def _decode_segment(
        self, from_s: float, now_s: float, preempt: bool = True, lead: int = 0
    ) -> Segment | None:
        """Decode steps from `from_s` until the batch changes (planned at `now_s`). `lead`: slots left unset
        at the front of the segment's `ends_s`, for the caller's own iterations (saves a concatenation)."""
        n = len(self.running)
        if not n:
            return None
        left_rel = self._left_rel
        remaining = (min(left_rel.tolist()) if n <= SMALL_BATCH else int(left_rel.min())) - self._step
        steps = min(remaining, self.config.max_jump_iterations)
        # _decode_steps's first test, inline: each sequence needs at most ceil(steps / block) new blocks.
        if n * -(-steps // self.block) > self.capacity_blocks - self.blocks_used:
            steps = self._decode_steps(now_s, steps, preempt)
            if steps == 0:
                return None
        ids = self.running
        n = len(ids)  # preemption may have shrunk the batch
        blocks_before = self.blocks_used - self.reserved_blocks  # the rest is held by the running sequences
        len_rel = self._len_rel
        held = (sum(len_rel.tolist()) if n <= SMALL_BATCH else int(len_rel.sum())) + n * self._step
        context = float(held) / n - 1.0
        durations = self.pricer.decode_run_s(n, context, steps)
        ends = np.empty(lead + steps)
        decode_ends = ends[lead:]
        _accumulate(durations, out=decode_ends)  # what cumsum calls, without its dispatch
        decode_ends += from_s  # in place: the same sums as `from_s + cumsum`, without a temporary
        return Segment("decode", now_s, ends, ids, blocks_before=blocks_before)

    def _plan_sarathi(self, now_s: float) -> Segment | None:
        r = self.r
        # Running decodes come first (as in vLLM): make room for their next token, and keep that room out of
        # reach of new admissions.
        step_blocks = 0
        if len(self.running):
            self._decode_steps(now_s, 1)
            step_blocks = self._extra_blocks(self.run_len, 1)
        budget = self.config.chunk_tokens - len(self.running)
        self.blocks_used += step_blocks
        admitted = self._admit(now_s, 1 << 62, full_length=False)
        self.blocks_used -= step_blocks
        for rid in admitted:
            length = int(r.prompt[rid] + r.generated[rid])
            # blocks_used already counts the reservation; reserved_blocks says how much of it is prompts.
            self.reserved_blocks += self._blocks(length + 1)
            self.prefilling.append([rid, 0, length])
        chunks = []
        for entry in self.prefilling:
            if budget <= 0:
                break
            take = min(entry[2] - entry[1], budget)
            chunks.append((entry[0], take, entry[1]))
            budget -= take
        if not chunks:
            return self._decode_segment(now_s, now_s)
        ids = self.running
        context = float(self.run_len.sum()) / len(ids) - 1.0 if len(ids) else 0.0
        tokens = np.array([c[1] for c in chunks], dtype=float)
        past = np.array([c[2] for c in chunks], dtype=float)
        duration = self.pricer.iteration_s(tokens, past, len(ids), context)
        blocks_before = int(self._blocks(self.run_len).sum())
        return Segment("mixed", now_s, np.array([now_s + duration]), ids, chunks, blocks_before=blocks_before)

    def _plan_static(self, now_s: float) -> Segment | None:
        ids = np.asarray(self._admit(now_s, 1 << 62, full_length=True), dtype=np.int64)
        if not len(ids):
            return None
        r = self.r
        lengths = r.prompt[ids] + r.generated[ids]
        prefill = self.pricer.prefill_batch_s(lengths)
        steps = int(np.max(r.output[ids] - r.generated[ids])) - 1
        durations = [np.array([prefill])]
        if steps > 0:
            durations.append(self.pricer.decode_run_s(len(ids), float(np.mean(lengths)), steps))
        return Segment("static", now_s, now_s + np.cumsum(np.concatenate(durations)), ids)

    # --- cutting and completing -----------------------------------------------------------------------

    def cut(self, now_s: float) -> bool:
        """Stop the current decode stretch at the first step boundary at or after now; True if shortened."""
        segment = self.segment
        if segment is None or segment.kind not in ("decode", "prefill") or len(segment.ends_s) == 1:
            return False
        keep = int(segment.ends_s.searchsorted(now_s, side="left")) + 1
        if keep >= len(segment.ends_s):
            return False
        segment.ends_s = segment.ends_s[:keep]
        return True

    def complete(self, now_s: float) -> None:
        """Apply the current segment's effects at its end."""
        segment, r = self.segment, self.r
        assert segment is not None
        self.segment = None
        if self.segments is not None:
            self.segments.append(
                (self.index, segment.kind, segment.start_s, now_s, len(segment.ids), len(segment.ends_s))
            )
        if segment.kind in ("decode", "prefill"):  # a prefill's own effects were applied when planned
            steps = len(segment.ends_s) - segment.decode_from
            if steps:
                self._complete_decode(segment.ids, steps, now_s, segment.blocks_before)
        elif segment.kind == "mixed":
            self._complete_mixed(segment, now_s)
        else:  # static: each sequence's last token came at its own step; the batch frees its blocks at once
            ids = segment.ids
            steps = r.output[ids] - r.generated[ids]
            r.first_token_s[ids] = np.where(
                np.isnan(r.first_token_s[ids]), segment.ends_s[0], r.first_token_s[ids]
            )
            self._finish(ids, segment.ends_s[steps - 1])
            self.blocks_used = 0

    def _complete_mixed(self, segment: Segment, now_s: float) -> None:
        r = self.r
        self._complete_decode(segment.ids, 1, now_s, segment.blocks_before)
        finished_prompts = []
        for rid, take, _past in segment.chunks or []:
            entry = next(e for e in self.prefilling if e[0] == rid)
            entry[1] += take
            if entry[1] >= entry[2]:
                finished_prompts.append(entry)
        for entry in finished_prompts:
            self.prefilling.remove(entry)
            rid = entry[0]
            need = self._blocks(entry[2] + 1)
            self.reserved_blocks -= need
            r.generated[rid] += 1
            if np.isnan(r.first_token_s[rid]):
                r.first_token_s[rid] = now_s
            if r.generated[rid] >= r.output[rid]:
                self.blocks_used -= need
                self._finish(np.array([rid]), now_s)
            else:
                self.blocks_used += int(self._blocks(r.prompt[rid] + r.generated[rid])) - need
                self._join(np.array([rid], dtype=np.int64))


# The one place a scheduling policy is registered: the name users type -> how an engine plans its next segment
# (engine, now_s, horizon_s). The module docstring describes each.
SCHEDULERS: dict[str, Callable[[Engine, float, float], Segment | None]] = {
    "vllm": Engine._plan_vllm,
    "sarathi": lambda engine, now_s, horizon_s: engine._plan_sarathi(now_s),
    "static": lambda engine, now_s, horizon_s: engine._plan_static(now_s),
}
