"""Validation: predicted vs measured, per endpoint and overall, with errors and a verdict.

Measured figures per endpoint: requests/s and failures from Locust, latency
percentiles both server-side (the ``/metrics`` histogram delta, which is what
the model models: no client or network) and client-side (Locust), hit ratio
per route from the server's cache results. Predicted: the replay's requests
per class, with latency as the server's timer sees it (from the handler's
first CPU burst: a request waiting for the event loop is not yet timed) and
as the client sees it (from arrival, ``client_latency_ms``). ``p95_error`` is
predicted/measured - 1 of the server-side p95s (Locust's and the
client-side prediction when the server has no histogram); ``rps_error``
likewise; ``hit_ratio_diff`` is predicted - measured.
Endpoints with fewer than ``min_requests`` requests are reported, not judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from perfcore.platform import PLATFORM
from simulation.measured import ENDPOINT_CLASS, Histogram, ServerDelta
from simulation.model.requests import L1_HIT, L2_HIT, UNCACHED
from simulation.replay import Replayed
from simulation.scenario import REQUEST_CLASSES

QS = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


@dataclass(frozen=True)
class Tolerances:
    p95: float = 0.15
    rps: float = 0.05
    hit_ratio: float = 0.03
    min_requests: int = 500


def _rel(pred: float | None, meas: float | None) -> float | None:
    if pred is None or meas is None or not meas or math.isnan(pred) or math.isnan(meas):
        return None
    return round(pred / meas - 1.0, 4)


def _pct(values: np.ndarray[Any, Any]) -> dict[str, float | None]:
    if values.size == 0:
        return dict.fromkeys(QS)
    return {k: round(float(np.percentile(values, q * 100)), 3) for k, q in QS.items()}


def _hist_pct(h: Histogram | None) -> dict[str, float | None]:
    if h is None or h.count == 0:
        return dict.fromkeys(QS)
    return {k: round(h.quantile(q) * 1000, 3) for k, q in QS.items()}


def _predicted(rep: Replayed, ids: list[int], duration_s: float, since_s: float) -> dict[str, Any]:
    mask = np.isin(rep.cls, ids) & (rep.time >= since_s)
    lev = rep.level[mask]
    cached = lev != UNCACHED
    hits = np.isin(lev, [L1_HIT, L2_HIT])
    return {
        "requests": int(mask.sum()),
        "requests_per_s": round(float(mask.sum()) / duration_s, 4),
        "failure_ratio": 0.0,
        # What the server's own timer sees (from the handler's start), and the client.
        "latency_ms": _pct(rep.handler_ms[mask]),
        "client_latency_ms": _pct(rep.latency_ms[mask]),
        "hit_ratio": round(float(hits.sum() / cached.sum()), 4) if cached.any() else None,
    }


def _row(predicted: dict[str, Any], measured: dict[str, Any], tol: Tolerances) -> dict[str, Any]:
    # Like with like: the server's histogram against the handler's time; without it,
    # Locust's figures against the time from arrival.
    server = measured.get("latency_source", "server") == "server"
    lat = predicted["latency_ms"] if server else predicted["client_latency_ms"]
    p95e = _rel(lat["p95"], measured["latency_ms"]["p95"])
    rpse = _rel(predicted["requests_per_s"], measured["requests_per_s"])
    hp, hm = predicted["hit_ratio"], measured["hit_ratio"]
    hit_diff = round(hp - hm, 4) if hp is not None and hm is not None else None
    errors = {
        "p50_error": _rel(lat["p50"], measured["latency_ms"]["p50"]),
        "p95_error": p95e,
        "p99_error": _rel(lat["p99"], measured["latency_ms"]["p99"]),
        "rps_error": rpse,
        "hit_ratio_diff": hit_diff,
    }
    judged = measured["requests"] >= tol.min_requests
    ok = not judged or (
        (p95e is None or abs(p95e) <= tol.p95)
        and (rpse is None or abs(rpse) <= tol.rps)
        and (hit_diff is None or abs(hit_diff) <= tol.hit_ratio)
    )
    return {"measured": measured, "predicted": predicted, **errors, "judged": judged, "ok": ok}


def compare(
    rep: Replayed,
    delta: ServerDelta | None,
    locust: dict[str, Any] | None,
    duration_s: float,
    tol: Tolerances,
    since_s: float = 0.0,
) -> dict[str, Any]:
    """The validation table: per endpoint and overall, and ``ok`` against the tolerances.

    ``since_s`` > 0 compares the requests that arrived from then on (the
    measured ``delta`` must then be the server's from the same mark); Locust's
    client-side figures stay those of the whole run.
    """
    window = duration_s - since_s
    endpoints: dict[str, Any] = {}
    loc = (locust or {}).get("endpoints", {})
    for name in REQUEST_CLASSES:
        rc = PLATFORM.request_classes[name]
        endpoint = f"{rc.endpoint.method} {rc.endpoint.path}"
        cid = REQUEST_CLASSES.index(name)
        predicted = _predicted(rep, [cid], window, since_s)
        client = loc.get(endpoint, {})
        hist = delta.routes.get(endpoint) if delta else None
        if not predicted["requests"] and not client and hist is None:
            continue
        seen = delta.cache.get(endpoint, {}) if delta else {}
        reads = seen.get("hit", 0.0) + seen.get("miss", 0.0)
        counted = hist.count if hist else predicted["requests"]
        requests = int(counted if since_s else client.get("requests", counted))
        measured = {
            "requests": requests,
            "requests_per_s": round(requests / window, 4),
            "failure_ratio": client.get("failure_ratio", 0.0),
            "latency_ms": _hist_pct(hist) if hist else client.get("latency_ms", dict.fromkeys(QS)),
            "latency_source": "server" if hist else "client",
            "client_latency_ms": client.get("latency_ms", dict.fromkeys(QS)),
            "hit_ratio": round(seen.get("hit", 0.0) / reads, 4) if reads else None,
        }
        endpoints[endpoint] = _row(predicted, measured, tol)
    overall_pred = _predicted(rep, list(range(len(REQUEST_CLASSES))), window, since_s)
    merged = Histogram()
    for endpoint, h in delta.routes.items() if delta else []:
        if endpoint in ENDPOINT_CLASS:
            for le, c in h.buckets.items():
                merged.buckets[le] = merged.buckets.get(le, 0.0) + c
            merged.total += h.total
            merged.count += h.count
    requests = sum(e["measured"]["requests"] for e in endpoints.values())
    hits = sum(v.get("hit", 0.0) for v in (delta.cache.values() if delta else []))
    reads = sum(
        v.get("hit", 0.0) + v.get("miss", 0.0) for v in (delta.cache.values() if delta else [])
    )
    overall_meas = {
        "requests": requests,
        "requests_per_s": round(requests / window, 4),
        "failure_ratio": (locust or {}).get("failure_ratio", 0.0),
        "latency_ms": _hist_pct(merged)
        if merged.count
        else (locust or {}).get("latency_ms", dict.fromkeys(QS)),
        "latency_source": "server" if merged.count else "client",
        "client_latency_ms": (locust or {}).get("latency_ms", dict.fromkeys(QS)),
        "hit_ratio": round(hits / reads, 4) if reads else None,
    }
    overall = _row(overall_pred, overall_meas, tol)
    ok = overall["ok"] and all(e["ok"] for e in endpoints.values())
    return {
        "duration_s": duration_s,
        "since_s": since_s,
        "tolerances": tol.__dict__,
        "endpoints": endpoints,
        "overall": overall,
        "ok": ok,
    }


def format_table(result: dict[str, Any]) -> str:
    head = f"{'endpoint':<40}{'n':>7}{'rps m/p':>14}{'p50 m/p':>14}{'p95 m/p':>14}{'p95 err':>9}{'hit m/p':>13}  ok"
    lines = [head]

    def cell(a: Any, b: Any, fmt: str) -> str:
        return "/".join("-" if v is None else format(v, fmt) for v in (a, b))

    for name, row in [*result["endpoints"].items(), ("overall", result["overall"])]:
        m, p = row["measured"], row["predicted"]
        err = row["p95_error"]
        lines.append(
            f"{name:<40}{m['requests']:>7}"
            f"{cell(m['requests_per_s'], p['requests_per_s'], '.1f'):>14}"
            f"{cell(m['latency_ms']['p50'], p['latency_ms']['p50'], '.1f'):>14}"
            f"{cell(m['latency_ms']['p95'], p['latency_ms']['p95'], '.1f'):>14}"
            f"{'-' if err is None else f'{err:+.0%}':>9}"
            f"{cell(m['hit_ratio'], p['hit_ratio'], '.2f'):>13}"
            f"  {'yes' if row['ok'] else 'NO'}{'' if row['judged'] else ' (n<min)'}"
        )
    since = result.get("since_s") or 0.0
    if since:
        lines.append(
            f"(from the warm-up mark: the last {result['duration_s'] - since:.0f} of"
            f" {result['duration_s']:.0f} s; --whole-run for all of it)"
        )
    return "\n".join(lines)
