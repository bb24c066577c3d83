"""Locust load shape: a registration ramp, then the check-in spike before doors open.

The profile itself is :func:`perfcore.service.load_shape.phase_at`; this class
only feeds it Locust's clock, ``--run-time`` (the test's bound) and ``-u``
(the peak user count).  Use it by adding this file to Locust's ``-f`` list
(``perfcore loadtest --shape ramp-spike`` does).  User classes are looked up
by name in the runner, so this file needs nothing from the locustfile.
"""

from __future__ import annotations

from locust import LoadTestShape

from perfcore.service.load_shape import CHECKIN, phase_at


class RegistrationThenCheckinShape(LoadTestShape):
    def tick(self) -> tuple[int, float, list[type]] | None:  # type: ignore[override]
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        peak = int(options.num_users or 10)
        now = phase_at(self.get_run_time(), float(options.run_time or 60), peak)
        if now is None:
            return None
        users, names = now
        classes = self.runner.user_classes_by_name
        # Check-ins arrive in a burst: the spike spawns at once; the ramp uses -r.
        spawn_rate = float(peak) if names == CHECKIN else float(options.spawn_rate or 1)
        return users, spawn_rate, [classes[name] for name in names if name in classes]
