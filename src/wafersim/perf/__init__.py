"""Layer 3: prefill and decode speed of a model on a deployment, behind one interface (`estimate`)."""

from wafersim.perf.cost import IterationCost
from wafersim.perf.estimate import ESTIMATORS, Estimate, EstimateRequest, estimate
from wafersim.perf.layout import Layout
from wafersim.perf.work import StepWork, decode_work, prefill_work

__all__ = [
    "ESTIMATORS",
    "Estimate",
    "EstimateRequest",
    "IterationCost",
    "Layout",
    "StepWork",
    "decode_work",
    "estimate",
    "prefill_work",
]
