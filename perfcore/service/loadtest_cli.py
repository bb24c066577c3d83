"""``perfcore loadtest``: a bounded, loopback-only Locust run, summarised from its CSV stats.

Runs ``locust --headless`` on ``loadtests/locustfile.py`` in a subprocess (its
output goes to ``locust.log`` in the output directory, keeping stdout for the
result), then prints requests, failures and p50/p95/p99 per endpoint.
Exit 2 for a non-loopback host or an unbounded run time; exit 1 when the
failure ratio exceeds ``--max-failure-ratio``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from perfcore.cli_options import json_option, out_option
from perfcore.errors import BadInput, CheckFailed, ServiceUnavailable
from perfcore.service.locust_report import format_table, parse_run_time, summarize
from perfcore.service.loopback import require_loopback_url

SHAPES = {"steady": None, "ramp-spike": "shapes.py"}
_GRACE_S = 60  # start-up and CSV writing on top of the run time


def default_locustfile() -> Path:
    """``loadtests/locustfile.py`` of this checkout, else of the working directory."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        candidate = base / "loadtests" / "locustfile.py"
        if candidate.is_file():
            return candidate
    raise BadInput("--locustfile: loadtests/locustfile.py not found; pass --locustfile PATH")


def locust_command(
    locustfile: Path, shape: str, host: str, users: int, spawn_rate: float, seconds: int, csv: Path
) -> list[str]:
    files = [str(locustfile)]
    shape_file = SHAPES[shape]
    if shape_file is not None:
        files.append(str(locustfile.parent / shape_file))
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        ",".join(files),
        "--headless",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate),
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(csv),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]


def run_locust(command: list[str], log_path: Path, timeout_s: float) -> int:
    """Run Locust with its output in ``log_path``; its exit code."""
    with log_path.open("w", encoding="utf-8") as log:
        try:
            return subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            raise ServiceUnavailable(f"locust did not finish within {timeout_s:.0f} s") from None


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@click.command()
@click.option("--host", required=True, help="base URL of the service (loopback only)")
@click.option("--users", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--spawn-rate", type=click.FloatRange(min=0.1), default=2.0, show_default=True)
@click.option("--run-time", "run_time", required=True, help="e.g. 30s, 2m (at most 10 min)")
@click.option(
    "--shape",
    type=click.Choice(sorted(SHAPES)),
    default="steady",
    show_default=True,
    help="steady: --users throughout; ramp-spike: registration ramp then check-in spike",
)
@click.option("--locustfile", type=click.Path(path_type=Path), default=None)
@click.option(
    "--max-failure-ratio",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="exit 1 when failures/requests exceed this",
)
@json_option
@out_option
def loadtest(
    host: str,
    users: int,
    spawn_rate: float,
    run_time: str,
    shape: str,
    locustfile: Path | None,
    max_failure_ratio: float,
    as_json: bool,
    out: Path | None,
) -> None:
    """Load-test the reference API with Locust (headless, bounded, loopback only).

    --out DIR keeps Locust's CSVs, its log and summary.json there.
    """
    host = require_loopback_url(host, "--host")
    seconds = parse_run_time(run_time)
    locustfile = locustfile or default_locustfile()
    if not locustfile.is_file():
        raise BadInput(f"--locustfile: {locustfile} not found")
    with tempfile.TemporaryDirectory(prefix="perfcore-locust-") as scratch:
        out_dir = out or Path(scratch)
        out_dir.mkdir(parents=True, exist_ok=True)
        log_path = out_dir / "locust.log"
        command = locust_command(
            locustfile, shape, host, users, spawn_rate, seconds, out_dir / "locust"
        )
        click.echo(f"locust: {users} users, {seconds} s against {host} ({shape})", err=True)
        code = run_locust(command, log_path, seconds + _GRACE_S)
        if code == 2:
            raise BadInput(f"--host: refused by the locustfile: {_tail(log_path, 1)}")
        stats_csv = out_dir / "locust_stats.csv"
        if not stats_csv.is_file():
            raise ServiceUnavailable(f"locust exited {code} without stats: {_tail(log_path)}")
        summary: dict[str, Any] = {
            "host": host,
            "users": users,
            "spawn_rate": spawn_rate,
            "run_time_s": seconds,
            "shape": shape,
            "locust_exit_code": code,
            **summarize(stats_csv),
        }
        if out is not None:
            summary["files"] = {
                "stats_csv": str(stats_csv),
                "log": str(log_path),
                "summary": str(out / "summary.json"),
            }
            (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    click.echo(json.dumps(summary) if as_json else format_table(summary))
    if summary["requests"] == 0:
        raise CheckFailed("no requests were made (is the service up?)")
    if summary["failure_ratio"] > max_failure_ratio:
        raise CheckFailed(
            f"failure ratio {summary['failure_ratio']:.4f} > --max-failure-ratio {max_failure_ratio}"
        )
