"""Calibration of a core shared with the stack: background share, queries' CPU, shared work.

When every process of the measured deployment (database, Redis servers, job
worker) was pinned to the server processes' own CPUs (``stack_cpu.json`` of
the run), the core's time is the truth for three scenario fields:

* ``infrastructure.api.background_core``: what the stack used in the idle
  spell before the run, a share of the core whatever the load;
* ``infrastructure.api.job_core_ms``: the job worker's CPU beyond its idle
  polling, per job the run's requests enqueued (how many: the requests the
  server counted times the platform's jobs per request -- the server draws
  them from the same probabilities);
* ``infrastructure.db.core_share``: the stack's CPU beyond the background,
  the jobs and the handlers' fitted CPU goes first to the database calls (the driver
  under the GIL and the database's own work, on the same core), up to all of
  their time;
* ``infrastructure.api.shared_core_ms``: what remains, per request (the
  server's protocol work, Redis).

Given the deployment's capacity measured by a ramp (``--capacity``), the
core's time per request beyond its CPU is a fourth:
``infrastructure.api.handoff_ms`` (:func:`handoff_fit`).

A query on a shared core is slowed by the rest of the core's work, as a
task on a processor-sharing server at utilisation ``rho`` takes ``1 / (1 -
rho)`` times its size: on the reference stack the mean query time rose
1.3x, 1.6x and 1.8x from the low run to 30, 60 and 85 % of capacity, where
``1 / (1 - rho)`` gives 1.1x, 1.6x and 1.9x. The model slows the CPU share of
a query so (``db.core_share``); :func:`unshared` takes the low run's
slowdown out of its query times.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from perfcore.platform import PLATFORM
from simulation.measured import ENDPOINT_CLASS, JOB_WORKER, ServerDelta
from simulation.model.requests import MAX_RHO
from simulation.scenario import Scenario


@dataclass(frozen=True)
class Fitted:
    """One fitted value with the data behind it."""

    path: str  # dotted scenario path
    value: float | str  # a str names a choice (a distribution)
    count: int
    detail: str  # how it was derived, with the spread


def pinned_with_server(delta: ServerDelta, scenario: Scenario) -> bool:
    """Every stack process ran on the server processes' own CPUs."""
    api = scenario.infrastructure.api
    return bool(delta.stack_cpu_s) and delta.stack_cpus == scenario.service.workers * (
        api.cpus_per_replica
    )


def background_share(delta: ServerDelta, scenario: Scenario) -> float:
    """The share of a core the pinned stack used with no traffic (0 when not pinned or unknown)."""
    if not pinned_with_server(delta, scenario) or delta.stack_idle_share is None:
        return 0.0
    return min(delta.stack_idle_share / max(delta.stack_cpus or 1, 1), 0.5)


def job_fit(delta: ServerDelta) -> Fitted | None:
    """``api.job_core_ms`` from the job worker's CPU, or None without a worker or jobs."""
    cpu, idle = delta.stack_cpu_s or {}, delta.stack_idle_by or {}
    if JOB_WORKER not in cpu or delta.stack_wall_s is None:
        return None
    jobs = sum(
        h.count * sum(PLATFORM.request_classes[ENDPOINT_CLASS[e]].jobs.values())
        for e, h in delta.routes.items()
    )
    if jobs < 1:
        return None
    idle_s = idle.get(JOB_WORKER, 0.0) * delta.stack_wall_s
    busy_s = max(cpu[JOB_WORKER] - idle_s, 0.0)
    return Fitted(
        "infrastructure.api.job_core_ms",
        busy_s * 1000 / jobs,
        round(jobs),
        f"job worker CPU {cpu[JOB_WORKER]:.2f} s - {idle_s:.2f} s polling, for {jobs:.0f} jobs",
    )


def core_fit(
    delta: ServerDelta,
    scenario: Scenario,
    handlers: dict[str, tuple[float, float, int, int]],
    db_ms: dict[str, float],
) -> list[Fitted]:
    """The four fields, from the run's stack CPU; ``handlers``: per class (cpu_ms,
    miss_cpu_ms, requests, misses) as fitted; ``db_ms``: per query its fitted time."""
    counted = sum(h.count for h in delta.routes.values())
    cpu = delta.stack_cpu_s
    if not pinned_with_server(delta, scenario) or counted <= 0 or not cpu:
        return []
    infra = scenario.infrastructure
    cores = delta.stack_cpus or 1
    share = background_share(delta, scenario)
    out: list[Fitted] = []
    if delta.stack_idle_share is not None:
        out.append(
            Fitted(
                "infrastructure.api.background_core",
                share,
                int(counted),
                f"stack CPU with no traffic: {delta.stack_idle_share:.4f} s/s on {cores} core(s)",
            )
        )
    background_s = share * cores * (delta.stack_wall_s or 0.0)
    auth = {n: infra.api.auth_ms if PLATFORM.request_classes[n].auth != "public" else 0.0
            for n in handlers}  # fmt: skip
    in_handlers = sum((c + auth[k]) * n + more * m for k, (c, more, n, m) in handlers.items())
    in_handlers /= 1000
    jobs = job_fit(delta)
    jobs_s = 0.0
    if jobs is not None:
        out.append(jobs)
        jobs_s = float(jobs.value) * jobs.count / 1000
    total = sum(cpu.values())
    beyond = max(total - background_s - in_handlers - jobs_s, 0.0)
    db_s = sum(db_ms.get(q, 0.0) * h.count for q, h in delta.queries.items()) / 1000
    core_share = min(beyond / db_s, 1.0) if db_s > 0 else 0.0
    parts = ", ".join(f"{k} {v:.2f}" for k, v in sorted(cpu.items()))
    out.append(
        Fitted(
            "infrastructure.db.core_share",
            core_share,
            int(sum(h.count for h in delta.queries.values())),
            f"stack CPU {total:.2f} s on {cores} core(s) ({parts}) - background"
            f" {background_s:.2f} s - handlers {in_handlers:.2f} s - jobs {jobs_s:.2f} s"
            f" = {beyond:.2f} s"
            f" for {db_s:.2f} s of queries",
        )
    )
    shared = (beyond - core_share * db_s) * 1000 / counted
    out.append(
        Fitted(
            "infrastructure.api.shared_core_ms",
            shared,
            int(counted),
            "the rest of the stack's CPU per request",
        )
    )
    return out


def handoff_fit(delta: ServerDelta, scenario: Scenario, capacity_req_s: float) -> Fitted | None:
    """``api.handoff_ms``: the core's time per request at capacity less the CPU it measured.

    A deployment that saturates with its core partly idle holds the core
    without computing: the GIL handed between the event loop and the query
    threads, switches between processes pinned to one core. Saturation means
    the core (less its background share) is used up at ``capacity_req_s``, so
    a request holds it ``cores x (1 - background) / capacity`` seconds, of which
    the run's CPU per request is work. None when the CPU accounts for all of it
    or is unknown.
    """
    counted = sum(h.count for h in delta.routes.values())
    if counted <= 0 or capacity_req_s <= 0:
        return None
    api = scenario.infrastructure.api
    if pinned_with_server(delta, scenario) and delta.stack_cpu_s:
        cores = delta.stack_cpus or 1
        share = background_share(delta, scenario)
        busy_s = sum(delta.stack_cpu_s.values()) - share * cores * (delta.stack_wall_s or 0.0)
        what = "the stack's CPU"
    elif delta.cpu_s is not None:
        cores, share, busy_s = scenario.service.workers * api.cpus_per_replica, 0.0, delta.cpu_s
        what = "the server processes' CPU"
    else:
        return None
    held_ms = cores * (1.0 - share) * 1000.0 / capacity_req_s
    cpu_ms = max(busy_s, 0.0) * 1000.0 / counted
    return Fitted(
        "infrastructure.api.handoff_ms",
        max(held_ms - cpu_ms, 0.0),
        int(counted),
        f"{cores} core(s) x (1 - {share:.3f}) / {capacity_req_s:g} req/s = {held_ms:.2f} ms per"
        f" request at capacity, of which {what} {cpu_ms:.2f} ms",
    )


def sharing_slowdown(busy: float, core_share: float) -> float:
    """How much longer a query takes on a core ``busy`` of the time, ``core_share`` of it CPU."""
    return 1.0 - core_share + core_share / (1.0 - min(busy, MAX_RHO))


def core_busy(delta: ServerDelta, wall_s: float | None = None) -> float | None:
    """The pinned cores' busy share (the stack's CPU) over ``wall_s``, by default the time the
    stack was sampled; None when the stack's CPU or that time is not recorded."""
    wall = delta.stack_wall_s if wall_s is None else wall_s
    if not delta.stack_cpu_s or not delta.stack_cpus or not wall:
        return None
    return sum(delta.stack_cpu_s.values()) / delta.stack_cpus / wall


def shared_query_share(fitted: list[Fitted], scenario: Scenario) -> float:
    """The fitted ``db.core_share`` that sharing the core slows (0 with no sharing window)."""
    if not scenario.infrastructure.db.sharing_window_s:
        return 0.0
    share = next((f.value for f in fitted if f.path == "infrastructure.db.core_share"), 0.0)
    return share if isinstance(share, float) else 0.0


def unshared(fitted: list[Fitted], delta: ServerDelta, share: float) -> list[Fitted]:
    """The query times as on an idle core: divided by the run's :func:`sharing_slowdown`."""
    busy = core_busy(delta)
    if not share or busy is None:
        return fitted
    slowdown = sharing_slowdown(busy, share)
    how = f"; unshared: / {slowdown:.3f} (core {busy:.0%} busy)"
    return [
        replace(f, value=f.value / slowdown, detail=f.detail + how)
        if f.path.endswith(".with_index_ms") and isinstance(f.value, float)
        else f
        for f in fitted
    ]
