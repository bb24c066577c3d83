"""The ``perfcore`` command.

Each layer owns its subcommand group in its own ``cli`` module; this file only
registers them lazily (so ``perfcore --help`` does not import Redis, SQLAlchemy
and Kubernetes) and maps errors to the exit-code contract:
0 success, 1 a check or gate failed, 2 bad input (one line, no traceback).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from perfcore.config import ConfigError
from perfcore.errors import CheckFailed, ServiceUnavailable

# name -> "module:attribute" of a click command or group, with its one-line help.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "stack": (
        "perfcore.stack.cli:stack",
        "Start, stop and inspect local Redis, Redis Cluster, MariaDB.",
    ),
    "config": ("perfcore.config_cli:config", "Print the default configuration or check a file."),
    "cache": ("perfcore.cache.cli:cache", "Inspect and invalidate the two-tier cache."),
    "simulate": (
        "simulation.cli:simulate",
        "Run the SimPy model of the platform (no servers needed).",
    ),
    "tune": ("simulation.cli_tune:tune", "Choose config values with the simulation (Optuna)."),
    "plan": (
        "simulation.cli_plan:plan",
        "Capacity plan: fewest replicas and workers for a day's size and SLO.",
    ),
    "worker": ("perfcore.queues.cli:worker", "Run a BullMQ worker for some queues."),
    "queues": ("perfcore.queues.cli:queues", "Inspect the BullMQ priority queues."),
    "db": ("perfcore.dbopt.cli:db", "Index advisor for MySQL and MariaDB."),
    "scale": ("perfcore.scaling.cli:scale", "Autoscaler: one decision, or the control loop."),
    "serve": (
        "perfcore.service.cli:serve",
        "Run the reference event-platform API on 127.0.0.1 (the load-test target).",
    ),
    "loadtest": (
        "perfcore.service.loadtest_cli:loadtest",
        "Load-test the reference API with Locust (loopback only, bounded).",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, _, attribute = entry[0].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return _unavailable(cmd_name, entry[1])
            raise
        command = getattr(module, attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the registered one-liners so --help stays fast.
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _unavailable(name: str, help_text: str) -> click.Command:
    def run() -> None:
        raise click.UsageError(f"'{name}' is not available in this build")

    return click.Command(name, callback=run, help=help_text)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="perfcore")
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
    Exit codes: 0 ok, 1 a check or gate failed, 2 bad input.
    """


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI and map perfcore errors onto exit codes."""
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
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except CheckFailed as exc:
        click.echo(f"check failed: {exc}", err=True)
        sys.exit(1)
    except ServiceUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
