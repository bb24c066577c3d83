"""Locust users for the reference API: the platform's endpoints in the scenario's mix.

One task per request class of :data:`perfcore.platform.PLATFORM` -- its
method and path template, filled from id pools -- weighted by that class's
share of the scenario's day (:func:`simulation.workload.request_mix`), so a
load test and a simulation of the same scenario send the same mix. A check-in
goes to a registration this user made and got confirmed (the platform refuses
others); until there is one, the task registers instead. Each request carries
the token its class needs (an attendee's own, an event's organizer's), signed
with the service's key from ``$PERFCORE_AUTH_SECRET`` or its secret file.

Load goes to loopback, or to a host given with ``--allow-host`` (parsed as
the HTTP client parses it, :mod:`perfcore.service.hosts`); any other
``--host`` stops Locust at start with exit code 2, and a redirect to a host
outside the allow-list is a failure, never followed. ``--plan PLAN.json``
(written by ``perfcore loadtest --scenario``) supplies path templates and id
pools for a staging deployment of the real platform; the plan-driven open-loop
users are in ``scenario_users.py``. Run it through ``perfcore loadtest``
(bounded run time, CSV parsed into a summary) or directly::

    locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8000 -u 20 -r 5 -t 30s
"""

from __future__ import annotations

import json
import logging
import random
import sys
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events
from locust.env import Environment

from perfcore.config import ServiceConfig
from perfcore.errors import BadInput
from perfcore.platform import PLATFORM, RequestClass
from perfcore.platform.model import ROLE_KEY
from perfcore.platform.seed import SeedSize
from perfcore.service.auth import find_secret, mint
from perfcore.service.hosts import redirect_allowed, target_of
from simulation.scenario import Scenario
from simulation.workload import request_mix

SEED = SeedSize()
MIX = request_mix(Scenario())
# The service's token key ($PERFCORE_AUTH_SECRET or its secret file): users sign
# their own tokens, as the platform's login would hand them out.
SECRET = find_secret(ServiceConfig())
log = logging.getLogger("perfcore.loadtest")
PLAN: dict[str, Any] = {}  # the --plan file, loaded at init


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
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        help="a non-loopback host this run may target (repeatable)",
    )
    parser.add_argument("--plan", default="", help="load plan JSON (perfcore loadtest --scenario)")


def allowed_hosts(environment: Environment) -> list[str]:
    options = environment.parsed_options
    return list(getattr(options, "allow_host", None) or [])


def _refuse_non_loopback(environment: Environment) -> str | None:
    try:
        target_of(environment.host or "", allowed_hosts(environment))
    except BadInput as exc:
        return str(exc)
    return None


@events.init.add_listener
def _guard_at_init(environment: Environment, **_: Any) -> None:
    plan_path = (
        getattr(environment.parsed_options, "plan", "") if environment.parsed_options else ""
    )
    if plan_path:
        PLAN.update(json.loads(Path(plan_path).read_text(encoding="utf-8")))
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
        pools: dict[str, dict[str, Any]] = PLAN.get("id_pools", {})
        if "event_id" in pools:
            self.event_ids = _pool_ids(pools["event_id"], 1)
            return
        path = self.path_of("list_active_events")
        with self.client.get(path, name=path, catch_response=True) as resp:
            # status_code, not .ok: Locust's .ok re-raises a connection error
            ids = [e["id"] for e in resp.json()] if resp.status_code == 200 else []
            if not ids:
                resp.failure("no active events: is the service seeded?")
        self.event_ids = ids or [1]

    def path_of(self, name: str) -> str:
        """The target's path template of a request class (the plan's, else the platform's)."""
        paths: dict[str, str] = PLAN.get("paths", {})
        return paths.get(name, PLATFORM.request_classes[name].endpoint.path)

    def params(self) -> dict[str, int]:
        options = self.environment.parsed_options
        pools: dict[str, dict[str, Any]] = PLAN.get("id_pools", {})

        def draw(name: str, default_high: int) -> int:
            pool = pools.get(name)
            if pool is None:
                return random.randint(1, default_high)
            if pool.get("values"):
                return int(random.choice(pool["values"]))
            return random.randint(int(pool.get("low", 1)), int(pool.get("high") or default_high))

        return {
            "event_id": random.choice(self.event_ids),
            "attendee_id": draw("attendee_id", options.attendees),
            "session_id": draw("session_id", options.sessions),
        }

    def send(self, name: str, rc: RequestClass, params: dict[str, int]) -> dict[str, Any] | None:
        """One request of class ``name``; the JSON answer of a 2xx, else None."""
        body: dict[str, Any] | None = None
        if rc.endpoint.method == "POST":
            body = {p: v for p, v in params.items() if p == "attendee_id"} if rc.write else {}
            if rc.caller_picks_job:
                types, weights = zip(*sorted(rc.jobs.items()), strict=True)
                body["job_type"] = random.choices(types, weights)[0]
        template = self.path_of(name)
        credentials = _credentials(rc, params)
        with self.client.request(
            rc.endpoint.method,
            template.format(**params),
            json=body,
            headers=credentials,
            name=template,
            allow_redirects=False,  # redirects are checked against the allow-list first
            catch_response=True,
        ) as resp:
            location = resp.headers.get("location") if resp.is_redirect else None
            if location is not None:
                base = self.host or ""
                if not redirect_allowed(base, location, allowed_hosts(self.environment)):
                    resp.failure(f"redirect to a host that is not allowed: {location}")
                    return None
                resp.success()
        if location is not None:
            resp = self.client.request(
                rc.endpoint.method, location, json=body, headers=credentials, name=template
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


def _pool_ids(pool: dict[str, Any], default_high: int) -> list[int]:
    """An id pool of the plan: its values, else low..high (high: the seed size)."""
    if pool.get("values"):
        return list(pool["values"])
    high = pool.get("high") or default_high
    return list(range(int(pool.get("low", 1)), int(high) + 1))


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
