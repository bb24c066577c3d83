"""``perfcore serve`` in a subprocess on a free loopback port, waited for with a bound."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from perfcore.service.auth import SECRET_ENV, mint
from perfcore.stack import free_port


def bearer(subject: str) -> dict[str, str]:
    """Authorization for ``subject`` under the suite's key (tests/conftest.py sets it)."""
    return {"Authorization": f"Bearer {mint(os.environ[SECRET_ENV].encode(), subject)}"}


@contextmanager
def serving(
    work: Path, *args: str, ready_s: float = 60
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """(base URL, process) of ``perfcore serve ARGS``; its output is in ``work/serve.log``."""
    port = free_port()
    log_path = work / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "perfcore",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
                *args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=work,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + ready_s
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code in (200, 503):
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (
                    f"serve not up in {ready_s} s: {log_path.read_text()}"
                )
                time.sleep(0.2)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
