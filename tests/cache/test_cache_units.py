"""Pure parts of the cache: keys, codec, L1, breaker, single-flight, invalidation log, warm-up."""

from __future__ import annotations

import asyncio
import zlib

import orjson
import pytest
from cache_helpers import FakeClock

from perfcore.cache.breaker import CircuitBreaker, LogThrottle
from perfcore.cache.codec import (
    CacheValueError,
    CorruptEntry,
    ValueTooLarge,
    decode,
    encode,
)
from perfcore.cache.invalidation import Invalidation, InvalidationLog
from perfcore.cache.keys import (
    InvalidKey,
    compile_glob,
    redis_key,
    split_redis_key,
    validate_key,
    validate_namespace,
    validate_pattern,
)
from perfcore.cache.memory import ENTRY_OVERHEAD, L1Entry, MemoryCache
from perfcore.cache.singleflight import SingleFlight
from perfcore.cache.warm import Loader, run_loaders
from perfcore.errors import BadInput

# ------------------------------------------------------------------ keys


@pytest.mark.parametrize("namespace", ["", " ", "a b", "ev*", "ev?", "ev[1]", "a:b", "x" * 65, "é"])
def test_bad_namespaces_are_rejected(namespace: str) -> None:
    with pytest.raises(InvalidKey, match="namespace"):
        validate_namespace(namespace)


@pytest.mark.parametrize("key", ["", " ", "a b", "a\tb", "a*", "a?", "a[1]", "a\\b", "k" * 513])
def test_bad_keys_are_rejected(key: str) -> None:
    with pytest.raises(InvalidKey, match="key"):
        validate_key(key, 512)


def test_invalid_key_is_bad_input_for_the_cli() -> None:
    assert issubclass(InvalidKey, BadInput)


def test_key_layout_round_trips() -> None:
    assert validate_namespace("user.perms-2") == "user.perms-2"
    assert validate_key("event:42/ü", 512) == "event:42/ü"
    full = redis_key("pc", "events", "42:x")
    assert full == "pc:events:42:x"
    assert split_redis_key("pc", full) == ("events", "42:x")
    assert split_redis_key("other", full) is None


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("events:*", "events:1", True),
        ("events:*", "eventsX:1", False),
        ("ev?nts:*", "events:9", True),
        ("e[u-w]ents:1", "events:1", True),
        ("e[^u-w]ents:1", "events:1", False),
        ("e[^u-w]ents:1", "exents:1", True),
        (r"a\*", "a*", True),
        (r"a\*", "ab", False),
        ("*", "anything:at all", True),
        ("a.b", "axb", False),
    ],
)
def test_glob_matches_like_redis(pattern: str, text: str, matches: bool) -> None:
    assert bool(compile_glob(pattern).fullmatch(text)) is matches


@pytest.mark.parametrize("pattern", ["", "a b", "ev[ents"])
def test_bad_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(InvalidKey, match="pattern"):
        validate_pattern(pattern)


# ------------------------------------------------------------------ codec


@pytest.mark.parametrize("value", [0, "", [], {}, False, None, 1.5, {"a": [1, "x", None]}])
def test_codec_round_trips_falsy_and_nested_values(value: object) -> None:
    data = encode(value, 123.5, 0.25, max_bytes=1000, oversize="error")
    assert data.startswith(b"{")
    assert orjson.loads(data) == {"v": value, "e": 123.5, "d": 0.25}
    entry = decode(data)
    assert (entry.value, entry.expires_at, entry.fetch_seconds) == (value, 123.5, 0.25)
    assert entry.size == len(data)


def test_oversize_values_compress_or_fail_by_config() -> None:
    value = "x" * 5000  # compresses well
    with pytest.raises(ValueTooLarge, match="max_value_bytes=1000"):
        encode(value, 1.0, 0.0, max_bytes=1000, oversize="error")
    packed = encode(value, 1.0, 0.0, max_bytes=1000, oversize="compress")
    assert packed.startswith(b"z:") and len(packed) <= 1000
    assert orjson.loads(zlib.decompress(packed[2:]))["v"] == value
    assert decode(packed).value == value


def test_incompressible_oversize_value_is_a_clear_error() -> None:
    noise = list(range(3000))
    with pytest.raises(ValueTooLarge, match="compressed"):
        encode(noise, 1.0, 0.0, max_bytes=200, oversize="compress")


def test_non_json_values_are_refused_not_pickled() -> None:
    with pytest.raises(CacheValueError, match="JSON"):
        encode(object(), 1.0, 0.0, max_bytes=1000, oversize="error")


@pytest.mark.parametrize("data", [b"\x80\x04pickle", b"{}", b"[1]", b"z:notzlib", b'{"v":1}'])
def test_foreign_bytes_are_corrupt_entries(data: bytes) -> None:
    with pytest.raises(CorruptEntry):
        decode(data)


# ------------------------------------------------------------------ L1


def _entry(value: object, expires_at: float = 1e12, size: int = 10) -> L1Entry:
    return L1Entry(value, expires_at, size)


def test_l1_is_bounded_by_entries_with_lru_order() -> None:
    l1 = MemoryCache(max_entries=3, max_bytes=10**9)
    for name in "abc":
        l1.set(("ns", name), _entry(name))
    assert l1.get(("ns", "a"), 0.0) is not None  # a is now most recently used
    l1.set(("ns", "d"), _entry("d"))
    assert len(l1) == 3
    assert l1.get(("ns", "b"), 0.0) is None  # least recently used went first
    assert l1.get(("ns", "a"), 0.0) is not None
    assert l1.evictions == 1


def test_l1_is_bounded_by_bytes() -> None:
    per = 100 + ENTRY_OVERHEAD
    l1 = MemoryCache(max_entries=1000, max_bytes=3 * per)
    for i in range(10):
        l1.set(("ns", str(i)), _entry(i, size=100))
    assert len(l1) == 3
    assert l1.bytes == 3 * per
    assert not l1.set(("ns", "huge"), _entry("x", size=10 * per))
    assert l1.get(("ns", "huge"), 0.0) is None


def test_l1_expiry_and_falsy_values() -> None:
    l1 = MemoryCache(10, 10**6)
    l1.set(("ns", "zero"), _entry(0, expires_at=5.0))
    hit = l1.get(("ns", "zero"), 4.9)
    assert hit is not None and hit.value == 0
    assert l1.get(("ns", "zero"), 5.0) is None
    assert len(l1) == 0 and l1.bytes == 0


def test_l1_pattern_delete_keeps_other_namespaces() -> None:
    l1 = MemoryCache(100, 10**6)
    for ns in ("events", "users"):
        for i in range(3):
            l1.set((ns, str(i)), _entry(i))
    assert l1.delete_pattern(compile_glob("events:*")) == 3
    assert len(l1) == 3
    assert all(l1.get(("users", str(i)), 0.0) is not None for i in range(3))


# ------------------------------------------------------------------ breaker


def test_breaker_opens_after_threshold_and_recovers_after_trial() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=5.0, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 5.0
    assert breaker.allow()  # the one trial call
    assert not breaker.allow()  # no second trial meanwhile
    breaker.record_failure()  # trial failed: open for another period
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 5.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()
    assert breaker.opened_count == 1


def test_breaker_trial_that_never_reports_expires() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=1.0, clock=clock)
    breaker.record_failure()
    clock.now += 1.0
    assert breaker.allow()
    clock.now += 1.0  # the trial caller vanished
    assert breaker.allow()


def test_log_throttle_allows_one_per_interval() -> None:
    clock = FakeClock()
    throttle = LogThrottle(30.0, clock=clock)
    assert [throttle.ready() for _ in range(5)] == [True, False, False, False, False]
    clock.now += 30.0
    assert throttle.ready()
    assert throttle.suppressed == 4


# ------------------------------------------------------------------ single-flight


async def test_single_flight_runs_once_and_shares_result() -> None:
    flight = SingleFlight()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return 0

    results = await asyncio.gather(*(flight.do("k", work) for _ in range(100)))
    assert results == [0] * 100
    assert calls == 1
    assert len(flight) == 0
    assert await flight.do("k", work) == 0 and calls == 2  # done flights are forgotten


async def test_single_flight_propagates_the_same_exception() -> None:
    flight = SingleFlight()
    boom = LookupError("boom")

    async def work() -> int:
        await asyncio.sleep(0.01)
        raise boom

    results = await asyncio.gather(
        *(flight.do("k", work) for _ in range(5)), return_exceptions=True
    )
    assert all(r is boom for r in results)


async def test_single_flight_survives_a_cancelled_waiter() -> None:
    flight = SingleFlight()

    async def work() -> str:
        await asyncio.sleep(0.05)
        return "v"

    first = asyncio.create_task(flight.do("k", work))
    second = asyncio.create_task(flight.do("k", work))
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second == "v"


# ------------------------------------------------------------------ invalidation log


def test_invalidation_log_tracks_keys_and_patterns() -> None:
    log = InvalidationLog(size=4)
    start = log.seq
    assert not log.touched_since(start, "events", "1")
    log.record(Invalidation(namespace="events", key="1"))
    assert log.touched_since(start, "events", "1")
    assert not log.touched_since(start, "events", "2")
    mid = log.seq
    log.record(Invalidation(pattern="users:*"))
    assert log.touched_since(mid, "users", "7")
    assert not log.touched_since(mid, "events", "1")
    for _ in range(5):  # overflow: anything older than the window counts as touched
        log.record(Invalidation(namespace="x", key="y"))
    assert log.touched_since(start, "events", "2")


def test_invalidation_messages_round_trip() -> None:
    item = Invalidation(pattern="ev*")
    assert Invalidation.decode(item.encode("me")) == ("me", item)
    key = Invalidation(namespace="ns", key="k")
    assert Invalidation.decode(key.encode("you")) == ("you", key)
    with pytest.raises(ValueError):
        Invalidation.decode(b'{"o": "x"}')


# ------------------------------------------------------------------ warm-up


async def test_warm_up_is_bounded_and_isolates_failures() -> None:
    running = peak = 0
    stored: dict[str, object] = {}
    failures: list[str] = []

    def make(name: str, fail: bool) -> Loader:
        async def load() -> object:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1
            if fail:
                raise RuntimeError(f"{name} down")
            return [name]

        return Loader(name, load, 60.0, "warm")

    async def store(loader: Loader, value: object, seconds: float) -> None:
        stored[loader.name] = value

    loaders = [make(f"l{i}", fail=i == 2) for i in range(6)]
    summary = await run_loaders(loaders, store, lambda lo: failures.append(lo.name), 2, ["gone"])
    assert peak == 2
    assert sorted(summary.warmed) == ["l0", "l1", "l3", "l4", "l5"]
    assert summary.failed == {"l2": "RuntimeError: l2 down"}
    assert failures == ["l2"] and "l2" not in stored
    assert summary.missing == ["gone"] and not summary.ok


async def test_gate_bounds_concurrency_and_lets_everyone_through() -> None:
    from perfcore.cache.backend import Gate

    gate = Gate(3)
    inside = peak = done = 0

    async def user() -> None:
        nonlocal inside, peak, done
        async with gate:
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.001)
            inside -= 1
        done += 1

    waiter = asyncio.gather(*(user() for _ in range(20)))
    await asyncio.sleep(0)
    canceller = asyncio.ensure_future(user())  # a queued caller that gives up
    await asyncio.sleep(0)
    canceller.cancel()
    await waiter
    assert (peak, done, gate.busy) == (3, 20, 0)
