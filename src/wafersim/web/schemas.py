"""Request bodies of the HTTP API: pydantic models whose field names are the public API's keyword arguments.

A bad body is answered 422 by FastAPI with the field's location (`["body", "count"]`). The limits here protect
the server (a browser user cannot start an hour-long simulation or read server files): ids come from the
catalog only (no paths), traces are the shipped ones, and simulated requests are bounded.
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wafersim.catalog import load_catalog
from wafersim.catalog.precision import Precision
from wafersim.perf.economics import CostAssumptions

# Requests one serve run may simulate: ~1-2 s of CPU per 10k requests on an 8B/H100 replica (docs/serving.md).
MAX_SERVE_REQUESTS = 20_000
# A capacity search simulates its workload ~6-10 times (bracket + bisection), hence a smaller bound.
MAX_CAPACITY_REQUESTS = 5_000
# Accelerators in one request: larger than any fleet option's replica, small enough to bound the layout search.
MAX_COUNT = 4_096
MAX_TOKENS = 1_000_000
MAX_COMPARE_SYSTEMS = 16
BUILTIN_TRACES = ("azure-conv", "azure-code")
SCHEDULERS = ("vllm", "sarathi", "static")
ROUTERS = ("round-robin", "least-outstanding", "least-kv")


def shipped_scenarios() -> tuple[str, ...]:
    folder = resources.files("wafersim.fleet") / "data"
    return tuple(sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")))


def _model_id(value: str) -> str:
    if value not in load_catalog().models:
        raise ValueError(f"unknown model '{value}' (see GET /api/catalog/models)")
    return value


def _system_id(value: str) -> str:
    if value not in load_catalog().systems:
        raise ValueError(f"unknown system '{value}' (see GET /api/catalog/systems)")
    return value


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EstimateBody(Body):
    model: str
    system: str
    count: int = Field(ge=1, le=MAX_COUNT)
    input_len: int = Field(ge=1, le=MAX_TOKENS)
    output_len: int = Field(ge=1, le=MAX_TOKENS)
    tp: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    pp: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    ep: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    attention_dp: bool | None = None
    precision: Precision | None = None
    kv_precision: Precision | None = None
    batch: int | None = Field(default=None, ge=1, le=65_536, description="sequences per replica; null = auto")
    max_tpot_s: float | None = Field(default=None, gt=0)
    life_years: float = Field(default=CostAssumptions.life_years, gt=0)
    usd_per_kwh: float = Field(default=CostAssumptions.usd_per_kwh, ge=0)
    pue: float = Field(default=CostAssumptions.pue, ge=1)

    _model = field_validator("model")(_model_id)
    _system = field_validator("system")(_system_id)


class Deployment(Body):
    system: str
    count: int = Field(default=0, ge=0, le=MAX_COUNT, description="0 = as many as the weights need")

    _system = field_validator("system")(_system_id)


class CompareBody(Body):
    model: str = "llama-3.1-70b"
    systems: list[Deployment] = Field(min_length=1, max_length=MAX_COMPARE_SYSTEMS)
    precision: Precision = "fp8"
    input_len: int = Field(default=1000, ge=1, le=MAX_TOKENS)
    output_len: int = Field(default=1000, ge=1, le=MAX_TOKENS)

    _model = field_validator("model")(_model_id)


class FrontierBody(Body):
    """`wafersim frontier`: deployments of one model on a few systems, with the Pareto flag per point."""

    model: str
    systems: list[str] = Field(min_length=1, max_length=4)
    input_len: int = Field(ge=1, le=MAX_TOKENS)
    output_len: int = Field(ge=1, le=MAX_TOKENS)
    precision: Precision | None = None
    slo_ttft_s: float | None = Field(default=None, gt=0)
    slo_tpot_s: float | None = Field(default=None, gt=0)
    disagg: bool = False

    _model = field_validator("model")(_model_id)

    @field_validator("systems")
    @classmethod
    def _systems(cls, values: list[str]) -> list[str]:
        return [_system_id(value) for value in values]


class DeploymentBody(Body):
    """What serve and capacity share: one deployment of replicas and how its engines schedule."""

    model: str
    system: str
    count: int = Field(ge=1, le=MAX_COUNT, description="accelerators in one replica")
    replicas: int = Field(default=1, ge=1, le=64)
    tp: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    pp: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    precision: Precision | None = None
    scheduler: Literal[SCHEDULERS] = "vllm"  # type: ignore[valid-type]
    router: Literal[ROUTERS] = "least-outstanding"  # type: ignore[valid-type]
    max_batch: int = Field(default=2048, ge=1, le=4096)
    seed: int = Field(default=0, ge=0)

    _model = field_validator("model")(_model_id)
    _system = field_validator("system")(_system_id)


class ServeBody(DeploymentBody):
    trace: Literal[BUILTIN_TRACES] | None = "azure-conv"  # type: ignore[valid-type]
    requests: int | None = Field(default=2000, ge=1, le=MAX_SERVE_REQUESTS)
    rate_rps: float | None = Field(default=None, gt=0, description="synthetic arrivals, requests/s")
    duration_s: float | None = Field(default=None, gt=0)
    input_len: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    output_len: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    slo_ttft_s: float | None = Field(default=None, gt=0)
    slo_tpot_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _bounded(self) -> ServeBody:
        if self.trace is None:
            if self.rate_rps is None or self.duration_s is None:
                raise ValueError("a synthetic workload (trace null) needs rate_rps and duration_s")
            if self.requests is None and self.rate_rps * self.duration_s > MAX_SERVE_REQUESTS:
                raise ValueError(f"rate_rps × duration_s exceeds {MAX_SERVE_REQUESTS} requests; set requests")
        elif self.requests is None:
            raise ValueError(f"requests: give at most {MAX_SERVE_REQUESTS} (the shipped traces are longer)")
        return self


class CapacityBody(DeploymentBody):
    trace: Literal[BUILTIN_TRACES] | None = None  # type: ignore[valid-type]
    input_len: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    output_len: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    synthetic_requests: int = Field(default=1000, ge=2, le=MAX_CAPACITY_REQUESTS)
    requests: int | None = Field(default=None, ge=2, le=MAX_CAPACITY_REQUESTS)
    slo_ttft_s: float = Field(gt=0)
    slo_tpot_s: float = Field(gt=0)
    tolerance: float = Field(default=0.02, gt=0, lt=1)

    @model_validator(mode="after")
    def _bounded(self) -> CapacityBody:
        if self.trace is not None and self.requests is None:
            raise ValueError(
                f"requests: give at most {MAX_CAPACITY_REQUESTS} (the shipped traces are longer)"
            )
        return self


class PlanBody(Body):
    scenario: str = "openai-cerebras-750mw"
    use_cache: bool = True

    @field_validator("scenario")
    @classmethod
    def _shipped(cls, value: str) -> str:
        names = shipped_scenarios()
        if value not in names:
            raise ValueError(f"unknown scenario '{value}'; shipped: {', '.join(names)}")
        return value


class WaferMapBody(Body):
    model: str
    system: Literal["cs-2", "cs-3"] = "cs-3"
    count: int = Field(default=1, ge=1, le=64)
    input_len: int = Field(default=1000, ge=1, le=MAX_TOKENS)
    output_len: int = Field(default=1000, ge=1, le=MAX_TOKENS)
    precision: Precision | None = None
    batch: int = Field(default=1, ge=1, le=4096)

    _model = field_validator("model")(_model_id)


JOB_BODIES: dict[str, type[Body]] = {"serve": ServeBody, "capacity": CapacityBody, "plan": PlanBody}
