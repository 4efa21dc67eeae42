"""docs/api.md's examples run as doctests: what they print must match what the page shows."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "api.md"


def test_api_page_examples_print_what_the_page_shows(monkeypatch, tmp_path):
    blocks = re.findall(r"```pycon\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 6
    monkeypatch.chdir(ROOT)  # the page's paths (scenarios/...) are relative to the repository
    monkeypatch.setenv("WAFERSIM_CACHE_DIR", str(tmp_path / "cache"))  # a cold, private capacity cache
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, "docs/api.md", str(DOC), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 20 and result.failed == 0
