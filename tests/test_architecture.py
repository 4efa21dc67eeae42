"""Architecture rules: core modules import no CLI, plotting or web library at import time; only cli/ speaks of
CLI flags; the package's import graph has no cycles."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import wafersim

ROOT = Path(wafersim.__file__).parent
FACES = ("cli", "report", "web")  # the faces may import their libraries; the core may not
HEAVY = ("click", "rich", "matplotlib", "fastapi", "plotly", "uvicorn")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in sorted(ROOT.rglob("*.py"))}
CORE = sorted(m for m in MODULES if m.split(".")[1:2] not in ([f] for f in FACES))


def _imports(name: str) -> set[str]:
    """Every wafersim module `name` imports, at import time or inside functions (both can close a circle)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + [base]
                ).strip(".")
            # `from package import module` imports the module; `from module import name` the module itself.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


def test_core_imports_no_cli_plotting_or_web_library():
    code = (
        "import importlib, json, sys\n"
        f"heavy = {HEAVY!r}\n"
        "bad = {}\n"
        f"for name in {CORE!r}:\n"
        "    importlib.import_module(name)\n"
        "    loaded = [h for h in heavy if h in sys.modules]\n"
        "    if loaded:\n"
        "        bad[name] = loaded\n"
        "        break\n"
        "print(json.dumps(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == {}, "a core module pulls in a face library at import time (the first one found)"


FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _strings(tree: ast.AST):
    """(line, text) of every string constant that is not a docstring: messages, reasons, f-string parts."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_module_outside_cli_names_a_cli_flag():
    """Core errors and answers name fields (`slo_ttft_s`); only cli/ maps them to flags (`--slo-ttft`)."""
    offenders = []
    for name, path in MODULES.items():
        if name.startswith("wafersim.cli"):
            continue
        for line, text in _strings(ast.parse(path.read_text(encoding="utf-8"))):
            if FLAG.search(text):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert offenders == []


def test_the_flag_check_would_catch_one():
    tree = ast.parse('"""Docstrings may say --tp."""\nraise WafersimError(f"--tp {x} exceeds the count")')
    assert [text for _, text in _strings(tree) if FLAG.search(text)] == ["--tp "]


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_import_graph_has_no_cycles():
    graph = {name: _imports(name) for name in MODULES}
    # A package's __init__ re-exports its modules: modules importing their own package's names are the usual
    # Python pattern, so edges from a package to its own sub-modules are left out.
    for name in graph:
        graph[name] = {
            t for t in graph[name] if not (MODULES[name].name == "__init__.py" and t.startswith(name + "."))
        }
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", ["wafersim.perf.estimate", "wafersim.serving.simulator"])
def test_graph_sees_imports(name):
    assert _imports(name)
