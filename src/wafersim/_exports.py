"""Lazy public names for the package `__init__`s: one dict per package (name -> defining module) gives both
`__all__` and the attribute, imported on first use so that `import wafersim` stays cheap (the CLI's
`wafersim estimate` does not load the serving simulator, the fleet's SciPy or the fabric's kernels)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy(package: str, names: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, resolving `names[name]` (a module path) on first access.

    A name whose module path is `package.name` is that sub-module itself.
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(target)
        value = module if target == f"{package}.{name}" else getattr(module, name)
        namespace[name] = value  # later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
