"""The tuning report notebook runs top to bottom in a Jupyter kernel (jupytext -> nbclient)."""

from __future__ import annotations

from pathlib import Path

import pytest
from notebook_kernel import execute

from .test_tune import TINY


def test_tuning_notebook_executes_in_a_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    monkeypatch.setenv("PERFCORE_SCENARIO", str(scenario))
    monkeypatch.setenv("PERFCORE_TRIALS", "4")
    monkeypatch.setenv("PERFCORE_SEEDS", "1")
    monkeypatch.setenv(
        "PERFCORE_PARAMS", "scaling.min_replicas=1:6:int;scaling.target_cpu=0.4:0.85"
    )
    run = execute("tuning_report", cwd=tmp_path)
    text = run.text
    assert "seed settings" in text and "meets every constraint" in text
    assert "Pareto front:" in text
    assert "scaling:" in text and "min_replicas:" in text  # the recommended YAML
    assert run.images == 2
