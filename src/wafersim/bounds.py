"""Bounds every entry point checks its numbers against, and the pydantic types that enforce them.

The core's entry objects (EstimateRequest, the serving workload, the fleet scenario, model and system specs)
validate their inputs with these, so a number the arithmetic cannot handle (NaN, infinity, 10^18 accelerators,
half a token) is refused where it enters, with a message naming the field, and never reaches a loop or an
array allocation. Each limit says why it is where it is.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from wafersim.errors import WafersimError

# The largest fleets announced are a few hundred thousand accelerators (xAI Colossus: 200k GPUs, 2025);
# 10^6 leaves room for plans a few years out while keeping every per-accelerator loop and count exact.
MAX_ACCELERATORS = 10**6
# Sequences in flight per replica: ~500x the 2048 engine default (TensorRT-LLM's max_batch_size); a sanity
# bound, far above any deployed engine, that keeps batch arithmetic and per-sequence arrays small.
MAX_BATCH = 10**6
# Token lengths: the longest published context is Llama 4 Scout's 10,485,760 tokens (its config.json); 2^24
# leaves room above it. Request lengths are also held to the model's own context.
MAX_TOKENS = 2**24
# Simulated requests one serving run holds before it refuses without allow_large: the issue-5 benchmark runs
# 10^6 requests in about a minute of CPU (~0.3 GB, see BYTES_PER_SIMULATED_REQUEST); 10^7 would be ten.
MAX_SIMULATED_REQUESTS = 10**6
# Seconds of simulated or amortised time: a century bounds durations, lives and windows alike.
MAX_SECONDS = 100 * 365.25 * 86_400
# Request rates: 10^7 requests/s is ~300x all of ChatGPT's reported traffic (2.5 G prompts/day ≈ 3e4/s).
MAX_RATE_RPS = 1e7
# Model shapes: the largest published configs have 126 layers (Llama 3.1 405B), hidden 16,384, 256 experts
# and vocabularies of ~256k; the limits are ~4-80x those, so parameter counts and loops stay bounded.
MAX_LAYERS = 10_000
MAX_WIDTH = 10**6  # hidden size, heads, head dim, FFN width, experts, vocabulary

_STRICT_FLOATS = ConfigDict(allow_inf_nan=False, frozen=True, extra="forbid")


def _no_bool(value: Any) -> Any:
    # pydantic's lax mode reads True as 1; a flag given where a number belongs is a mistake.
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value}")
    return value


NoBool = BeforeValidator(_no_bool)
Count = Annotated[int, NoBool, Field(ge=1, le=MAX_ACCELERATORS)]
Tokens = Annotated[int, NoBool, Field(ge=1, le=MAX_TOKENS)]
Batch = Annotated[int, NoBool, Field(ge=1, le=MAX_BATCH)]
Seconds = Annotated[float, NoBool, Field(gt=0, le=MAX_SECONDS)]


class Bounds(BaseModel):
    """Base for the small validation models entry objects build from their arguments (finite floats only)."""

    model_config = _STRICT_FLOATS


def field_name(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location) or "(top level)"


# Why an upper limit is where it is, for the one-line error: by field name first, then by the limit's value.
_ACCELERATOR_WHY = "more accelerators than any fleet announced"
_WHY_BY_FIELD = {
    **dict.fromkeys(
        ("count", "tp", "pp", "ep", "replicas", "prefill_count", "prefill_replicas"), _ACCELERATOR_WHY
    ),
    **dict.fromkeys(("batch", "max_batch", "tokens"), "far beyond any engine's batch"),
}
_WHY_BY_LIMIT = {
    MAX_TOKENS: "longer than any published model's context",
    MAX_SECONDS: "a century",
    MAX_LAYERS: "~80x the deepest published model",
    MAX_WIDTH: "beyond any published model's widths",
}


def _number(value: float) -> str:
    """1,000,000 for integral values, 0.5 otherwise: limits read as people write them."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    return f"{value:g}"


def message(issue: dict[str, Any]) -> str:
    """A pydantic error as a short phrase: 'must be ≥ 1', 'must be a whole number'."""
    kind, context = issue["type"], issue.get("ctx") or {}
    bound = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤", "less_than": "<"}
    if kind in bound:
        limit = next(iter(context.values()))
        why = None
        if kind.startswith("less"):
            name = str(issue["loc"][-1]) if issue["loc"] else ""
            why = _WHY_BY_FIELD.get(name) or _WHY_BY_LIMIT.get(limit)
        return f"must be {bound[kind]} {_number(limit)}" + (f" ({why})" if why else "")
    if kind == "int_from_float":
        return "must be a whole number"
    if kind == "finite_number":
        return "must be a finite number"
    if kind in ("int_parsing", "int_type"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type"):
        return "must be a number"
    if kind == "literal_error":
        return f"must be one of {context.get('expected', '')}"
    return issue["msg"].removeprefix("Value error, ")


def check(cls: type[BaseModel], data: dict[str, Any], where: str = "") -> BaseModel:
    """Validate `data` against `cls`; the first failure becomes a WafersimError naming its field and value."""
    try:
        return cls.model_validate(data)
    except ValidationError as error:
        issue = error.errors()[0]
        name = field_name(issue["loc"])
        value = issue.get("input")
        shown = f"{value!r}" if not isinstance(value, dict | list | tuple) else type(value).__name__
        prefix = f"{where}: " if where else ""
        raise WafersimError(f"{prefix}{name} {message(issue)}, got {shown}", field=name) from None


def describe(error: ValidationError, where: str) -> WafersimError:
    """Every failure of a pydantic validation, one line each, naming `where` and the field."""
    lines, first = [], None
    for issue in error.errors():
        name = field_name(issue["loc"])
        first = first or name
        lines.append(f"{where}: field '{name}': {message(issue)}")
    return WafersimError("\n".join(lines), field=first)


# What one simulated request costs, measured (`wafersim serve`, llama-3.1-8b on 1 H100, 20k vs 200k synthetic
# requests, loaded machine): ~220 B of peak memory each, rounded up to 256 B; CPU ~60 us each (the issue-5
# benchmark: 1 M conv-trace requests in 59 s on an 8xH100 tp8 replica).
BYTES_PER_SIMULATED_REQUEST = 256
SECONDS_PER_SIMULATED_REQUEST = 60e-6
# The router looks at every engine of a pool for each arrival: ~0.15 us per engine measured (min() over 10^4
# stand-in engines, loaded machine), 0.2 us taken; 2,000 replicas add ~2 MB, so engines cost time, not memory.
SECONDS_PER_ENGINE_PER_REQUEST = 0.2e-6
# Without allow_large a run may take twice what 10^6 requests on one engine take (~2 min of CPU): a full-size
# run behind a few hundred engines still goes; 10^5 requests behind 10^5 engines (~30 min) does not.
MAX_SIMULATED_CPU_S = 2 * MAX_SIMULATED_REQUESTS * SECONDS_PER_SIMULATED_REQUEST


def _physical_memory_bytes() -> float | None:
    try:
        import os

        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def check_simulation_size(
    requests: float, allow_large: bool, what: str = "requests", engines: int = 1
) -> None:
    """Refuse a simulation too big to finish soon (unless allow_large) or to fit in memory (always), before
    any array is allocated, with the estimate of what it would take. `engines` behind the router multiply the
    per-request cost (each arrival looks at every engine)."""
    if not requests <= MAX_SIMULATED_REQUESTS * 1e6:  # NaN too; past 10^12 even the estimate is meaningless
        raise WafersimError(f"{what}: {requests:.3g} simulated requests is not a workload", field=what)
    memory = requests * BYTES_PER_SIMULATED_REQUEST
    cpu_s = requests * (SECONDS_PER_SIMULATED_REQUEST + max(engines - 1, 0) * SECONDS_PER_ENGINE_PER_REQUEST)
    behind = f" behind {engines:,} engines" if engines > 1 else ""
    estimate = (
        f"{requests:,.0f} simulated requests{behind} (~{_number(float(f'{memory / 1e9:.2g}'))} GB of memory, "
        f"~{_number(float(f'{cpu_s / 60:.2g}'))} min of CPU)"
    )
    physical = _physical_memory_bytes()
    if physical is not None and memory > 0.8 * physical:
        raise WafersimError(
            f"{what}: {estimate} would not fit in this machine's {physical / 1e9:.3g} GB of memory",
            field=what,
        )
    if (requests > MAX_SIMULATED_REQUESTS or cpu_s > MAX_SIMULATED_CPU_S) and not allow_large:
        raise WafersimError(
            f"{what}: {estimate} is more than a run does without allow_large: at most {MAX_SIMULATED_REQUESTS:,} requests or ~{MAX_SIMULATED_CPU_S / 60:.0f} min "
            "of CPU; shorten the workload or allow it",
            field=what,
        )
