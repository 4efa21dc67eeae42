"""The one validation record every group reports through: its error, its ratio and the systems predicted on."""

from wafersim.perf.point_result import PointResult
from wafersim.perf.validation import load_points
from wafersim.perf.wafer.validation import load_wafer_points

GPU = load_points()[0]
WAFER = next(p for p in load_wafer_points() if p.count == 0 and not p.cannot_express)


def test_error_and_ratio_follow_the_prediction():
    result = PointResult(GPU, GPU.measured * 1.25)
    assert abs(result.ape - 0.25) < 1e-12 and abs(result.ratio - 1.25) < 1e-12
    skipped = PointResult(GPU, None, "accelerator count not published")
    assert skipped.ape is None and skipped.ratio is None and skipped.to_dict()["skipped"]


def test_systems_predicted_on():
    """The point's own count when predicted there, the count found when the point publishes none, else None."""
    assert PointResult(GPU, 1.0).count_predicted_on == GPU.count
    assert PointResult(GPU, None, "does not fit").count_predicted_on is None
    found = PointResult(WAFER, 1.0, None, "wafer", 13)
    assert found.to_dict()["count"] == 0 and found.to_dict()["count_predicted_on"] == 13


def test_every_group_gives_the_same_row_keys():
    assert set(PointResult(GPU, 1.0).to_dict()) == set(PointResult(WAFER, 1.0, family="wafer").to_dict())
