"""The event platform's reference schema: six tables with primary keys and nothing else.

Only primary keys (and the attendees' unique e-mail) exist, as on a young
platform whose queries outgrew its indexes: the advisor has something to find.
Row counts scale from one number, the size of the largest tables.
"""

from __future__ import annotations

from dataclasses import dataclass

TABLES: dict[str, str] = {
    "events": """
        id INT NOT NULL PRIMARY KEY,
        organizer_id INT NOT NULL,
        title VARCHAR(200) NOT NULL,
        category VARCHAR(32) NOT NULL,
        city VARCHAR(64) NOT NULL,
        status VARCHAR(16) NOT NULL,
        starts_at DATETIME NOT NULL,
        ends_at DATETIME NOT NULL,
        capacity INT NOT NULL,
        created_at DATETIME NOT NULL""",
    "attendees": """
        id INT NOT NULL PRIMARY KEY,
        email VARCHAR(191) NOT NULL,
        full_name VARCHAR(120) NOT NULL,
        country CHAR(2) NOT NULL,
        company VARCHAR(120) NOT NULL,
        created_at DATETIME NOT NULL,
        UNIQUE KEY uq_attendees_email (email)""",
    "registrations": """
        id BIGINT NOT NULL PRIMARY KEY,
        event_id INT NOT NULL,
        attendee_id INT NOT NULL,
        status VARCHAR(16) NOT NULL,
        ticket_type VARCHAR(16) NOT NULL,
        price_cents INT NOT NULL,
        registered_at DATETIME NOT NULL""",
    "sessions": """
        id INT NOT NULL PRIMARY KEY,
        event_id INT NOT NULL,
        title VARCHAR(200) NOT NULL,
        room VARCHAR(32) NOT NULL,
        starts_at DATETIME NOT NULL,
        ends_at DATETIME NOT NULL,
        capacity INT NOT NULL""",
    "check_ins": """
        id BIGINT NOT NULL PRIMARY KEY,
        registration_id BIGINT NOT NULL,
        event_id INT NOT NULL,
        session_id INT NOT NULL,
        gate VARCHAR(16) NOT NULL,
        checked_in_at DATETIME NOT NULL""",
    "notifications": """
        id BIGINT NOT NULL PRIMARY KEY,
        attendee_id INT NOT NULL,
        event_id INT NOT NULL,
        channel VARCHAR(16) NOT NULL,
        status VARCHAR(16) NOT NULL,
        payload TEXT NOT NULL,
        created_at DATETIME NOT NULL,
        sent_at DATETIME NULL""",
}


@dataclass(frozen=True)
class Scale:
    """Row counts per table, derived from the largest table's size."""

    rows: int = 1_000_000

    def __post_init__(self) -> None:
        if self.rows < 1000:
            raise ValueError("rows: at least 1000")

    @property
    def counts(self) -> dict[str, int]:
        n = self.rows
        return {
            "events": max(100, n // 50),
            "attendees": max(200, n // 5),
            "registrations": n,
            "sessions": max(200, n // 20),
            "check_ins": n // 2,
            "notifications": n // 2,
        }


def create_statements() -> list[str]:
    """DDL that (re)creates the schema in the connection's current database."""
    statements = []
    for name, body in TABLES.items():
        statements.append(f"DROP TABLE IF EXISTS `{name}`")
        statements.append(f"CREATE TABLE `{name}` ({body}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
    return statements
