"""Reduced scenarios for checking the model against closed forms."""

from __future__ import annotations

from typing import Any

import pytest

from perfcore.cli import main
from perfcore.config import validate_model
from perfcore.platform import PLATFORM
from simulation.scenario import Scenario


def reduced(**sections: Any) -> dict[str, Any]:
    """A scenario with no events, no timed jobs and no cache unless given."""
    data: dict[str, Any] = {
        "workload": {"events": {"count": 0}, "timed_jobs": [], "streams": []},
        "infrastructure": {
            "request_classes": {"export_report": {"cpu_ms": 100.0}},
            "cache": {"enabled": False, "l1_lookup_ms": 0.0, "l2_rtt_ms": 0.0},
        },
        "scaling": {"min_replicas": 1, "max_replicas": 1},
    }
    for key, value in sections.items():
        node = data
        path = key.split("__")
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return data


def mmc_scenario(lam: float, mu: float, c: int, horizon_s: float, seed: int) -> Scenario:
    """One endpoint, no cache, exponential service at rate mu, c fixed slots, Poisson lam."""
    data = reduced(
        seed=seed,
        horizon_s=horizon_s,
        workload__streams=[{"request_class": "export_report", "rate_per_s": lam}],
        infrastructure__request_classes={"export_report": {"cpu_ms": 1000.0 / mu}},
        # As many CPUs as slots: the slots are the only bottleneck.
        infrastructure__api={
            "slots_per_replica": c,
            "cpus_per_replica": c,
            "service": "exponential",
        },
    )
    return validate_model(Scenario, data)


def priority_types(k: int) -> list[str]:
    """The first ``k`` of the platform's job types, for priorities 1..k."""
    return list(PLATFORM.job_types)[:k]


def priority_scenario(
    rates: list[float], mean_service_s: float, workers: int, horizon_s: float, seed: int
) -> Scenario:
    """Jobs only: one queue with ``workers`` workers, one job type per priority 1..k."""
    types = priority_types(len(rates))
    data = reduced(
        seed=seed,
        horizon_s=horizon_s,
        workload__timed_jobs=[
            {"job_type": t, "rate_per_s": r} for t, r in zip(types, rates, strict=True)
        ],
        infrastructure__job_types={t: {"service_s": mean_service_s} for t in types},
        queues={
            "queues": [{"name": "only", "concurrency": workers}],
            "routes": {t: {"queue": "only", "priority": i + 1} for i, t in enumerate(types)},
            "default_route": {"queue": "only", "priority": 99},
            "job_defaults": {"attempts": 1},
        },
    )
    return validate_model(Scenario, data)


def one_line_error(
    argv: list[str], code: int, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str]:
    """Run ``perfcore ARGV``: it exits ``code`` with one line on stderr; (that line, stdout)."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == code, argv
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0], captured.out
