"""``perfcore db``: the index advisor, and a reference database to try it on.

perfcore stack up --json                       # note the mariadb DSN
perfcore db seed --dsn DSN --rows 200000       # event-platform schema + data
perfcore db workload --dsn DSN                 # typical slow queries -> slow log
perfcore db advise --dsn DSN --out plan/       # dry run: verified DDL in plan/plan.json
perfcore db apply plan/plan.json --dsn DSN     # build exactly that plan
perfcore db advise --dsn DSN --apply --measure-latency --json  # build, time, revert regressions
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import click

from perfcore.cli_options import config_option, emit, json_option, out_option, set_option
from perfcore.config import DbOptConfig, load_config
from perfcore.errors import BadInput
from perfcore.urls import check_service_url

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNIT_HOURS = {"s": 1 / 3600, "m": 1 / 60, "h": 1.0, "d": 24.0, "": 1.0}

dsn_option = click.option(
    "--dsn",
    required=True,
    envvar="PERFCORE_DB_DSN",
    help="mysql+pymysql://user:pass@host:3306/database",
)


def parse_since(text: str) -> float:
    """``24h``, ``90m``, ``2d``, ``3600s`` or plain hours → hours.

    Not Locust's ``parse_timespan``: Locust is an optional extra the db commands
    do not need, and importing it monkey-patches the process with gevent.
    """
    match = _DURATION.match(text.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise BadInput(f"--since: expected a duration like 24h, 90m or 2d, got {text!r}")
    return float(match.group(1)) * _UNIT_HOURS[match.group(2)]


def _check_dsn(dsn: str) -> str:
    if not dsn.startswith(("mysql+pymysql://", "mariadb+pymysql://")):
        raise BadInput("--dsn: expected mysql+pymysql://user@host:port/database")
    check_service_url(dsn, "--dsn")  # a malformed DSN is bad input, not an unreachable server
    return dsn


@click.group()
def db() -> None:
    """Index advisor for MySQL 8 and MariaDB 10.6+."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")


@db.command()
@dsn_option
@click.option(
    "--since", default=None, help="look back this far in the slow log (default from config: 24h)"
)
@click.option("--top", type=int, default=None, help="apply at most this many indexes (default 10)")
@click.option(
    "--min-savings",
    type=float,
    default=None,
    help="minimum planner cost reduction in percent (default 50)",
)
@click.option(
    "--apply", "do_apply", is_flag=True, help="build the verified indexes (default: dry run)"
)
@click.option(
    "--measure-latency",
    is_flag=True,
    help="time each query shape before and with the chosen indexes by running it as a "
    "read-only, time-limited SELECT (ANALYZE FORMAT=JSON / EXPLAIN ANALYZE), and drop "
    "indexes that make a statement slower",
)
@click.option("--slow-log-file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="also read a slow-log file")  # fmt: skip
@click.option("--no-table-log", is_flag=True, help="do not read mysql.slow_log")
@config_option
@set_option
@json_option
@out_option
def advise(
    dsn: str,
    since: str | None,
    top: int | None,
    min_savings: float | None,
    do_apply: bool,
    measure_latency: bool,
    slow_log_file: Path | None,
    no_table_log: bool,
    config_path: Path | None,
    overrides: tuple[str, ...],
    as_json: bool,
    out: Path | None,
) -> None:
    """Read slow queries, propose composite indexes, verify them on the planner, apply with --apply."""
    from perfcore.dbopt.advisor import AdviseOptions
    from perfcore.dbopt.advisor import advise as run_advisor

    config = load_config(config_path, list(overrides)).dbopt
    changes: dict[str, Any] = {}
    if since is not None:
        changes["since_hours"] = parse_since(since)
    if top is not None:
        changes["top"] = top
    if min_savings is not None:
        changes["min_savings_pct"] = min_savings
    if changes:
        from perfcore.config import validate_model

        config = validate_model(DbOptConfig, {**config.model_dump(), **changes})
    options = AdviseOptions(
        dsn=_check_dsn(dsn),
        apply=do_apply,
        measure_latency=measure_latency,
        slow_log_file=slow_log_file,
        use_slow_log=not no_table_log,
    )
    report = run_advisor(options, config)
    if out is not None:
        from perfcore.dbopt import plan

        plan.write(plan.from_report(report), out)
    emit(
        report.to_json(),
        as_json=as_json,
        out=out,
        stem="dbopt-report",
        text=report.to_markdown(),
        markdown=report.to_markdown(),
    )


@db.command(name="apply")
@click.argument("plan_file", metavar="PLAN", type=click.Path(path_type=Path, dir_okay=False))
@dsn_option
@config_option
@json_option
@out_option
def apply_plan(
    plan_file: Path, dsn: str, config_path: Path | None, as_json: bool, out: Path | None
) -> None:
    """Build exactly the indexes of PLAN (a plan.json from 'advise --out'); refuse a changed schema."""
    from perfcore.dbopt.advisor import apply_plan as run_apply
    from perfcore.dbopt.plan import load

    config = load_config(config_path, []).dbopt
    built = run_apply(_check_dsn(dsn), load(plan_file), config)
    payload = {"indexesCreated": len(built), "indexes": built}
    text = "\n".join(f"created {name}" for name in built) or "the plan lists no index"
    emit(payload, as_json=as_json, out=out, stem="dbopt-apply", text=text, markdown=text)


@db.command()
@dsn_option
@click.option("--rows", type=click.IntRange(min=1000), default=200_000, show_default=True,
              help="rows in the largest tables")  # fmt: skip
@click.option("--seed", "rng_seed", type=int, default=7, show_default=True)
@json_option
@out_option
def seed(dsn: str, rows: int, rng_seed: int, as_json: bool, out: Path | None) -> None:
    """(Re)create the event-platform reference schema in DSN's database and fill it."""
    import time

    from perfcore.dbopt.datagen import seed as run_seed
    from perfcore.dbopt.refschema import Scale

    started = time.perf_counter()
    counts = run_seed(
        _check_dsn(dsn), Scale(rows), seed=rng_seed, progress=lambda m: click.echo(m, err=True)
    )
    payload = {"tables": counts, "seconds": round(time.perf_counter() - started, 3)}
    text = (
        "\n".join(f"{t}: {n} rows" for t, n in counts.items())
        + f"\nloaded in {payload['seconds']} s\n"
    )
    emit(payload, as_json=as_json, out=out, stem="dbopt-seed", text=text, markdown=text)


@db.command()
@dsn_option
@click.option("--rows", type=click.IntRange(min=1000), default=200_000, show_default=True,
              help="the --rows the database was seeded with")  # fmt: skip
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True)
@json_option
@out_option
def workload(dsn: str, rows: int, repeats: int, as_json: bool, out: Path | None) -> None:
    """Run the platform's typical slow queries (logged to the slow log) and time them."""
    from perfcore.dbopt.refschema import Scale
    from perfcore.dbopt.workload import run

    result = run(_check_dsn(dsn), Scale(rows), repeats)
    payload = {"total_s": round(result.total_s, 4), "statements": result.statements,
               "per_shape_s": {k: round(v, 4) for k, v in result.per_shape_s.items()}}  # fmt: skip
    lines = [f"{name}: {seconds * 1000:.1f} ms" for name, seconds in result.per_shape_s.items()]
    text = (
        "\n".join([*lines, f"total: {result.total_s:.3f} s for {result.statements} statements"])
        + "\n"
    )
    emit(payload, as_json=as_json, out=out, stem="dbopt-workload", text=text, markdown=text)
