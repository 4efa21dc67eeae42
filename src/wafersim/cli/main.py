"""The `wafersim` command.

Sub-commands are registered in COMMANDS (CLI name -> "module:attribute") and imported only when used, so that
`wafersim estimate` does not pay for the fabric simulator or plotting imports.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback

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
    "sweep": "wafersim.cli.sweep:sweep",
    "frontier": "wafersim.cli.frontier:frontier",
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
@click.option("--debug", is_flag=True, help="On an internal error, print the Python traceback.")
def cli(debug: bool) -> None:
    """wafersim: LLM inference on wafer-scale engines and GPU/TPU/LPU clusters.

    Exit status: 0 success, 2 bad input (one line naming the file, field or value), 1 internal error.
    With --json, errors are one JSON object on stderr: {"error": ..., "field": ...}.
    """


def _report_error(message: str, field: str | None, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"error": message, "field": field}, ensure_ascii=False), err=True)
    else:
        click.echo(f"error: {message}", err=True)


def _with_flag(message: str, field: str | None, args: list[str]) -> str:
    """Core errors name fields (`max_tpot_s`); on the command line, also name the option the user typed."""
    if not field:
        return message
    from wafersim.cli.flags import flag as flag_of

    name = field.split(".")[0].replace("_", "-")
    stems = {name, *(name.removesuffix(unit) for unit in ("-s", "-rps", "-per-s", "-w", "-bytes"))}
    for flag in sorted({flag_of(field.split(".")[0]), *(f"--{stem}" for stem in stems)}):
        if flag in args and flag not in message:
            return f"{message} (option {flag})"
    return message


def _usage_field(error: click.ClickException) -> str | None:
    param = getattr(error, "param", None)
    if param is None:
        return None
    return (param.opts[0] if getattr(param, "opts", None) else param.name) or None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 2 bad input, 1 internal error)."""
    args = list(sys.argv[1:] if argv is None else argv)
    # --debug and --json may stand anywhere on the line: both only change how an error is shown.
    debug = "--debug" in args or bool(os.environ.get("WAFERSIM_DEBUG"))
    args = [arg for arg in args if arg != "--debug"]
    as_json = "--json" in args
    try:
        cli.main(args=args, prog_name="wafersim", standalone_mode=False)
    except WafersimError as error:
        from wafersim.cli.flags import other_fields_as_flags

        _report_error(_with_flag(other_fields_as_flags(error), error.field, args), error.field, as_json)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as error:
        if as_json:
            _report_error(error.format_message(), _usage_field(error), True)
        else:
            error.show()
        return error.exit_code
    except BrokenPipeError:  # `wafersim ... | head`: the reader left; nothing to report
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - silence Python's own report at exit
        return 0
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as error:  # anything else is a bug: say so briefly, the traceback only on request
        if debug:
            traceback.print_exc()
        what = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        _report_error(f"internal error ({what})", None, as_json)
        if not as_json:
            click.echo(
                "this is a bug in wafersim: please report it with the command line that caused it"
                + ("" if debug else " (rerun with --debug for the traceback)"),
                err=True,
            )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
