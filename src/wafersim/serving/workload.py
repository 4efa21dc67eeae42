"""Request workloads: arrival times and token lengths, held as NumPy arrays (one million requests are cheap).

Sources: the Azure LLM inference trace CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`), JSONL (one object per
line with `arrival_s`, `prompt_tokens`, `output_tokens`), and synthetic arrivals (Poisson or Gamma) with fixed,
lognormal or empirical lengths. Randomness comes only from the `numpy.random.Generator` passed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np

from wafersim.errors import WafersimError

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
# The shipped traces (serving/data, CC BY 4.0), by the name users type.
BUILTIN_TRACES = {"azure-conv": "azure-llm-2023-conv.csv", "azure-code": "azure-llm-2023-code.csv"}


def trace_path(trace: str | Path) -> Path:
    """The file of a shipped trace name (azure-conv, azure-code), else the path itself."""
    if str(trace) in BUILTIN_TRACES:
        return Path(str(resources.files("wafersim.serving") / "data" / BUILTIN_TRACES[str(trace)]))
    return Path(trace)


@dataclass(frozen=True)
class Workload:
    arrival_s: np.ndarray  # sorted, first arrival at 0
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    source: str

    def __post_init__(self) -> None:
        n = len(self.arrival_s)
        if len(self.prompt_tokens) != n or len(self.output_tokens) != n:
            raise WafersimError(f"{self.source}: arrival, prompt and output arrays differ in length")
        if n == 0:
            raise WafersimError(f"{self.source}: no requests")

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1] - self.arrival_s[0])

    @property
    def rate_rps(self) -> float:
        """Mean arrival rate: n − 1 gaps over the span (one request alone has no rate; report it as 0)."""
        return (len(self) - 1) / self.duration_s if self.duration_s > 0 else 0.0

    def rate_scaled(self, factor: float) -> Workload:
        """Replay `factor` times faster (gaps divided by factor): keeps the trace's burstiness."""
        if not factor > 0:
            raise WafersimError(f"rate_scale must be > 0, got {factor}", field="rate_scale")
        return Workload(
            self.arrival_s / factor, self.prompt_tokens, self.output_tokens, f"{self.source} ×{factor:g}"
        )

    def at_rate(self, rate_rps: float) -> Workload:
        """Time-scaled so that the mean arrival rate is `rate_rps`."""
        if not rate_rps > 0:
            raise WafersimError(f"rate must be > 0 requests/s, got {rate_rps}")
        if self.rate_rps == 0:
            raise WafersimError(f"{self.source}: all requests arrive at once, so it has no rate to scale")
        return self.rate_scaled(rate_rps / self.rate_rps)

    def head(self, n: int) -> Workload:
        return Workload(self.arrival_s[:n], self.prompt_tokens[:n], self.output_tokens[:n], self.source)


def _workload(arrival_s, prompt, output, source: str) -> Workload:
    arrival = np.asarray(arrival_s, dtype=float)
    order = np.argsort(arrival, kind="stable")  # traces are near-sorted; replay needs time order
    arrival = arrival[order] - (arrival.min() if len(arrival) else 0.0)
    return Workload(
        arrival, np.asarray(prompt, dtype=np.int64)[order], np.asarray(output, dtype=np.int64)[order], source
    )


def _positive_int(text: str, what: str, where: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise WafersimError(f"{where}: {what} {text.strip()!r} is not an integer") from None
    if value < 1:
        raise WafersimError(f"{where}: {what} must be ≥ 1, got {value}")
    return value


def _azure_time_s(text: str, where: str) -> tuple[int, float]:
    """(whole seconds since the epoch, fraction). Seven fractional digits ("18:15:46.6805900") are more than
    datetime parses, and more than a float of epoch seconds keeps: the caller subtracts the whole seconds
    first. Read as UTC, so no daylight-saving jump can reorder a trace."""
    stamp, _, fraction = text.strip().partition(".")
    try:
        whole = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        if fraction and not fraction.isdigit():
            raise ValueError(fraction)
        return int(whole.timestamp()), (float(f"0.{fraction}") if fraction else 0.0)
    except ValueError:
        raise WafersimError(
            f"{where}: TIMESTAMP {text.strip()!r} is not 'YYYY-MM-DD HH:MM:SS[.fffffff]'"
        ) from None


def read_azure_csv(path: Path) -> Workload:
    """The Azure LLM inference trace format; every line is checked and a bad one named by its line number."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise WafersimError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise WafersimError(f"{path}: not a UTF-8 text file ({error.reason})") from None
    if not lines:
        raise WafersimError(f"{path}: empty file; expected the header {','.join(AZURE_COLUMNS)}")
    header = [name.strip() for name in lines[0].split(",")]
    if sorted(header) != sorted(AZURE_COLUMNS):
        raise WafersimError(f"{path}:1: header {lines[0]!r}; expected the columns {','.join(AZURE_COLUMNS)}")
    column = {name: header.index(name) for name in AZURE_COLUMNS}
    times, prompts, outputs = [], [], []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        cells = line.split(",")
        if len(cells) != len(header):
            raise WafersimError(f"{where}: {len(cells)} fields, expected {len(header)} ({line!r})")
        times.append(_azure_time_s(cells[column["TIMESTAMP"]], where))
        prompts.append(_positive_int(cells[column["ContextTokens"]], "ContextTokens", where))
        outputs.append(_positive_int(cells[column["GeneratedTokens"]], "GeneratedTokens", where))
    if not times:
        raise WafersimError(f"{path}: no requests after the header")
    whole = np.array([t[0] for t in times], dtype=np.int64)
    seconds = (whole - whole.min()).astype(float) + np.array([t[1] for t in times])
    return _workload(seconds, prompts, outputs, str(path))


def read_jsonl(path: Path) -> Workload:
    """One JSON object per line: {"arrival_s": 0.5, "prompt_tokens": 812, "output_tokens": 64}."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise WafersimError(f"{path}: no such file") from None
    times, prompts, outputs = [], [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise WafersimError(f"{where}: not valid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise WafersimError(f"{where}: expected an object with arrival_s, prompt_tokens, output_tokens")
        for key in ("arrival_s", "prompt_tokens", "output_tokens"):
            if key not in record:
                raise WafersimError(f"{where}: field {key!r} missing")
        arrival = record["arrival_s"]
        if isinstance(arrival, bool) or not isinstance(arrival, int | float) or not np.isfinite(arrival):
            raise WafersimError(f"{where}: arrival_s {arrival!r} is not a finite number")
        if arrival < 0:
            raise WafersimError(f"{where}: arrival_s must be ≥ 0, got {arrival}")
        times.append(float(arrival))
        for key, into in (("prompt_tokens", prompts), ("output_tokens", outputs)):
            value = record[key]
            if isinstance(value, bool) or not isinstance(value, int):
                raise WafersimError(f"{where}: {key} {value!r} is not an integer")
            into.append(_positive_int(str(value), key, where))
    if not times:
        raise WafersimError(f"{path}: no requests")
    return _workload(times, prompts, outputs, str(path))


def read_trace(path: Path | str) -> Workload:
    path = Path(path)
    return read_jsonl(path) if path.suffix in (".jsonl", ".ndjson") else read_azure_csv(path)


@dataclass(frozen=True)
class Lengths:
    """A token-length distribution: fixed, lognormal (median, sigma) or empirical (resampled values)."""

    kind: Literal["fixed", "lognormal", "empirical"]
    value: int = 1  # fixed
    median: float = 1.0  # lognormal
    sigma: float = 0.0  # lognormal
    values: tuple[int, ...] = ()  # empirical
    maximum: int | None = None  # lognormal draws are capped here (a model's context)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.kind == "fixed":
            if self.value < 1:
                raise WafersimError(f"fixed length must be ≥ 1, got {self.value}")
            return np.full(n, self.value, dtype=np.int64)
        if self.kind == "lognormal":
            if not (self.median >= 1 and self.sigma >= 0):
                raise WafersimError(f"lognormal lengths need median ≥ 1 and sigma ≥ 0, got {self}")
            draws = np.rint(rng.lognormal(np.log(self.median), self.sigma, n)).astype(np.int64)
            return np.clip(draws, 1, self.maximum or None)
        if not self.values:
            raise WafersimError("empirical lengths need at least one value")
        return rng.choice(np.asarray(self.values, dtype=np.int64), size=n, replace=True)


def synthetic(
    rng: np.random.Generator,
    rate_rps: float,
    *,
    count: int | None = None,
    duration_s: float | None = None,
    prompt: Lengths,
    output: Lengths,
    arrival: Literal["poisson", "gamma"] = "poisson",
    cv: float = 1.0,
) -> Workload:
    """Arrivals at `rate_rps` for `count` requests or `duration_s` seconds (Gamma gaps with coefficient of
    variation `cv` model bursty traffic; cv = 1 is Poisson)."""
    if not rate_rps > 0:
        raise WafersimError(f"rate_rps must be > 0 requests/s, got {rate_rps}", field="rate_rps")
    if count is None:
        if duration_s is None or not duration_s > 0:
            raise WafersimError(f"duration_s must be > 0 s, got {duration_s}", field="duration_s")
        count = max(1, int(np.ceil(rate_rps * duration_s)))
    if count < 1:
        raise WafersimError(f"request count must be ≥ 1, got {count}")
    if arrival == "poisson":
        gaps = rng.exponential(1.0 / rate_rps, count)
    elif arrival == "gamma":
        if not cv > 0:
            raise WafersimError(f"gamma arrivals need cv > 0, got {cv}")
        shape = 1.0 / cv**2
        gaps = rng.gamma(shape, 1.0 / (rate_rps * shape), count)
    else:
        raise WafersimError(f"arrival process {arrival!r}: expected poisson or gamma")
    times = np.cumsum(gaps) - gaps[0]
    if duration_s is not None:
        keep = max(1, int(np.searchsorted(times, duration_s, side="left")))
        times = times[:keep]
        count = keep
    source = f"synthetic {arrival} {rate_rps:g} req/s"
    return Workload(times, prompt.sample(rng, count), output.sample(rng, count), source)
