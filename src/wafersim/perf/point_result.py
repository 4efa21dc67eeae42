"""One validation point's prediction, for every validation group (GPU/TPU/LPU points in perf/validation.py, the
wafer group in perf/wafer/validation.py): the point, what the model predicts for its metric (None with the reason
in `skipped`), its error, and its `to_dict()` row of `wafersim validate --json`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from wafersim.progress import Progress


@dataclass(frozen=True)
class PointResult:
    point: Any  # a validation point: perf.validation.Point or perf.wafer.validation.WaferPoint
    predicted: float | None
    skipped: str | None = None
    family: str = "dense"
    # Systems predicted on, where it is not the point's own count (a wafer point whose count is not published
    # is predicted on the fewest systems that hold the model); None: the point's count.
    count: int | None = None

    @property
    def ape(self) -> float | None:
        if self.predicted is None:
            return None
        return abs(self.predicted - self.point.measured) / self.point.measured

    @property
    def ratio(self) -> float | None:
        """Predicted over measured."""
        return None if self.predicted is None else self.predicted / self.point.measured

    @property
    def count_predicted_on(self) -> int | None:
        if self.count is not None:
            return self.count
        return self.point.count if self.predicted is not None else None

    def to_dict(self) -> dict[str, Any]:
        p = self.point
        return {
            "id": p.id,
            "group": p.group,
            "family": self.family,
            "model": p.model,
            "system": p.system,
            "count": p.count,
            "count_predicted_on": self.count_predicted_on,
            "precision": p.precision,
            "metric": p.metric,
            "measured": p.measured,
            "predicted": self.predicted,
            "ape": self.ape,
            "ratio": self.ratio,
            "skipped": self.skipped,
            "source": p.source,
        }


def predict_each(
    points: Sequence[Any], predict_one: Callable[[Any], PointResult], progress: Progress | None = None
) -> list[PointResult]:
    """Every point's prediction in order, telling `progress(done, total, point id)` before each."""
    results = []
    for done, point in enumerate(points):
        if progress is not None:
            progress(done, len(points), point.id)
        results.append(predict_one(point))
    return results
