"""``perfcore sweep``: a grid of configuration values x seeds, one CSV and one plot out.

Progress (points finished) goes to stderr when it is a terminal; ``--json``
prints exactly one JSON object; bad input exits 2 with one line naming the
option or field; an unreachable ``--storage`` exits 1.
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


@click.command()
@click.argument("scenario", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--grid",
    "grid_specs",
    multiple=True,
    required=True,
    metavar="PATH=V1,V2,...",
    help="a config field and its values (YAML), any field --set reaches; repeatable: the product",
)
@count_option("--seeds", 3, "seeds every point runs on (the same for all)")
@jobs_option("local processes running grid points")
@study_options("sweep", "perfcore-sweep")
@set_option
@out_option
@json_option
def sweep(
    scenario: Path | None,
    grid_specs: tuple[str, ...],
    seeds: int,
    jobs: int,
    storage: str | None,
    study_name: str,
    overrides: tuple[str, ...],
    out: Path | None,
    as_json: bool,
) -> None:
    """Simulate every combination of --grid values on SCENARIO (default: the built-in day).

    Each point runs the whole horizon on the same --seeds seeds; the table
    shows each figure's mean +- sd over them. --out DIR writes sweep.csv (one
    row per point and seed) and sweep.png (figures against the first --grid,
    one line per combination of the others, with the range over seeds).

    \b
    Example:
      perfcore sweep benchmarks/scenarios/checkin_flash_crowd.yaml \\
          --grid scaling.policy=seed,target-tracking \\
          --grid scaling.target_requests_per_replica=15,20,30,null --seeds 5 --jobs 2 --out reports/sweep
      perfcore sweep --grid cache.namespaces.event_detail.ttl_s=10,60,300 --storage sqlite:///s.db
    """
    from simulation.sweep import Axis
    from simulation.sweep import sweep as run_sweep
    from simulation.sweep_report import format_table, write_outputs

    axes = [Axis.parse(s) for s in grid_specs]
    base = load_scenario(scenario, list(overrides))
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm  # type: ignore[import-untyped]

        total = 1
        for a in axes:
            total *= len(a.values)
        bar = tqdm(total=total, unit="point", file=sys.stderr, leave=False)

    def on_point(done: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    result = run_sweep(
        base, axes, seeds=seeds, jobs=jobs, storage=storage, study_name=study_name,
        on_point=on_point,
    )  # fmt: skip
    if bar is not None:
        bar.close()
    summary = result.to_json()
    if out is not None:
        summary["outputs"] = [str(p) for p in write_outputs(result, out)]
    if as_json:
        click.echo(json_text(summary))
        return
    click.echo(format_table(result))
    click.echo(f"\n{len(result.points)} points x seeds {result.seeds}, {result.wall_seconds:.1f} s")
    if "outputs" in summary:
        click.echo("written: " + ", ".join(summary["outputs"]))
