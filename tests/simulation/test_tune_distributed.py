"""Several ``perfcore tune`` processes on one Optuna study in MariaDB complete it together."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .test_tune import PARAMS, TINY

TRIALS = 10


@pytest.fixture
def storage_url(mariadb_dsn: str) -> str:
    """A fresh database on the test MariaDB for one study (Optuna creates its tables)."""
    import pymysql
    from sqlalchemy.engine import make_url

    url = make_url(mariadb_dsn)
    name = f"optuna_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(host=url.host, port=url.port, user=url.username or "root")
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")  # name: hex digits only
    finally:
        conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


def test_two_processes_share_one_study(storage_url: str, tmp_path: Path) -> None:
    import optuna

    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    args = [sys.executable, "-m", "perfcore", "tune", str(scenario), "--trials", str(TRIALS),
            "--seeds", "2", "--confirm-seeds", "1", "--leaders", "2", "--storage", storage_url,
            "--study", "shared", *(f"--param={p.spec()}" for p in PARAMS), "--json"]  # fmt: skip
    # The storage's tables are created once, before the processes join (two processes
    # creating Optuna's schema at the same moment race on MariaDB's DDL).
    optuna.storages.RDBStorage(storage_url)
    procs = [
        subprocess.Popen(
            [*args, "--seed", str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=900) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-2000:]
    reports = [json.loads(out) for out, _ in outputs]

    study = optuna.load_study(study_name="shared", storage=storage_url)
    counted = [t for t in study.trials if t.number < TRIALS]
    done = optuna.trial.TrialState.COMPLETE
    assert [t.number for t in counted] == list(range(TRIALS))
    assert all(t.state == done for t in counted)
    # Both processes ran trials; none was evaluated twice (one worker, one set of measures each).
    workers = {t.user_attrs["worker"] for t in counted}
    assert len(workers) == 2
    assert len({tuple(sorted(t.params.items())) for t in counted}) == TRIALS
    # Trials past the count were stopped before any simulation.
    assert all("measures" not in t.user_attrs for t in study.trials if t.number >= TRIALS)
    # Both processes read the same finished study, so they recommend the same configuration,
    # and the study loads unchanged: the reports' trial values are the stored ones.
    assert reports[0]["recommended_values"] == reports[1]["recommended_values"]
    for report in reports:
        stored = {t.number: t.values for t in counted}
        for row in report["trials"]:
            assert row["screen"]["cost_usd"] == pytest.approx(stored[row["trial"]][0], rel=1e-3)
