"""Compare autoscaling policies on a check-in flash crowd, through ``perfcore simulate``.

    python benchmarks/policy_comparison.py [--json]

Each row runs ``perfcore simulate benchmarks/scenarios/checkin_flash_crowd.yaml``
with the same workload over several seeds and sums SLO-violation minutes and
pod-hours (one seed is a single draw of when the ramp meets the 15 s tick; the
seed rule's doubling is sometimes lucky). The policies are the production
objects in ``perfcore.scaling.policies``; rows differ only in ``--set``.

Rows: the two policies as shipped in the scenario (target tracking on CPU and
20 requests/s per pod); a sweep of that per-pod target, which is the trade-off
the harness exists to expose (less headroom, fewer pods, more violation
minutes); target tracking on CPU alone, whose readings saturate at 100 % so
each tick can grow the fleet by at most 1/target_cpu; and a 10-second ramp,
which no reactive policy can follow (tick + 45 s pod start-up, then the
backlog drains).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCENARIO = Path(__file__).parent / "scenarios" / "checkin_flash_crowd.yaml"
SEEDS = (1, 2, 3, 4, 7)


@dataclass(frozen=True)
class Variant:
    name: str
    policy: str
    overrides: tuple[str, ...] = ()


def _ramp(seconds: int) -> str:
    return (
        "workload.streams=[{request_class: check_in, rate_per_s: 600, start_s: 1800,"
        f" end_s: 4200, ramp_s: {seconds}, keys: 20000}}]"
    )


def _per_pod(target: str) -> Variant:
    return Variant(f"target-tracking, {target}/s per pod", "target-tracking",
                   (f"scaling.target_requests_per_replica={target}",))  # fmt: skip


HEADLINE = (Variant("seed", "seed"), Variant("target-tracking", "target-tracking"))
CONTEXT = (
    _per_pod("15"),
    _per_pod("25"),
    _per_pod("30"),
    _per_pod("null"),  # CPU only
    Variant("seed, 10 s ramp", "seed", (_ramp(10),)),
    Variant("target-tracking, 10 s ramp", "target-tracking", (_ramp(10),)),
)


def simulate(variant: Variant, seed: int) -> dict[str, Any]:
    """One ``perfcore simulate --json`` run."""
    argv = [sys.executable, "-m", "perfcore", "simulate", str(SCENARIO), "--json", "-q"]
    for item in (f"scaling.policy={variant.policy}", *variant.overrides):
        argv += ["--set", item]
    argv += ["--seed", str(seed)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def compare(variant: Variant, seeds: tuple[int, ...] = SEEDS) -> dict[str, Any]:
    """The variant's totals over ``seeds``."""
    runs = [simulate(variant, seed) for seed in seeds]
    return {
        "name": variant.name.replace("null/s per pod", "CPU only"),
        "seeds": list(seeds),
        "violation_minutes": sum(r["slo"]["violation_minutes"] for r in runs),
        "pod_hours": round(sum(r["replicas"]["pod_hours"] for r in runs), 2),
        "scaling_actions": sum(r["replicas"]["scaling_actions"] for r in runs),
        "max_replicas": max(r["replicas"]["max"] for r in runs),
    }


def table(rows: list[dict[str, Any]]) -> str:
    header = f"{'variant':<36}{'SLO-viol. min':>14}{'pod-hours':>11}{'actions':>9}{'max pods':>10}"
    lines = [header]
    for r in rows:
        lines.append(
            f"{r['name']:<36}{r['violation_minutes']:>14.1f}{r['pod_hours']:>11.2f}"
            f"{r['scaling_actions']:>9}{r['max_replicas']:>10}"
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
    args = parser.parse_args()
    variants = HEADLINE if args.headline_only else HEADLINE + CONTEXT
    rows = [compare(variant) for variant in variants]
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
