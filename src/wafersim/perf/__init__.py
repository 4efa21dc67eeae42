"""Layer 3: prefill and decode speed of a model on a deployment, behind one interface (`estimate`).

`estimate` and `compare` (perf/api.py) take an `EstimateRequest` or catalog ids with keywords; `ESTIMATORS` maps
each system kind to the estimator that answers for it.
"""

from wafersim.perf.api import Comparison, compare, estimate
from wafersim.perf.cost import IterationCost
from wafersim.perf.estimate import ESTIMATORS
from wafersim.perf.layout import Layout
from wafersim.perf.types import Estimate, EstimateRequest
from wafersim.perf.work import StepWork, decode_work, prefill_work

__all__ = [
    "ESTIMATORS",
    "Comparison",
    "Estimate",
    "EstimateRequest",
    "IterationCost",
    "Layout",
    "StepWork",
    "compare",
    "decode_work",
    "estimate",
    "prefill_work",
]
