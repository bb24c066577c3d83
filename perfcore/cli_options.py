"""Options and output shared by every result-producing command.

The contract other tools rely on lives here once: ``--json`` prints exactly one
JSON object on stdout (nothing else), ``--out DIR`` also writes the results as
files, ``--config FILE`` and ``--set path=value`` load the one configuration
schema.

>>> @click.command()
... @json_option
... @out_option
... def report(as_json: bool, out: Path | None) -> None:
...     emit({"ok": True}, as_json=as_json, out=out, stem="report", text="all good")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

json_option = click.option(
    "--json", "as_json", is_flag=True, help="print exactly one JSON object on stdout"
)
out_option = click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="also write the results as files into DIR",
)
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="perfcore YAML configuration [default: built-in defaults]",
)
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="override a config field by dotted path (value parsed as YAML); repeatable",
)


def emit(
    payload: dict[str, Any],
    *,
    as_json: bool,
    out: Path | None,
    stem: str,
    text: str,
    markdown: str | None = None,
) -> None:
    """Print ``payload`` as JSON or ``text``; with ``out``, write ``stem.json`` (and ``stem.md``)."""
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{stem}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
        if markdown is not None:
            (out / f"{stem}.md").write_text(markdown)
    if as_json:
        click.echo(json.dumps(payload, default=str))
    else:
        click.echo(text.rstrip("\n"))
