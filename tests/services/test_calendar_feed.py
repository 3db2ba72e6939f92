"""The iCalendar feed: token lifecycle, Paris times across the clock changes, no patient data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlmodel import Session, select

from cpts_app.models.access import Role
from cpts_app.models.agenda import AppointmentStatus, CalendarFeedToken, SlotKind
from cpts_app.models.audit import AuditEvent
from cpts_app.services import calendar_feed
from cpts_app.services.errors import PermissionDenied
from cpts_app.services.permissions import Actor
from tests.services import factories
from tests.services import feeds_factories as ff

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SPRING = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
"""Monday 30 March 2026, 09:00 in Paris (UTC+2 since the 29th)."""
AUTUMN = datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
"""Monday 26 October 2026, 09:00 in Paris (UTC+1 since the 25th)."""


@pytest.fixture
def agenda(session: Session):
    where = ff.place(session)
    pro = ff.professional(session, 1, where)
    sched = ff.schedule(session, pro, where)
    booker = factories.user(session, email="coordination@example.fr", role=Role.COORDINATOR)
    patient = ff.patient(session, "Martinez", "Lucie")
    spring = ff.appointment(
        session, ff.slot(session, sched, pro, SPRING, kind=SlotKind.CONSULTATION), patient, booker.id
    )
    autumn = ff.appointment(session, ff.slot(session, sched, pro, AUTUMN), patient, booker.id)
    cancelled = ff.appointment(
        session,
        ff.slot(session, sched, pro, SPRING + timedelta(hours=1)),
        patient,
        booker.id,
        status=AppointmentStatus.CANCELLED,
    )
    free = ff.slot(session, sched, pro, SPRING + timedelta(hours=2), kind=SlotKind.UNSCHEDULED)
    session.commit()
    admin = factories.actor(session, Role.ADMIN)
    session.commit()
    return pro, admin, {"spring": spring, "autumn": autumn, "cancelled": cancelled, "free": free}


def _events(body: bytes) -> dict[str, object]:
    calendar = Calendar.from_ical(body)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def test_feed_times_survive_both_clock_changes(session: Session, agenda) -> None:
    pro, admin, rows = agenda
    token = calendar_feed.create_feed_token(session, admin, pro.id)
    session.commit()
    body = calendar_feed.feed_for_token(session, token, now=NOW, days_ahead=300)
    assert body is not None
    calendar = Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "Agenda CPTS — Prénom1 Nom1"
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Paris"
    assert str(calendar["VERSION"]) == "2.0"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    events = _events(body)
    spring = events[f"appointment-{rows['spring'].id}@cpts"]
    autumn = events[f"appointment-{rows['autumn'].id}@cpts"]
    assert spring["DTSTART"].dt.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert autumn["DTSTART"].dt.astimezone(UTC) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    assert spring["DTSTART"].dt.hour == autumn["DTSTART"].dt.hour == 9
    assert spring["DTSTART"].params["TZID"] == "Europe/Paris"
    assert str(spring["SUMMARY"]) == "Rendez-vous — Consultation"
    assert str(spring["STATUS"]) == "CONFIRMED"
    assert str(events[f"appointment-{rows['cancelled'].id}@cpts"]["STATUS"]) == "CANCELLED"
    assert int(events[f"appointment-{rows['cancelled'].id}@cpts"]["SEQUENCE"]) == 1
    free = events[f"slot-{rows['free'].id}@cpts"]
    assert str(free["SUMMARY"]) == "Créneau SNP libre" and str(free["TRANSP"]) == "TRANSPARENT"


def test_feed_holds_no_patient_data(session: Session, agenda) -> None:
    pro, admin, _rows = agenda
    token = calendar_feed.create_feed_token(session, admin, pro.id)
    body = calendar_feed.feed_for_token(session, token, now=NOW, days_ahead=300)
    assert body is not None
    text = body.decode()
    for secret in ("Martinez", "MARTINEZ", "Lucie", "Douleur", "19480517", "1948-05-17", "17/05/1948"):
        assert secret not in text


def test_only_the_hash_is_stored_and_a_new_token_revokes_the_old(session: Session, agenda) -> None:
    pro, admin, _rows = agenda
    first = calendar_feed.create_feed_token(session, admin, pro.id)
    second = calendar_feed.create_feed_token(session, admin, pro.id)
    session.commit()
    stored = session.exec(select(CalendarFeedToken)).all()
    assert all(row.token_hash not in (first, second) and len(row.token_hash) == 64 for row in stored)
    assert calendar_feed.feed_for_token(session, first, now=NOW) is None
    assert calendar_feed.feed_for_token(session, second, now=NOW) is not None
    assert calendar_feed.revoke_feed_tokens(session, admin, pro.id) == 1
    assert calendar_feed.feed_for_token(session, second, now=NOW) is None
    assert calendar_feed.feed_for_token(session, "inconnu", now=NOW) is None
    session.commit()
    actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert actions.count("agenda.feed.create") == 2
    assert "agenda.feed.revoke" in actions and "agenda.feed.read" in actions


def test_the_professional_themself_may_create_their_feed_but_not_a_colleagues(
    session: Session, agenda
) -> None:
    pro, _admin, _rows = agenda
    user = factories.user(session, email="dr.nom1@example.fr", role=Role.PROFESSIONAL)
    themself = Actor(user_id=user.id, role=Role.PROFESSIONAL, display_name="Dr Nom1", professional_id=pro.id)
    assert calendar_feed.create_feed_token(session, themself, pro.id)
    colleague = Actor(
        user_id=user.id, role=Role.PROFESSIONAL, display_name="Dr Autre", professional_id=pro.id + 99
    )
    with pytest.raises(PermissionDenied):
        calendar_feed.create_feed_token(session, colleague, pro.id)
    with pytest.raises(PermissionDenied):
        calendar_feed.revoke_feed_tokens(session, colleague, pro.id)
