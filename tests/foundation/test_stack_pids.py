"""``stack status``/``down`` trust a recorded pid only while it is still the server ``up`` started."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from perfcore.errors import BadInput
from perfcore.stack import Stack


def _perfcore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfcore", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture()
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process whose pid a stale stack.json may name."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait(10)


def _write(run_dir: Path, state: object) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "stack.json").write_text(json.dumps(state))


def _service(pid: int, processes: list[dict[str, object]] | None) -> dict[str, object]:
    info: dict[str, object] = {"url": "redis://127.0.0.1:1/0", "pids": [pid], "ports": [1]}
    if processes is not None:
        info["processes"] = processes
    return info


@pytest.mark.parametrize("recorded", ["reused", "old-format"])
def test_a_reused_pid_is_neither_running_nor_signalled(
    tmp_path: Path, bystander: subprocess.Popen[bytes], recorded: str
) -> None:
    pid = bystander.pid
    started = psutil.Process(pid).create_time()
    # "reused": up recorded a redis-server that started earlier under this number
    processes = (
        [{"pid": pid, "started": started - 3600, "program": "redis-server"}]
        if recorded == "reused"
        else None
    )
    _write(tmp_path, {"redis_cache": _service(pid, processes)})
    status = _perfcore("stack", "status", "--json", "--run-dir", str(tmp_path))
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["services"]["redis_cache"]["running"] is False
    assert "DEAD" in _perfcore("stack", "status", "--run-dir", str(tmp_path)).stdout
    down = _perfcore("stack", "down", "--run-dir", str(tmp_path))
    assert down.returncode == 0, down.stderr
    assert bystander.poll() is None  # still alive: never signalled
    assert f"pid {pid} is no longer the redis-server 'up' started" in down.stderr
    assert not (tmp_path / "stack.json").exists()


def test_the_same_program_restarted_under_the_pid_is_not_ours(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    me = psutil.Process(bystander.pid)
    # right name, wrong start time: a later process of the same program
    record = {"pid": me.pid, "started": me.create_time() + 5, "program": me.name()}
    _write(tmp_path, {"redis_cache": _service(me.pid, [record])})
    assert Stack(tmp_path).status()["redis_cache"]["running"] is False
    # and with the true start time it is ours (the check is not simply "never")
    record["started"] = me.create_time()
    _write(tmp_path, {"redis_cache": _service(me.pid, [record])})
    assert Stack(tmp_path).status()["redis_cache"]["running"] is True


def test_pid_1_is_never_running_and_never_signalled(tmp_path: Path) -> None:
    init = psutil.Process(1)
    # even a record that matches pid 1 exactly
    record = {"pid": 1, "started": init.create_time(), "program": init.name()}
    _write(tmp_path, {"redis_queues": _service(1, [record]), "mariadb": _service(1, None)})
    status = Stack(tmp_path).status()
    assert status["redis_queues"]["running"] is False and status["mariadb"]["running"] is False
    warnings: list[str] = []
    assert Stack(tmp_path).down(warn=warnings.append) == ["redis_queues", "mariadb"]
    assert len(warnings) == 2 and all("pid 1 is no longer" in w for w in warnings)
    assert init.is_running()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "corrupt stack state (Expecting property name"),
        (b"{\x80\x81}", "corrupt stack state (UnicodeDecodeError)"),
        (b"[1, 2]", "expected a JSON object of services"),
        (b'{"redis_cache": {"url": "redis://h:1", "pids": ["x"], "ports": [1]}}', "pids"),
        (b'{"redis_cache": {"url": "redis://h:1", "pids": [-5], "ports": [1]}}', "pids"),
        (b'{"postgres": {"url": "x", "pids": [], "ports": []}}', "unknown service 'postgres'"),
        (b"[" * 100_000 + b"]" * 100_000, "corrupt stack state"),
    ],
)
def test_a_corrupt_state_file_is_bad_input_naming_the_file(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    tmp_path.joinpath("stack.json").write_bytes(content)
    with pytest.raises(BadInput, match=r"stack\.json: corrupt stack state") as raised:
        Stack(tmp_path).read_state()
    assert problem in str(raised.value) and "\n" not in str(raised.value)


def test_a_corrupt_state_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    tmp_path.joinpath("stack.json").write_bytes(b"{not json")
    for command in ("status", "down", "up"):
        result = _perfcore("stack", command, "--run-dir", str(tmp_path))
        assert result.returncode == 2, result.stderr
        assert result.stdout == "" and "Traceback" not in result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: ") and "stack.json: corrupt stack state" in line
