"""The subcommand registry: perfcore's own commands, and those other packages declare.

A command is registered by *reference* (``"module:attribute"`` plus its
one-line help), so ``perfcore --help`` lists every command without importing
Redis, SQLAlchemy, Kubernetes or SimPy.  perfcore's own commands are the static
table below; a package above perfcore (the simulation) adds its commands as
entry points in the ``perfcore.commands`` group, each naming a
:class:`CommandRef` in a module that imports nothing heavy.  So perfcore never
imports the packages that build on it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

import click

ENTRY_POINT_GROUP = "perfcore.commands"


@dataclass(frozen=True)
class CommandRef:
    """Where a click command lives, and the one line ``perfcore --help`` shows for it."""

    target: str  # "module:attribute"
    help: str

    def load(self, name: str) -> click.Command:
        """Import the command; a stand-in that says so when its module is not installed."""
        module_name, _, attribute = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return _unavailable(name, self.help)
            raise
        command = getattr(module, attribute)
        assert isinstance(command, click.Command), self.target
        return command


BUILTIN: dict[str, CommandRef] = {
    "stack": CommandRef(
        "perfcore.stack.cli:stack", "Start, stop and inspect local Redis, Redis Cluster, MariaDB."
    ),
    "config": CommandRef(
        "perfcore.config_cli:config", "Print the default configuration or check a file."
    ),
    "cache": CommandRef("perfcore.cache.cli:cache", "Inspect and invalidate the two-tier cache."),
    "worker": CommandRef("perfcore.queues.cli:worker", "Run a BullMQ worker for some queues."),
    "queues": CommandRef("perfcore.queues.cli:queues", "Inspect the BullMQ priority queues."),
    "db": CommandRef("perfcore.dbopt.cli:db", "Index advisor for MySQL and MariaDB."),
    "scale": CommandRef(
        "perfcore.scaling.cli:scale", "Autoscaler: one decision, or the control loop."
    ),
    "serve": CommandRef(
        "perfcore.service.cli:serve",
        "Run the reference event-platform API on 127.0.0.1 (the load-test target).",
    ),
}


def registered() -> dict[str, CommandRef]:
    """perfcore's commands plus every ``perfcore.commands`` entry point (which cannot shadow them)."""
    commands: dict[str, CommandRef] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        ref = entry.load()
        if not isinstance(ref, CommandRef):
            raise TypeError(f"entry point {entry.name} = {entry.value}: not a CommandRef")
        commands[entry.name] = ref
    return commands | BUILTIN


def _unavailable(name: str, help_text: str) -> click.Command:
    def run() -> None:
        raise click.UsageError(f"'{name}' is not available in this build")

    return click.Command(name, callback=run, help=help_text)
