"""Closing the loop: tune on the calibrated model, then measure the recommendation against the default.

After the fidelity levels, ``perfcore tune`` searches a small space that
matters at that load (the TTLs of the dashboard, whose query is the most
expensive one the workload runs, of the listing, and of the session pages,
the busiest namespace) on the
calibrated scenario at the loop's rate, with one replica pinned and an SLO
on p95 that every trial meets (a p95 target the TTLs cannot reach leaves
every trial equally infeasible, and the tuner keeps the start): the tuner
then picks the least stale configuration. The recommendation and the default are then load-tested alternately
at the same offered rate (``repeats`` each), every run replayed through the
model with its own configuration. The verdict compares the measured relative
change with the predicted one (medians over repeats): the same sign, and
within 25 % of the predicted size, for what the recommendation trades: the
cache fetches per second (reads that missed and went to the database) of the
namespaces whose TTLs it changed. The change of the overall server-side p95 is reported beside
it; with an SLO every trial meets, the tuner does not move it beyond what
repeats of one configuration differ by, so it cannot decide the verdict.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from perfcore.platform import PLATFORM

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "fidelity.yaml"
LOOP_SHARE = 0.85  # of capacity: where configuration matters most
PARAMS = (
    "cache.namespaces.dashboard.ttl_s=2:120:log",
    "cache.namespaces.active_events.ttl_s=2:120:log",
    # The busiest namespace, and the one writes do not invalidate (a check-in only
    # leaves it stale): its TTL alone decides its fetches. The dashboard's are
    # decided by the writes' invalidations (every event's, every few seconds).
    "cache.namespaces.session_page.ttl_s=2:120:log",
)
TUNE_HORIZON_S = 600
SLO_SHARE = 10.0  # a loose SLO: every trial meets it, so the tuner trades staleness
SIZE_TOLERANCE = 0.25
Measure = Callable[[Path, float, tuple[str, ...]], dict[str, Any]]
Run = Callable[..., subprocess.CompletedProcess[str]]


def flatten(tree: Any, prefix: str) -> list[str]:
    """A nested overlay as ``--set`` items (``a.b.c=value``)."""
    if not isinstance(tree, dict):
        return [f"{prefix}={tree}"]
    return [item for k, v in tree.items() for item in flatten(v, f"{prefix}.{k}")]


def _p95(validation: dict[str, Any], side: str) -> float | None:
    value = validation["overall"][side]["latency_ms"]["p95"]
    return float(value) if value is not None else None


def _endpoints_of(config: tuple[str, ...]) -> set[str]:
    """The endpoints whose namespace a ``cache.namespaces.<ns>.ttl_s=...`` item sets."""
    namespaces = {item.split(".")[2] for item in config if item.startswith("cache.namespaces.")}
    return {
        f"{rc.endpoint.method} {rc.endpoint.path}"
        for rc in PLATFORM.request_classes.values()
        if rc.namespace in namespaces
    }


def _fetches(validation: dict[str, Any], side: str, endpoints: set[str]) -> float:
    """Cache fetches per second of ``endpoints``: reads that missed (each a database call)."""
    return sum(
        e[side]["requests_per_s"] * (1.0 - e[side]["hit_ratio"])
        for name, e in validation["endpoints"].items()
        if name in endpoints and e[side]["hit_ratio"] is not None
    )


def _verdict(measured: float, predicted: float) -> bool:
    """Same sign, and within SIZE_TOLERANCE of the predicted size."""
    return measured * predicted > 0 and abs(measured - predicted) <= SIZE_TOLERANCE * abs(predicted)


def _validate(
    run: Run, measured: Path, calibration: Path, config: tuple[str, ...], out: Path
) -> dict[str, Any]:
    sets = [a for item in config for a in ("--set", item)]
    result = run("validate", "--scenario", str(SCENARIO), "--calibration", str(calibration),
                 "--measured", str(measured), *sets, "--json", "--out", str(out))  # fmt: skip
    if result.returncode not in (0, 1):
        raise SystemExit(f"validate failed: {result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def tune_at(
    run: Run, out: Path, rate: float, base_rate: float
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """``perfcore tune`` on the calibrated scenario at ``rate``; the recommendation as ``--set`` items."""
    calibration = yaml.safe_load((out / "calibration.yaml").read_text()) or {}
    scenario = yaml.safe_load(SCENARIO.read_text())
    scale = rate / base_rate
    load = [f"workload.streams.{i}.rate_per_s={s['rate_per_s'] * scale:.4f}"
            for i, s in enumerate(scenario["workload"]["streams"])]  # fmt: skip
    pinned = ["scaling.min_replicas=1", "scaling.max_replicas=1", f"horizon_s={TUNE_HORIZON_S}"]
    common = [*flatten(calibration.get("infrastructure", {}), "infrastructure"), *load, *pinned]
    # The SLO, from the default's predicted p95 (SLO_SHARE).
    probe = run("simulate", str(SCENARIO), *[a for s in common for a in ("--set", s)], "--json")
    if probe.returncode != 0:
        raise SystemExit(f"simulate failed: {probe.stderr}")
    default_p95 = float(json.loads(probe.stdout)["latency_ms"]["p95"])
    slo = round(default_p95 * SLO_SHARE, 2)
    sets = [a for s in [*common, f"slo.p95_ms={slo}"] for a in ("--set", s)]
    params = [a for p in PARAMS for a in ("--param", p)]
    result = run("tune", str(SCENARIO), *params, *sets, "--trials", "16", "--seeds", "2",
                 "--confirm-seeds", "2", "--leaders", "3", "--no-screen", "--quiet", "--json",
                 "--out", str(out / "tune"), timeout=1800)  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"tune failed: {result.stderr}")
    summary: dict[str, Any] = json.loads(result.stdout)
    chosen = tuple(f"{k}={v:g}" for k, v in summary["recommended_values"].items() if v is not None)
    info = {"slo_p95_ms": slo, "default_predicted_p95_ms": default_p95,
            "recommended": summary["recommended_values"], "from": summary["recommended_from"],
            "meets_constraints": summary["meets_constraints"]}  # fmt: skip
    return chosen, info


def closed_loop(
    measure: Measure, run: Run, out: Path, capacity: float, repeats: int, base_rate: float = 100.0
) -> dict[str, Any]:
    """Tune, measure default and recommendation alternately, compare measured with predicted change."""
    rate = capacity * LOOP_SHARE
    chosen, info = tune_at(run, out, rate, base_rate)
    traded = _endpoints_of(chosen)
    calibration = out / "calibration.yaml"
    sides: dict[str, dict[str, list[float]]] = {
        "default": {"m": [], "p": [], "fm": [], "fp": []},
        "tuned": {"m": [], "p": [], "fm": [], "fp": []},
    }
    for rep in range(repeats):
        for name, config in (("default", ()), ("tuned", chosen)):
            measured = out / f"loop-{name}-{rep}"
            measure(measured, rate, config)
            v = _validate(run, measured, calibration, config, out / f"loopval-{name}-{rep}")
            m, p = _p95(v, "measured"), _p95(v, "predicted")
            if m is not None and p is not None:
                sides[name]["m"].append(m)
                sides[name]["p"].append(p)
            sides[name]["fm"].append(_fetches(v, "measured", traded))
            sides[name]["fp"].append(_fetches(v, "predicted", traded))
    med = {n: {k: statistics.median(v) for k, v in s.items()} for n, s in sides.items()}
    measured_change = med["tuned"]["m"] / med["default"]["m"] - 1
    predicted_change = med["tuned"]["p"] / med["default"]["p"] - 1
    fetch_measured = med["tuned"]["fm"] / med["default"]["fm"] - 1
    fetch_predicted = med["tuned"]["fp"] / med["default"]["fp"] - 1
    ok = _verdict(fetch_measured, fetch_predicted)
    p95_ok = _verdict(measured_change, predicted_change)
    table = "\n".join([
        f"closed loop at {rate:.1f} req/s: tuned {', '.join(chosen) or '(the default)'}"
        f" (tuner's SLO p95 {info['slo_p95_ms']} ms)",
        f"{'config':<10}{'measured p95 ms (runs)':>34}{'predicted p95 ms':>18}",
        *[f"{n:<10}{med[n]['m']:>10.1f} ({', '.join(f'{x:.1f}' for x in sides[n]['m'])}){'':>2}"
          f"{med[n]['p']:>14.1f}" for n in ("default", "tuned")],
        f"{'':<10}{'measured fetches/s (runs)':>34}{'predicted':>18}",
        *[f"{n:<10}{med[n]['fm']:>10.2f} ({', '.join(f'{x:.2f}' for x in sides[n]['fm'])}){'':>2}"
          f"{med[n]['fp']:>14.2f}" for n in ("default", "tuned")],
        f"fetches/s change: measured {fetch_measured:+.1%}, predicted {fetch_predicted:+.1%}"
        f" -> {'ok' if ok else 'NO'} (same sign, within {SIZE_TOLERANCE:.0%} of the predicted size)",
        f"p95 change: measured {measured_change:+.1%}, predicted {predicted_change:+.1%}"
        f" -> {'ok' if p95_ok else 'NO'} (reported; not the verdict)",
    ])  # fmt: skip
    print(table)
    return {"rate_req_s": rate, "config": list(chosen), "tune": info, "runs": sides,
            "medians": med, "measured_change": measured_change,
            "predicted_change": predicted_change, "p95_ok": p95_ok,
            "fetch_change": {"measured": fetch_measured, "predicted": fetch_predicted},
            "ok": ok, "table": table}  # fmt: skip
