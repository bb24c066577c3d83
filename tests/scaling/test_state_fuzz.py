"""Fuzz layer (hypothesis) over ``perfcore scale decide --state``.

Any text as the state is either a decision, printed as strict JSON (no NaN
tokens), or bad input: a :class:`ConfigError` that the CLI boundary turns
into exit 2 and one line.  Never another exception.  Runs the click command
in process (the subprocess matrix in tests/foundation covers the boundary).
"""

from __future__ import annotations

import json
import math
from typing import Any

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from perfcore.config import ConfigError
from perfcore.errors import classify
from perfcore.scaling.cli import scale


def _strict(token: str) -> Any:
    raise AssertionError(f"--json printed {token}")


def decide(state: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(scale, ["decide", "--state", state, "--json"])
    return result.exit_code, result.stdout, result.exception


def check(state: str) -> None:
    code, stdout, exc = decide(state)
    if exc is None:
        assert code == 0
        payload = json.loads(stdout, parse_constant=_strict)
        assert isinstance(payload["replicas"], int) and payload["replicas"] >= 0
        return
    assert isinstance(exc, ConfigError), repr(exc)
    status, line = classify(exc)
    assert status == 2 and "\n" not in line and line.startswith("error: ")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3)
    ),
    max_leaves=12,
)
METRIC = st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 10**6)
KEYS = [
    "now",
    "current_replicas",
    "ready_replicas",
    "metrics",
    "targets",
    "history",
    "baseline_request_rate",
]


@st.composite
def near_states(draw: st.DrawFn) -> dict[str, Any]:
    """States shaped like the real thing, with any value in any slot (the interesting edge)."""
    state: dict[str, Any] = {"current_replicas": draw(st.integers(-2, 10**5) | JSON)}
    if draw(st.booleans()):
        state["metrics"] = {
            name: draw(METRIC)
            for name in draw(
                st.sets(st.sampled_from(["cpu", "memory", "request_rate", "queue_backlog"]))
            )
        }
    for key in draw(st.sets(st.sampled_from(KEYS[:3] + KEYS[4:]))):
        state[key] = draw(JSON | st.floats())
    return state


@settings(max_examples=150)
@given(st.text(max_size=200))
def test_any_text_is_a_decision_or_one_line_of_bad_input(text: str) -> None:
    check(text)


@settings(max_examples=200)
@given(near_states())
def test_any_near_state_is_a_decision_or_one_line_of_bad_input(state: dict[str, Any]) -> None:
    # allow_nan: NaN and Infinity tokens are part of the fuzz input, not of the output.
    check(json.dumps(state, allow_nan=True))


@settings(max_examples=150)
@given(
    st.integers(0, 10_000),
    st.floats(0, 1000),
    st.floats(0, 1e12),
    st.sampled_from(["seed", "target-tracking", "queue-backlog"]),
)
def test_every_valid_state_decides_finite_json(
    replicas: int, cpu: float, rate: float, policy: str
) -> None:
    state = {
        "current_replicas": replicas,
        "metrics": {"cpu": cpu, "request_rate": rate, "queue_backlog": rate},
    }
    result = CliRunner().invoke(
        scale, ["decide", "--policy", policy, "--state", json.dumps(state), "--json"]
    )
    assert result.exception is None and result.exit_code == 0, result.output
    payload = json.loads(result.stdout, parse_constant=_strict)
    assert 0 <= payload["replicas"] <= 10_000 and math.isfinite(float(payload["replicas"]))
