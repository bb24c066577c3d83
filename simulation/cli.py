"""``perfcore simulate``: run a scenario (or the built-in default day) and report.

No servers are needed. Progress goes to stderr; ``--json`` prints exactly one
JSON object on stdout; ``--out DIR`` writes metrics.json, timeseries.csv and
plots. Bad input exits 2 with one line naming the field.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from perfcore.cli_options import config_option, json_option, json_text, out_option, set_option
from simulation.scenario import load_scenario


@click.command()
@click.argument("scenario", required=False, type=click.Path(path_type=Path, dir_okay=False))
@set_option
@config_option
@click.option("--seed", type=int, default=None, help="random seed (same seed, same result)")
@out_option
@json_option
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
def simulate(
    scenario: Path | None,
    overrides: tuple[str, ...],
    config_path: Path | None,
    seed: int | None,
    out: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Simulate SCENARIO (YAML; default: 300 events, 200,000 attendees, one day).

    --config FILE replaces the scenario's platform sections with the file's;
    --set overrides any scenario field (e.g. scaling.policy=seed); --out DIR
    writes metrics.json, timeseries.csv and PNG plots.
    """
    from simulation.run import simulate as run

    sc = load_scenario(scenario, list(overrides), config_path=config_path, seed=seed)
    bar = None
    if not quiet and sys.stderr.isatty():
        from tqdm import tqdm  # type: ignore[import-untyped]

        bar = tqdm(total=round(sc.horizon_s), unit="sim-s", file=sys.stderr, leave=False)
    done = [0]

    def progress(t: float) -> None:
        if bar is not None and int(t) > done[0]:
            bar.update(int(t) - done[0])
            done[0] = int(t)

    result = run(sc, progress)
    if bar is not None:
        bar.close()
    summary = result.summary()
    if out is not None:
        from simulation.report import write_outputs

        paths = write_outputs(result, out, summary)
        summary["outputs"] = [str(p) for p in paths]
    if as_json:
        click.echo(json_text(summary))
    else:
        click.echo(format_summary(summary))


def format_summary(s: dict[str, Any]) -> str:
    """A short human table of a run."""
    lat, cache, rep = s["latency_ms"], s["cache"], s["replicas"]
    rows = [
        ("requests", f"{s['requests']:,} in {s['sim_seconds'] / 3600:.1f} simulated h"),
        ("speed", f"{s['wall_seconds']:.1f} s wall, {s['requests_per_wall_second']:,.0f} req/s"),
        ("latency", f"p50 {lat['p50']:.1f} ms  p95 {lat['p95']:.1f} ms  p99 {lat['p99']:.1f} ms"),
        (
            "cache",
            f"hit {cache['hit_ratio']:.1%}  (L1 {cache['l1_hit_ratio']:.1%}, "
            f"L2 {cache['l2_hit_ratio']:.1%} of L1 misses)",
        ),
        (
            "replicas",
            f"max {rep['max']}  {rep['pod_hours']:.1f} pod-h  "
            f"{rep['scaling_actions']} scaling actions ({rep['policy']})",
        ),
        ("cost", f"${s['cost']['pod_hours_usd']:.2f}"),
        (
            "SLO",
            f"{s['slo']['violation_minutes']:.0f} minutes with p95 > {s['slo']['p95_ms']:g} ms",
        ),
        ("database", f"utilisation {s['db']['utilisation']:.1%}"),
    ]
    for name, q in s["queues"].items():
        rows.append(
            (
                f"queue {name}",
                f"{q['jobs']:,} jobs, wait p95 {q['wait_p95_s']:.2f} s, {q['failed']} failed",
            )
        )
    if "outputs" in s:
        rows.append(("written", ", ".join(Path(p).name for p in s["outputs"])))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
