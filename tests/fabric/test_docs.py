"""docs/fabric.md's worked example (a user-written 2-D stencil) is executed here, so it cannot rot."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "fabric.md"


def test_worked_stencil_example_runs_and_checks_itself(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1, "the doc should hold exactly one runnable python block"
    namespace: dict = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)  # the block asserts against NumPy itself
    out = capsys.readouterr().out
    assert "cycle:" in out and "fast:" in out
    cycle_cycles = namespace["results"]["cycle"][0]
    fast_cycles = namespace["results"]["fast"][0]
    assert abs(cycle_cycles - fast_cycles) <= 0.05 * cycle_cycles
