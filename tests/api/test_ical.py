"""GET /agenda/ical/{token}.ics: a parsable calendar, cache headers, 404 for unknown or revoked links."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlmodel import Session
from starlette.testclient import TestClient

from cpts_app import db, settings
from cpts_app.api.app import build_api
from cpts_app.models.access import Role
from cpts_app.services import calendar_feed
from cpts_app.services.agenda.clock import PARIS
from tests.services import factories
from tests.services import feeds_factories as ff


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CPTS_DATABASE_URL", database_url)
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    with TestClient(build_api(), base_url="https://localhost:3000") as test_client:
        yield test_client
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()


@pytest.fixture
def feed(engine) -> tuple[int, str, datetime]:
    """A professional with an appointment next week at 09:00 Paris, and their feed's secret."""
    next_week = (datetime.now(UTC).astimezone(PARIS) + timedelta(days=7)).date()
    nine = datetime(next_week.year, next_week.month, next_week.day, 9, 0, tzinfo=PARIS)
    with Session(engine, expire_on_commit=False) as session:
        where = ff.place(session)
        pro = ff.professional(session, 1, where)
        sched = ff.schedule(session, pro, where)
        booker = factories.user(session, email="coordination@example.fr", role=Role.COORDINATOR)
        ff.appointment(
            session, ff.slot(session, sched, pro, nine.astimezone(UTC)), ff.patient(session), booker.id
        )
        admin = factories.actor(session, Role.ADMIN)
        token = calendar_feed.create_feed_token(session, admin, pro.id)
        session.commit()
        return pro.id, token, nine


def test_feed_is_served_as_text_calendar(client: TestClient, feed) -> None:
    _pro_id, token, nine = feed
    response = client.get(f"/agenda/ical/{token}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "private, max-age=300"
    calendar = Calendar.from_ical(response.content)
    events = [e for e in calendar.walk("VEVENT") if str(e["UID"]).startswith("appointment-")]
    assert len(events) == 1
    assert events[0]["DTSTART"].dt.astimezone(UTC) == nine.astimezone(UTC)
    assert "Martinez" not in response.text


def test_unknown_and_revoked_links_are_404(client: TestClient, feed, engine) -> None:
    pro_id, token, _nine = feed
    assert client.get("/agenda/ical/nimportequoi-mais-assez-long.ics").status_code == 404
    with Session(engine) as session:
        admin = factories.actor(session, Role.ADMIN)
        calendar_feed.revoke_feed_tokens(session, admin, pro_id)
        session.commit()
    response = client.get(f"/agenda/ical/{token}.ics")
    assert response.status_code == 404
    assert "révoqué" in response.text


def test_a_new_link_invalidates_the_old_one(client: TestClient, feed, engine) -> None:
    pro_id, token, _nine = feed
    with Session(engine) as session:
        admin = factories.actor(session, Role.ADMIN)
        newer = calendar_feed.create_feed_token(session, admin, pro_id)
        session.commit()
    assert client.get(f"/agenda/ical/{token}.ics").status_code == 404
    assert client.get(f"/agenda/ical/{newer}.ics").status_code == 200
