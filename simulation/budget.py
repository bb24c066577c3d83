"""The size of a run before it starts: expected requests and jobs, held under a ceiling.

Every field of a scenario has an upper bound, but bounds multiply: a month of
100,000 events with a thousand page views per attendee is within each bound
and would still run for days.  :func:`check_budget` adds up what the scenario
asks for (the workload's own expectation, so it costs milliseconds) and
refuses, as bad input naming the totals, a run above :data:`MAX_SIMULATED`.
"""

from __future__ import annotations

import numpy as np

from perfcore.config import ConfigError
from simulation.scenario import Scenario
from simulation.workload import EventLayout, Workload

# About 20 minutes of wall time at the model's ~90k simulated requests per
# second on a busy 2-core machine; the default day is 5.8 million.
MAX_SIMULATED = 100_000_000


def expected_jobs(scenario: Scenario, layout: EventLayout) -> float:
    """Mean number of jobs the events' lives and the timed sources enqueue over the horizon."""
    h, spec = scenario.horizon_s, scenario.workload.event_jobs
    reminders = float(np.ceil(layout.size / spec.attendees_per_reminder_job).sum())
    analytics = float((layout.duration / spec.analytics_every_s).sum())
    reports = float(layout.count * spec.reports_at_end)
    timed = 0.0
    for source in scenario.workload.timed_jobs:
        span = max(h - source.start_s, 0.0)
        timed += span * source.rate_per_s if source.rate_per_s is not None else 0.0
        timed += span / source.every_s if source.every_s is not None else 0.0
    return reminders + analytics + reports + timed


def check_budget(scenario: Scenario, layout: EventLayout, workload: Workload) -> None:
    """Raise :class:`ConfigError` when the run would simulate more than :data:`MAX_SIMULATED`."""
    requests, jobs = workload.expected_requests(), expected_jobs(scenario, layout)
    if requests + jobs > MAX_SIMULATED:
        raise ConfigError(
            f"(scenario): about {requests:.3g} requests and {jobs:.3g} jobs in"
            f" {scenario.horizon_s:g} s, more than the {MAX_SIMULATED:.0e} one run may simulate"
            " (lower workload.events, behaviour views, stream rates or horizon_s)"
        )
