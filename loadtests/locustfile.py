"""Locust users for the reference API: the platform's endpoints in the scenario's mix.

One task per request class of :data:`perfcore.platform.PLATFORM` -- its
method and path template, filled from id pools -- weighted by that class's
share of the scenario's day (:func:`simulation.workload.request_mix`), so a
load test and a simulation of the same scenario send the same mix. A check-in
goes to a registration this user made and got confirmed (the platform refuses
others); until there is one, the task registers instead. Each request carries
the token its class needs (an attendee's own, an event's organizer's), signed
with the service's key from ``$PERFCORE_AUTH_SECRET`` or its secret file.

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

from locust import HttpUser, between, events
from locust.env import Environment

from perfcore.config import ServiceConfig
from perfcore.errors import BadInput
from perfcore.platform import PLATFORM, RequestClass
from perfcore.platform.model import ROLE_KEY
from perfcore.platform.seed import SeedSize
from perfcore.service.auth import find_secret, mint
from perfcore.service.loopback import require_loopback_url
from simulation.scenario import Scenario
from simulation.workload import request_mix

SEED = SeedSize()
MIX = request_mix(Scenario())
# The service's token key ($PERFCORE_AUTH_SECRET or its secret file): users sign
# their own tokens, as the platform's login would hand them out.
SECRET = find_secret(ServiceConfig())
log = logging.getLogger("perfcore.loadtest")


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument(
        "--attendees",
        type=int,
        default=SEED.attendees,
        help="attendee ids are drawn from 1..N (the service's seed size)",
    )
    parser.add_argument(
        "--sessions",
        type=int,
        default=SEED.sessions,
        help="session ids are drawn from 1..N (the service's seed size)",
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


def _weight(share: float) -> int:
    """Locust weights are integers: keep the mix to 1/10,000, and every class at least 1."""
    return max(round(share * 10_000), 1)


class PlatformClient(HttpUser):
    """What every task needs: id pools, one request of a class, registrations held."""

    abstract = True
    wait_time = between(0.5, 2.0)
    event_ids: list[int]
    confirmed: list[tuple[int, int]]  # (event, attendee) registrations this user holds

    def on_start(self) -> None:
        self.confirmed = []
        with self.client.get("/events/active", name="/events/active", catch_response=True) as resp:
            # status_code, not .ok: Locust's .ok re-raises a connection error
            ids = [e["id"] for e in resp.json()] if resp.status_code == 200 else []
            if not ids:
                resp.failure("no active events: is the service seeded?")
        self.event_ids = ids or [1]

    def params(self) -> dict[str, int]:
        options = self.environment.parsed_options
        return {
            "event_id": random.choice(self.event_ids),
            "attendee_id": random.randint(1, options.attendees),
            "session_id": random.randint(1, options.sessions),
        }

    def send(self, name: str, rc: RequestClass, params: dict[str, int]) -> dict[str, Any] | None:
        """One request of class ``name``; the JSON answer of a 2xx, else None."""
        body: dict[str, Any] | None = None
        if rc.endpoint.method == "POST":
            body = {p: v for p, v in params.items() if p == "attendee_id"} if rc.write else {}
            if rc.caller_picks_job:
                types, weights = zip(*sorted(rc.jobs.items()), strict=True)
                body["job_type"] = random.choices(types, weights)[0]
        resp = self.client.request(
            rc.endpoint.method,
            rc.endpoint.path.format(**params),
            json=body,
            headers=_credentials(rc, params),
            name=rc.endpoint.path,
        )
        if 200 <= resp.status_code < 300 and resp.content:
            answer: dict[str, Any] = resp.json()
            return answer
        return None

    def register(self, params: dict[str, int]) -> None:
        answer = self.send("register", PLATFORM.request_classes["register"], params)
        if answer is not None and answer.get("status") == "confirmed":
            self.confirmed.append((params["event_id"], params["attendee_id"]))

    def check_in(self, params: dict[str, int]) -> None:
        if not self.confirmed:
            self.register(params)
            return
        event_id, attendee_id = random.choice(self.confirmed)
        params = {**params, "event_id": event_id, "attendee_id": attendee_id}
        self.send("check_in", PLATFORM.request_classes["check_in"], params)


def _credentials(rc: RequestClass, params: dict[str, int]) -> dict[str, str]:
    """The bearer token the platform description says this request needs."""
    space = ROLE_KEY[rc.auth]
    if space is None or SECRET is None:
        return {}
    key = params[str(PLATFORM.key_spaces[space])]
    return {"Authorization": f"Bearer {mint(SECRET, f'{rc.auth}:{key}')}"}


def _task(name: str) -> Any:
    rc = PLATFORM.request_classes[name]
    special = {"register": PlatformClient.register, "check_in": PlatformClient.check_in}.get(name)

    def run(user: PlatformClient) -> None:
        params = user.params()
        if special is not None:
            special(user, params)
        else:
            user.send(name, rc, params)

    run.__name__ = name
    return run


class PlatformUser(PlatformClient):
    """Every endpoint of the platform, weighted by the scenario's request mix."""

    tasks = {_task(name): _weight(MIX[name]) for name in PLATFORM.class_names}  # noqa: RUF012
