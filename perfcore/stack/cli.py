"""``perfcore stack``: start, stop and inspect the local services."""

from __future__ import annotations

import json
from pathlib import Path

import click

from perfcore.cli_options import json_option
from perfcore.redact import redact, redact_data
from perfcore.stack.state import SERVICES, Stack

run_dir_option = click.option(
    "--run-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="where pids, data and logs live [default: $PERFCORE_RUN_DIR or ./.perfcore/stack]",
)


@click.group()
def stack() -> None:
    """Local Redis (cache, allkeys-lru), Redis (queues, noeviction), a 3-primary
    Redis Cluster and MariaDB with the slow log in mysql.slow_log, on free
    loopback ports.

    \b
      perfcore stack up --json     # start all, print their URLs
      perfcore stack status
      perfcore stack down          # stop exactly what 'up' started
    """


@stack.command()
@click.option(
    "--only",
    default=",".join(SERVICES),
    show_default=True,
    help="comma-separated services to start",
)
@json_option
@run_dir_option
def up(only: str, as_json: bool, run_dir: Path | None) -> None:
    """Start the services (those already running are kept) and print their URLs."""
    names = [name.strip() for name in only.split(",") if name.strip()]
    bad = [name for name in names if name not in SERVICES]
    if bad:
        raise click.BadParameter(
            f"unknown service {bad[0]!r}; choose from {', '.join(SERVICES)}", param_hint="--only"
        )
    stack_ = Stack(run_dir)
    # the one output that prints connection strings: the user's services need them
    urls = {name: redact(url) for name, url in stack_.up(names).items()}
    if as_json:
        click.echo(json.dumps({"run_dir": str(stack_.run_dir), "services": urls}))
    else:
        for name, url in urls.items():
            click.echo(f"{name:14} {url}")
        click.echo(f"(state in {stack_.state_file}; stop with 'perfcore stack down')", err=True)


@stack.command()
@run_dir_option
def down(run_dir: Path | None) -> None:
    """Stop every service that 'up' started in this run directory."""
    stopped = Stack(run_dir).down(warn=lambda message: click.echo(f"warning: {message}", err=True))
    click.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}", err=True)


@stack.command()
@json_option
@run_dir_option
def status(as_json: bool, run_dir: Path | None) -> None:
    """Show which services run, with their URLs and pids."""
    state = redact_data(Stack(run_dir).status())
    if as_json:
        click.echo(json.dumps({"services": state}))
        return
    if not state:
        click.echo("no services (start them with 'perfcore stack up')")
    for name, info in state.items():
        flag = "running" if info["running"] else "DEAD"
        click.echo(f"{name:14} {flag:8} {info['url']}  pids={info['pids']}")
