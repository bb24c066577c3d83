"""The options that put a command's Optuna study in a shared storage (``tune``, ``sweep``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def study_options(command: str, default_study: str) -> Callable[[F], F]:
    """``--storage URL`` and ``--study NAME``, so several ``command`` processes join one study."""
    storage = click.option(
        "--storage",
        default=None,
        metavar="URL",
        help=f"Optuna storage shared by {command} processes:"
        " sqlite:///f.db, mysql+pymysql://..., journal:FILE",
    )
    study = click.option(
        "--study", "study_name", default=default_study, show_default=True, help="study name"
    )
    return lambda command_function: storage(study(command_function))
