"""``perfcore config``: print the defaults, check a file."""

from __future__ import annotations

from pathlib import Path

import click

from perfcore.cli_options import set_option
from perfcore.config import PerfcoreConfig, dump_yaml, load_config


@click.group()
def config() -> None:
    """The configuration schema: every tunable, one YAML file."""


@config.command()
def defaults() -> None:
    """Print the default configuration as YAML (a starting point for your own)."""
    click.echo(dump_yaml(PerfcoreConfig()), nl=False)


@config.command()
@click.argument("file", type=click.Path(path_type=Path))
@set_option
def check(file: Path, overrides: tuple[str, ...]) -> None:
    """Validate FILE: exit 0 when valid, 2 with one line naming the field otherwise."""
    load_config(file, list(overrides))
    click.echo(f"{file}: ok")
