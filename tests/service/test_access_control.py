"""Access control of the reference API: own data only, organizers per event, closed operator pages."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from perfcore.service.auth import mint, verify

pytestmark = [pytest.mark.mariadb, pytest.mark.redis]

AppFactory = Callable[..., Any]
Tokens = Any  # the conftest's Tokens


def test_tokens_are_signed_and_bound_to_their_subject() -> None:
    token = mint(b"k1", "attendee:3")
    assert verify(b"k1", token) == "attendee:3"
    assert verify(b"k2", token) is None  # another deployment's secret
    forged = "attendee:4." + token.rpartition(".")[2]  # another subject, the same signature
    assert verify(b"k1", forged) is None
    assert verify(b"k1", "no-signature") is None


def test_attendee_data_needs_that_attendees_token(start_app: AppFactory, tokens: Tokens) -> None:
    with start_app() as client:
        assert client.get("/attendees/3").status_code == 401
        assert client.get("/attendees/3", headers=tokens.attendee(4)).status_code == 403
        assert client.get("/attendees/3", headers=tokens.organizer(1)).status_code == 403
        assert (
            client.get("/attendees/3", headers={"Authorization": "Bearer junk"}).status_code == 401
        )
        own = client.get("/attendees/3", headers=tokens.attendee(3))
        assert own.status_code == 200 and own.json()["id"] == 3
        # Writing for someone else is refused before anything is written.
        other = client.post(
            "/events/1/registrations", json={"attendee_id": 5}, headers=tokens.attendee(6)
        )
        assert other.status_code == 403


def test_organizer_pages_need_that_events_organizer(start_app: AppFactory, tokens: Tokens) -> None:
    with start_app() as client:
        assert client.get("/events/1/dashboard").status_code == 401
        assert client.get("/events/1/dashboard", headers=tokens.organizer(2)).status_code == 403
        assert client.get("/events/1/dashboard", headers=tokens.attendee(1)).status_code == 403
        assert client.get("/events/1/dashboard", headers=tokens.organizer(1)).status_code == 200
        assert client.post("/events/1/exports", headers=tokens.organizer(2)).status_code == 403
        # Public reads stay public.
        assert client.get("/events/1").status_code == 200
        assert client.get("/sessions/1").status_code == 200


def test_operator_pages_are_closed_by_default(start_app: AppFactory, tokens: Tokens) -> None:
    with start_app() as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=tokens.attendee(1)).status_code == 401
        assert client.get("/metrics", headers=tokens.operator()).status_code == 200
        assert client.get("/docs").status_code == 404
        assert client.get("/openapi.json").status_code == 404


def test_exports_are_private_files_and_rate_limited(
    start_app: AppFactory, service_config: Callable[..., Any], tokens: Tokens, tmp_path: Path
) -> None:
    config = service_config()
    config = config.model_copy(
        update={"service": config.service.model_copy(update={"exports_per_minute": 2})}
    )
    with start_app(config) as client:
        codes = [
            client.post("/events/3/exports", headers=tokens.organizer(3)).status_code
            for _ in range(3)
        ]
        # Another event has a budget of its own.
        assert client.post("/events/4/exports", headers=tokens.organizer(4)).status_code == 202
    assert codes == [202, 202, 429]
    files = list((tmp_path / "exports").glob("registrations-*.csv"))
    assert len(files) == 3
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


@pytest.mark.parametrize("huge", [2**31, 2**63, 2**64 + 5])
def test_out_of_range_ids_are_422_not_500(start_app: AppFactory, tokens: Tokens, huge: int) -> None:
    with start_app() as client:
        assert client.get(f"/events/{huge}").status_code == 422
        assert client.get(f"/sessions/{huge}").status_code == 422
        body = {"attendee_id": huge}
        headers = tokens.attendee(1)
        assert client.post("/events/1/registrations", json=body, headers=headers).status_code == 422
