"""Load shape: a registration ramp, then the check-in spike before doors open.

The simulation's attendees register over a window before an event and check
in within minutes of its start (a logistic spike).  This shape replays that
in miniature over the test's ``--run-time`` (required, so the test is
bounded) with ``-u`` as the peak user count:

=============  ==========  ==================================================
phase          share       users
=============  ==========  ==================================================
registration   first 50 %  ramp from 1 to half the peak, registering attendees
check-in       next 35 %   jump to the peak, checking-in attendees + organizer
drain          last 15 %   back to a quarter, browsing attendees + organizer
=============  ==========  ==================================================

Use it by adding this file to Locust's ``-f`` list (``perfcore loadtest
--shape ramp-spike`` does).  User classes are looked up by name in the
runner, so this file needs nothing from the locustfile.  Each phase lists
only its own roles: the user weights of the default mix would otherwise
leave a small test with browsers only.
"""

from __future__ import annotations

import math

from locust import LoadTestShape

REGISTRATION = ("RegisteringAttendee",)
CHECKIN = ("CheckingInAttendee", "Organizer")
DRAIN = ("BrowsingAttendee", "Organizer")


def phase_at(elapsed: float, total: float, peak: int) -> tuple[int, tuple[str, ...]] | None:
    """Users and user classes at ``elapsed`` seconds of ``total``; None when the test is over."""
    if elapsed >= total or total <= 0:
        return None
    share = elapsed / total
    if share < 0.5:
        return max(1, math.ceil(peak / 2 * share / 0.5)), REGISTRATION
    if share < 0.85:
        return max(1, peak), CHECKIN
    return max(1, peak // 4), DRAIN


class RegistrationThenCheckinShape(LoadTestShape):
    def tick(self) -> tuple[int, float, list[type]] | None:  # type: ignore[override]
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        total = float(options.run_time or 60)
        peak = int(options.num_users or 10)
        now = phase_at(self.get_run_time(), total, peak)
        if now is None:
            return None
        users, names = now
        classes = self.runner.user_classes_by_name
        # The spike spawns fast (check-ins arrive in a burst); the ramp uses -r.
        spawn_rate = float(peak) if names == CHECKIN else float(options.spawn_rate or 1)
        return users, spawn_rate, [classes[name] for name in names if name in classes]
