"""``quantkit`` command group; turns our exceptions into one line and exit code 2.

Usage::

    quantkit --help
    quantkit --debug data inspect data/sample_ticks.parquet
"""

from __future__ import annotations

import sys
from typing import Any

import click

from quantkit import __version__
from quantkit.errors import QuantkitError, did_you_mean

USER_ERROR_EXIT = 2


class SuggestingGroup(click.Group):
    """A click group that answers a misspelt sub-command with "did you mean"."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            hint = did_you_mean(args[0], self.list_commands(ctx))
            raise click.UsageError(f"no such command '{args[0]}'{hint}", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=SuggestingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quantkit")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """quantkit: backtest numba strategy kernels on Parquet ticks, then run them live."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.group(cls=SuggestingGroup)
def data() -> None:
    """Inspect, generate and enrich tick data files."""


def _register() -> None:
    from quantkit.cli.backtest_cmd import backtest
    from quantkit.cli.data_cmds import inspect, synth
    from quantkit.cli.greeks_cmd import greeks

    data.add_command(inspect)
    data.add_command(synth)
    data.add_command(greeks)
    cli.add_command(backtest)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; user errors print ``error: ...`` on stderr, exit 2 (traceback: --debug)."""
    _register()
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        return cli.main(args=args, prog_name="quantkit", standalone_mode=False, obj={"argv": args})
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        click.echo(f"error: {_one_line(exc.format_message())}", err=True)
        sys.exit(USER_ERROR_EXIT)
    except click.ClickException as exc:
        click.echo(f"error: {_one_line(exc.format_message())}", err=True)
        sys.exit(USER_ERROR_EXIT)
    except QuantkitError as exc:
        if debug:
            raise
        click.echo(f"error: {_one_line(str(exc))}", err=True)
        sys.exit(USER_ERROR_EXIT)


if __name__ == "__main__":  # python -m quantkit.cli.main
    main()
