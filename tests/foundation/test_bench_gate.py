"""The regression gate's plumbing (benchmarks/gate.py, instructions.py): no valgrind needed.

What is measured and whether a slowdown is caught is proved by
``benchmarks/regression_experiment.py`` and by the gate itself in ``make test``;
here: the machine class, the missing-baseline rule, the injection switch and
the coverage check, on temporary folders.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import gate
from instructions import INJECT_INTO, INJECT_SLOWDOWN, parse_injection
from regression_experiment import selector


def test_machine_class_names_arch_and_python() -> None:
    version = ".".join(platform.python_version_tuple()[:2])
    assert gate.machine_class() == f"{platform.machine()}-{sys.implementation.name}{version}"


def test_committed_baseline_covers_the_gate_suite() -> None:
    runs = gate.saved_runs(gate.BASELINES / "x86_64-cpython3.11")
    assert runs, "benchmarks/baselines/x86_64-cpython3.11 has no saved run"
    names = {b["name"] for b in json.loads(runs[-1].read_text())["benchmarks"]}
    from workloads import WORKLOADS

    assert names == {f"test_instructions[{name}]" for name in WORKLOADS}


@pytest.mark.parametrize(("ci", "code"), [("true", 1), ("", 0)])
def test_no_baseline_fails_under_ci_and_warns_elsewhere(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    ci: str,
    code: int,
) -> None:
    monkeypatch.setenv("CI", ci)
    assert gate.check(tmp_path / "sparc-cpython3.99", []) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"no baseline for machine class {gate.machine_class()}" in err
    assert ("error" if code else "warning") in err


def test_unmatched_lists_benchmarks_the_baseline_lacks(tmp_path: Path) -> None:
    def run(path: Path, *names: str) -> Path:
        path.write_text(json.dumps({"benchmarks": [{"fullname": n} for n in names]}))
        return path

    report = run(tmp_path / "now.json", "a", "b", "c")
    baseline = run(tmp_path / "base.json", "b", "d")
    assert gate.unmatched(report, baseline) == ["a", "c"]


def test_injection_is_inert_unless_asked_for() -> None:
    assert parse_injection({}) is None
    assert parse_injection({INJECT_SLOWDOWN: "0.25", INJECT_INTO: "cache_l1"}) == ("cache_l1", 0.25)


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({INJECT_SLOWDOWN: "0.25"}, INJECT_INTO),
        ({INJECT_SLOWDOWN: "0.25", INJECT_INTO: "nothing"}, INJECT_INTO),
        ({INJECT_SLOWDOWN: "fast", INJECT_INTO: "cache_l1"}, INJECT_SLOWDOWN),
        ({INJECT_SLOWDOWN: "-1", INJECT_INTO: "cache_l1"}, INJECT_SLOWDOWN),
    ],
)
def test_bad_injection_names_the_variable(env: dict[str, str], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        parse_injection(env)


def test_experiment_selects_exactly_one_workload() -> None:
    assert selector("cache_l1") == "cache_l1 and not ttlcache_l1"
    assert selector("simulation") == "simulation"


def test_compare_rejects_an_unknown_ref(capsys: pytest.CaptureFixture[str]) -> None:
    assert gate.main(["compare", "--ref", "no-such-ref-anywhere"]) == 2
    assert capsys.readouterr().err.strip() == (
        "bench-compare: error: REF: 'no-such-ref-anywhere' is not a commit of this repository"
    )
