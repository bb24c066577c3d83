"""Where the queue commands find Redis: an explicit choice beats a running stack.

The session's real stack (its queue Redis running) is what ``perfcore stack
status`` would discover, via ``$PERFCORE_RUN_DIR``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perfcore.config import QueuesConfig, load_config
from perfcore.queues.cli import resolve_redis_url
from perfcore.stack import Stack

pytestmark = pytest.mark.redis

EXPLICIT = "redis://127.0.0.1:1/0"  # nothing listens there


@pytest.fixture
def discovered(_stack: Stack, redis_queues_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PERFCORE_RUN_DIR", str(_stack.run_dir))
    return redis_queues_url


def _resolve(explicit: str | None, config_path: Path | None, overrides: tuple[str, ...]) -> str:
    config = load_config(config_path, list(overrides)).queues
    return resolve_redis_url(explicit, config_path, overrides, config)


def test_a_running_stack_beats_the_default(discovered: str) -> None:
    assert discovered != QueuesConfig().redis_url
    assert _resolve(None, None, ()) == discovered
    assert _resolve(None, None, ("queues.prefix=other",)) == discovered


def test_set_beats_a_running_stack(discovered: str) -> None:
    assert _resolve(None, None, (f"queues.redis_url={EXPLICIT}",)) == EXPLICIT


def test_a_config_file_that_names_the_url_beats_a_running_stack(
    discovered: str, tmp_path: Path
) -> None:
    named = tmp_path / "named.yaml"
    named.write_text(f"queues:\n  redis_url: {EXPLICIT}\n")
    assert _resolve(None, named, ()) == EXPLICIT
    silent = tmp_path / "silent.yaml"
    silent.write_text("queues:\n  prefix: other\n")
    assert _resolve(None, silent, ()) == discovered


def test_redis_option_beats_everything(discovered: str) -> None:
    other = "redis://127.0.0.1:2/0"
    assert _resolve(other, None, (f"queues.redis_url={EXPLICIT}",)) == other


def test_status_command_uses_the_set_url_not_the_stack(discovered: str) -> None:
    argv = ["queues", "status", "--set", f"queues.redis_url={EXPLICIT}", "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "perfcore", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The explicit URL is unreachable: one line naming it, exit 1 (the stack's would answer).
    assert result.returncode == 1, result.stdout + result.stderr
    assert "127.0.0.1:1" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
