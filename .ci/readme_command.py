"""Print one of the README Quickstart commands, found by its marker comment.

The README marks each command's code block with `<!-- quickstart:NAME -->`; CI and the tests read the command
from there so the README is the single source of truth.
"""

import re
import sys
from pathlib import Path


def readme_command(name: str, readme: Path = Path(__file__).resolve().parent.parent / "README.md") -> str:
    text = readme.read_text(encoding="utf-8")
    match = re.search(rf"<!-- quickstart:{re.escape(name)} -->\s*```(?:bash|sh)?\n(.+?)\n```", text, re.S)
    if match is None:
        raise SystemExit(f"README.md has no code block marked <!-- quickstart:{name} -->")
    return match.group(1).strip()


if __name__ == "__main__":
    print(readme_command(sys.argv[1]))
