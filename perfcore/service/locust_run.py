"""Running Locust for ``perfcore loadtest``: a bounded run, summarised from its CSV stats.

Runs ``locust --headless`` in a subprocess (its output goes to ``locust.log``
in the output directory, keeping stdout for the result) with ``--csv`` and
full history, an HTML report and optionally ``--processes N``; saves the
target's ``/metrics`` before and after (server-side truth next to Locust's
client-side view), then summarises requests, failures and p50/p95/p99 per
endpoint. The command itself (which also reads a scenario) is
:mod:`simulation.cli_loadtest`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from perfcore.config import LoadTestConfig
from perfcore.errors import BadInput, CheckFailed, ServiceUnavailable
from perfcore.service.hosts import Target, target_of
from perfcore.service.locust_report import format_table, summarize_json

SHAPES = {"steady": None, "ramp-spike": "shapes.py"}
SCENARIO_USERS = "scenario_users.py"
FINAL_STATS = "locust_final.json"  # Locust's --json output
_GRACE_S = 60  # start-up and CSV writing on top of the run time


def default_locustfile() -> Path:
    """``loadtests/locustfile.py`` of this checkout, else of the working directory."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        candidate = base / "loadtests" / "locustfile.py"
        if candidate.is_file():
            return candidate
    raise BadInput("--locustfile: loadtests/locustfile.py not found; pass --locustfile PATH")


def locust_command(
    files: list[Path],
    target: Target,
    seconds: int,
    out_dir: Path,
    *,
    users: int | None = None,
    spawn_rate: float | None = None,
    allowed: Sequence[str] = (),
    processes: int = 1,
    extra: Sequence[str] = (),
) -> list[str]:
    """Locust's command line: headless, bounded, CSV with full history and an HTML report."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        ",".join(str(f) for f in files),
        "--headless",
        "--host",
        target.url,
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(out_dir / "locust"),
        "--csv-full-history",
        "--html",
        str(out_dir / "locust_report.html"),
        "--only-summary",
        "--json",  # exact final statistics on stdout (the CSV can lag by a snapshot)
        "--loglevel",
        "WARNING",
    ]
    if users is not None:
        command += ["--users", str(users), "--spawn-rate", str(spawn_rate or users)]
    for host in allowed:
        command += ["--allow-host", host]
    if processes > 1:
        command += ["--processes", str(processes)]
    return command + list(extra)


def _operator_credentials() -> dict[str, str]:
    """An operator token for /metrics when the service's key is known here (env or secret file)."""
    from perfcore.config import ServiceConfig
    from perfcore.service.auth import find_secret, mint

    secret = find_secret(ServiceConfig())
    return {"Authorization": f"Bearer {mint(secret, 'operator')}"} if secret else {}


def capture_metrics(target: Target, path: Path) -> str:
    """Save the target's ``/metrics`` (Prometheus text) to ``path``; "ok" or why not."""
    import httpx

    try:
        # No redirects: a redirect could leave the allow-list.
        resp = httpx.get(
            f"{target.url.rstrip('/')}/metrics",
            timeout=5,
            follow_redirects=False,
            headers=_operator_credentials(),
        )
    except httpx.HTTPError as exc:
        return f"unavailable ({type(exc).__name__})"
    if resp.status_code != 200:
        return f"unavailable (HTTP {resp.status_code})"
    path.write_text(resp.text, encoding="utf-8")
    return "ok"


def _capture_warm(target: Target, out_dir: Path, status: dict[str, Any]) -> None:
    """The warm-up mark: ``/metrics`` now, and when (epoch seconds) it was taken."""
    at = time.time()
    status["warm"] = capture_metrics(target, out_dir / "metrics_warm.prom")
    if status["warm"] == "ok":
        status["warm_at"] = at
        (out_dir / "metrics_warm.json").write_text(json.dumps({"at": at}) + "\n", "utf-8")


def run_locust(command: list[str], log_path: Path, timeout_s: float) -> int:
    """Run Locust with its log in ``log_path`` and its final stats (stdout) beside it."""
    final = log_path.with_name(FINAL_STATS)
    with log_path.open("w", encoding="utf-8") as log, final.open("w", encoding="utf-8") as out:
        try:
            return subprocess.run(
                command, stdout=out, stderr=log, timeout=timeout_s, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            raise ServiceUnavailable(f"locust did not finish within {timeout_s:.0f} s") from None


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run(
    files: list[Path],
    target: Target,
    seconds: int,
    out: Path | None,
    settings: dict[str, Any],
    warmup_s: float = 0.0,
    **locust: Any,
) -> dict[str, Any]:
    """One bounded Locust run with /metrics captured before and after; its summary.

    ``warmup_s`` > 0 captures ``/metrics`` once more that long after Locust
    starts (``metrics_warm.prom``, its time in ``metrics_warm.json``): the
    server-side view of the run without its start (cold caches, connections
    being opened), which ``perfcore validate`` compares by default.
    """
    with tempfile.TemporaryDirectory(prefix="perfcore-locust-") as scratch:
        out_dir = out or Path(scratch)
        out_dir.mkdir(parents=True, exist_ok=True)
        log_path = out_dir / "locust.log"
        before = capture_metrics(target, out_dir / "metrics_before.prom")
        command = locust_command(files, target, seconds, out_dir, **locust)
        warm: dict[str, Any] = {}
        timer = (
            threading.Timer(warmup_s, _capture_warm, (target, out_dir, warm))
            if 0 < warmup_s < seconds
            else None
        )
        if timer is not None:
            timer.start()
        try:
            code = run_locust(command, log_path, seconds + _GRACE_S)
        finally:
            if timer is not None:
                timer.cancel()
                timer.join()  # a capture under way finishes before the run is read
        after = capture_metrics(target, out_dir / "metrics_after.prom")
        if code == 2:
            raise BadInput(f"--host: refused by the locustfile: {_tail(log_path, 1)}")
        stats_csv = out_dir / "locust_stats.csv"
        final = out_dir / FINAL_STATS
        if not stats_csv.is_file() or not final.stat().st_size:
            raise ServiceUnavailable(f"locust exited {code} without stats: {_tail(log_path)}")
        summary: dict[str, Any] = {
            "host": target.url,
            "run_time_s": seconds,
            **settings,
            "locust_exit_code": code,
            "server_metrics": {"before": before, "after": after, **warm},
            **summarize_json(final),
        }
        if out is not None:
            summary["files"] = {
                "stats_csv": str(stats_csv),
                "final_stats": str(final),
                "history_csv": str(out / "locust_stats_history.csv"),
                "html": str(out / "locust_report.html"),
                "log": str(log_path),
                "summary": str(out / "summary.json"),
            }
            (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    return summary


def report(summary: dict[str, Any], as_json: bool, max_failure_ratio: float) -> None:
    """Print the summary; exit 1 (CheckFailed) on no requests or too many failures."""
    click.echo(json.dumps(summary) if as_json else format_table(summary))
    if summary["requests"] == 0:
        raise CheckFailed("no requests were made (is the service up?)")
    if summary["failure_ratio"] > max_failure_ratio:
        raise CheckFailed(
            f"failure ratio {summary['failure_ratio']:.4f} > --max-failure-ratio {max_failure_ratio}"
        )


def resolve_target(host: str, config: LoadTestConfig, allow_host: tuple[str, ...]) -> Target:
    """``--host`` checked against loopback, ``loadtest.allowed_hosts`` and ``--allow-host``."""
    return target_of(host, [*config.allowed_hosts, *allow_host], "--host")
