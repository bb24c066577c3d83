"""The whole loop, bounded: serve on MariaDB + Redis, an open-loop run, calibrate, validate.

A smoke of ``make fidelity`` (well under two minutes, loopback only): it
asserts that the table is produced and every error in it is a finite number,
not that the model is within tolerance (the experiment judges that).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_process import serving

from perfcore.testing import own_database

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "benchmarks" / "scenarios" / "fidelity.yaml"
PERFCORE = [sys.executable, "-m", "perfcore"]


@pytest.fixture()
def database(mariadb_dsn: str) -> Iterator[str]:
    with own_database(mariadb_dsn, "fid") as dsn:
        yield dsn


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PERFCORE, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.redis
@pytest.mark.mariadb
@pytest.mark.slow
def test_calibrate_then_validate_one_low_level(
    tmp_path: Path, database: str, redis_cache_url: str
) -> None:
    prefix = f"fid{uuid.uuid4().hex[:8]}"
    args = ["--db", database, "--redis", redis_cache_url, "--set", f"cache.key_prefix={prefix}"]
    with serving(tmp_path, *args) as (url, _):
        measured = tmp_path / "low"
        lt = _run("loadtest", "--host", url, "--scenario", str(SCENARIO), "--window", "0-20",
                  "--rate-scale", "0.25", "--max-failure-ratio", "0.02", "--warmup", "8", "--json",
                  "--out", str(measured))  # fmt: skip
        assert lt.returncode == 0, lt.stderr
    cal = _run("calibrate", str(measured), "--scenario", str(SCENARIO), "--min-requests", "10",
               "--out", str(tmp_path / "cal.yaml"), "--json")  # fmt: skip
    assert cal.returncode == 0, cal.stderr
    fitted = {row["path"]: row["value"] for row in json.loads(cal.stdout)["fitted"]}
    assert 0 < fitted["infrastructure.request_classes.session_page.cpu_ms"] < 100
    assert (measured / "metrics_warm.prom").is_file()
    val = _run("validate", "--scenario", str(SCENARIO), "--calibration", str(tmp_path / "cal.yaml"),
               "--measured", str(measured), "--json", "--out", str(tmp_path / "val"))  # fmt: skip
    assert val.returncode in (0, 1), val.stderr
    result = json.loads(val.stdout)
    overall = result["overall"]
    # Compared from the warm-up mark: 8 s after Locust started, its start-up before the first
    # request included.
    assert 3 < result["since_s"] < 9
    assert overall["measured"]["requests"] > 60
    for key in ("p50_error", "p95_error", "p99_error", "rps_error"):
        assert overall[key] is not None and math.isfinite(overall[key]), (key, overall)
    assert abs(overall["rps_error"]) < 0.05  # the same window on both sides
    whole = _run("validate", "--scenario", str(SCENARIO), "--calibration", str(tmp_path / "cal.yaml"),
                 "--measured", str(measured), "--json", "--whole-run")  # fmt: skip
    everything = json.loads(whole.stdout)
    assert everything["since_s"] == 0.0
    assert everything["overall"]["measured"]["requests"] > overall["measured"]["requests"] > 60
    assert abs(everything["overall"]["rps_error"]) < 0.01  # a replay offers what was measured
    assert (tmp_path / "val" / "validation.csv").read_text().count("\n") > 2
    assert (tmp_path / "val" / "latency_over_time.png").stat().st_size > 1000
