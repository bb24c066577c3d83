"""Compare autoscaling policies on the check-in flash crowd, through ``perfcore simulate``.

    python benchmarks/policy_comparison.py [--rate 600] [--json]

Runs the simulation once per policy (same seed, same workload) and prints SLO
violation minutes, pod-hours and scaling actions side by side. The policies are
the production objects in ``perfcore.scaling.policies``; only the scenario's
``scaling.policy`` differs between runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCENARIO = Path(__file__).parent / "scenarios" / "checkin_flash_crowd.yaml"
POLICIES = ("seed", "target-tracking")


def simulate(policy: str, rate: float) -> dict[str, Any]:
    stream = (
        f"[{{request_class: check_in, rate_per_s: {rate}, start_s: 1800, end_s: 4200,"
        " ramp_s: 10, keys: 20000}]"
    )
    argv = [
        *(sys.executable, "-m", "perfcore", "simulate", str(SCENARIO), "--json", "-q"),
        *("--set", f"scaling.policy={policy}", "--set", f"workload.streams={stream}"),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=600.0, help="peak check-ins per second")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for policy in POLICIES:
        out = simulate(policy, args.rate)
        rows.append(
            {
                "policy": policy,
                "violation_minutes": out["slo"]["violation_minutes"],
                "pod_hours": out["replicas"]["pod_hours"],
                "scaling_actions": out["replicas"]["scaling_actions"],
                "max_replicas": out["replicas"]["max"],
                "p95_ms": out["latency_ms"]["p95"],
            }
        )
    if args.json:
        print(json.dumps({"rate_per_s": args.rate, "policies": rows}))
        return
    print(f"check-in flash crowd, peak {args.rate:g}/s ({SCENARIO.name})")
    print(f"{'policy':<16}{'SLO-viol. min':>14}{'pod-hours':>11}{'actions':>9}{'max pods':>10}")
    for r in rows:
        print(
            f"{r['policy']:<16}{r['violation_minutes']:>14.1f}{r['pod_hours']:>11.2f}"
            f"{r['scaling_actions']:>9}{r['max_replicas']:>10}"
        )
    seed, tt = rows
    if seed["violation_minutes"]:
        share = tt["violation_minutes"] / seed["violation_minutes"]
        print(f"target-tracking / seed: violation minutes {share:.0%}, ", end="")
    print(f"pod-hours {tt['pod_hours'] / seed['pod_hours']:.0%}")


if __name__ == "__main__":
    main()
