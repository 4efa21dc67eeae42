"""Examples in the docs are executed, so they cannot go stale."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("doc", sorted(p.name for p in DOCS.glob("*.md") if python_blocks(p)))
def test_doc_examples_run(doc):
    for block in python_blocks(DOCS / doc):
        exec(compile(block, f"{doc}", "exec"), {"__name__": "__doc_example__"})


def test_package_docstring_example():
    import doctest

    import wafersim

    failures, tried = doctest.testmod(wafersim)
    assert tried > 0 and failures == 0
