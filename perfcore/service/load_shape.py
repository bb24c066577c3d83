"""The registration-ramp / check-in-spike load profile, as a pure function of time.

The simulation's attendees register over a window before an event and check
in within minutes of its start (a logistic spike).  A load test replays that
in miniature over its bounded run time, with ``peak`` users at most:

=============  ==========  ==================================================
phase          share       users
=============  ==========  ==================================================
registration   first 50 %  ramp from 1 to half the peak, registering attendees
check-in       next 35 %   jump to the peak, checking-in attendees + organizer
drain          last 15 %   back to a quarter, browsing attendees + organizer
=============  ==========  ==================================================

Each phase lists only its own roles (Locust user class names): the user
weights of the default mix would otherwise leave a small test with browsers
only.  Kept free of Locust imports (Locust monkey-patches the process with
gevent on import), so it can be tested and reused anywhere.
"""

from __future__ import annotations

import math

REGISTRATION = ("RegisteringAttendee",)
CHECKIN = ("CheckingInAttendee", "Organizer")
DRAIN = ("BrowsingAttendee", "Organizer")


def phase_at(elapsed: float, total: float, peak: int) -> tuple[int, tuple[str, ...]] | None:
    """Users and user class names at ``elapsed`` seconds of ``total``; None when it is over."""
    if total <= 0 or elapsed >= total:
        return None
    share = elapsed / total
    if share < 0.5:
        return max(1, math.ceil(peak / 2 * share / 0.5)), REGISTRATION
    if share < 0.85:
        return max(1, peak), CHECKIN
    return max(1, peak // 4), DRAIN
