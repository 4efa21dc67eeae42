"""Reading catalog data files and turning validation failures into messages that name the file and field."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from wafersim.errors import WafersimError

DATA_DIR = Path(__file__).resolve().parent / "data"


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise WafersimError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise WafersimError(f"{path}: not valid TOML: {error}") from None


def describe_validation_error(path: Path | str, error: ValidationError) -> str:
    lines = []
    for issue in error.errors():
        field = ".".join(str(part) for part in issue["loc"]) or "(top level)"
        lines.append(f"{path}: field '{field}': {issue['msg']}")
    return "\n".join(lines)


def validate(cls: type[BaseModel], data: dict[str, Any], path: Path | str) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as error:
        raise WafersimError(describe_validation_error(path, error)) from None


def unknown_id_error(kind: str, wanted: str, known: Iterable[str]) -> WafersimError:
    known = sorted(known)
    close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.4)
    hint = f"; closest: {', '.join(close)}" if close else ""
    return WafersimError(f"unknown {kind} id '{wanted}'{hint} (known: {', '.join(known)})")
