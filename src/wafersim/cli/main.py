"""The `wafersim` command.

Sub-commands are registered in COMMANDS (CLI name -> "module:attribute") and imported only when used, so that
`wafersim estimate` does not pay for the fabric simulator or plotting imports.
"""

from __future__ import annotations

import importlib
import sys

import click

from wafersim.errors import WafersimError

# The one place a command is registered.
COMMANDS: dict[str, str] = {
    "catalog": "wafersim.cli.catalog:catalog",
    "estimate": "wafersim.cli.estimate:estimate",
    "compare": "wafersim.cli.compare:compare",
    "validate": "wafersim.cli.validate:validate",
    "calibrate": "wafersim.cli.validate:calibrate",
    "fabric": "wafersim.cli.fabric:fabric",
    "serve": "wafersim.cli.serve:serve",
    "capacity": "wafersim.cli.serve:capacity",
    "wafer": "wafersim.cli.wafer:wafer",
    "plan": "wafersim.cli.plan:plan",
    "web": "wafersim.cli.web:web",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup)
@click.version_option(package_name="wafersim")
def cli() -> None:
    """wafersim: LLM inference on wafer-scale engines and GPU/TPU/LPU clusters."""


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="wafersim", standalone_mode=False)
    except WafersimError as error:
        from wafersim.cli.flags import cli_message

        click.echo(f"error: {cli_message(error)}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as error:
        error.show()
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
