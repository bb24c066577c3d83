"""The fidelity experiment (``make fidelity``): calibrate at low load, find capacity, validate 3 levels.

On the real stack (MariaDB + cache Redis + queue Redis from ``perfcore stack``,
one ``perfcore serve`` process, loopback only):

1. a low-load run (about 10 % of the CPU bound) -> ``perfcore calibrate``;
2. capacity: the CPU bound from the calibration (1 / CPU per request of one
   process) and a ramp run whose completed rate falls behind the offered rate;
3. three levels (30 %, 60 %, 85 % of capacity), each repeated, each replayed
   through ``perfcore validate`` with the calibration.

Every run restarts the server on a fresh cache prefix, so each starts cold,
as the model does. The table (medians over repeats, with the measurement's own
spread) is printed and written to ``reports/fidelity/``. Nothing here widens a
tolerance: the targets are the issue's (p95 within 15 %, throughput within
5 %, hit ratio within 0.03, for endpoints with at least 500 requests).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from perfcore.stack import free_port

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "benchmarks" / "scenarios" / "fidelity.yaml"
BASE_RATE = 100.0  # the scenario's total rate at --rate-scale 1
PERFCORE = [sys.executable, "-m", "perfcore"]


def run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PERFCORE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


class Server:
    """One ``perfcore serve`` process on a fresh cache prefix (cold cache)."""

    def __init__(self, stack: dict[str, str], work: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["serve", "--port", str(self.port), "--db", stack["mariadb"], "--redis",
                stack["redis_cache"], "--queues-redis", stack["redis_queues"],
                "--set", f"cache.key_prefix=f{uuid.uuid4().hex[:8]}", "--log-level", "warning"]  # fmt: skip
        self.log = (work / f"serve-{self.port}.log").open("w")
        self.proc = subprocess.Popen([*PERFCORE, *args], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"serve exited: {(work / f'serve-{self.port}.log').read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("serve did not become healthy in 90 s")
            time.sleep(0.5)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def loadtest(
    stack: dict[str, str], out: Path, rate: float, seconds: int, *extra: str, window: str = ""
) -> dict[str, Any]:
    server = Server(stack, out.parent)
    try:
        result = run("loadtest", "--host", server.url, "--scenario", str(SCENARIO), "--window",
                     window or f"0-{seconds}", "--rate-scale", f"{rate / BASE_RATE:.4f}",
                     "--max-failure-ratio", "1", "--json", "--out", str(out), *extra)  # fmt: skip
    finally:
        server.stop()
    if result.returncode != 0:
        raise SystemExit(f"loadtest failed: {result.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def calibrate(measured: Path, out: Path) -> dict[str, float]:
    result = run(
        "calibrate", str(measured), "--scenario", str(SCENARIO), "--out", str(out), "--json"
    )
    if result.returncode != 0:
        raise SystemExit(f"calibrate failed: {result.stderr}")
    print(run("calibrate", str(measured), "--scenario", str(SCENARIO), "--out", str(out)).stdout)
    return {row["path"]: row["value"] for row in json.loads(result.stdout)["fitted"]}


def validate(measured: Path, calibration: Path, out: Path) -> dict[str, Any]:
    result = run("validate", "--scenario", str(SCENARIO), "--calibration", str(calibration),
                 "--measured", str(measured), "--json", "--out", str(out))  # fmt: skip
    if result.returncode not in (0, 1):
        raise SystemExit(f"validate failed: {result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def ramp_capacity(measured: Path) -> float | None:
    """The offered rate where the completed rate first stays 10 % behind (5-second means)."""
    plan = json.loads((measured / "plan.json").read_text())
    offered = [sum(r[k] for r in plan["rates"].values()) for k in range(plan["duration_s"])]
    done: dict[int, int] = {}
    for e in json.loads((measured / "locust_final.json").read_text()):
        for s, n in e["num_reqs_per_sec"].items():
            done[int(s)] = done.get(int(s), 0) + int(n)
    if not done:
        return None
    t0 = min(done)
    completed = [done.get(t0 + k, 0) for k in range(len(offered))]
    for k in range(5, len(offered) - 5):
        o, c = sum(offered[k - 5 : k]), sum(completed[k - 5 : k])
        if o > 0 and c < 0.9 * o:
            return offered[k - 5]
    return None


def _median(items: list[dict[str, Any]], key: str) -> float | None:
    vals = [i[key] for i in items if i[key] is not None]
    return round(statistics.median(vals), 4) if vals else None


def summarise(level: str, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians over repeats per endpoint, with the measured p95's own spread."""
    rows = []
    names = sorted({n for r in results for n in r["endpoints"]} | {"overall"})
    for name in names:
        items = [r["overall"] if name == "overall" else r["endpoints"].get(name) for r in results]
        items = [i for i in items if i]
        if not items:
            continue
        meas = [
            i["measured"]["latency_ms"]["p95"] for i in items if i["measured"]["latency_ms"]["p95"]
        ]
        pred = [
            i["predicted"]["latency_ms"]["p95"]
            for i in items
            if i["predicted"]["latency_ms"]["p95"]
        ]

        rows.append({
            "level": level, "endpoint": name,
            "requests": int(statistics.median(i["measured"]["requests"] for i in items)),
            "measured_p95_ms": round(statistics.median(meas), 2) if meas else None,
            "measured_p95_range_ms": [round(min(meas), 2), round(max(meas), 2)] if meas else None,
            "predicted_p95_ms": round(statistics.median(pred), 2) if pred else None,
            "p95_error": _median(items, "p95_error"), "rps_error": _median(items, "rps_error"),
            "hit_ratio_diff": _median(items, "hit_ratio_diff"),
            "judged": items[0]["measured"]["requests"] >= 500,
        })  # fmt: skip
    for row in rows:
        row["ok"] = (not row["judged"]) or (
            (row["p95_error"] is None or abs(row["p95_error"]) <= 0.15)
            and (row["rps_error"] is None or abs(row["rps_error"]) <= 0.05)
            and (row["hit_ratio_diff"] is None or abs(row["hit_ratio_diff"]) <= 0.03)
        )
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    out = [
        f"{'level':<6}{'endpoint':<40}{'n':>7} {'meas p95 (range)':>26}{'pred p95':>10}{'err':>8}{'rps err':>9}{'hit d':>8}  ok"
    ]
    for r in rows:
        rng = r["measured_p95_range_ms"]
        meas = f"{r['measured_p95_ms']} ({rng[0]}-{rng[1]})" if rng else "-"
        err = "-" if r["p95_error"] is None else f"{r['p95_error']:+.0%}"
        rps = "-" if r["rps_error"] is None else f"{r['rps_error']:+.1%}"
        hit = "-" if r["hit_ratio_diff"] is None else f"{r['hit_ratio_diff']:+.3f}"
        ok = ("yes" if r["ok"] else "NO") + ("" if r["judged"] else " (n<500)")
        out.append(f"{r['level']:<6}{r['endpoint']:<40}{r['requests']:>7} {meas:>26}{r['predicted_p95_ms'] or '-':>10}{err:>8}{rps:>9}{hit:>8}  {ok}")  # fmt: skip
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "fidelity")
    parser.add_argument("--seconds", type=int, default=60, help="length of each level run")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    out: Path = args.out.resolve()  # mariadbd resolves a relative data dir against its basedir
    out.mkdir(parents=True, exist_ok=True)
    run_dir = out / "stack"
    up = run(
        "stack",
        "up",
        "--only",
        "redis_cache,redis_queues,mariadb",
        "--json",
        "--run-dir",
        str(run_dir),
    )
    if up.returncode != 0:
        raise SystemExit(f"stack up failed: {up.stderr}")
    stack = json.loads(up.stdout)["services"]
    started = time.time()
    try:
        loadavg = os.getloadavg()
        low = loadtest(stack, out / "low", 20.0, args.seconds)
        fitted = calibrate(out / "low", out / "calibration.yaml")
        cpu_ms = fitted.get("measured.process_cpu_ms_per_request")
        cpu_bound = 1000.0 / cpu_ms if cpu_ms else None
        ramp_top = 1.3 * (cpu_bound or 300.0)
        ramp = out / "ramp"
        ramps = [a for i in range(7) for a in ("--set", f"workload.streams.{i}.ramp_s=3600")]
        # The whole hour of the scenario in --seconds: every stream ramps from 0 to ramp_top.
        loadtest(stack, ramp, ramp_top, args.seconds, "--time-scale", str(3600 / args.seconds),
                 *ramps, window="0-3600")  # fmt: skip
        ramp_cap = ramp_capacity(ramp)
        capacity = min(c for c in (ramp_cap, cpu_bound, ramp_top) if c)
        print(f"capacity: ramp {ramp_cap}, CPU bound {cpu_bound}, used {capacity:.1f} req/s")
        rows: list[dict[str, Any]] = []
        runs: dict[str, Any] = {}
        for share in (30, 60, 85):
            level = f"{share}%"
            results = []
            for rep in range(args.repeats):
                measured = out / f"level{share}-{rep}"
                summary = loadtest(stack, measured, capacity * share / 100, args.seconds)
                results.append(
                    validate(measured, out / "calibration.yaml", out / f"val{share}-{rep}")
                )
                runs[f"{level}#{rep}"] = {"offered": summary.get("offered_requests"),
                                          "requests": summary["requests"]}  # fmt: skip
            rows += summarise(level, results)
        table = format_rows(rows)
        print(table)
        report = {
            "capacity_req_s": capacity, "ramp_capacity_req_s": ramp_cap, "cpu_bound_req_s": cpu_bound,
            "calibration": fitted, "low_load_requests": low["requests"], "rows": rows, "runs": runs,
            "loadavg_at_start": loadavg, "loadavg_at_end": os.getloadavg(),
            "wall_s": round(time.time() - started, 1),
            "targets_met": all(r["ok"] for r in rows),
        }  # fmt: skip
        (out / "fidelity.json").write_text(json.dumps(report, indent=2) + "\n")
        (out / "fidelity.txt").write_text(table + "\n")
        return 0 if report["targets_met"] else 1
    finally:
        run("stack", "down", "--run-dir", str(run_dir))


if __name__ == "__main__":
    sys.exit(main())
