"""The registration-ramp / check-in-spike load profile, as a pure function of time.

The simulation's attendees register over a window before an event and check
in within minutes of its start (a logistic spike).  A load test replays that
in miniature over its bounded run time, with ``peak`` users at most:

=============  ==========  ==================================================
phase          share       users
=============  ==========  ==================================================
registration   first 50 %  ramp from 1 to half the peak
check-in       next 35 %   jump to the peak, spawned at once
drain          last 15 %   back to a quarter
=============  ==========  ==================================================

The users send the scenario's request mix throughout (the locustfile); only
their number follows the phases. Kept free of Locust imports (Locust
monkey-patches the process with gevent on import), so it can be tested and
reused anywhere.
"""

from __future__ import annotations

import math

REGISTRATION, CHECKIN, DRAIN = "registration", "check-in", "drain"


def phase_at(elapsed: float, total: float, peak: int) -> tuple[int, str] | None:
    """Users and phase at ``elapsed`` seconds of ``total``; None when it is over."""
    if total <= 0 or elapsed >= total:
        return None
    share = elapsed / total
    if share < 0.5:
        return max(1, math.ceil(peak / 2 * share / 0.5)), REGISTRATION
    if share < 0.85:
        return max(1, peak), CHECKIN
    return max(1, peak // 4), DRAIN
