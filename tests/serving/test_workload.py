from pathlib import Path

import numpy as np
import pytest

from wafersim.errors import WafersimError
from wafersim.serving.workload import Lengths, read_azure_csv, read_jsonl, read_trace, synthetic, trace_path

HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"


def test_shipped_traces_parse_in_time_order():
    conv = read_trace(trace_path("azure-conv"))
    code = read_trace(trace_path("azure-code"))
    assert (len(conv), len(code)) == (19366, 8819)
    for trace in (conv, code):
        assert trace.arrival_s[0] == 0.0
        assert np.all(np.diff(trace.arrival_s) >= 0)
        assert 3000 < trace.duration_s < 3700  # about one hour each
    # conv: median prompt 1020, median output 129 (computed from the raw file)
    assert np.median(conv.prompt_tokens) == 1020 and np.median(conv.output_tokens) == 129


def test_fractional_seconds_with_seven_digits(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "2023-11-16 18:15:46.6805900,10,2\n2023-11-16 18:15:47.0000001,20,3\n")
    trace = read_azure_csv(path)
    assert trace.arrival_s[1] == pytest.approx(0.3194101, abs=1e-9)  # to the 100 ns the trace records


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2023-11-16 18:15:47.1,abc,3", "ContextTokens 'abc' is not an integer"),
        ("2023-11-16 18:15:47.1,10", "2 fields, expected 3"),
        ("yesterday,10,3", "TIMESTAMP 'yesterday'"),
        ("2023-11-16 18:15:47.1x,10,3", "TIMESTAMP '2023-11-16 18:15:47.1x'"),
        ("2023-11-16 18:15:47.1,10,0", "GeneratedTokens must be ≥ 1"),
    ],
)
def test_malformed_line_is_named_by_file_and_line(tmp_path: Path, line: str, message: str):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "2023-11-16 18:15:46.6,10,2\n" + line + "\n")
    with pytest.raises(WafersimError) as error:
        read_azure_csv(path)
    assert f"{path}:3" in str(error.value) and message in str(error.value)


def test_wrong_header_and_missing_file(tmp_path: Path):
    path = tmp_path / "h.csv"
    path.write_text("time,prompt,output\n1,2,3\n")
    with pytest.raises(WafersimError, match=r"h.csv:1: header"):
        read_azure_csv(path)
    with pytest.raises(WafersimError, match="no such file"):
        read_trace(tmp_path / "missing.csv")


def test_jsonl_reads_and_rejects_bad_lines(tmp_path: Path):
    path = tmp_path / "w.jsonl"
    path.write_text('{"arrival_s": 1.5, "prompt_tokens": 10, "output_tokens": 4}\n\n'
                    '{"arrival_s": 0.5, "prompt_tokens": 20, "output_tokens": 5}\n')  # fmt: skip
    trace = read_trace(path)
    assert list(trace.prompt_tokens) == [20, 10] and list(trace.arrival_s) == [0.0, 1.0]
    path.write_text(
        '{"arrival_s": 0, "prompt_tokens": 10, "output_tokens": 4}\n{"arrival_s": 1, "prompt_tokens": 2.5, "output_tokens": 1}\n'
    )
    with pytest.raises(WafersimError, match=r"w.jsonl:2: prompt_tokens 2.5 is not an integer"):
        read_jsonl(path)
    path.write_text("not json\n")
    with pytest.raises(WafersimError, match=r"w.jsonl:1: not valid JSON"):
        read_jsonl(path)


def test_synthetic_rates_and_seeds():
    fixed = Lengths("fixed", value=100)
    a = synthetic(np.random.default_rng(7), 50.0, count=20000, prompt=fixed, output=fixed)
    b = synthetic(np.random.default_rng(7), 50.0, count=20000, prompt=fixed, output=fixed)
    assert np.array_equal(a.arrival_s, b.arrival_s)
    assert a.rate_rps == pytest.approx(50.0, rel=0.03)
    gaps = np.diff(a.arrival_s)
    assert np.std(gaps) / np.mean(gaps) == pytest.approx(1.0, rel=0.05)  # Poisson: cv 1
    bursty = synthetic(
        np.random.default_rng(7), 50.0, count=20000, prompt=fixed, output=fixed, arrival="gamma", cv=3.0
    )
    gaps = np.diff(bursty.arrival_s)
    assert np.std(gaps) / np.mean(gaps) == pytest.approx(3.0, rel=0.15)
    by_time = synthetic(np.random.default_rng(1), 10.0, duration_s=100.0, prompt=fixed, output=fixed)
    assert by_time.arrival_s[-1] < 100.0 and 800 < len(by_time) < 1200


def test_lengths_and_rate_scaling():
    rng = np.random.default_rng(0)
    lognormal = Lengths("lognormal", median=500, sigma=0.5, maximum=2000).sample(rng, 50000)
    assert np.median(lognormal) == pytest.approx(500, rel=0.03) and lognormal.max() <= 2000
    empirical = Lengths("empirical", values=(3, 7)).sample(rng, 1000)
    assert set(np.unique(empirical)) == {3, 7}
    conv = read_trace(trace_path("azure-conv"))
    assert conv.at_rate(20.0).rate_rps == pytest.approx(20.0)
    assert conv.rate_scaled(2.0).duration_s == pytest.approx(conv.duration_s / 2)
    with pytest.raises(WafersimError, match="rate_scale must be > 0"):
        conv.rate_scaled(0.0)
