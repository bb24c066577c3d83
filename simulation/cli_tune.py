"""``perfcore tune``: choose configuration values with the simulation, write ``recommended.yaml``.

Progress (trials finished in the study) goes to stderr; ``--json`` prints
exactly one JSON object on stdout; bad input exits 2 with one line naming the
field; an unreachable ``--storage`` exits 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from perfcore.cli_options import (
    count_option,
    jobs_option,
    json_option,
    json_text,
    out_option,
    set_option,
)
from simulation.cli_study import study_options
from simulation.scenario import load_scenario
from simulation.tune_space import DEFAULT_PARAMS, Param


@click.command()
@click.argument("scenario", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--trials",
    type=click.IntRange(1, 10_000),
    default=30,
    show_default=True,
    help="configurations screened",
)
@click.option(
    "--param",
    "param_specs",
    multiple=True,
    metavar="PATH=LOW:HIGH[:log|:int]",
    help="a config field to search, any field --set reaches (repeatable; replaces the default)",
)
@count_option("--seeds", 3, "seeds per trial (the same for all)")
@count_option("--confirm-seeds", 3, "fresh seeds for the confirmation")
@count_option("--leaders", 3, "screened trials promoted to the full day")
@click.option(
    "--screen/--no-screen",
    default=True,
    show_default=True,
    help="screen trials on the busiest hour (else every trial runs the full horizon)",
)
@jobs_option("local processes running trials")
@study_options("tune", "perfcore-tune")
@click.option("--seed", type=int, default=0, show_default=True, help="sampler seed")
@set_option
@out_option
@json_option
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
def tune(
    scenario: Path | None,
    trials: int,
    param_specs: tuple[str, ...],
    seeds: int,
    confirm_seeds: int,
    leaders: int,
    screen: bool,
    jobs: int,
    storage: str | None,
    study_name: str,
    seed: int,
    overrides: tuple[str, ...],
    out: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Search config values on SCENARIO (YAML; default: the built-in day) and recommend one.

    Objectives: cost, SLO-violation minutes, per-queue job-wait p95 against
    the scenario's targets (slo.queue_wait_p95_s) and cache staleness. Each
    trial runs on the same --seeds seeds, screened on the busiest hour; the
    --leaders best run the full day, and the recommendation is the cheapest
    configuration meeting every constraint (slo.max_violation_minutes, the
    queue targets) on every seed, confirmed on fresh seeds against the start
    and the seed design's settings.

    \b
    Example:
      perfcore tune simulation/scenarios/flash_crowd.yaml --trials 50 --jobs 2 --out reports/tune
      perfcore tune --param queues.queues.normal.concurrency=4:64:int \\
                    --param cache.namespaces.event_detail.ttl_s=10:900:log
      perfcore tune --storage sqlite:///study.db --study day1   # run on several machines
      perfcore config check reports/tune/recommended.yaml
    """
    from simulation.tune import tune as run_tune
    from simulation.tune_report import format_table

    params = [Param.parse(s) for s in param_specs] or list(DEFAULT_PARAMS)
    base = load_scenario(scenario, list(overrides))
    bar = None
    if not quiet and sys.stderr.isatty():
        from tqdm import tqdm  # type: ignore[import-untyped]

        bar = tqdm(total=trials, unit="trial", file=sys.stderr, leave=False)

    def on_trial(done: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    result = run_tune(
        base,
        params,
        trials=trials,
        seeds=seeds,
        confirm_seeds=confirm_seeds,
        leaders=leaders,
        screen=screen,
        jobs=jobs,
        storage=storage,
        study_name=study_name,
        sampler_seed=seed,
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
        click.echo(json_text(summary))
        return
    click.echo(format_table(result))
    origin = "the starting configuration" if result.chosen < 0 else f"trial {result.chosen}"
    rule = "meets every constraint" if result.meets_constraints else "misses the constraints least"
    click.echo(f"\nrecommended: {origin}, the cheapest that {rule} on seeds {result.seeds}")
    for path, value in result.chosen_row.values.items():
        click.echo(f"  {path} = {value}")
    held = "held" if summary["gain_held"] else "did NOT hold"
    click.echo(f"on fresh seeds {result.confirm_seeds} the gain over the start {held}")
    click.echo(f"wall time {result.wall_seconds:.1f} s")
    if "outputs" in summary:
        click.echo("written: " + ", ".join(summary["outputs"]))
