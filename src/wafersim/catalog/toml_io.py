"""Reading catalog data files and turning validation failures into messages that name the file and field."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from wafersim.bounds import describe
from wafersim.errors import WafersimError
from wafersim.files import read_text

DATA_DIR = Path(__file__).resolve().parent / "data"


def read_toml(path: Path) -> dict[str, Any]:
    text = read_text(path, "TOML file")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise WafersimError(f"{path}: not valid TOML: {error}") from None


def describe_validation_error(path: Path | str, error: ValidationError) -> str:
    return str(describe(error, str(path)))


def validate(cls: type[BaseModel], data: dict[str, Any], path: Path | str) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as error:
        raise describe(error, str(path)) from None


def unknown_id_error(kind: str, wanted: str, known: Iterable[str]) -> WafersimError:
    known = sorted(known)
    close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.4)
    hint = f"; closest: {', '.join(close)}" if close else ""
    return WafersimError(f"unknown {kind} id '{wanted}'{hint} (known: {', '.join(known)})")
