"""The README's Quickstart is what CI runs: check that the commands are there and .ci/run uses them."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_command(name):
    return subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "readme_command.py"), name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_quickstart_has_two_commands():
    main, test = readme_command("main"), readme_command("test")
    assert "wafersim compare" in main
    assert "pytest" in test
    assert main.startswith("python3 -m venv") and test.startswith("python3 -m venv")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "readme_command.py test" in ci
