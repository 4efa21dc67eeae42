"""Every example in the README's "What it does" block parses as pasted: each option exists on its command and
each file it reads is there; the cheap ones (catalog, a GPU estimate) are run."""

import shlex
from pathlib import Path

import click
import pytest

from wafersim.cli.main import cli, main

ROOT = Path(__file__).resolve().parent.parent
CHEAP = ("catalog systems", "catalog models", "estimate --model llama-3.1-70b --system h200-sxm")


def readme_examples() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- readme:examples -->", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    return [shlex.split(line) for line in lines if line]


EXAMPLES = readme_examples()


def _command(words: list[str]) -> tuple[click.Command, list[str]]:
    """The click command an example reaches and the arguments left for it."""
    command: click.Command = cli
    rest = words[1:]
    ctx = click.Context(cli)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        command = command.get_command(ctx, rest[0])
        assert command is not None, f"no command {rest[0]!r}"
        rest = rest[1:]
    return command, rest


def test_the_block_is_there():
    assert len(EXAMPLES) >= 10 and all(words[0] == "wafersim" for words in EXAMPLES)


@pytest.mark.parametrize("words", EXAMPLES, ids=[" ".join(w[1:3]) for w in EXAMPLES])
def test_example_parses(words):
    command, rest = _command(words)
    # Parsing with click itself: unknown options, missing values and bad choices fail here.
    ctx = command.make_context(words[1], list(rest), resilient_parsing=False)
    for value in ctx.params.values():  # files an example reads exist relative to the repository root
        if isinstance(value, str) and value.endswith(".yaml"):
            assert (ROOT / value).is_file(), value


@pytest.mark.parametrize("words", [w for w in EXAMPLES if " ".join(w[1:]).startswith(CHEAP)])
def test_cheap_example_runs(capsys, words):
    assert main(words[1:]) == 0, capsys.readouterr().err
