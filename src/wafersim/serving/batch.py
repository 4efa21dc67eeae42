"""The running batch of one serving engine: the sequences decoding, the tokens each holds and has still to
generate, and the KV blocks they hold; sequences join it, advance by decode steps, finish and leave.

The scheduler (engine.py) decides what runs; this keeps the arrays and the block count exact while it does,
with scalar fast paths for the common one-sequence cases (the simulator's hot path).
"""

from __future__ import annotations

import numpy as np

from wafersim.serving.state import COMPLETED, Requests

# Up to this many running sequences, per-event sums and minimums go through Python lists: a NumPy call costs
# ~1 µs whatever its size, while a few dozen list items cost about as much (results are identical: the
# quantities are integers). Batches of 10-30 sequences are typical of a loaded engine.
SMALL_BATCH = 64


class RunningBatch:
    def __init__(self, requests: Requests, block_tokens: int, capacity_tokens: int) -> None:
        self.r = requests
        self.block = block_tokens
        self.capacity_blocks = capacity_tokens // self.block
        self.blocks_used = 0
        self.running = np.empty(0, dtype=np.int64)  # decoding, in admission order (newest last)
        # Aligned with `running`: tokens held (prompt + generated) less `_step`, and tokens still to generate
        # plus `_step`, where `_step` counts the decode steps this engine has run. Kept here so that a decode
        # stretch needs no gather from the request table, and relative to `_step` so that completing one
        # needs no array arithmetic (`run_len` and `run_left` give the absolute counts).
        self._len_rel = np.empty(0, dtype=np.int64)
        self._left_rel = np.empty(0, dtype=np.int64)
        self._step = 0
        # When not None: three buffers with spare room, of which `running`, `_len_rel` and `_left_rel` are the
        # first len(running) entries (prefix views), so that a sequence joins with three scalar writes. Only
        # the engine holds them between segments (a segment's `ids` view is dead once it completes, and joins
        # happen only then); any other assignment of the three arrays resets it.
        self._buf: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def run_len(self) -> np.ndarray:
        """Tokens each running sequence holds (prompt + generated), aligned with `running`."""
        return self._len_rel + self._step

    @property
    def run_left(self) -> np.ndarray:
        """Tokens each running sequence has still to generate, aligned with `running`."""
        return self._left_rel - self._step

    def _blocks(self, tokens):
        return -(-tokens // self.block)

    def _extra_blocks(self, lengths: np.ndarray, steps: int) -> int:
        return int((self._blocks(lengths + steps) - self._blocks(lengths)).sum())

    def _join(self, ids: np.ndarray) -> None:
        if not len(ids):
            return
        r = self.r
        if len(ids) == 1:  # scalar reads, no gathers
            rid = int(ids[0])
            generated = int(r.generated[rid])
            step = self._step
            length, left = r.prompt_list[rid] + generated - step, r.output_list[rid] - generated + step
            n = len(self.running)
            buf = self._buf
            if buf is None or len(buf[0]) <= n:  # new buffers with room to spare, the batch copied in
                size = max(2 * n + 2, 64)
                buf = self._buf = tuple(np.empty(size, dtype=np.int64) for _ in range(3))
                buf[0][:n] = self.running
                buf[1][:n] = self._len_rel
                buf[2][:n] = self._left_rel
            run_buf, len_buf, left_buf = buf
            run_buf[n] = rid
            len_buf[n] = length
            left_buf[n] = left
            n += 1
            self.running, self._len_rel, self._left_rel = run_buf[:n], len_buf[:n], left_buf[:n]
            return
        self._buf = None
        generated = r.generated[ids]
        self.running = np.concatenate([self.running, ids])
        self._len_rel = np.concatenate([self._len_rel, r.prompt[ids] + generated - self._step])
        self._left_rel = np.concatenate([self._left_rel, r.output[ids] - generated + self._step])

    def _keep(self, mask: np.ndarray) -> None:
        self._buf = None
        self.running, self._len_rel, self._left_rel = (
            self.running[mask],
            self._len_rel[mask],
            self._left_rel[mask],
        )

    def _finish(self, ids: np.ndarray, when_s) -> None:
        self.r.finish_s[ids] = when_s
        self.r.status[ids] = COMPLETED
        self.r.generated[ids] = self.r.output[ids]

    def _finish_at(self, i: int, when_s: float) -> None:
        """`_finish` of the running sequence at position `i` alone, which leaves the batch."""
        r, rid = self.r, int(self.running[i])
        r.finish_s[rid] = when_s
        r.status[rid] = COMPLETED
        r.generated[rid] = r.output_list[rid]
        # These arrays are this engine's own (the finished segment held `running`, and is gone): shift in place.
        running, len_rel, left_rel = self.running, self._len_rel, self._left_rel
        running[i:-1] = running[i + 1 :]
        len_rel[i:-1] = len_rel[i + 1 :]
        left_rel[i:-1] = left_rel[i + 1 :]
        self.running, self._len_rel, self._left_rel = running[:-1], len_rel[:-1], left_rel[:-1]

    def _finish_all(self, ids: np.ndarray, when_s: float) -> None:
        """`_finish` of the whole running batch, which leaves it empty (scalar writes for one sequence)."""
        if len(ids) == 1:
            r, rid = self.r, int(ids[0])
            r.finish_s[rid] = when_s
            r.status[rid] = COMPLETED
            r.generated[rid] = r.output_list[rid]
        else:
            self._finish(ids, when_s)
        self.running, self._len_rel, self._left_rel = self.running[:0], self._len_rel[:0], self._left_rel[:0]

    def _complete_decode(self, ids: np.ndarray, steps: int, now_s: float, blocks_before: int) -> None:
        """`ids` is the running set the steps were planned with (nothing joins or leaves during a segment).
        Their `generated` counts are written back only when they leave the batch (finish or preemption)."""
        if not len(ids):
            return
        before = blocks_before
        step = self._step = self._step + steps  # every running sequence advances: no array arithmetic
        len_rel, left_rel = self._len_rel, self._left_rel
        if len(len_rel) <= SMALL_BATCH:
            block = self.block
            blocks = [-(-(length + step) // block) for length in len_rel.tolist()]
            left = left_rel.tolist()  # a sequence is done when its entry is ≤ step
            self.blocks_used += sum(blocks) - before
            if min(left) <= step:
                finished = [i for i, k in enumerate(left) if k <= step]
                self.blocks_used -= sum(blocks[i] for i in finished)
                if len(finished) == len(left):
                    self._finish_all(ids, now_s)
                elif len(finished) == 1:  # the usual case: one sequence leaves, no masks needed
                    self._finish_at(finished[0], now_s)
                else:
                    done = left_rel <= step
                    self._finish(ids[done], now_s)
                    self._keep(~done)
            return
        blocks = self._blocks(len_rel + step)
        done = left_rel <= step
        self.blocks_used += int(blocks.sum()) - before
        if done.any():
            self.blocks_used -= int(blocks[done].sum())
            self._finish(ids[done], now_s)
            self._keep(~done)
