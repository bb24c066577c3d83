"""Locust load shape: a registration ramp, then the check-in spike before doors open.

The profile itself is :func:`perfcore.service.load_shape.phase_at`; this class
only feeds it Locust's clock, ``--run-time`` (the test's bound) and ``-u``
(the peak user count).  Use it by adding this file to Locust's ``-f`` list
(``perfcore loadtest --shape ramp-spike`` does).
"""

from __future__ import annotations

from locust import LoadTestShape

from perfcore.service.load_shape import CHECKIN, phase_at


class RegistrationThenCheckinShape(LoadTestShape):
    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        peak = int(options.num_users or 10)
        now = phase_at(self.get_run_time(), float(options.run_time or 60), peak)
        if now is None:
            return None
        users, phase = now
        # Check-ins arrive in a burst: the spike spawns at once; the ramp uses -r.
        spawn_rate = float(peak) if phase == CHECKIN else float(options.spawn_rate or 1)
        return users, spawn_rate
