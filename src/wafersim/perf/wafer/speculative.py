"""Speculative decoding on the wafers: a draft model co-resident with the target, acceptance rate as input.

Each round the draft proposes `draft_tokens` (gamma) tokens one decode step at a time, then the target verifies
all gamma + 1 positions in one step (a gamma + 1 token chunk per sequence through the same kernels). With
acceptance rate alpha per token, a round yields (1 - alpha^(gamma+1)) / (1 - alpha) tokens on average (Leviathan,
Kalman & Matias, "Fast Inference from Transformers via Speculative Decoding", ICML 2023, eq. 1).

Placement: the draft's layers are spread over the target's regions in pipeline order, on the same region shape
(its own LM head in regions of that shape). The SRAM check is conservative: the fullest target region plus the
fullest draft region must fit one PE's 48 KB.
"""

from __future__ import annotations

from dataclasses import dataclass

from wafersim.catalog import ModelSpec
from wafersim.errors import WafersimError
from wafersim.perf.wafer.closed_form import ceil_div
from wafersim.perf.wafer.pipeline import (
    CODE_RESERVE_BYTES,
    ModelOnWafer,
    build_placement,
    region_totals_per_pe,
    step_time,
)

# Verify widths in production are a handful of tokens (gamma 3-8 in Leviathan et al.); beyond 64 the verify
# chunk is a prefill and the model here (one round's acceptance by a constant rate) stops being meaningful.
MAX_DRAFT_TOKENS = 64


@dataclass(frozen=True)
class Speculative:
    draft: ModelSpec
    acceptance: float  # probability that the target accepts one drafted token
    draft_tokens: int = 4  # gamma: tokens drafted per round

    def __post_init__(self) -> None:
        # `not (0 <= a <= 1)` also refuses NaN.
        if not isinstance(self.acceptance, int | float) or not 0.0 <= self.acceptance <= 1.0:
            raise WafersimError(
                f"speculative acceptance must be a rate per drafted token within [0, 1], got {self.acceptance}",
                field="acceptance",
            )
        if not isinstance(self.draft_tokens, int) or not 1 <= self.draft_tokens <= MAX_DRAFT_TOKENS:
            raise WafersimError(
                f"speculative draft_tokens must be an integer from 1 to {MAX_DRAFT_TOKENS}, got {self.draft_tokens}",
                field="draft_tokens",
            )

    def check_target(self, target: ModelSpec) -> None:
        """The draft must be a smaller model with the target's tokenizer."""
        if self.draft.vocab_size != target.vocab_size:
            raise WafersimError(
                f"speculative draft {self.draft.id} has a {self.draft.vocab_size}-token vocabulary, target "
                f"{target.id} {target.vocab_size}: speculative decoding needs a shared tokenizer"
            )
        if self.draft.params_total() >= target.params_total():
            raise WafersimError(
                f"speculative draft {self.draft.id} ({self.draft.params_total() / 1e9:.1f} B parameters) is not "
                f"smaller than the target {target.id} ({target.params_total() / 1e9:.1f} B): a draft must be cheaper"
            )

    @property
    def tokens_per_round(self) -> float:
        g, a = self.draft_tokens, self.acceptance
        return float(g + 1) if a >= 1.0 else (1 - a ** (g + 1)) / (1 - a)


@dataclass(frozen=True)
class SpeculativeResult:
    fits: bool
    reason: str | None = None
    tpot_s: float = 0.0
    draft_step_s: float = 0.0
    verify_step_s: float = 0.0
    tokens_per_round: float = 0.0
    spec: Speculative | None = None
    draft_layers_per_region: int = 0
    needed_bytes_per_pe: float = 0.0

    def summary(self) -> dict:
        assert self.spec is not None
        return {
            "draft_model": self.spec.draft.id,
            "acceptance": self.spec.acceptance,
            "draft_tokens": self.spec.draft_tokens,
            "tokens_per_round": self.tokens_per_round,
            "draft_layers_per_region": self.draft_layers_per_region,
            "draft_step_s": self.draft_step_s,
            "verify_step_s": self.verify_step_s,
            "decode_s_per_token": self.tpot_s,
        }


def speculative_step(request, mow: ModelOnWafer, work, best, spec: Speculative) -> SpeculativeResult:
    """Price speculative rounds on the chosen placement: the draft's layers sit in the target's regions in
    pipeline order, k per region; every k from the most spread to the most compact is tried and the fastest
    round that fits kept. `needed_bytes_per_pe` on a failure says how much SRAM the draft needs per PE at best."""
    from wafersim.perf.wafer.search import _table_regions, decode_split

    target = mow.model
    spec.check_target(target)
    # zip(..., strict=False) below: the draft may occupy fewer regions than the target.
    p = best.placement
    draft = ModelOnWafer(spec.draft, mow.arch, mow.system, mow.weight_bytes, mow.kv_bytes)
    tables = _table_regions(draft, p.rows, p.cols)
    room = len(p.regions) - (tables or 0)
    if tables is None or room < 1:
        return SpeculativeResult(
            False, f"draft {spec.draft.id}: its LM head does not fit regions of this shape"
        )
    micro, tokens = decode_split(p, best.batch)
    gamma = spec.draft_tokens
    verify_tokens = tokens * (gamma + 1)
    target_pe = region_totals_per_pe(
        mow, p, best.batch, work.length + gamma, verify_tokens, work.decode_context
    )
    budget = mow.arch.memory.sram_bytes_per_pe
    verify = step_time(mow, p, verify_tokens, micro, work.decode_context, new_per_sequence=gamma + 1).step_s
    chosen: SpeculativeResult | None = None
    least = None
    # The draft's LM head may use more regions than its minimum, so that no region of the draft is much
    # fuller than the others.
    for heads in range(tables, max(tables, room // 4) + 1):
        for k in range(ceil_div(spec.draft.num_layers, len(p.regions) - heads), spec.draft.num_layers + 1):
            dp = build_placement(draft, p.rows, p.cols, k, heads)
            if len(dp.regions) > len(p.regions):
                continue
            # Draft region i shares its PEs with target region i; one code reserve serves both (the draft's
            # kernels are the same kernels with other shapes).
            use = region_totals_per_pe(
                draft, dp, best.batch, work.length + gamma, tokens, work.decode_context
            )
            extra = max(use) - CODE_RESERVE_BYTES
            least = extra if least is None else min(least, extra)
            if any(t + d - CODE_RESERVE_BYTES > budget for t, d in zip(target_pe, use, strict=False)):
                continue
            draft_step = step_time(draft, dp, tokens, micro, work.decode_context).step_s
            tpot = (gamma * draft_step + verify) / spec.tokens_per_round
            if chosen is None or tpot < chosen.tpot_s:
                chosen = SpeculativeResult(
                    True, None, tpot, draft_step, verify, spec.tokens_per_round, spec, k
                )
    if chosen is not None:
        return chosen
    return SpeculativeResult(
        False,
        f"draft {spec.draft.id} beside {target.id} at batch {best.batch}: needs {least or 0:,.0f} B per PE more "
        f"than the {budget:,} B SRAM holds beside the target's {max(target_pe):,.0f} B (use more systems)",
        needed_bytes_per_pe=least or 0.0,
    )
