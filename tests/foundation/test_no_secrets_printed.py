"""No command prints a password: every one runs with a known secret in its URLs and DSNs.

A queue/cache Redis with ``requirepass`` and a MariaDB user with a password
are real, so the commands succeed where they should (and fail where the
secret is deliberately wrong or the server unreachable); stdout, stderr and
every file written with ``--out`` are searched for the secret.  Where a URL
is shown, its masked form must still be there: redaction keeps the address.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
import redis

from perfcore.stack import RedisServer, start_redis
from perfcore.stack.identity import identify
from perfcore.stack.process import free_port

pytestmark = [pytest.mark.redis, pytest.mark.mariadb, pytest.mark.slow]

SECRET = "Hx9-s3cret-Pw"
USER = "pc_redact"


def perfcore(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfcore", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )


@pytest.fixture()
def locked_redis(run_dir: Path) -> Iterator[RedisServer]:
    server = start_redis(run_dir / "locked", maxmemory_policy="noeviction")
    redis.Redis.from_url(server.url).config_set("requirepass", SECRET)
    yield server
    server.stop()


@pytest.fixture()
def secret_dsn(mariadb_dsn: str) -> str:
    port = int(mariadb_dsn.rsplit(":", 1)[1].split("/")[0])
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS perfcore_redact")
        cur.execute(f"DROP USER IF EXISTS '{USER}'@'%'")
        cur.execute(f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{SECRET}'")
        cur.execute(f"GRANT ALL ON perfcore_redact.* TO '{USER}'@'%'")
        cur.execute(f"GRANT SELECT ON mysql.slow_log TO '{USER}'@'%'")
    conn.close()
    return f"mysql+pymysql://{USER}:{SECRET}@127.0.0.1:{port}/perfcore_redact"


def _leaks(result: subprocess.CompletedProcess[str], out: Path | None = None) -> list[str]:
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    if out is not None and out.exists():
        texts |= {str(p): p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()}
    return [where for where, text in texts.items() if SECRET in text]


def test_no_command_prints_a_password(
    locked_redis: RedisServer, secret_dsn: str, tmp_path: Path
) -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{locked_redis.port}/0"
    wrong = f"redis://:{SECRET}-wrong@127.0.0.1:{locked_redis.port}/0"
    unreachable = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0"
    bad_dsn = secret_dsn.replace(SECRET, SECRET + "-wrong")
    qset = ["--set", "queues.prefix=redact", "--set", f"queues.export_dir={tmp_path / 'x'}"]
    out = tmp_path / "out"
    # (argv, allowed exit codes, text that must appear: the masked URL where one is shown)
    runs: list[tuple[list[str], set[int], str | None]] = [
        (["queues", "status", "--redis", url, "--json", "--out", str(out), *qset], {0}, ":***@"),
        (["queues", "status", "--redis", url, *qset], {0}, None),
        (["queues", "status", "--redis", wrong, *qset], {1}, None),
        (["queues", "status", "--redis", unreachable, *qset], {1}, None),
        (["queues", "status", "--redis", f"http://:{SECRET}@h:1", *qset], {2}, ":***@"),
        (
            [
                "queues",
                "add",
                "emergency_alert",
                "--redis",
                url,
                "--json",
                *qset,
                "--data",
                '{"recipient": "ops@x", "subject": "s"}',
            ],
            {0},
            None,
        ),
        (["queues", "init-db", "--database-url", secret_dsn, "--events", "2"], {0}, ":***@"),
        (["queues", "init-db", "--database-url", bad_dsn], {1, 2}, None),
        (["cache", "stats", "--redis", url, "--json", "--out", str(out)], {0}, ":***@"),
        (["cache", "stats", "--redis", url], {0}, ":***@"),
        (["cache", "stats", "--redis", wrong], {1}, ":***@"),
        (["cache", "stats", "--redis", unreachable, "--json"], {1}, ":***@"),
        (["cache", "stats", "--redis", f"http://:{SECRET}@h:1"], {2}, ":***@"),
        (["cache", "invalidate", "events:*", "--redis", url, "--json"], {0}, ":***@"),
        (["db", "advise", "--dsn", secret_dsn, "--json"], {0, 1, 2}, None),
        (["db", "advise", "--dsn", bad_dsn], {1, 2}, None),
        (
            [
                "scale",
                "run",
                "--actuator",
                "processes",
                "--dry-run",
                "--metrics",
                "bullmq",
                "--policy",
                "queue-backlog",
                "--redis",
                wrong,
                "--max-steps",
                "1",
                "--json",
            ],
            {0, 1, 2},
            None,
        ),
    ]
    failures = []
    for argv, codes, shown in runs:
        result = perfcore(*argv, cwd=tmp_path)
        leaks = _leaks(result, out)
        if (
            leaks
            or result.returncode not in codes
            or (shown and shown not in result.stdout + result.stderr)
        ):
            failures.append((argv[:2], result.returncode, leaks, result.stderr.strip()[-300:]))
    assert failures == []


def test_stack_output_masks_a_recorded_password(locked_redis: RedisServer, tmp_path: Path) -> None:
    # a stack.json naming a running server by a URL with a password (edited by hand, say)
    record = identify(locked_redis.pid).to_dict()
    url = f"redis://:{SECRET}@127.0.0.1:{locked_redis.port}/0"
    state = {
        "redis_cache": {"url": url, "pids": [locked_redis.pid], "ports": [1], "processes": [record]}
    }
    (tmp_path / "stack.json").write_text(json.dumps(state))
    run_dir = ["--run-dir", str(tmp_path)]
    for argv in (
        ["stack", "status", "--json"],
        ["stack", "status"],
        ["stack", "up", "--only", "redis_cache", "--json"],
    ):
        result = perfcore(*argv, *run_dir, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert SECRET not in result.stdout + result.stderr
        assert f"redis://:***@127.0.0.1:{locked_redis.port}/0" in result.stdout
    up = json.loads(
        perfcore("stack", "up", "--only", "redis_cache", "--json", *run_dir, cwd=tmp_path).stdout
    )
    assert up["services"]["redis_cache"] == f"redis://:***@127.0.0.1:{locked_redis.port}/0"
    (tmp_path / "stack.json").unlink()  # never let 'down' act on the fixture's server


def _serve_until(argv: list[str], marker: str, cwd: Path, timeout_s: float = 60) -> str:
    """Start a long-running command, wait for ``marker`` in its stderr, stop it; all output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfcore", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if marker in line:
                break
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    output = "".join(seen) + (rest or "")
    assert marker in output, output[-500:]
    return output


def test_worker_and_serve_banners_and_logs_mask_passwords(
    locked_redis: RedisServer, secret_dsn: str, tmp_path: Path
) -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{locked_redis.port}/0"
    worker = _serve_until(
        [
            "worker",
            "--queues",
            "critical",
            "--redis",
            url,
            "--database-url",
            secret_dsn,
            "--set",
            "queues.prefix=redact-w",
            "--set",
            f"queues.export_dir={tmp_path}",
        ],
        "serving",
        tmp_path,
    )
    assert SECRET not in worker and f"redis://:***@127.0.0.1:{locked_redis.port}/0" in worker
    serve = _serve_until(
        ["serve", "--port", str(free_port()), "--db", secret_dsn, "--redis", url, "--no-seed"],
        "Uvicorn running",
        tmp_path,
    )
    assert SECRET not in serve and f"{USER}:***@127.0.0.1" in serve
