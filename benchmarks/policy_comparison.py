"""Compare autoscaling policies on a check-in flash crowd, as sweeps of ``perfcore sweep``.

    python benchmarks/policy_comparison.py [--json] [--headline-only] [--jobs N]

Each row is one point of a sweep (:mod:`simulation.sweep`) of
``benchmarks/scenarios/checkin_flash_crowd.yaml`` over the same seeds, with
SLO-violation minutes and pod-hours summed over them (one seed is a single
draw of when the ramp meets the 15 s tick; the seed rule's doubling is
sometimes lucky). The policies are the production objects in
``perfcore.scaling.policies``; points differ only in their config values.

Sweeps: the two policies as shipped in the scenario (target tracking on CPU
and 20 requests/s per pod); target tracking's per-pod target, which is the
trade-off the harness exists to expose (less headroom, fewer pods, more
violation minutes; ``null`` = CPU alone, whose readings saturate at 100 % so
each tick can grow the fleet by at most 1/target_cpu); and both policies on a
10-second ramp, which no reactive policy can follow (tick + 45 s pod start-up,
then the backlog drains). The same sweeps from the command line:

    perfcore sweep benchmarks/scenarios/checkin_flash_crowd.yaml \\
        --grid scaling.policy=seed,target-tracking --seeds 5 --out reports/policies
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from simulation.scenario import load_scenario
from simulation.sweep import Axis, Point, sweep

SCENARIO = Path(__file__).parent / "scenarios" / "checkin_flash_crowd.yaml"
SEEDS = (1, 2, 3, 4, 7)
RAMP_10S = (
    "workload.streams=[{request_class: check_in, rate_per_s: 600, start_s: 1800,"
    " end_s: 4200, ramp_s: 10, keys: 20000}]"
)
POLICIES = Axis("scaling.policy", ("seed", "target-tracking"))
# (label of a point, extra --set overrides of the sweep, its axes)
HEADLINE: list[tuple[str, tuple[str, ...], list[Axis]]] = [("{policy}", (), [POLICIES])]
CONTEXT: list[tuple[str, tuple[str, ...], list[Axis]]] = [
    (
        "target-tracking, {per_pod}/s per pod",
        ("scaling.policy=target-tracking",),
        [Axis("scaling.target_requests_per_replica", (15, 25, 30, None))],
    ),
    ("{policy}, 10 s ramp", (RAMP_10S,), [POLICIES]),
]


def _label(template: str, point: Point) -> str:
    per_pod = point.values.get("scaling.target_requests_per_replica")
    return template.format(
        policy=point.values.get("scaling.policy", ""),
        per_pod="CPU only" if per_pod is None else per_pod,
    ).replace("CPU only/s per pod", "CPU only")


def compare(
    sweeps: list[tuple[str, tuple[str, ...], list[Axis]]],
    seeds: tuple[int, ...] = SEEDS,
    jobs: int = 1,
) -> list[dict[str, Any]]:
    """One row per point of each sweep: totals over ``seeds``."""
    rows = []
    for template, overrides, axes in sweeps:
        result = sweep(load_scenario(SCENARIO, list(overrides)), axes, seeds=seeds, jobs=jobs)
        for point in result.points:
            assert point.evaluation is not None, point.state
            measures = point.evaluation.measures
            rows.append({
                "name": _label(template, point),
                "seeds": list(seeds),
                "violation_minutes": sum(m.violation_min for m in measures),
                "pod_hours": round(sum(m.pod_hours for m in measures), 2),
                "max_replicas": max(m.max_replicas for m in measures),
            })  # fmt: skip
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    header = f"{'variant':<36}{'SLO-viol. min':>14}{'pod-hours':>11}{'max pods':>10}"
    lines = [header]
    for r in rows:
        lines.append(
            f"{r['name']:<36}{r['violation_minutes']:>14.1f}{r['pod_hours']:>11.2f}"
            f"{r['max_replicas']:>10}"
        )
    return "\n".join(lines)


def ratios(seed: dict[str, Any], tracking: dict[str, Any]) -> dict[str, float]:
    """Target tracking relative to the seed rule (targets: <= 0.5 and <= 1.0)."""
    return {
        "violation_minutes": tracking["violation_minutes"] / max(seed["violation_minutes"], 1e-9),
        "pod_hours": tracking["pod_hours"] / seed["pod_hours"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--headline-only", action="store_true", help="skip the context rows")
    parser.add_argument("--jobs", type=int, default=1, help="local processes per sweep")
    args = parser.parse_args()
    rows = compare(HEADLINE if args.headline_only else HEADLINE + CONTEXT, jobs=args.jobs)
    share = ratios(rows[0], rows[1])
    if args.json:
        print(json.dumps({"scenario": SCENARIO.name, "rows": rows, "ratios": share}))
        return
    print(f"check-in flash crowd ({SCENARIO.name}), totals over seeds {SEEDS}")
    print(table(rows))
    print(
        f"target-tracking / seed: violation minutes {share['violation_minutes']:.0%}"
        f" (target <= 50%), pod-hours {share['pod_hours']:.0%} (target <= 100%)"
    )


if __name__ == "__main__":
    main()
