"""Fast iteration prices for the simulator, built from any `ReplicaModel` by vectorised calls.

One `iteration_time_s` call costs ~150 µs of NumPy overhead whatever its length, so calling it per iteration
(or even per event) cannot simulate a million requests in a minute. Instead:
- decode iterations are tabulated per batch size on a grid of mean context lengths (step `GRID_TOKENS`) and
  linearly interpolated: the cost is piecewise linear in context (a max of linear terms), so the error stays
  within a kink between two grid points (tests bound it);
- a prefill of one whole prompt is tabulated per prompt length (exact, integer grid);
- a prefill of n whole prompts (n ≤ MAX_TABULATED_PROMPTS, full-attention models) depends only on n, the total
  tokens T and the sum of squared lengths S2 (attention pairs); it is tabulated per n on a grid of T and of
  where S2 lies between its least (equal lengths, T²/n) and greatest (one long prompt, T²) value;
- anything else (several prompts in one iteration, a chunk after cached tokens, chunks mixed with decodes) is
  priced exactly with one call.
"""

from __future__ import annotations

import numpy as np

from wafersim.perf.work import StepWork, decode_work, prefill_work
from wafersim.serving.replica import ReplicaModel

try:  # np.interp's compiled core: the wrapper's checks cost ~1 µs per call, more than a short stretch's work
    from numpy._core.multiarray import interp as _interp
except ImportError:  # pragma: no cover - another NumPy layout: the public function (the same results)

    def _interp(x, xp, fp, left, right):
        return np.interp(x, xp, fp, left, right)


GRID_TOKENS = 16  # a power of two: decode_run_s relies on dividing by it being exact
PREFILL_GRID_TOKENS = 16
SPREAD_POINTS = 9  # grid over the spread of prompt lengths in a multi-prompt prefill
MAX_TABULATED_PROMPTS = 64


def _total(work: StepWork) -> StepWork:
    """Sum the per-sequence entries of `work` into one iteration."""
    return StepWork(
        *(np.sum(np.asarray(getattr(work, name), dtype=float)) for name in work.__dataclass_fields__)
    )


class IterationPricer:
    def __init__(self, replica: ReplicaModel, exact_prefill: bool = False) -> None:
        """`exact_prefill`: price multi-prompt prefills with exact calls (slower; for checking the table)."""
        self.replica = replica
        self.exact_prefill = exact_prefill
        self.window = replica.sliding_window
        self._decode_rows: dict[int, np.ndarray] = {}
        self._grids: dict[int, np.ndarray] = {}  # grid-point indices by row length, built once
        self._grid_steps = np.arange(4096, dtype=float) / GRID_TOKENS  # k / GRID_TOKENS, grown on demand
        self._prefill = np.zeros(0)
        self._batched_prefill: dict[int, np.ndarray] = {}
        self.exact_calls = 0

    # --- decode ---------------------------------------------------------------------------------------

    def _decode_row(self, batch: int, context_max: float) -> np.ndarray:
        row = self._decode_rows.get(batch)
        if row is None or (len(row) - 1) * GRID_TOKENS < context_max:
            # Rows start short (most batches see a few thousand tokens of mean context) and double on demand,
            # so each batch size is priced a handful of times over a whole run.
            needed = max(context_max + 1024.0, 4096.0)
            if row is not None:
                needed = max(needed, 2.0 * (len(row) - 1) * GRID_TOKENS)
            points = int(np.ceil(needed / GRID_TOKENS)) + 2
            contexts = np.arange(points, dtype=float) * GRID_TOKENS
            row = self.replica.iteration_time_s(decode_work(float(batch), contexts, self.window))
            row = np.broadcast_to(np.asarray(row, dtype=float), contexts.shape).copy()
            self._decode_rows[batch] = row
        return row

    def decode_run_s(self, batch: int, context_start: float, iterations: int) -> np.ndarray:
        """Durations of `iterations` decode steps of `batch` sequences whose mean cached context starts at
        `context_start` tokens and grows by one per step."""
        last = context_start + (iterations - 1)  # the same float as the last context NumPy would sum
        row = self._decode_rows.get(batch)
        if row is None or (len(row) - 1) * GRID_TOKENS < last:  # _decode_row's own test, hoisted
            row = self._decode_row(batch, last)
        grid = self._grids.get(len(row))
        if grid is None:
            grid = self._grids[len(row)] = np.arange(len(row), dtype=float)
        steps = self._grid_steps
        if iterations > len(steps):
            steps = self._grid_steps = np.arange(max(iterations, 2 * len(steps)), dtype=float) / GRID_TOKENS
        # Grid positions (context_start + k) / GRID_TOKENS, as one addition to a cached k / GRID_TOKENS:
        # dividing by a power of two is exact, so the sums round to the very same floats.
        return _interp(context_start / GRID_TOKENS + steps[:iterations], grid, row, None, None)

    # --- prefill --------------------------------------------------------------------------------------

    def prefill_one_s(self, prompt_tokens: int) -> float:
        """A prefill iteration of one whole prompt (no cached tokens before it)."""
        if prompt_tokens >= len(self._prefill):
            size = max(prompt_tokens + 1, 2 * len(self._prefill), 1024)
            lengths = np.arange(size, dtype=float)
            self._prefill = np.asarray(
                self.replica.iteration_time_s(prefill_work(lengths, 0.0, self.window)), dtype=float
            )
        return float(self._prefill[prompt_tokens])

    def _batched_table(self, prompts: int, tokens: int) -> np.ndarray:
        table = self._batched_prefill.get(prompts)
        if table is None or (table.shape[0] - 1) * PREFILL_GRID_TOKENS < tokens:
            # One table per prompt count, covering a full 8192-token step, doubled if a longer one comes.
            top = max(tokens, 8192, 0 if table is None else 2 * (table.shape[0] - 1) * PREFILL_GRID_TOKENS)
            total = np.arange(int(np.ceil(top / PREFILL_GRID_TOKENS)) + 2, dtype=float) * PREFILL_GRID_TOKENS
            spread = np.linspace(0.0, 1.0, SPREAD_POINTS)
            t, u = np.meshgrid(total, spread, indexing="ij")
            squares = t * t / prompts + u * (t * t - t * t / prompts)
            zero = np.zeros_like(t)
            work = StepWork(
                tokens=t,
                logits=np.full_like(t, float(prompts)),
                pairs_prefill=(squares + t) / 2,
                pairs_decode=zero,
                kv_reads=t,
                window_pairs_prefill=(squares + t) / 2,
                window_pairs_decode=zero,
                window_kv_reads=t,
            )
            table = np.asarray(self.replica.iteration_time_s(work), dtype=float).reshape(t.shape)
            self._batched_prefill[prompts] = table
        return table

    def prefill_batch_s(self, prompt_tokens: np.ndarray) -> float:
        """A prefill iteration of several whole prompts (none cached before)."""
        n = len(prompt_tokens)
        if n == 1:
            return self.prefill_one_s(int(prompt_tokens[0]))
        if self.exact_prefill or self.window is not None or n > MAX_TABULATED_PROMPTS:
            return self.iteration_s(prompt_tokens, np.zeros(n))
        total = float(prompt_tokens.sum())
        squares = float(np.dot(prompt_tokens.astype(float), prompt_tokens))
        table = self._batched_table(n, int(total))
        least = total * total / n
        spread = (squares - least) / (total * total - least)
        x = total / PREFILL_GRID_TOKENS
        j = int(x)
        fx = x - j
        y = min(max(spread, 0.0), 1.0) * (SPREAD_POINTS - 1)
        k = min(int(y), SPREAD_POINTS - 2)
        fy = y - k
        low = table[j, k] * (1 - fx) + table[j + 1, k] * fx
        high = table[j, k + 1] * (1 - fx) + table[j + 1, k + 1] * fx
        return float(low * (1 - fy) + high * fy)

    def iteration_s(
        self,
        chunk_tokens: np.ndarray,
        chunk_past: np.ndarray,
        decode_batch: int = 0,
        decode_context: float = 0.0,
    ) -> float:
        """One iteration of prefill chunks (each after `chunk_past` cached tokens), optionally with decodes."""
        chunk_tokens = np.asarray(chunk_tokens, dtype=float)
        chunk_past = np.asarray(chunk_past, dtype=float)
        if decode_batch == 0 and len(chunk_tokens) == 1 and chunk_past[0] == 0:
            return self.prefill_one_s(int(chunk_tokens[0]))
        work = _total(prefill_work(chunk_tokens, chunk_past, self.window)) if len(chunk_tokens) else None
        if decode_batch:
            decode = decode_work(float(decode_batch), decode_context, self.window)
            work = decode if work is None else work + decode
        if work is None:
            raise ValueError("an iteration needs prefill chunks or decodes")
        self.exact_calls += 1
        return float(np.asarray(self.replica.iteration_time_s(work)))
