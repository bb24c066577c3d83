"""The ``perfcore`` command.

Each layer owns its subcommand group in its own ``cli`` module, registered in
:mod:`perfcore.commands` (entry points for packages built on perfcore); this
file loads them lazily (so ``perfcore --help`` does not import Redis,
SQLAlchemy and Kubernetes) and maps errors to the exit-code contract:
0 success, 1 a check or gate failed, 2 bad input (one line, no traceback).
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from typing import Any

import click

from perfcore.commands import CommandRef, registered
from perfcore.errors import classify

DEBUG_ENV = "PERFCORE_DEBUG"
_debug = [False]  # set by --debug (the group callback runs before any subcommand)


@functools.cache
def _commands() -> dict[str, CommandRef]:
    return registered()


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_commands())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        ref = _commands().get(cmd_name)
        return None if ref is None else ref.load(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the registered one-liners so --help stays fast.
        commands = _commands()
        rows = [(name, commands[name].help) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    _debug[0] = _debug[0] or value
    return value


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="perfcore")
@click.option(
    "--debug",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_set_debug,
    help=f"show the traceback of an error (also {DEBUG_ENV}=1)",
)
def cli() -> None:
    """perfcore: simulate, load-test and run the performance layer of an event platform.

    \b
    Typical session:
      perfcore simulate                      # default scenario, no servers needed
      perfcore simulate --set scaling.policy=seed --json
      perfcore stack up --json               # local Redis, Redis Cluster, MariaDB
      perfcore db advise --dsn mysql+pymysql://root@127.0.0.1:3306/platform
      perfcore stack down

    Every result-producing command takes --json and --out DIR.
    Exit codes: 0 ok, 1 a check or gate failed or a service is unreachable,
    2 bad input (one line naming the field or file; --debug shows the traceback).
    """


def _debugging() -> bool:
    return _debug[0] or os.environ.get(DEBUG_ENV, "").lower() in {"1", "true", "yes"}


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI; every error becomes one line on stderr and an exit code.

    This is the one error boundary: commands raise, and nothing below prints a
    traceback unless ``--debug`` (or ``PERFCORE_DEBUG=1``) asks for it.
    """
    try:
        return cli.main(args=argv, prog_name="perfcore", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        # One line, naming the option and the problem, like every other bad input.
        command = exc.ctx.command_path if exc.ctx else "perfcore"
        click.echo(f"error: {exc.format_message()} (see '{command} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # stdout closed early (``perfcore ... | head``): not an error of ours.
        sys.stderr.close()
        sys.exit(1)
    except Exception as exc:
        code, line = classify(exc)
        if _debugging():
            traceback.print_exception(exc)
        click.echo(line, err=True)
        sys.exit(code)
