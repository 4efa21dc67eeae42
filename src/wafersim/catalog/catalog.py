"""Finding systems and models by id or path.

`load_catalog()` reads the built-in data files plus any user directories (`--catalog DIR`); specs themselves do
no I/O. A user adds a system or model by dropping a TOML file in such a directory: files with an `[hf_config]`
table are models, the rest systems.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from wafersim.bounds import describe
from wafersim.catalog.hf_config import from_hf_config
from wafersim.catalog.models import ModelSpec
from wafersim.catalog.systems import SystemSpec
from wafersim.catalog.toml_io import DATA_DIR, read_toml, unknown_id_error, validate
from wafersim.errors import WafersimError
from wafersim.files import read_text


def _borrowed_efficiency(data: dict, path: Path) -> dict:
    """`efficiency_from = "<id>"` (for a chip nobody has measured): the efficiency table of that system, from
    the file's own directory or the built-in catalog, with a source that says it was borrowed."""
    lender = data.pop("efficiency_from")
    if "efficiency" in data:
        raise WafersimError(f"{path}: give either 'efficiency' or 'efficiency_from', not both")
    if not isinstance(lender, str) or not lender:
        raise WafersimError(f"{path}: field 'efficiency_from': expected a system id, got {lender!r}")
    for directory in (path.parent, DATA_DIR / "systems"):
        candidate = directory / f"{lender}.toml"
        if candidate.exists() and candidate != path:
            efficiency = dict(system_from_file(candidate).efficiency.model_dump())
            efficiency["source"] = (
                f"borrowed from {lender} by efficiency_from in {path.name} ({efficiency['source']})"
            )
            return {**data, "efficiency": efficiency}
    raise WafersimError(
        f"{path}: field 'efficiency_from': no system '{lender}' beside this file or in the built-in catalog"
    )


def system_from_file(path: Path) -> SystemSpec:
    data = read_toml(path)
    if "efficiency_from" in data:
        data = _borrowed_efficiency(dict(data), path)
    spec = validate(SystemSpec, data, path)
    if path.stem != spec.id:
        raise WafersimError(f"{path}: field 'id' is '{spec.id}' but the file is named '{path.name}'")
    return spec


def model_from_file(path: Path) -> ModelSpec:
    """A catalog TOML (id, name, source, [hf_config]) or a Hugging Face config.json (or a folder holding one)."""
    if path.is_dir():
        path = path / "config.json"
    if path.suffix == ".json":
        text = read_text(path, "model config")
        try:
            config = json.loads(text)
        except json.JSONDecodeError as error:
            raise WafersimError(f"{path}: not valid JSON: {error}") from None
        if not isinstance(config, dict):
            raise WafersimError(f"{path}: expected a JSON object of config fields")
        model_id = path.parent.name if path.name == "config.json" else path.stem
        source = f"Hugging Face config file {path}"
        return _parse_model(config, path, id=model_id, name=model_id, source=source)
    data = read_toml(path)
    for key in ("id", "source", "hf_config"):
        if key not in data:
            raise WafersimError(f"{path}: field '{key}': missing")
    if not isinstance(data["hf_config"], dict):
        raise WafersimError(f"{path}: field 'hf_config': expected a table of config.json fields")
    if path.stem != data["id"]:
        raise WafersimError(f"{path}: field 'id' is '{data['id']}' but the file is named '{path.name}'")
    return _parse_model(data["hf_config"], path, id=data["id"], name=data.get("name"), source=data["source"])


def _parse_model(config: dict, path: Path, *, id: str, name: str | None, source: str) -> ModelSpec:
    try:
        return from_hf_config(config, id=id, name=name, source=source)
    except ValidationError as error:
        raise describe(error, str(path)) from None
    except (ValueError, TypeError) as error:
        raise WafersimError(f"{path}: {error}") from None


@dataclass(frozen=True)
class Catalog:
    systems: dict[str, SystemSpec] = field(default_factory=dict)
    models: dict[str, ModelSpec] = field(default_factory=dict)

    def system(self, id_or_path: str) -> SystemSpec:
        if id_or_path in self.systems:
            return self.systems[id_or_path]
        path = Path(id_or_path)
        if path.suffix == ".toml" and (path.exists() or _looks_like_path(id_or_path)):
            return system_from_file(path)
        raise unknown_id_error("system", id_or_path, self.systems)

    def model(self, id_or_path: str) -> ModelSpec:
        if id_or_path in self.models:
            return self.models[id_or_path]
        path = Path(id_or_path)
        if path.suffix in {".json", ".toml"} and (path.exists() or _looks_like_path(id_or_path)):
            return model_from_file(path)
        if path.is_dir() or (path.exists() and _looks_like_path(id_or_path)):
            return model_from_file(path)
        if _looks_like_path(id_or_path):
            raise WafersimError(
                f"{path}: no such model config file or directory (and not a catalog model id)"
            )
        raise unknown_id_error("model", id_or_path, self.models)


def _looks_like_path(text: str) -> bool:
    """Catalog ids have no slashes and no file suffix; anything with either was meant as a file."""
    return "/" in text or "\\" in text or text.endswith((".json", ".toml"))


def _scan(directory: Path, systems: dict[str, SystemSpec], models: dict[str, ModelSpec]) -> None:
    if not directory.is_dir():
        raise WafersimError(f"catalog directory {directory} does not exist")
    for path in sorted(directory.rglob("*.toml")):
        if path.parent.name == "fabric":  # fabric architecture specs are read by the fabric layer
            continue
        if "hf_config" in read_toml(path):
            spec = model_from_file(path)
            models[spec.id] = spec
        else:
            system = system_from_file(path)
            systems[system.id] = system


@lru_cache(maxsize=8)
def load_catalog(extra_dirs: tuple[str, ...] = ()) -> Catalog:
    """Built-in data plus user directories; a user file with a built-in id replaces the built-in one."""
    systems: dict[str, SystemSpec] = {}
    models: dict[str, ModelSpec] = {}
    _scan(DATA_DIR / "systems", systems, models)
    _scan(DATA_DIR / "models", systems, models)
    for directory in extra_dirs:
        _scan(Path(directory), systems, models)
    return Catalog(systems=systems, models=models)
