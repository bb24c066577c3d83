"""``perfcore tune``: choose configuration values with the simulation, write ``recommended.yaml``.

Progress (one tick per trial) goes to stderr when it is a terminal; ``--json``
prints exactly one JSON object on stdout; bad input exits 2 with one line
naming the field.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from perfcore.cli_options import json_option, out_option, set_option
from simulation.scenario import load_scenario
from simulation.tune import DEFAULT_PARAMS, DEFAULT_VIOLATION_WEIGHT, Param, Trial


@click.command()
@click.argument("scenario", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--trials", type=int, default=30, show_default=True, help="simulations to run")
@click.option(
    "--param",
    "param_specs",
    multiple=True,
    metavar="PATH=LOW:HIGH[:log|:int]",
    help="a config field to search (repeatable; replaces the default space)",
)
@click.option(
    "--violation-weight",
    type=float,
    default=DEFAULT_VIOLATION_WEIGHT,
    show_default=True,
    help="pod-hours one SLO-violation minute costs in the objective",
)
@click.option("--seed", type=int, default=0, show_default=True, help="sampler seed")
@set_option
@out_option
@json_option
def tune(
    scenario: Path | None,
    trials: int,
    param_specs: tuple[str, ...],
    violation_weight: float,
    seed: int,
    overrides: tuple[str, ...],
    out: Path | None,
    as_json: bool,
) -> None:
    """Search config values on SCENARIO (YAML; default: the built-in day) and recommend the best.

    Each trial simulates the scenario with proposed values and scores
    pod-hours + WEIGHT x SLO-violation minutes (lower is better); --set
    overrides scenario fields before tuning, --out DIR writes recommended.yaml,
    trials.csv and tuning.png. The default
    space is cache.default_ttl_s=30:1800:log, scaling.target_cpu=0.4:0.85,
    scaling.target_requests_per_replica=10:50, scaling.min_replicas=1:6:int.

    \b
    Example:
      perfcore tune simulation/scenarios/flash_crowd.yaml --trials 20 --out reports/tune
      perfcore config check reports/tune/recommended.yaml
      perfcore simulate simulation/scenarios/flash_crowd.yaml --config reports/tune/recommended.yaml
    """
    from simulation.tune import tune as run_tune

    params = [Param.parse(s) for s in param_specs] or list(DEFAULT_PARAMS)
    base = load_scenario(scenario, list(overrides))
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm  # type: ignore[import-untyped]

        bar = tqdm(total=trials, unit="trial", file=sys.stderr, leave=False)

    def on_trial(row: Trial) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix(objective=f"{row.objective:.2f}")

    result = run_tune(
        base,
        params,
        trials=trials,
        violation_weight=violation_weight,
        seed=seed,
        on_trial=on_trial,
    )
    if bar is not None:
        bar.close()
    summary = result.to_json()
    summary["recommended"] = result.recommended.model_dump(mode="json")
    if out is not None:
        from simulation.tune_report import write_outputs

        source = str(scenario) if scenario is not None else "the default scenario"
        summary["outputs"] = [str(p) for p in write_outputs(result, out, source)]
    if as_json:
        click.echo(json.dumps(summary))
        return
    from simulation.tune_report import format_table

    best = result.best
    click.echo(format_table(result))
    origin = "the starting configuration" if best.number < 0 else f"trial {best.number}"
    click.echo(
        f"\nbest: {origin}, objective {best.objective:.3f} (start {result.start.objective:.3f})"
    )
    for path, value in best.values.items():
        click.echo(f"  {path} = {value}")
    if result.insensitive:
        click.echo(f"changes nothing here: {', '.join(result.insensitive)}")
    click.echo(f"wall time {result.wall_seconds:.1f} s")
    if "outputs" in summary:
        click.echo("written: " + ", ".join(summary["outputs"]))
