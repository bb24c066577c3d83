"""Seed threshold rule vs HPA-style target tracking on the check-in flash crowd.

Records target-tracking / seed, summed over five seeds, for SLO-violation minutes (target <= 0.5) and
pod-hours (target <= 1.0); ``python benchmarks/policy_comparison.py`` prints
the full table with the context rows.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from policy_comparison import HEADLINE, compare, ratios, table


def test_target_tracking_vs_seed_on_flash_crowd(report_ratio, capsys) -> None:  # type: ignore[no-untyped-def]
    rows = compare(HEADLINE)
    with capsys.disabled():
        print("\n" + table(rows))
    share = ratios(*rows)
    detail = f"seed {rows[0]['violation_minutes']:.0f} min / {rows[0]['pod_hours']:.1f} pod-h"
    report_ratio(
        "policy_violation_minutes_tt_over_seed", share["violation_minutes"], 0.5, detail=detail
    )
    report_ratio("policy_pod_hours_tt_over_seed", share["pod_hours"], 1.0)
    assert rows[0]["violation_minutes"] > 0, "the crowd must stress the seed rule"
