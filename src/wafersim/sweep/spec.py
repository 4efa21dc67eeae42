"""A sweep specification: one task, a grid of values (every combination is one point), and fixed values.

```yaml
task: estimate            # a key of TASKS
grid:
  model: [llama-3.1-8b, llama-3.1-70b]
  system: ["h100-sxm:8", "cs-3:4"]   # id:count; count 0 = the fewest that fit
  input_len: [1000, 8000]
fixed:
  output_len: 200
seed: 0
```

Building a spec does no I/O; `load_spec` reads the file and names it in every error.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wafersim.errors import WafersimError
from wafersim.sweep.tasks import TASKS

# Above this many points a sweep must be confirmed (`allow_large`): at ~10 ms an estimate it is hours of work,
# and the results file alone is hundreds of MB.
MAX_POINTS_UNCONFIRMED = 1_000_000

Scalar = str | int | float | bool | None


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    grid: dict[str, list[Scalar]] = Field(default_factory=dict)
    fixed: dict[str, Scalar] = Field(default_factory=dict)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)

    @field_validator("task")
    @classmethod
    def _known_task(cls, task: str) -> str:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
        return task

    @model_validator(mode="after")
    def _known_keys(self) -> SweepSpec:
        known = TASKS[self.task].keys
        for section, keys in (("grid", self.grid), ("fixed", self.fixed)):
            for key in keys:
                if key not in known:
                    raise ValueError(
                        f"{section}.{key}: not a parameter of task {self.task!r} "
                        f"(known: {', '.join(sorted(known))})"
                    )
        for key, values in self.grid.items():
            if not values:
                raise ValueError(f"grid.{key}: an empty list gives no points")
            if len(set(map(_canonical, values))) != len(values):
                raise ValueError(f"grid.{key}: a value is listed twice")
        both = set(self.grid) & set(self.fixed)
        if both:
            raise ValueError(f"{', '.join(sorted(both))}: both in grid and fixed")
        missing = TASKS[self.task].required - set(self.grid) - set(self.fixed)
        if missing:
            raise ValueError(f"task {self.task!r} needs {', '.join(sorted(missing))} in grid or fixed")
        return self

    @property
    def size(self) -> int:
        return math.prod(len(values) for values in self.grid.values())

    def points(self) -> list[dict[str, Any]]:
        """Every combination, in the grid's order (the last key varies fastest), with the fixed values."""
        keys = list(self.grid)
        return [
            {**self.fixed, **dict(zip(keys, combo, strict=True)), "seed": self.seed}
            for combo in itertools.product(*(self.grid[key] for key in keys))
        ]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def point_id(task: str, params: dict[str, Any]) -> str:
    """A point's identity: the task and its parameters, independent of key order."""
    return hashlib.sha256(_canonical({"task": task, **params}).encode()).hexdigest()[:16]


def parse_spec(data: Any, source: str, allow_large: bool = False) -> SweepSpec:
    if not isinstance(data, dict):
        raise WafersimError(f"{source}: a sweep spec is a mapping with task, grid, fixed and seed")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "spec"
        message = first["msg"].removeprefix("Value error, ")
        raise WafersimError(f"{source}: {where}: {message}", field=where) from None
    if spec.size > MAX_POINTS_UNCONFIRMED and not allow_large:
        raise WafersimError(
            f"{source}: grid has {spec.size:,} points (over {MAX_POINTS_UNCONFIRMED:,}); confirm to run it",
            field="grid",
        )
    return spec


def load_spec(path: str | Path, allow_large: bool = False) -> SweepSpec:
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise WafersimError(f"{path}: cannot read the sweep spec ({type(error).__name__}: {error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise WafersimError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None
    return parse_spec(data, str(path), allow_large)
