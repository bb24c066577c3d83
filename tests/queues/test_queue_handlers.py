"""Job handlers against the reference database: SQLite and the stack's real MariaDB."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from perfcore.platform.database import connect
from perfcore.platform.schema import (
    create_schema,
    drop_schema,
    notifications,
    registrations,
    report_aggregates,
)
from perfcore.platform.seed import SeedSize, seed
from perfcore.queues.handlers import (
    HANDLERS,
    InvalidJobData,
    JobContext,
    UnknownJobType,
    handler_for,
)
from perfcore.queues.routing import JOB_TYPES

NOW = datetime(2026, 11, 26, 12, 0, 0)


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ref.sqlite'}"
    else:
        url = request.getfixturevalue("queue_db_url")
    eng = connect(url)
    drop_schema(eng)
    create_schema(eng)
    seed(eng, NOW, SeedSize(events=4, attendees=60, registrations_per_event=25, capacity=25))
    yield eng
    drop_schema(eng)
    eng.dispose()


def ctx(engine: Engine, tmp_path: Path, key: str = "bull:normal:1") -> JobContext:
    return JobContext(engine=engine, export_dir=tmp_path / "exports", job_key=key)


def expected_counts(engine: Engine) -> dict[tuple[int, str], int]:
    query = select(registrations.c.event_id, registrations.c.status, func.count()).group_by(
        registrations.c.event_id, registrations.c.status
    )
    with engine.connect() as conn:
        return {(int(e), s): int(n) for e, s, n in conn.execute(query)}


def aggregates(engine: Engine, report: str) -> dict[tuple[int, str], float]:
    query = select(
        report_aggregates.c.event_id, report_aggregates.c.metric, report_aggregates.c.value
    )
    with engine.connect() as conn:
        rows = conn.execute(query.where(report_aggregates.c.report == report))
        return {(int(e), m): float(v) for e, m, v in rows}


def test_every_seed_job_type_has_a_handler() -> None:
    assert set(JOB_TYPES) <= set(HANDLERS)
    with pytest.raises(UnknownJobType, match="'bogus'"):
        handler_for("bogus")


def test_analytics_writes_counts_per_event_and_status(engine: Engine, tmp_path: Path) -> None:
    result = HANDLERS["analytics_processing"](ctx(engine, tmp_path), {})
    stored = aggregates(engine, "analytics")
    assert stored == {
        (e, f"registrations_{s}"): float(n) for (e, s), n in expected_counts(engine).items()
    }
    assert result == {"events": 4, "metrics": len(stored)}
    # idempotent: running it again replaces rather than duplicates
    HANDLERS["analytics_batch"](ctx(engine, tmp_path), {})
    assert aggregates(engine, "analytics") == stored


def test_report_summarises_each_event(engine: Engine, tmp_path: Path) -> None:
    assert HANDLERS["report_generation"](ctx(engine, tmp_path), {"event_ids": [2, 3]}) == {
        "events": 2
    }
    stored = aggregates(engine, "event_summary")
    counts = expected_counts(engine)
    for event in (2, 3):
        total = sum(n for (e, _), n in counts.items() if e == event)
        assert stored[(event, "registrations")] == total
        assert stored[(event, "fill_ratio")] == pytest.approx(
            counts.get((event, "confirmed"), 0) / 25
        )
        assert stored[(event, "cancellation_rate")] == pytest.approx(
            counts.get((event, "cancelled"), 0) / total
        )
    assert {e for e, _ in stored} == {2, 3}


def test_notification_writes_one_outbox_row_per_job(engine: Engine, tmp_path: Path) -> None:
    data = {"recipient": "ops@example.org", "subject": "Doors open", "channel": "sms"}
    first = HANDLERS["emergency_alert"](ctx(engine, tmp_path, "bull:critical:7"), data)
    again = HANDLERS["emergency_alert"](ctx(engine, tmp_path, "bull:critical:7"), data)
    other = HANDLERS["notification_sending"](ctx(engine, tmp_path, "bull:normal:8"), data)
    assert first["duplicate"] is False and again == {
        "outbox_id": first["outbox_id"],
        "duplicate": True,
    }
    assert other["outbox_id"] != first["outbox_id"]
    with engine.connect() as conn:
        rows = conn.execute(select(notifications).order_by(notifications.c.id)).all()
    assert [(r.job_key, r.channel, r.recipient) for r in rows] == [
        ("bull:critical:7", "sms", "ops@example.org"),
        ("bull:normal:8", "sms", "ops@example.org"),
    ]


def test_export_writes_a_csv_of_the_rows(engine: Engine, tmp_path: Path) -> None:
    result = HANDLERS["data_export"](ctx(engine, tmp_path, "bull:low:3"), {"event_id": 2})
    path = Path(result["path"])
    assert path.parent == tmp_path / "exports" and path.suffix == ".csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert result["rows"] == len(rows) == 25
    assert {row["event_id"] for row in rows} == {"2"}
    assert list(rows[0]) == [c.name for c in registrations.columns]
    assert not list(path.parent.glob("*.partial"))


@pytest.mark.parametrize(
    ("job_type", "data", "field"),
    [
        ("notification_sending", {"subject": "x"}, "recipient"),
        ("notification_sending", {"recipient": "a", "subject": "b", "channel": "fax"}, "channel"),
        ("data_export", {"table": "users"}, "table"),
        ("report_generation", {"event_ids": "all"}, "event_ids"),
        ("analytics_processing", {"surprise": 1}, "surprise"),
    ],
)
def test_invalid_data_names_the_field(
    job_type: str, data: dict[str, object], field: str, tmp_path: Path
) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with pytest.raises(InvalidJobData, match=f"^{field}"):
        HANDLERS[job_type](ctx(engine, tmp_path), data)
