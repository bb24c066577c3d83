"""``perfcore calibrate MEASURED_DIR --out calibration.yaml``: fit the model's costs from a run.

MEASURED_DIR is a ``perfcore loadtest --out`` directory of a low-load run
(the server's ``/metrics`` before and after). The output is a scenario overlay
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
@json_option
def calibrate(
    measured: Path,
    out: Path,
    scenario_path: Path | None,
    min_requests: int,
    capacity: float | None,
    as_json: bool,
) -> None:
    """Fit per-class CPU, per-query DB time, L2 round trip and CPU spread from MEASURED."""
    from perfcore.errors import BadInput
    from simulation.calibrate import fit, format_fit, overlay
    from simulation.measured import read_server
    from simulation.scenario import load_scenario

    if not measured.is_dir():
        raise BadInput(f"MEASURED_DIR: {measured} is not a directory")
    scenario = load_scenario(scenario_path)
    fitted, skipped = fit(read_server(measured), scenario, min_requests, capacity)
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
