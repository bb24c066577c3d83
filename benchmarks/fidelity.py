"""The fidelity experiment (``make fidelity``): calibrate at low load, find capacity, validate 3 levels.

On the real stack (MariaDB + cache Redis + queue Redis from ``perfcore stack``,
one ``perfcore serve`` process, loopback only):

1. a low-load run (about 10 % of the CPU bound) -> ``perfcore calibrate``;
2. capacity: the CPU bound from the calibration (1 / CPU per request of one
   process) and a ramp run whose completed rate falls behind the offered rate;
   the low-load run is calibrated again with the ramp as its load run (how
   much cheaper requests are on a busy core: ``api.wake_factor``) and, when
   the ramp saturated, its capacity (what the core spends per request beyond
   its CPU: ``api.handoff_ms``);
3. three levels (30 %, 60 %, 85 % of capacity), each repeated, each replayed
   through ``perfcore validate`` with the calibration.

Every run restarts the server on a fresh cache prefix, so each starts cold,
as the model does. ``--pin-stack``/``--pin-locust`` give the stack (and a
``perfcore worker``) and the load generator CPUs of their own; every stack
process's CPU before and after each run goes to its ``stack_cpu.json``
(:mod:`fidelity_procs`); then the closed loop (:mod:`fidelity_loop`). The table (medians over repeats, with the measurement's own
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

import fidelity_procs as procs
import httpx
from fidelity_procs import Pinning

from perfcore.stack import free_port
from simulation.calibrate import format_fit
from simulation.calibrate_core import Fitted

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "benchmarks" / "scenarios" / "fidelity.yaml"
BASE_RATE = 100.0  # the scenario's total rate at --rate-scale 1
PERFCORE = [sys.executable, "-m", "perfcore"]
IDLE_S = 5.0  # the stack sampled with no traffic before each run
# Each run is compared from this long after Locust starts: the cold start (every key
# missing at once, connections being opened) is a transient of seconds, not the level.
WARMUP_S = 10.0


PINS = Pinning()  # set from the command line in main()


def run(
    *args: str, timeout: float = 900, stack_side: bool = False
) -> subprocess.CompletedProcess[str]:
    """A perfcore command; ``stack_side`` runs it (and what it starts) on the stack's CPUs."""
    env = PINS.stack_env_of(os.environ) if stack_side else None
    pin = PINS.preexec(PINS.stack if stack_side else PINS.locust)
    return subprocess.run([*PERFCORE, *args], capture_output=True, text=True, timeout=timeout,
                          check=False, env=env, preexec_fn=pin)  # fmt: skip


def start(args: list[str], log: Any) -> subprocess.Popen[bytes]:
    """A long-running process of the stack (server, worker), on the stack's CPUs."""
    return subprocess.Popen([*PERFCORE, *args], stdout=log, stderr=subprocess.STDOUT,
                            env=PINS.stack_env_of(os.environ), preexec_fn=PINS.preexec(PINS.stack))  # fmt: skip


class Server:
    """One ``perfcore serve`` process on a fresh cache prefix (cold cache)."""

    def __init__(self, stack: dict[str, str], work: Path, *overrides: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["serve", "--port", str(self.port), "--db", stack["mariadb"], "--redis",
                stack["redis_cache"], "--queues-redis", stack["redis_queues"],
                "--set", f"cache.key_prefix=f{uuid.uuid4().hex[:8]}", "--log-level", "warning"]  # fmt: skip
        for item in overrides:
            args += ["--set", item]
        self.log = (work / f"serve-{self.port}.log").open("w")
        self.proc = start(args, self.log)
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
    stack: dict[str, str],
    pids: dict[str, int],
    out: Path,
    rate: float,
    seconds: int,
    *extra: str,
    window: str = "",
    config: tuple[str, ...] = (),
    reuse: bool = False,
) -> dict[str, Any]:
    """One open-loop run against a fresh server; the stack's CPU use goes to stack_cpu.json."""
    if reuse and (out / "summary.json").is_file():
        kept: dict[str, Any] = json.loads((out / "summary.json").read_text())
        return kept
    server = Server(stack, out.parent, *config)
    try:
        watched = {**pids, "serve": server.proc.pid}
        # The stack's CPU with no traffic first: what it uses whatever the load.
        idle0, t_idle = procs.snapshot(watched, PINS.stack), time.monotonic()
        time.sleep(IDLE_S)
        before, t0 = procs.snapshot(watched, PINS.stack), time.monotonic()
        idle = procs.delta(idle0, before), t0 - t_idle
        result = run("loadtest", "--host", server.url, "--scenario", str(SCENARIO), "--window",
                     window or f"0-{seconds}", "--rate-scale", f"{rate / BASE_RATE:.4f}",
                     "--max-failure-ratio", "1", "--warmup", str(WARMUP_S), "--json", "--out",
                     str(out), *extra)  # fmt: skip
        after, wall = procs.snapshot(watched, PINS.stack), time.monotonic() - t0
    finally:
        server.stop()
    if result.returncode != 0:
        raise SystemExit(f"loadtest failed: {result.stderr[-2000:]}")
    procs.write(out, procs.delta(before, after), wall, PINS, idle)
    summary: dict[str, Any] = json.loads(result.stdout)
    summary["locust_cpu_warnings"] = procs.locust_cpu_warnings(out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def calibrate(
    measured: Path, out: Path, capacity: float | None = None, load_run: Path | None = None
) -> dict[str, float]:
    args = ["calibrate", str(measured), "--scenario", str(SCENARIO), "--out", str(out)]
    if capacity is not None:
        args += ["--capacity", f"{capacity:.3f}"]
    if load_run is not None:
        args += ["--load-run", str(load_run)]
    result = run(*args, "--json")
    if result.returncode != 0:
        raise SystemExit(f"calibrate failed: {result.stderr}")
    report = json.loads(result.stdout)
    fitted = [Fitted(r["path"], r["value"], r["count"], r["data"]) for r in report["fitted"]]
    print(format_fit(fitted, report["not_fitted"]))  # the table 'perfcore calibrate' prints
    return {f.path: f.value for f in fitted}


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


def _median_of(items: list[dict[str, Any]], side: str, key: str) -> float | None:
    vals = [i[side].get(key, {}).get("p95") for i in items]
    vals = [v for v in vals if v is not None]
    return round(statistics.median(vals), 2) if vals else None


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
            "client_p95_ms": _median_of(items, "measured", "client_latency_ms"),
            "predicted_client_p95_ms": _median_of(items, "predicted", "client_latency_ms"),
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
        "   client p95 m/p"
    ]
    for r in rows:
        rng = r["measured_p95_range_ms"]
        meas = f"{r['measured_p95_ms']} ({rng[0]}-{rng[1]})" if rng else "-"
        err = "-" if r["p95_error"] is None else f"{r['p95_error']:+.0%}"
        rps = "-" if r["rps_error"] is None else f"{r['rps_error']:+.1%}"
        hit = "-" if r["hit_ratio_diff"] is None else f"{r['hit_ratio_diff']:+.3f}"
        ok = ("yes" if r["ok"] else "NO") + ("" if r["judged"] else " (n<500)")
        client = f"{r.get('client_p95_ms') or '-'}/{r.get('predicted_client_p95_ms') or '-'}"
        out.append(f"{r['level']:<6}{r['endpoint']:<40}{r['requests']:>7} {meas:>26}{r['predicted_p95_ms'] or '-':>10}{err:>8}{rps:>9}{hit:>8}  {ok:<12}{client:>18}")  # fmt: skip
    return "\n".join(out)


def stack_pids(run_dir: Path) -> dict[str, int]:
    """The stack's server pids by service name (``perfcore stack status``)."""
    status = run("stack", "status", "--json", "--run-dir", str(run_dir))
    services = json.loads(status.stdout)["services"] if status.returncode == 0 else {}
    return {name: info["pids"][0] for name, info in services.items() if info.get("pids")}


def stack_cpu_per_request(measured: Path, requests: int) -> float | None:
    """CPU ms per request of every stack process together (what one shared core must do)."""
    path = measured / procs.STACK_CPU
    if not path.is_file() or requests <= 0:
        return None
    cpu = json.loads(path.read_text())["processes"]
    return 1000.0 * sum(p["cpu_s"] for p in cpu.values()) / requests


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "fidelity")
    parser.add_argument("--seconds", type=int, default=60, help="length of each level run")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--pin-stack",
        default="",
        metavar="CPUS",
        help="CPUs for MariaDB, Redis, the server and the worker (e.g. 1)",
    )
    parser.add_argument(
        "--pin-locust", default="", metavar="CPUS", help="CPUs for Locust and this driver (e.g. 0)"
    )
    parser.add_argument(
        "--stack-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment of the stack's processes (repeatable)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep runs already measured in --out (re-calibrate, re-validate)",
    )
    parser.add_argument("--skip-loop", action="store_true", help="no tuned-vs-default comparison")
    return parser.parse_args()


def main() -> int:
    global PINS
    args = parse_args()
    PINS = Pinning(Pinning.parse_cpus(args.pin_stack), Pinning.parse_cpus(args.pin_locust),
                   tuple(tuple(e.split("=", 1)) for e in args.stack_env))  # type: ignore[misc]  # fmt: skip
    if PINS.locust:
        os.sched_setaffinity(0, PINS.locust)  # this driver, the validations and Locust
    out: Path = args.out.resolve()  # mariadbd resolves a relative data dir against its basedir
    out.mkdir(parents=True, exist_ok=True)
    run_dir = out / "stack"
    up = run("stack", "up", "--only", "redis_cache,redis_queues,mariadb", "--json",
             "--run-dir", str(run_dir), stack_side=True)  # fmt: skip
    if up.returncode != 0:
        raise SystemExit(f"stack up failed: {up.stderr}")
    stack = json.loads(up.stdout)["services"]
    pids = stack_pids(run_dir)
    worker_log = (out / "worker.log").open("w")
    worker = start(["worker", "--queues", "critical,high,normal,low", "--db", stack["mariadb"],
                    "--redis", stack["redis_queues"]], worker_log)  # fmt: skip
    pids["worker"] = worker.pid
    started = time.time()
    reuse = args.reuse
    try:
        loadavg = os.getloadavg()
        low = loadtest(stack, pids, out / "low", 20.0, args.seconds, reuse=reuse)
        fitted = calibrate(out / "low", out / "calibration.yaml")
        cpu_ms = stack_cpu_per_request(out / "low", low["requests"]) if PINS.stack else None
        cpu_ms = cpu_ms or fitted.get("measured.process_cpu_ms_per_request")
        cpu_bound = 1000.0 / cpu_ms if cpu_ms else None
        ramp_top = 1.3 * (cpu_bound or 300.0)
        ramp = out / "ramp"
        ramps = [a for i in range(7) for a in ("--set", f"workload.streams.{i}.ramp_s=3600")]
        # The whole hour of the scenario in --seconds: every stream ramps from 0 to ramp_top.
        loadtest(stack, pids, ramp, ramp_top, args.seconds, "--time-scale", str(3600 / args.seconds),
                 *ramps, window="0-3600", reuse=reuse)  # fmt: skip
        ramp_cap = ramp_capacity(ramp)
        capacity = min(c for c in (ramp_cap, cpu_bound, ramp_top) if c)
        print(f"capacity: ramp {ramp_cap}, CPU bound {cpu_bound}, used {capacity:.1f} req/s")
        # The ramp's cheaper requests give the wake-up cost of an idle core; a ramp that
        # saturated also gives the core's time per request beyond its CPU.
        fitted = calibrate(out / "low", out / "calibration.yaml", ramp_cap, load_run=ramp)
        rows: list[dict[str, Any]] = []
        runs: dict[str, Any] = {}
        for share in (30, 60, 85):
            level = f"{share}%"
            results = []
            for rep in range(args.repeats):
                measured = out / f"level{share}-{rep}"
                summary = loadtest(stack, pids, measured, capacity * share / 100, args.seconds,
                                   reuse=reuse)  # fmt: skip
                results.append(
                    validate(measured, out / "calibration.yaml", out / f"val{share}-{rep}")
                )
                runs[f"{level}#{rep}"] = run_facts(measured, summary)
            rows += summarise(level, results)
        table = format_rows(rows)
        print(table)
        loop: dict[str, Any] | None = None
        if not args.skip_loop:
            from fidelity_loop import closed_loop

            loop = closed_loop(
                lambda d, rate, config: loadtest(
                    stack, pids, d, rate, args.seconds, config=config, reuse=reuse
                ),
                run,
                out,
                capacity,
                args.repeats,
            )
        report = {
            "capacity_req_s": capacity, "ramp_capacity_req_s": ramp_cap, "cpu_bound_req_s": cpu_bound,
            "calibration": fitted, "low_load_requests": low["requests"], "rows": rows, "runs": runs,
            "low_run": run_facts(out / "low", low), "pinning": PINS.describe(),
            "loadavg_at_start": loadavg, "loadavg_at_end": os.getloadavg(),
            "wall_s": round(time.time() - started, 1), "closed_loop": loop,
            "targets_met": all(r["ok"] for r in rows) and (loop is None or loop["ok"]),
        }  # fmt: skip
        (out / "fidelity.json").write_text(json.dumps(report, indent=2) + "\n")
        (out / "fidelity.txt").write_text(table + "\n" + (loop["table"] + "\n" if loop else ""))
        return 0 if report["targets_met"] else 1
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        worker_log.close()
        run("stack", "down", "--run-dir", str(run_dir))


def run_facts(measured: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """What a run offered and sent, the stack's CPU, Locust's CPU warnings."""
    path = measured / procs.STACK_CPU
    cpu = json.loads(path.read_text()) if path.is_file() else None
    return {"offered": summary.get("offered_requests"), "requests": summary["requests"],
            "stack_cpu": cpu, "locust_cpu_warnings": summary.get("locust_cpu_warnings")}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
