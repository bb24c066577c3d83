"""Options and output shared by every result-producing command.

The contract other tools rely on lives here once: ``--json`` prints exactly one
JSON object on stdout (nothing else), ``--out DIR`` also writes the results as
files, ``--config FILE`` and ``--set path=value`` load the one configuration
schema, and the service URLs (``--redis``, ``--database-url``) override the
configuration's.  A value given on the command line, or spelled out in
``--config``/``--set``, always beats one discovered from a running stack
(:func:`is_given`).

>>> @click.command()
... @json_option
... @out_option
... def report(as_json: bool, out: Path | None) -> None:
...     emit({"ok": True}, as_json=as_json, out=out, stem="report", text="all good")
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import click

from perfcore.config import ConfigError, apply_overrides, read_yaml_file, value_at

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option(
    "--json", "as_json", is_flag=True, help="print exactly one JSON object on stdout"
)


def _writable_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Refuse an ``--out`` that cannot become a directory *before* the work, not after it."""
    if value is None:
        return None
    for ancestor in (value, *value.absolute().parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise click.BadParameter(f"{ancestor} is not a directory")
            return value
    return value


out_option = click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    callback=_writable_dir,
    help="also write the results as files into DIR",
)


def count_option(name: str, default: int, what: str, high: int = 100) -> Callable[[F], F]:
    """``NAME N``: a count from 1 to ``high`` (seeds, leaders, processes)."""
    return click.option(
        name, type=click.IntRange(1, high), default=default, show_default=True, help=what
    )


def jobs_option(what: str) -> Callable[[F], F]:
    """``--jobs N``: local worker processes (1..256) for long simulation work."""
    return count_option("--jobs", 1, what, high=256)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="perfcore YAML configuration (see 'perfcore config defaults') [default: built-in]",
)
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="override a field by dotted path, e.g. cache.default_ttl_s=60 (YAML value); repeatable",
)


def redis_option(tier: Literal["cache", "queues"], default: str) -> Callable[[F], F]:
    """``--redis URL`` (parameter ``redis_url``): the cache's or the queues' Redis."""
    kinds = {
        "cache": "cache Redis: redis://, rediss://, unix:// or redis+cluster://h:p,h:p",
        "queues": "queue (BullMQ) Redis URL",
    }
    return click.option(
        "--redis",
        "redis_url",
        default=None,
        metavar="URL",
        help=f"{kinds[tier]} [default: {default}]",
    )


cache_redis_option = redis_option("cache", "cache.redis_url")


def database_url_option(default: str) -> Callable[[F], F]:
    """``--database-url URL`` (alias ``--db``; parameter ``database_url``): the reference database."""
    return click.option(
        "--database-url",
        "--db",
        "database_url",
        default=None,
        metavar="URL",
        help=f"SQLAlchemy URL of the reference database [default: {default}]",
    )


def is_given(config_path: Path | None, overrides: tuple[str, ...] | list[str], path: str) -> bool:
    """Whether ``--config`` or ``--set`` spells out the field at dotted ``path``.

    Such a value is an explicit choice: it beats anything discovered (a running
    stack's URL); a default does not.

    >>> is_given(None, ["queues.redis_url=redis://127.0.0.1:6390/0"], "queues.redis_url")
    True
    >>> is_given(None, ["queues.prefix=bull"], "queues.redis_url")
    False
    """
    data = read_yaml_file(config_path) if config_path is not None else None
    try:
        value_at(apply_overrides(data if isinstance(data, dict) else {}, list(overrides)), path)
    except ConfigError:
        return False
    return True


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (``null`` in JSON).

    JSON has no NaN: ``json.dumps`` would print a token no strict parser reads.

    >>> finite({"p95": float("nan"), "xs": [1.0, float("inf")]})
    {'p95': None, 'xs': [1.0, None]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def json_text(payload: Any, *, indent: int | None = None) -> str:
    """Strict JSON for ``--json`` and ``--out``: never a NaN token; unknown types as strings."""
    return json.dumps(finite(payload), indent=indent, default=str, allow_nan=False)


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
        (out / f"{stem}.json").write_text(json_text(payload, indent=2) + "\n")
        if markdown is not None:
            (out / f"{stem}.md").write_text(markdown)
    if as_json:
        click.echo(json_text(payload))
    else:
        click.echo(text.rstrip("\n"))
