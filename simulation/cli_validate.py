"""``perfcore validate``: replay a measured run in the model; predicted vs measured; exit 1 past tolerance.

``--measured DIR`` is a ``perfcore loadtest --out`` directory: its request
log (``requests.csv``: every request's send time, method and path, written
by the scenario users) or else Locust's per-second, per-endpoint counts are
the arrival stream (trace replay), and its server ``/metrics`` and Locust
statistics the measurement. ``--measured
FILE.csv`` is an access log (``timestamp,method,path``): replayed and
predicted only. A run with a warm-up mark (``loadtest --warmup``) is
compared from that mark on (the model still runs the whole trace, so the
state at the mark is the model's own); ``--whole-run`` compares all of it.
``--out DIR`` writes ``validation.json``, ``validation.csv``
and ``latency_over_time.png``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import click

from perfcore.cli_options import json_option, out_option, set_option


@click.command()
@click.option("--scenario", "scenario_path", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--calibration",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="a perfcore calibrate overlay",
)
@click.option(
    "--measured",
    type=click.Path(path_type=Path),
    required=True,
    help="loadtest --out directory, or an access-log CSV",
)
@set_option
@click.option(
    "--replicas",
    type=click.IntRange(1),
    default=None,
    help="server processes of the measured deployment (default: service.workers)",
)
@click.option("--tolerance-p95", type=click.FloatRange(0), default=0.15, show_default=True)
@click.option("--tolerance-rps", type=click.FloatRange(0), default=0.05, show_default=True)
@click.option("--tolerance-hit", type=click.FloatRange(0), default=0.03, show_default=True)
@click.option(
    "--min-requests",
    type=click.IntRange(0),
    default=500,
    show_default=True,
    help="judge only endpoints with at least this many measured requests",
)
@click.option(
    "--whole-run",
    is_flag=True,
    help="compare the whole run even when it has a warm-up mark (loadtest --warmup)",
)
@json_option
@out_option
def validate(
    scenario_path: Path | None,
    calibration: Path | None,
    measured: Path,
    overrides: tuple[str, ...],
    replicas: int | None,
    tolerance_p95: float,
    tolerance_rps: float,
    tolerance_hit: float,
    min_requests: int,
    whole_run: bool,
    as_json: bool,
    out: Path | None,
) -> None:
    """Predicted vs measured requests/s, p50/p95/p99, failures and hit ratios per endpoint."""
    from perfcore.errors import BadInput, CheckFailed
    from perfcore.service.locust_report import summarize_json
    from simulation import measured as m
    from simulation.replay import pool_sizes, replay, trace_from_access_log, trace_from_locust
    from simulation.scenario import load_scenario
    from simulation.validate import Tolerances, compare, format_table

    scenario = load_scenario(scenario_path, list(overrides), config_path=calibration)
    tol = Tolerances(tolerance_p95, tolerance_rps, tolerance_hit, min_requests)
    plan: dict[str, Any] | None = None
    delta = locust = None
    since = 0.0
    if measured.is_file():
        trace = trace_from_access_log(measured)
    elif measured.is_dir():
        plan_path = measured / "plan.json"
        plan = json.loads(plan_path.read_text("utf-8")) if plan_path.is_file() else None
        # The request log (when Locust wrote one) is the exact trace: send times and ids.
        log = measured / "requests.csv"
        if log.is_file() and not (plan or {}).get("paths"):
            trace = trace_from_access_log(log)
        else:
            trace = trace_from_locust(m.read_locust(measured), (plan or {}).get("paths"))
        mark = None if whole_run else m.warm_mark(measured)
        if mark is not None and trace.origin:
            since = min(max(mark - trace.origin, 0.0), trace.duration_s - 1.0)
        delta = m.read_server(measured, since_warm=bool(since))
        locust = summarize_json(measured / m.FINAL)
    else:
        raise BadInput(f"--measured: {measured} does not exist")
    rep = replay(scenario, trace, pool_sizes(plan), replicas or scenario.service.workers)
    result = compare(rep, delta, locust, trace.duration_s, tol, since)
    result["measured"] = str(measured)
    if out is not None:
        result["files"] = _write(out, result, rep, measured if measured.is_dir() else None)
    click.echo(json.dumps(result) if as_json else format_table(result))
    if not result["ok"]:
        raise CheckFailed("predicted vs measured is past tolerance (see the rows marked NO)")


def _write(out: Path, result: dict[str, Any], rep: Any, measured: Path | None) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "validation.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    with (out / "validation.csv").open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(
            [
                "endpoint",
                "side",
                "requests",
                "requests_per_s",
                "failure_ratio",
                "p50_ms",
                "p95_ms",
                "p99_ms",
                "hit_ratio",
                "p95_error",
                "rps_error",
                "hit_ratio_diff",
                "ok",
            ]
        )
        for name, row in [*result["endpoints"].items(), ("overall", result["overall"])]:
            for side in ("measured", "predicted"):
                v = row[side]
                lat = v["latency_ms"]
                errs = [row["p95_error"], row["rps_error"], row["hit_ratio_diff"], row["ok"]]
                w.writerow(
                    [
                        name,
                        side,
                        v["requests"],
                        v["requests_per_s"],
                        v["failure_ratio"],
                        lat["p50"],
                        lat["p95"],
                        lat["p99"],
                        v["hit_ratio"],
                        *(errs if side == "predicted" else ["", "", "", ""]),
                    ]
                )
    from simulation.validate_plot import plot_over_time

    png = plot_over_time(rep, measured, out / "latency_over_time.png")
    return [str(out / "validation.json"), str(out / "validation.csv"), str(png)]
