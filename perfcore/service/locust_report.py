"""Reading a Locust run: bounded run times, and the summary parsed from ``--csv`` stats.

Pure functions (no subprocess, no network): :func:`parse_run_time` turns
``30s``/``2m``/``1m30s`` into seconds and refuses unbounded or too-long runs;
:func:`summarize` reads ``PREFIX_stats.csv`` (and :func:`summarize_json`
Locust's exact final ``--json`` statistics) into requests, failures and
p50/p95/p99 per endpoint plus the aggregate.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from perfcore.errors import BadInput

MAX_RUN_TIME_S = 600  # load tests are bounded: ten minutes at most
# Locust's own grammar (20, 20s, 3m, 1h20m), but not locust.util.timespan.parse_timespan:
# importing any locust module gevent-monkey-patches this whole process (Locust runs in a
# subprocess); a test checks both parsers agree.
_SPAN = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
PERCENTILES = {"p50": "50%", "p95": "95%", "p99": "99%"}


def parse_run_time(text: str, cap_s: int = MAX_RUN_TIME_S) -> int:
    """Seconds in ``text`` (``90``, ``30s``, ``2m``, ``1h``, ``1m30s``), within 1..``cap_s``."""
    value = text.strip().lower()
    if value.isdigit():
        seconds = int(value)
    else:
        match = _SPAN.fullmatch(value)
        if not value or match is None:
            raise BadInput(f"--run-time: expected e.g. 30s, 2m or 1m30s, got {text!r}")
        h, m, s = (int(part) if part else 0 for part in match.groups())
        seconds = h * 3600 + m * 60 + s
    if not 0 < seconds <= cap_s:
        raise BadInput(f"--run-time: must be between 1 s and {cap_s} s, got {seconds} s")
    return seconds


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "", "N/A") else None
    except ValueError:
        return None


def _row_summary(row: dict[str, str]) -> dict[str, Any]:
    requests = int(row["Request Count"])
    failures = int(row["Failure Count"])
    return {
        "requests": requests,
        "failures": failures,
        "failure_ratio": failures / requests if requests else 0.0,
        "requests_per_s": _number(row.get("Requests/s")) or 0.0,
        "latency_ms": {key: _number(row.get(col)) for key, col in PERCENTILES.items()},
    }


def summarize(stats_csv: Path) -> dict[str, Any]:
    """The run's totals and per-endpoint figures from Locust's ``_stats.csv``.

    Endpoints are keyed ``"METHOD name"`` (names are route templates in our
    locustfile).  A missing file means Locust never ran the test: BadInput.
    """
    try:
        with stats_csv.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise BadInput(f"locust stats: cannot read {stats_csv}: {exc.strerror}") from None
    endpoints: dict[str, dict[str, Any]] = {}
    total: dict[str, Any] | None = None
    for row in rows:
        if row.get("Name") == "Aggregated":
            total = _row_summary(row)
        else:
            endpoints[f"{row['Type']} {row['Name']}"] = _row_summary(row)
    if total is None:
        raise BadInput(f"locust stats: {stats_csv} has no Aggregated row")
    return {**total, "endpoints": dict(sorted(endpoints.items()))}


def percentile_of(times: dict[float, int], q: float) -> float | None:
    """The ``q`` quantile of Locust's ``response_times`` histogram (rounded ms -> count)."""
    total = sum(times.values())
    if total == 0:
        return None
    need, seen = q * total, 0
    for ms in sorted(times):
        seen += times[ms]
        if seen >= need:
            return float(ms)
    return float(max(times))


def _json_entry(
    requests: int, failures: int, span_s: float, times: dict[float, int]
) -> dict[str, Any]:
    return {
        "requests": requests,
        "failures": failures,
        "failure_ratio": failures / requests if requests else 0.0,
        "requests_per_s": requests / span_s if span_s > 0 else 0.0,
        "latency_ms": {k: percentile_of(times, int(c[:-1]) / 100) for k, c in PERCENTILES.items()},
    }


def read_final_stats(path: Path) -> list[dict[str, Any]]:
    """Locust's ``--json`` output: its final, exact per-endpoint statistics."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"locust stats: cannot read {path}: {exc}") from None
    if not isinstance(entries, list):
        raise BadInput(f"locust stats: {path} is not Locust's --json output")
    return entries


def summarize_json(path: Path) -> dict[str, Any]:
    """The run's totals and per-endpoint figures from Locust's final ``--json`` statistics.

    Exact at the end of the run, unlike ``_stats.csv``, which Locust rewrites
    once a second and may leave one snapshot behind.
    """
    entries = read_final_stats(path)
    endpoints: dict[str, dict[str, Any]] = {}
    merged: dict[float, int] = {}
    first = min((e["start_time"] for e in entries), default=0.0)
    last = max((e["last_request_timestamp"] or 0.0 for e in entries), default=0.0)
    for e in entries:
        times = {float(ms): int(n) for ms, n in e["response_times"].items()}
        for ms, n in times.items():
            merged[ms] = merged.get(ms, 0) + n
        span = (e["last_request_timestamp"] or e["start_time"]) - e["start_time"]
        endpoints[f"{e['method']} {e['name']}"] = _json_entry(
            e["num_requests"], e["num_failures"], max(span, 1.0), times
        )
    total = _json_entry(
        sum(e["num_requests"] for e in entries),
        sum(e["num_failures"] for e in entries),
        max(last - first, 1.0),
        merged,
    )
    return {**total, "endpoints": dict(sorted(endpoints.items()))}


def format_table(summary: dict[str, Any]) -> str:
    """A human-readable table of the summary (for the terminal)."""
    lines = [f"{'endpoint':<46}{'reqs':>8}{'fails':>7}{'p50':>8}{'p95':>8}{'p99':>8}  (ms)"]

    def line(name: str, item: dict[str, Any]) -> str:
        lat = item["latency_ms"]
        cells = "".join(f"{v:>8.0f}" if v is not None else f"{'-':>8}" for v in lat.values())
        return f"{name:<46}{item['requests']:>8}{item['failures']:>7}{cells}"

    lines += [line(name, item) for name, item in summary["endpoints"].items()]
    lines.append(line("total", summary))
    return "\n".join(lines)
