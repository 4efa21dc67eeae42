"""How a model is split over accelerators: tensor (tp), pipeline (pp), expert (ep) and data (dp) parallelism.

A replica is tp × pp accelerators; dp replicas serve independent requests. Experts are split inside the
tensor-parallel group as TensorRT-LLM does (moe_ep × moe_tp = tp): ep whole-expert shards, each expert's
matrices split tp/ep ways, so ep must divide tp. With `attention_dp` (MoE models only) the group runs attention
data-parallel and spreads the experts over all of it, so ep = tp.
"""

from __future__ import annotations

from dataclasses import dataclass

from wafersim.catalog import ModelSpec
from wafersim.errors import WafersimError


@dataclass(frozen=True)
class Layout:
    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp: int = 1
    attention_dp: bool = False

    @property
    def replica_size(self) -> int:
        return self.tp * self.pp

    @property
    def accelerators(self) -> int:
        return self.replica_size * self.dp


def layout_problem(model: ModelSpec, tp: int, pp: int, ep: int, attention_dp: bool = False) -> str | None:
    """Why this split cannot hold the model, or None when it can."""
    if min(tp, pp, ep) < 1:
        return f"parallel degrees must be ≥ 1 (tp={tp}, pp={pp}, ep={ep})"
    if attention_dp:
        if model.moe is None:
            return f"attention data parallelism is for mixture-of-experts models; {model.id} is dense"
        if ep != tp:
            return f"attention data parallelism spreads experts over the whole group: ep must equal tp={tp}"
        if model.moe.num_experts % tp:
            return f"tp={tp} does not divide the {model.moe.num_experts} experts of {model.id}"
        if pp > model.num_layers:
            return f"pp={pp} exceeds the {model.num_layers} layers of {model.id}"
        return None
    if model.num_heads % tp:
        return f"tp={tp} does not divide the {model.num_heads} attention heads of {model.id}"
    if model.mla is None and tp % model.num_kv_heads and model.num_kv_heads % tp:
        return f"tp={tp} neither divides nor is a multiple of the {model.num_kv_heads} KV heads of {model.id}"
    if pp > model.num_layers:
        return f"pp={pp} exceeds the {model.num_layers} layers of {model.id}"
    if ep > 1:
        if model.moe is None:
            return f"ep={ep} needs a mixture-of-experts model; {model.id} is dense"
        if tp % ep:
            return f"ep={ep} must divide tp={tp} (experts are split inside the tensor-parallel group)"
        if model.moe.num_experts % ep:
            return f"ep={ep} does not divide the {model.moe.num_experts} experts of {model.id}"
    return None


def check_layout(
    model: ModelSpec, count: int, tp: int, pp: int, ep: int, attention_dp: bool = False
) -> Layout:
    problem = layout_problem(model, tp, pp, ep, attention_dp)
    if problem:
        raise WafersimError(problem)
    if tp * pp > count:
        raise WafersimError(
            f"tp={tp} × pp={pp} needs {tp * pp} accelerators but count is {count}", field="count"
        )
    return Layout(tp=tp, pp=pp, ep=ep, dp=count // (tp * pp), attention_dp=attention_dp)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def candidate_layouts(
    model: ModelSpec,
    count: int,
    tp: int | None = None,
    pp: int | None = None,
    ep: int | None = None,
    attention_dp: bool | None = None,
) -> list[Layout]:
    """Every valid layout using whole replicas of `count`, with the given degrees held fixed.

    Replica sizes are the divisors of count, so no accelerator is left idle when the tool chooses.
    """
    layouts = []
    for replica in _divisors(count):
        for tp_ in [tp] if tp else _divisors(replica):
            if replica % tp_:
                continue
            pp_ = replica // tp_
            if pp is not None and pp_ != pp:
                continue
            eps = [ep] if ep else ([d for d in _divisors(tp_)] if model.moe else [1])
            for ep_ in eps:
                for adp in [attention_dp] if attention_dp is not None else [False, True]:
                    if adp and (tp_ == 1 or ep_ != tp_):
                        continue  # attention-DP over one accelerator is plain tensor parallelism
                    if layout_problem(model, tp_, pp_, ep_, adp) is None:
                        layouts.append(Layout(tp=tp_, pp=pp_, ep=ep_, dp=count // replica, attention_dp=adp))
    return layouts
