"""Run a ``notebooks/*.py`` (jupytext percent format) through a real Jupyter kernel, as users do.

The kernel inherits this process's environment (pass ``env`` to add to it),
renders figures inline (``display_data``) and runs in ``cwd``; the executed
notebook is written to ``reports/<name>.ipynb`` so its outputs can be read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupytext
import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Executed:
    notebook: Any  # nbformat.NotebookNode
    written: Path

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return [
            o for c in self.notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
        ]

    @property
    def text(self) -> str:
        """Everything the cells printed (streams and plain-text results)."""
        parts = []
        for o in self.outputs:
            parts.append(str(o.get("text", "")))
            parts.append(str(o.get("data", {}).get("text/plain", "")))
        return "\n".join(parts)

    @property
    def images(self) -> int:
        return sum("image/png" in o.get("data", {}) for o in self.outputs)


def execute(
    name: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
    reports: Path = REPO / "reports",
    timeout: int = 600,
) -> Executed:
    notebook = jupytext.read(REPO / "notebooks" / f"{name}.py")
    kernel_env = {**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    kernel_env.update(env or {})
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute(env=kernel_env)
    reports.mkdir(parents=True, exist_ok=True)
    written = reports / f"{name}.ipynb"
    nbformat.write(notebook, written)
    return Executed(notebook, written)
