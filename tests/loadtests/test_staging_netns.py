"""The allow-list end to end: a "staging" server on its own address in a network namespace.

The test creates a namespace and a veth pair (``ip netns``, as root), runs
``staging_server.py`` on the namespace's address, and checks that
``perfcore loadtest`` refuses that host until it is allowed, then sends the
scenario's load to it, and never follows a redirect off the allow-list. The
traffic stays on this machine (a veth pair between two namespaces).
Where namespaces cannot be created it skips with the reason, and under CI it
fails (``perfcore.testing.require_service``, the one place that decides).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from perfcore.testing import require_service

HERE = Path(__file__).resolve().parent
PERFCORE = [sys.executable, "-m", "perfcore"]
PORT = 8080
SCENARIO = """
horizon_s: 600
workload:
  events: {count: 0}
  timed_jobs: []
  streams:
    - {request_class: event_detail, rate_per_s: 6, keys: 2}
    - {request_class: session_page, rate_per_s: 4, keys: 50}
loadtest:
  paths: {session_page: "/moved/{session_id}"}
  id_pools: {session_id: {low: 100, high: 109}}
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


def _cannot_run() -> str | None:
    if os.geteuid() != 0:
        return "creating a network namespace needs root"
    if shutil.which("ip") is None:
        return "iproute2 (the ip command) is not installed"
    return None


@pytest.fixture()
def staging(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(address, request log) of a server in a fresh namespace, reachable over a veth pair."""
    reason = _cannot_run()
    if reason is not None:
        require_service(reason)  # fails under CI, skips elsewhere
    tag = uuid.uuid4().hex[:6]
    ns, host_if, ns_if = f"pcstg{tag}", f"pch{tag}", f"pcn{tag}"
    octet = int(tag[:2], 16) % 200 + 20
    host_ip, ns_ip = f"10.254.{octet}.1", f"10.254.{octet}.2"
    try:
        _ip("netns", "add", ns)
    except subprocess.CalledProcessError as exc:
        require_service(f"cannot create a network namespace here: {exc.stderr.decode().strip()}")
    server = None
    count = tmp_path / "requests.log"
    count.touch()
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", ns, "addr", "add", f"{ns_ip}/30", "dev", ns_if)
        _ip("-n", ns, "link", "set", ns_if, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns,
                sys.executable,
                str(HERE / "staging_server.py"),
                ns_ip,
                str(PORT),
                str(count),
            ],
        )
        deadline = time.monotonic() + 20
        while not count.read_text():
            assert server.poll() is None, "the staging server exited"
            assert time.monotonic() < deadline, "the staging server did not answer in 20 s"
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"http://{ns_ip}:{PORT}/ready", timeout=1)
        yield ns_ip, count
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        subprocess.run(["ip", "link", "del", host_if], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def _loadtest(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "s.yaml").write_text(SCENARIO)
    return subprocess.run(
        [
            *PERFCORE,
            "loadtest",
            "--host",
            url,
            "--scenario",
            str(tmp_path / "s.yaml"),
            "--window",
            "0-24",
            "--time-scale",
            "4",
            "--max-failure-ratio",
            "1",
            "--json",
            "--out",
            str(tmp_path / "lt"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_a_staging_host_is_refused_until_allowed_then_driven(
    staging: tuple[str, Path], tmp_path: Path
) -> None:
    address, count = staging
    url = f"http://{address}:{PORT}"
    before = count.read_text().count("\n")
    refused = _loadtest(tmp_path, url)
    assert refused.returncode == 2 and address in refused.stderr, refused.stderr
    assert count.read_text().count("\n") == before  # not one request reached it
    tricked = _loadtest(
        tmp_path, f"http://{address}\\@127.0.0.1:{PORT}", "--allow-host", "127.0.0.1"
    )
    assert tricked.returncode == 2 and "backslash" in tricked.stderr

    allowed = _loadtest(tmp_path, url, "--allow-host", address)
    assert allowed.returncode == 0, allowed.stderr
    summary = json.loads(allowed.stdout)
    arrived = count.read_text().splitlines()[before:]
    detail = [line for line in arrived if line.startswith("GET /events/")]
    assert summary["endpoints"]["GET /events/{event_id}"]["requests"] > 0
    assert len(detail) >= summary["endpoints"]["GET /events/{event_id}"]["requests"]
    # Paths and ids from configuration; the redirect to 192.0.2.1 was refused, not followed.
    moved = [line for line in arrived if line.startswith("GET /moved/")]
    assert moved and all(100 <= int(line.rsplit("/", 1)[1]) <= 109 for line in moved)
    entry = summary["endpoints"]["GET /moved/{session_id}"]
    assert entry["failures"] == entry["requests"] > 0
    failures = (tmp_path / "lt" / "locust_failures.csv").read_text()
    assert "redirect to a host that is not allowed" in failures
