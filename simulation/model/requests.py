"""The request path: API slot, L1, L2, database -- one tight loop per batch of arrivals.

This is the model's hot spot, so it is written for speed, not elegance: one
function, state pulled into locals, no object per request. A request, in
arrival order:

1. takes the earliest-free API slot (FCFS over all slots; exact, see
   :mod:`simulation.model.pool`), then runs its CPU burst on the earliest-free
   CPU of the ready replicas (CPUs can be fewer than slots: an overloaded
   replica queues on CPU, which is what makes autoscaling matter). That CPU
   then stays busy for ``api.shared_core_ms`` more: the work other processes
   on the same core do for the request (a database or Redis pinned with the
   server, the server's own protocol and driver work outside the handler) --
   it delays the requests behind, not this one, whose own latency already
   holds it (in its query and round-trip times). Work on the core that does
   not follow the load (``api.background_core``, a share of its time)
   stretches both by ``1 / (1 - share)``. A request that finds the core
   idle since ``g`` seconds pays for waking it (``api.wake_factor``): its
   CPU, miss CPU and shared work take ``1 + wake_factor * (1 - exp(-g / wake_gap_s))``
   times as long (its query ``db.wake_factor``). A job worker pinned with the
   server (``api.job_core_ms``) runs each job the request enqueues as one
   burst from the request's end, before the requests then waiting for the
   core: the kernel runs a process that slept first when it wakes (a burst
   that finds the core idle pays for waking it, too). The CPU share of a
   query on the core (``db.core_share``) takes ``1 / (1 - rho)`` times as
   long, ``rho`` the core's utilisation over the last ``db.sharing_window_s``
   (processor sharing: MariaDB's threads share the core with everything else);
2. for a cached read: looks in its replica's L1 (the load balancer picks the
   replica uniformly), then L2; XFetch may decide to refresh early; a miss
   runs the class's query on the database pool and stores the value with the
   namespace's TTL when the query returns (a read that is not a hit spends
   ``miss_cpu_ms`` more on its core first: the response built from fetched
   rows) -- every decision through
   :mod:`perfcore.cache.policy`. A request finding the key expired while a
   fetch is in flight waits for it (single-flight; a miss without a query);
   during an early refresh the old value still serves;
3. for a write: runs its query, then invalidates the namespaces it touches,
   and marks stale the cached values that read a table it wrote but that it
   does not invalidate (see :func:`stale_marks`);
4. frees the slot when done.

The server's own timer (``begins``) starts with the request's first step on
the event loop. An asyncio loop runs ready steps first in, first out, so a
request waits for the loop before each of its steps (its start, and the
resumption after each await: an L2 round trip, a query on a worker thread,
an invalidation), not only before its first. The model queues the whole
request once, before its CPU burst; of that wait the server's timer sees
all but one step's share, ``(steps - 1) / steps``. Another process's spell
on the core in that wait (a query's CPU, a job) is the exception: it shares
the core with the handler once that has started, so the timer sees the
overlap, up to the handler's own CPU (two tasks sharing a core each take at
most twice as long).

Staleness: a cached value marked stale at time *w* and served at *now*
counts ``now - w`` seconds (how long the served value has been out of date);
a new fetch or an invalidation clears the mark.

It returns start, end and cache outcome per request; metrics and jobs are
derived from those arrays with numpy afterwards.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from perfcore.cache.policy import l1_expiry, xfetch_should_refresh
from perfcore.platform import PLATFORM
from simulation.model.cache import CacheTier, trim_l1
from simulation.model.pool import ServerPool
from simulation.scenario import REQUEST_CLASSES, Scenario

# Cache outcome of a request.
L1_HIT, L2_HIT, MISS, UNCACHED = 0, 1, 2, 3
MAX_RHO = 0.95  # past it a query's slowdown is capped: the model's own queue holds the overload
SPELLS_KEPT = 32  # spells remembered: past it the ones over go, then the oldest (overload)


@dataclass(frozen=True)
class ClassTable:
    """Per-class constants, as lists indexed by class id (fast to read in the loop)."""

    cpu_s: list[float]
    miss_cpu_s: list[float]  # more CPU on a miss (on the same core, after the lookup)
    db_s: list[float]  # mean query time, 0 when the class runs no query
    offset: list[int]  # -1: not cached
    use_l1: list[bool]
    ttl_s: list[float]
    invalidates: list[list[tuple[int, bool]]]  # (offset, keyed by event rather than by key)
    jobs: list[list[tuple[str, float]]]
    jobs_per_request: list[float]  # expected jobs one request enqueues
    marks: list[list[tuple[int, int]]]  # (offset, STALE_* key mode) a write leaves stale

    @classmethod
    def build(cls, scenario: Scenario, cache: CacheTier) -> ClassTable:
        """The platform's request classes with the scenario's costs and config."""
        infra = scenario.infrastructure
        queries = infra.db.queries
        stretch = 1.0 / (1.0 - infra.api.background_core)  # the core is not all the server's
        t = ClassTable([], [], [], [], [], [], [], [], [], [])
        for name in REQUEST_CLASSES:
            rc = PLATFORM.request_classes[name]
            # A class that needs a token pays for checking it, as the service does.
            auth_ms = infra.api.auth_ms if rc.auth != "public" else 0.0
            spec = infra.request_classes[name]
            t.cpu_s.append((spec.cpu_ms + auth_ms) / 1000.0 * stretch)
            t.miss_cpu_s.append(spec.miss_cpu_ms / 1000.0 * stretch)
            q = queries[rc.query] if rc.query else None
            ms = (q.with_index_ms if infra.db.indexed else q.without_index_ms) if q else 0.0
            t.db_s.append(ms / 1000.0)
            ns = rc.namespace
            ttl = cache.ttl(ns) if ns else None
            cached = cache.enabled and ns is not None and ttl is not None
            t.offset.append(cache.offset[ns] if cached and ns else -1)
            t.use_l1.append(bool(cached and ns and cache.uses_l1(ns)))
            t.ttl_s.append(ttl if ttl is not None else 0.0)
            inv = []
            if cache.enabled:
                for item in rc.invalidates:
                    # The key an invalidation uses is the event's or the request's own.
                    if item.key not in ("event", rc.key):
                        raise ValueError(f"{name}: cannot key an invalidation by {item.key}")
                    inv.append((cache.offset[item.namespace], item.key == "event"))
            t.invalidates.append(inv)
            t.jobs.append(sorted(rc.jobs.items()))
            t.jobs_per_request.append(sum(rc.jobs.values()))
            marks = stale_marks(name) if cache.enabled else []
            t.marks.append([(cache.offset[ns], mode) for ns, mode in marks])
        return t


# How a write's stale mark finds the key of a namespace (by the read's key space).
STALE_GLOBAL, STALE_EVENT, STALE_SESSIONS, STALE_OWN = 0, 1, 2, 3


def stale_marks(write_class: str) -> list[tuple[str, int]]:
    """Namespaces a write leaves stale: they read a table it writes and it does not invalidate.

    From the platform description only (query tables, invalidations):
    ``check_in`` writes ``registrations`` and ``check_ins``, which event pages
    and session pages read, and invalidates neither.

    >>> stale_marks("check_in")
    [('event_detail', 1), ('session_page', 2)]
    """
    rc = PLATFORM.request_classes[write_class]
    if not rc.write or rc.query is None:
        return []
    written = set(PLATFORM.queries[rc.query].tables)
    dropped = {i.namespace for i in rc.invalidates}
    found: list[tuple[str, int]] = []
    for read in PLATFORM.request_classes.values():
        ns = read.namespace
        if ns is None or read.query is None or ns in dropped or ns in (f[0] for f in found):
            continue
        if not written & set(PLATFORM.queries[read.query].tables):
            continue
        mode = {"global": STALE_GLOBAL, "event": STALE_EVENT, "session": STALE_SESSIONS}.get(
            read.key, STALE_OWN if read.key == rc.key else -1
        )
        if mode >= 0:
            found.append((ns, mode))
    return found


@dataclass(frozen=True)
class Served:
    """Outcome of a batch, aligned with its arrivals."""

    start: NDArray[np.float64]
    end: NDArray[np.float64]
    level: NDArray[np.int8]


class RequestPath:
    """API slots + cache + database pool, driven batch by batch in arrival order."""

    def __init__(
        self, scenario: Scenario, api: ServerPool, cpu: ServerPool, db: ServerPool, cache: CacheTier
    ) -> None:
        self.api, self.cpu, self.db, self.cache = api, cpu, db, cache
        self.table = ClassTable.build(scenario, cache)
        c = scenario.infrastructure.cache
        self.l1_s = c.l1_lookup_ms / 1000.0
        self.rtt_s = c.l2_rtt_ms / 1000.0
        self.beta = scenario.cache.xfetch_beta
        self.db_core = scenario.infrastructure.db.core_share
        spec, spec_db = scenario.infrastructure.api, scenario.infrastructure.db
        # A core idle for a gap pays for waking up (see ApiSpec.wake_factor).
        self.wake = (spec.wake_factor, spec_db.wake_factor, spec.wake_gap_s)
        self.cpu_dist = (spec.service, spec.service_cv)
        self.db_dist = (spec_db.service, spec_db.service_cv)
        self.shared_s = spec.shared_core_ms / 1000.0 / (1.0 - spec.background_core)
        # The core is held for hand-offs too, but they are not CPU (metrics use shared_s).
        self.hold_s = self.shared_s + spec.handoff_ms / 1000.0 / (1.0 - spec.background_core)
        # A job's burst on the core, and the bursts not yet run: (from when, seconds).
        self.job_s = spec.job_core_ms / 1000.0 / (1.0 - spec.background_core)
        self.bursts: list[tuple[float, float]] = []
        # Other processes' spells on the core (jobs, queries): (from, to), while they matter.
        self.others: list[tuple[float, float]] = []
        # The core's recent work, decayed over db.sharing_window_s, and when it was decayed.
        self.window = scenario.infrastructure.db.sharing_window_s if self.db_core else 0.0
        self.recent = [0.0, 0.0]
        self.sessions = max(scenario.workload.events.sessions_per_event, 1)
        # Per class: cached reads served, and the summed seconds they were out of date.
        n = len(REQUEST_CLASSES)
        self.stale_reads = [0] * n
        self.stale_s = [0.0] * n

    def serve(
        self,
        time: list[float],
        cls: list[int],
        event: list[int],
        key: list[int],
        cpu: list[float],
        dbs: list[float],
        lb: list[float],
        u: list[float],
    ) -> tuple[list[float], list[float], list[int], list[float]]:
        """Serve one batch; returns start, end, cache outcome and handler start per request.

        The handler start is when the request's first CPU burst begins: when a
        server's own latency timer starts (an asyncio server times a request
        from when its task first runs; the wait for the event loop before that
        is the client's only).

        ``cpu``/``dbs`` are drawn service times, ``lb`` uniforms in [0, 1) that
        pick the replica, ``u`` uniforms in (0, 1] for XFetch and for how many
        jobs a request enqueues (a class that enqueues jobs is a write, which
        XFetch never asks).
        """
        tab, cache = self.table, self.cache
        api, cpus, db = self.api.heap, self.cpu.heap, self.db.heap
        l2, inv_at, fetch, l1s = cache.l2_expires, cache.invalidated_at, cache.fetch_s, cache.l1
        land, nxt, dirty = cache.landing_at, cache.next_expires, cache.dirty_at
        offset, use_l1, ttl, invalidates = tab.offset, tab.use_l1, tab.ttl_s, tab.invalidates
        miss_cpu = tab.miss_cpu_s
        marks, n_sess = tab.marks, self.sessions
        stale_reads, stale_s = self.stale_reads, self.stale_s
        n_rep = len(l1s)
        l1_s, rtt, beta, l1_max, l1_cap, shared = (
            self.l1_s,
            self.rtt_s,
            self.beta,
            cache.l1_max_ttl,
            cache.l1_max_entries,
            self.hold_s,
        )
        db_core = self.db_core
        wake_cpu, wake_db, wake_gap = self.wake
        waking = bool(wake_cpu or wake_db)
        exp_ = math.exp
        job_s, bursts, per_request = self.job_s, self.bursts, tab.jobs_per_request
        push, pop = heapq.heappush, heapq.heappop
        others, spell = self.others, self.others.append
        track = bool(job_s or db_core)  # does another process work on the core?
        window, recent = self.window, self.recent
        work, last = recent
        slowdown = 1.0  # how much longer a query's CPU takes on the core now (the sharing)

        replace = heapq.heapreplace

        def query(ready: float, hold: float, ds: float) -> tuple[float, float]:
            """A query from ``ready`` on: (core busy until, done).

            It takes the earliest-free connection and is done ``ds`` later. Its CPU
            part (``db_core``) keeps the core busy that much longer, after the
            request's shared work: that work delays the requests behind, not this
            request's own query (the work of earlier requests is behind the core
            already: requests take the core in arrival order).
            """
            g = db[0]
            g = g if g > ready else ready
            done = g + ds
            if db_core:
                a = hold if hold > g else g
                hold = a + ds * db_core
                spell((a, hold))
                done += ds * db_core * (slowdown - 1.0)
            replace(db, done)
            return hold, done

        refresh, l1_exp, trim = xfetch_should_refresh, l1_expiry, trim_l1
        starts: list[float] = []
        ends: list[float] = []
        levels: list[int] = []
        begins: list[float] = []
        add_start, add_end, add_level = starts.append, ends.append, levels.append
        add_begin = begins.append
        for t, c, ev, k, cp, ds, r, uu in zip(time, cls, event, key, cpu, dbs, lb, u, strict=True):
            free = api[0]
            start = free if free > t else t
            # The handler's CPU burst queues for one of the replicas' CPUs. Slot
            # starts are non-decreasing (FCFS), so this pool is exact FCFS too.
            core = cpus[0]
            if window:
                # A core shared at utilisation rho runs each task 1 / (1 - rho) times as
                # long (M/G/1 processor sharing): the query's CPU on it is slowed so.
                work *= exp_((last - t) / window)
                last = t
                rho = work / window
                slowdown = 1.0 / (1.0 - (rho if rho < MAX_RHO else MAX_RHO))
            ran = 0.0  # the jobs' bursts run before this request
            if bursts and bursts[0][0] < (start if start > core else core):
                # Jobs that arrived before this request would begin take the core first.
                while bursts and bursts[0][0] < (start if start > core else core):
                    at, burst = pop(bursts)
                    if waking and at > core:  # a job waking an idle core pays for it too
                        burst *= 1.0 + wake_cpu * (1.0 - exp_((core - at) / wake_gap))
                    at = core if core > at else at
                    core = at + burst
                    ran += burst
                    spell((at, core))
                replace(cpus, core)
                core = cpus[0]
            warm = 1.0
            if waking and start > core:
                # The core slept for start - core: this request's work pays for waking it.
                cold = 1.0 - exp_((core - start) / wake_gap)
                warm = 1.0 + wake_cpu * cold
                cp *= warm
                ds *= 1.0 + wake_db * cold
            begin = core if core > start else start
            seen = 0.0  # of the wait before the handler's CPU, what the server's timer sees
            if track and len(others) > SPELLS_KEPT:
                others[:] = [o for o in others if o[1] > start]  # over: they overlap nothing
            if track and begin > start:
                # The server's own backlog is before its timer starts; another process's
                # spell (a query, a job) shares the core with a handler that has started
                # and slows it by the overlap, at most by its own CPU (two sharing a core
                # each take at most twice as long).
                del others[:-SPELLS_KEPT]  # overload: only the latest spells
                for a, b in others:
                    lo = a if a > start else start
                    hi = b if b < begin else begin
                    if hi > lo:
                        seen += hi - lo
                if seen > cp:
                    seen = cp
            now = begin + cp
            hold = now + shared * warm  # until when the core is busy for this request
            off = offset[c]
            if off >= 0:
                gk = off + k
                level = MISS
                d = None
                if use_l1[c]:
                    d = l1s[int(r * n_rep)]
                    e = d.get(gk)
                    if e is not None and e[0] > now and e[1] >= inv_at[gk]:
                        level = L1_HIT
                        steps = 1
                        end = now + l1_s
                        w = dirty[gk]
                        if w and now > w:
                            stale_reads[c] += 1
                            stale_s[c] += now - w
                if level:
                    now += l1_s
                    la = land[gk]
                    if la and la <= now:  # a fetch landed since: its value is current
                        l2[gk] = nxt[gk]
                        land[gk] = la = 0.0
                    exp = l2[gk]
                    if exp > now and (la or not refresh(now, exp, fetch[gk], beta, uu)):
                        # A hit (while an early refresh is in flight, too: the old value serves).
                        level = L2_HIT
                        steps = 2
                        end = now + rtt
                        w = dirty[gk]
                        if w and now > w:
                            stale_reads[c] += 1
                            stale_s[c] += now - w
                        if d is not None:
                            d[gk] = (l1_exp(now, exp, l1_max, fetch[gk], beta), now)
                            if len(d) > l1_cap:
                                trim(d, now, l1_cap)
                    else:
                        # Not a hit: the response is built from fetched rows (more CPU).
                        mc = miss_cpu[c] * warm
                        if mc:
                            now += mc
                            hold += mc
                        if la:
                            # Expired, and another request's fetch is in flight: wait for it.
                            steps = 3
                            end = (la if la > now else now) + rtt
                        else:
                            # A miss, or XFetch chose this request to refresh early.
                            steps = 4  # L2 get, the query, L2 set, the response
                            q = now + rtt
                            if ds > 0.0:
                                hold, done = query(q, hold, ds)
                            else:
                                done = q
                            fetch[gk] = done - q
                            land[gk] = done
                            dirty[gk] = 0.0  # a fresh read of the tables
                            exp = done + ttl[c]
                            nxt[gk] = exp
                            if d is not None:
                                d[gk] = (l1_exp(done, exp, l1_max, fetch[gk], beta), done)
                                if len(d) > l1_cap:
                                    trim(d, now, l1_cap)
                            end = done + rtt
            else:
                level = UNCACHED
                steps = (2 if ds > 0.0 else 1) + len(invalidates[c])
                if ds > 0.0:
                    hold, end = query(now, hold, ds)
                else:
                    end = now
                for inv_off, by_event in invalidates[c]:
                    gk = inv_off + (ev if by_event else k)
                    l2[gk] = 0.0
                    land[gk] = 0.0  # the write wins over a fetch in flight
                    inv_at[gk] = end
                    dirty[gk] = 0.0
                    end += rtt
                for m_off, mode in marks[c]:
                    if mode == STALE_SESSIONS:
                        first = m_off + ev * n_sess
                        for gk in range(first, first + n_sess):
                            if not dirty[gk]:
                                dirty[gk] = end
                        continue
                    gk = m_off + (0 if mode == STALE_GLOBAL else ev if mode == STALE_EVENT else k)
                    if not dirty[gk]:
                        dirty[gk] = end
            replace(cpus, hold)
            replace(api, end)
            if window:
                work += ran + hold - begin
            if job_s and per_request[c]:
                m = per_request[c]
                n = int(m) + (uu <= m - int(m))
                if n:
                    push(bursts, (end, n * job_s))
            add_start(start)
            add_end(end)
            add_level(level)
            add_begin(start + (begin - start - seen) / steps)
        recent[0], recent[1] = work, last
        return starts, ends, levels, begins

    def draw(
        self, cls: NDArray[np.int8], rng: np.random.Generator
    ) -> tuple[NDArray[np.float64], ...]:
        """Service times (CPU and query) and uniforms for a batch, vectorised."""
        n = cls.shape[0]
        cpu = _times(np.asarray(self.table.cpu_s)[cls], *self.cpu_dist, rng)
        dbs = _times(np.asarray(self.table.db_s)[cls], *self.db_dist, rng)
        lb = np.asarray(rng.random(size=n), dtype=np.float64)
        u = 1.0 - np.asarray(rng.random(size=n), dtype=np.float64)  # (0, 1]: XFetch takes log(u)
        return cpu, dbs, lb, u


def _times(
    mean: NDArray[np.float64], dist: str, cv: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Service times with these means, drawn from ``dist`` (``cv``: lognormal's spread)."""
    if dist == "exponential":
        return mean * rng.standard_exponential(mean.shape[0])
    if dist == "lognormal":
        sigma2 = math.log1p(cv * cv)
        return mean * rng.lognormal(-sigma2 / 2, math.sqrt(sigma2), mean.shape[0])
    return mean.copy()
