"""``perfcore calibrate MEASURED_DIR --out calibration.yaml``: fit the model's costs from a run.

MEASURED_DIR is a ``perfcore loadtest --out`` directory of a low-load run
(the server's ``/metrics`` before and after); ``--load-run`` adds a run of the
same deployment at a higher load, for the wake-up cost of an idle core
(:mod:`simulation.calibrate_wake`). The output is a scenario overlay
that ``perfcore simulate --config`` and ``perfcore validate --calibration``
accept. What was fitted is printed with the data behind each value (counts,
spread); a run too small to fit exits 2 naming what is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from perfcore.cli_options import json_option


@click.command()
@click.argument("measured", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="the calibration overlay (YAML) to write",
)
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="scenario whose defaults fill what is not fitted",
)
@click.option(
    "--min-requests",
    type=click.IntRange(1),
    default=30,
    show_default=True,
    help="fit a class or query only from at least this many observations",
)
@click.option(
    "--capacity",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="REQ_S",
    help="the deployment's capacity measured by a ramp: the core's time per request beyond"
    " the run's CPU becomes api.handoff_ms",
)
@click.option(
    "--load-run",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    metavar="DIR",
    help="a run of the same deployment at a higher load: how much cheaper its requests are"
    " gives the wake-up cost of an idle core (api.wake_factor, db.wake_factor)",
)
@click.option(
    "--wake-gap",
    type=click.FloatRange(min=0, min_open=True, max=60),
    default=0.04,
    show_default=True,
    metavar="SECONDS",
    help="api.wake_gap_s: how long a core must sleep for waking up to cost 63 % of the factor",
)
@json_option
def calibrate(
    measured: Path,
    out: Path,
    scenario_path: Path | None,
    min_requests: int,
    capacity: float | None,
    load_run: Path | None,
    wake_gap: float,
    as_json: bool,
) -> None:
    """Fit per-class CPU, per-query DB time, L2 round trip and CPU spread from MEASURED."""
    from perfcore.errors import BadInput
    from simulation.calibrate import fit, format_fit, overlay
    from simulation.calibrate_core import shared_query_share
    from simulation.calibrate_wake import wake_fit, warm, warm_spread
    from simulation.measured import read_server
    from simulation.scenario import load_scenario

    for name, path in (("MEASURED_DIR", measured), ("--load-run", load_run)):
        if path is not None and not path.is_dir():
            raise BadInput(f"{name}: {path} is not a directory")
    scenario = load_scenario(scenario_path)
    low = read_server(measured)
    fitted, skipped = fit(low, scenario, min_requests, capacity)
    if load_run is not None:
        busy = read_server(load_run)
        share = shared_query_share(fitted, scenario)
        wake, cpu_div, db_div, not_waking = wake_fit(
            low, measured, busy, load_run, wake_gap, min_requests, share
        )
        spread = warm_spread(busy, min_requests) if wake else None
        fitted = warm(fitted, cpu_div, db_div, spread) + wake
        skipped += not_waking
    data = overlay(fitted)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = f"# perfcore calibrate {measured}: fitted from the server's /metrics\n"
    out.write_text(header + yaml.safe_dump(data, sort_keys=True), encoding="utf-8")
    load_scenario(scenario_path, config_path=out)  # the overlay must load as it will be used
    if as_json:
        rows = [
            {"path": f.path, "value": f.value, "count": f.count, "data": f.detail} for f in fitted
        ]
        click.echo(json.dumps({"calibration": str(out), "fitted": rows, "not_fitted": skipped}))
    else:
        click.echo(format_fit(fitted, skipped))
        click.echo(f"wrote {out}", err=True)
