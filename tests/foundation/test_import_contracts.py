"""The import contracts of ``[tool.importlinter]`` hold, and a wrong import breaks them.

Each wrong import is written into a copy of the packages in a temporary
directory with the project's pyproject.toml; ``lint-imports`` runs there (it
puts its working directory first on the import path).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_entry_points_keep_perfcore_free_of_simulation_imports() -> None:
    # The registry names its own modules only; the simulation registers itself.
    from perfcore.commands import BUILTIN, registered

    assert all(ref.target.startswith("perfcore.") for ref in BUILTIN.values())
    assert {"simulate", "tune"} <= set(registered())
    assert registered()["simulate"].load("simulate").name == "simulate"


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("perfcore/config.py", "import simulation.scenario", "simulation depends on perfcore"),
        ("perfcore/errors.py", "import loadtests.locustfile", "perfcore imports no load tests"),
        ("perfcore/cache/policy.py", "import redis", "pure policies import no adapters"),
        ("perfcore/queues/routing.py", "import perfcore.stack", "pure policies import no"),
        ("perfcore/cache/manager.py", "import perfcore.service.app", "perfcore layers"),
        ("perfcore/config.py", "import perfcore.cache.policy", "perfcore layers"),
        ("perfcore/cache/manager.py", "import perfcore.cache.cli", "command-line modules"),
        # The platform description is the bottom layer, beside the config.
        ("perfcore/platform/__init__.py", "import perfcore.cache.policy", "perfcore layers"),
    ],
)
def test_a_wrong_import_breaks_its_contract(
    tmp_path: Path, module: str, wrong_import: str, contract: str
) -> None:
    for package in ("perfcore", "simulation"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "loadtests").mkdir()
    (tmp_path / "loadtests" / "locustfile.py").write_text('"""A stand-in."""\n')
    target = tmp_path / module
    target.parent.mkdir(exist_ok=True)
    text = target.read_text() if target.exists() else '"""A stand-in."""\n'
    target.write_text(text + f"\n{wrong_import}  # deliberately wrong\n")

    result = _lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Contracts: 4 kept, 1 broken." in result.stdout, result.stdout
    assert contract in result.stdout.split("Broken contracts", 1)[1], result.stdout
    assert module.removesuffix(".py").removesuffix("/__init__").replace("/", ".") in result.stdout


def test_help_lists_commands_without_importing_them() -> None:
    script = (
        "import contextlib, io, json, sys\n"
        "from perfcore.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    main(['--help'])\n"
        "heavy = ('simpy', 'optuna', 'redis', 'sqlalchemy', 'kubernetes', 'simulation.cli')\n"
        "print(json.dumps({'help': out.getvalue(), 'loaded': [m for m in heavy if m in sys.modules]}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    report = json.loads(result.stdout)
    assert report["loaded"] == []
    assert re.search(r"simulate\s+Run the SimPy model", report["help"])
    assert re.search(r"tune\s+Choose config values", report["help"])
