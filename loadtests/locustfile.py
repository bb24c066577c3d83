"""Locust users for the reference API, weighted like the simulation's default day.

One user class per role, with task weights taken from the same
:class:`simulation.scenario.BehaviourSpec` the SimPy model reads, so a load
test and a simulation of "the default mix" mean the same thing:

* ``BrowsingAttendee``: active-events listing, event pages, attendee profiles
  (``listing_views : detail_views : profile_views``);
* ``RegisteringAttendee``: registers for an event, then looks at it;
* ``CheckingInAttendee``: registers (idempotent) and checks in when confirmed;
* ``Organizer``: polls an event dashboard every ``dashboard_poll_s`` seconds and
  now and then asks for an export.

User weights follow the attendee's journey (browse a lot, register once,
check in once); one organizer runs whatever the user count.

Load goes to loopback only: a non-loopback ``--host`` stops Locust at start
with exit code 2.  Run it through ``perfcore loadtest`` (bounded run time,
CSV parsed into a summary) or directly::

    locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8000 -u 20 -r 5 -t 30s
"""

from __future__ import annotations

import logging
import random
import sys
from typing import Any

from locust import HttpUser, between, constant_pacing, events, task
from locust.env import Environment

from perfcore.errors import BadInput
from perfcore.service.loopback import require_loopback_url
from perfcore.service.schema import SeedSize
from simulation.scenario import BehaviourSpec

BEHAVIOUR = BehaviourSpec()
SEED = SeedSize()
log = logging.getLogger("perfcore.loadtest")


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument(
        "--attendees",
        type=int,
        default=SEED.attendees,
        help="attendee ids are drawn from 1..N (the service's seed size)",
    )


def _refuse_non_loopback(environment: Environment) -> str | None:
    try:
        require_loopback_url(environment.host or "", "--host")
    except BadInput as exc:
        return str(exc)
    return None


@events.init.add_listener
def _guard_at_init(environment: Environment, **_: Any) -> None:
    problem = _refuse_non_loopback(environment)
    if problem is not None and environment.parsed_options and environment.parsed_options.headless:
        sys.stderr.write(f"error: {problem}\n")
        sys.exit(2)


@events.test_start.add_listener
def _guard_at_start(environment: Environment, **_: Any) -> None:
    # The web UI can change the host after init: check again before any request.
    problem = _refuse_non_loopback(environment)
    if problem is not None:
        log.error(problem)
        environment.process_exit_code = 2
        if environment.runner is not None:
            environment.runner.quit()


def _weight(views: float) -> int:
    """Locust weights are integers: keep one decimal of the behaviour's expected counts."""
    return max(round(views * 10), 1)


class PlatformUser(HttpUser):
    """Shared helpers: the active events (read once per user) and random ids."""

    abstract = True
    wait_time = between(0.5, 2.0)
    event_ids: list[int]

    def on_start(self) -> None:
        with self.client.get("/events/active", name="/events/active", catch_response=True) as resp:
            # status_code, not .ok: Locust's .ok re-raises a connection error
            ids = [e["id"] for e in resp.json()] if resp.status_code == 200 else []
            if not ids:
                resp.failure("no active events: is the service seeded?")
        self.event_ids = ids or [1]

    def attendee_id(self) -> int:
        return random.randint(1, self.environment.parsed_options.attendees)

    def event_id(self) -> int:
        return random.choice(self.event_ids)

    def register(self, event_id: int, attendee_id: int) -> dict[str, Any] | None:
        resp = self.client.post(
            f"/events/{event_id}/registrations",
            json={"attendee_id": attendee_id},
            name="/events/{event_id}/registrations",
        )
        return resp.json() if resp.status_code in (200, 201) else None


class BrowsingAttendee(PlatformUser):
    weight = _weight(BEHAVIOUR.listing_views + BEHAVIOUR.detail_views + BEHAVIOUR.profile_views)

    @task(_weight(BEHAVIOUR.listing_views))
    def list_active_events(self) -> None:
        self.client.get("/events/active", name="/events/active")

    @task(_weight(BEHAVIOUR.detail_views))
    def event_detail(self) -> None:
        self.client.get(f"/events/{self.event_id()}", name="/events/{event_id}")

    @task(_weight(BEHAVIOUR.profile_views))
    def attendee_profile(self) -> None:
        self.client.get(f"/attendees/{self.attendee_id()}", name="/attendees/{attendee_id}")


class RegisteringAttendee(PlatformUser):
    weight = _weight(BEHAVIOUR.register_fraction)

    @task
    def register_and_look(self) -> None:
        event_id = self.event_id()
        self.register(event_id, self.attendee_id())
        self.client.get(f"/events/{event_id}", name="/events/{event_id}")


class CheckingInAttendee(PlatformUser):
    weight = _weight(BEHAVIOUR.register_fraction * BEHAVIOUR.checkin_fraction)

    @task
    def check_in(self) -> None:
        event_id, attendee_id = self.event_id(), self.attendee_id()
        registration = self.register(event_id, attendee_id)
        # A waitlisted attendee cannot check in (409 by design); do not count it as an error.
        if registration is None or registration.get("status") != "confirmed":
            return
        self.client.post(
            f"/events/{event_id}/checkins",
            json={"attendee_id": attendee_id},
            name="/events/{event_id}/checkins",
        )


class Organizer(PlatformUser):
    fixed_count = 1
    wait_time = constant_pacing(BEHAVIOUR.dashboard_poll_s)

    def on_start(self) -> None:
        super().on_start()
        self.my_event = self.event_id()

    @task(20)
    def poll_dashboard(self) -> None:
        self.client.get(f"/events/{self.my_event}/dashboard", name="/events/{event_id}/dashboard")

    @task(1)
    def export(self) -> None:
        self.client.post(
            f"/events/{self.my_event}/exports",
            json={"job_type": "data_export"},
            name="/events/{event_id}/exports",
        )
