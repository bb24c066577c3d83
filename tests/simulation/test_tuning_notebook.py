"""The tuning report notebook runs top to bottom in a Jupyter kernel (jupytext -> nbclient)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .test_tune import TINY

REPO = Path(__file__).resolve().parents[2]


def test_tuning_notebook_executes_in_a_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jupytext
    import nbclient

    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend makes PNGs
    monkeypatch.setenv("PERFCORE_SCENARIO", str(scenario))
    monkeypatch.setenv("PERFCORE_TRIALS", "4")
    monkeypatch.setenv("PERFCORE_SEEDS", "1")
    monkeypatch.setenv(
        "PERFCORE_PARAMS", "scaling.min_replicas=1:6:int;scaling.target_cpu=0.4:0.85"
    )
    notebook = jupytext.read(REPO / "notebooks" / "tuning_report.py")
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(env=dict(os.environ))
    text = "".join(
        out.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )
    assert "seed settings" in text and "meets every constraint" in text
    assert "Pareto front:" in text
    assert "scaling:" in text and "min_replicas:" in text  # the recommended YAML
    images = [
        out
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    assert len(images) == 2
