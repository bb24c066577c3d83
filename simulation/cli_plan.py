"""``perfcore plan``: the fewest replicas and job workers for a day of a given size, and its cost.

``--json`` prints exactly one JSON object on stdout; impossible inputs exit 2
with one line naming the option; progress goes to stderr when it is a terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from perfcore.cli_options import count_option, jobs_option, json_option, json_text, set_option
from simulation.scenario import load_scenario


@click.command()
@click.argument("scenario", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--attendees", type=int, required=True, help="attendees of the day (all events)")
@click.option(
    "--events", type=int, default=None, help="events of the day (default: the scenario's)"
)
@click.option("--slo-p95-ms", type=float, required=True, help="a minute with a higher p95 violates")
@count_option("--seeds", 2, "seeds the answer must hold on")
@jobs_option("local processes simulating the seeds side by side")
@set_option
@json_option
def plan(
    scenario: Path | None,
    attendees: int,
    events: int | None,
    slo_p95_ms: float,
    seeds: int,
    jobs: int,
    overrides: tuple[str, ...],
    as_json: bool,
) -> None:
    """Fewest replicas (min/max) and per-queue workers meeting the SLO and queue targets.

    Searched on the busiest hour of SCENARIO (default: the built-in day) scaled
    to --attendees/--events, on every seed; prints the answer, its full-day cost
    and the load at which it breaks.

    \b
    Example:
      perfcore plan --attendees 500000 --slo-p95-ms 250
      perfcore plan simulation/scenarios/flash_crowd.yaml --attendees 40000 --slo-p95-ms 300 --json
    """
    from simulation.plan import plan as run_plan

    base = load_scenario(scenario, list(overrides))

    def step(text: str) -> None:
        if sys.stderr.isatty():
            click.echo(f"\r{text:<40}", err=True, nl=False)

    answer = run_plan(
        base, attendees, events=events, slo_p95_ms=slo_p95_ms, seeds=seeds, jobs=jobs, on_step=step
    )
    if sys.stderr.isatty():
        click.echo("", err=True)
    report = answer.to_json()
    if as_json:
        click.echo(json_text(report))
        return
    breaks = (
        f"{answer.breaks_at_attendees:,} attendees"
        if answer.breaks_at_attendees is not None
        else f"not below {int(attendees * 4):,} attendees (the largest load tried)"
    )
    rows = [
        (
            "day",
            f"{answer.attendees:,} attendees, {answer.events} events, SLO p95 {slo_p95_ms:g} ms",
        ),
        ("replicas", f"min {answer.min_replicas}, max {answer.max_replicas}"),
        ("workers", ", ".join(f"{q} {c}" for q, c in answer.concurrency.items())),
        ("cost", f"${answer.cost_usd:.2f} per day ({answer.pod_hours:.1f} pod-hours)"),
        ("breaks at", breaks),
        ("checked on", f"seeds {answer.seeds}, {answer.simulations} simulations"),
    ]
    width = max(len(k) for k, _ in rows)
    click.echo("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
