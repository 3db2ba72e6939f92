"""Agenda views: who sees a patient's name, extra appointments, audit, and the capacity board."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from cpts_app.models.agenda import SlotKind
from cpts_app.models.audit import AuditEvent
from cpts_app.models.types import utcnow
from cpts_app.services.agenda import booking, views
from cpts_app.services.agenda.clock import paris_day
from cpts_app.services.errors import NotFound, PermissionDenied, ValidationFailed
from tests.services.agenda import factories as af
from tests.services.agenda.factories import NOW, Territory


@pytest.fixture
def territory(session: Session) -> Territory:
    return af.build_territory(session)


def test_names_visible_only_to_allowed_actors(session: Session, territory: Territory) -> None:
    start = utcnow() + timedelta(days=1)
    day = paris_day(start)
    sched = af.schedule(session, territory.gp, territory.bordeaux, territory.msp)
    booked = af.slot(session, sched, start, audience="PRO")
    free = af.slot(session, sched, start + timedelta(minutes=15), audience="PRO")
    appointment_id = booking.book(
        session, territory.colleague_actor, booked.id, territory.patient.id, reason="Toux"
    )
    extra_id = booking.book_extra(
        session,
        territory.coordinator,
        professional_id=territory.gp.id,
        patient_id=territory.patient.id,
        start=start + timedelta(minutes=5),
        end=start + timedelta(minutes=10),
        reason="",
        extra_reason="Urgence",
    )
    session.commit()

    def labels(actor) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
        entries = views.professional_agenda(session, actor, territory.gp.id, day)
        return [(entry.status, entry.patient_label, entry.reason) for entry in entries]

    name = "DUPONT Anne Marie"
    assert labels(territory.gp_actor) == [("busy", name, "Toux"), ("extra", name, ""), ("free", "", "")]
    assert labels(territory.colleague_actor)[0] == ("busy", name, "Toux")  # the booker
    assert labels(territory.coordinator)[0] == ("busy", name, "Toux")
    assert labels(territory.nurse_actor) == [
        ("busy", "Réservé", ""),
        ("extra", "Réservé", ""),
        ("free", "", ""),
    ]
    nurse_view = views.professional_agenda(session, territory.nurse_actor, territory.gp.id, day)
    assert [(e.can_book, e.can_cancel) for e in nurse_view] == [(False, False), (False, False), (True, False)]
    assert nurse_view[2].slot_id == free.id and nurse_view[1].appointment_id == extra_id
    gp_view = views.professional_agenda(session, territory.gp_actor, territory.gp.id, day)
    assert gp_view[0].can_cancel and gp_view[0].appointment_id == appointment_id
    session.commit()
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "agenda.view")).all()
    assert {event.actor_user_id for event in events} == {
        territory.gp_actor.user_id,
        territory.colleague_actor.user_id,
        territory.coordinator.user_id,
    }
    assert json.loads(events[0].detail)["patients"] == 2
    structure = views.structure_agenda(session, territory.nurse_actor, territory.msp.id, day)
    assert [entry.status for entry in structure] == ["busy", "extra", "free"]
    hidden = views.get_appointment(session, territory.nurse_actor, appointment_id)
    assert (hidden.patient_label, hidden.reason, hidden.can_cancel) == ("Réservé", "", False)
    shown = views.get_appointment(session, territory.gp_actor, appointment_id)
    assert (shown.patient_label, shown.status_label, shown.can_cancel) == (name, "Réservé", True)


def test_agenda_bad_input(session: Session, territory: Territory) -> None:
    with pytest.raises(ValidationFailed):
        views.professional_agenda(session, territory.gp_actor, territory.gp.id, date(2026, 3, 10), days=32)
    with pytest.raises(NotFound):
        views.professional_agenda(session, territory.gp_actor, 999_999, date(2026, 3, 10))
    with pytest.raises(NotFound):
        views.get_appointment(session, territory.gp_actor, 999_999)


def test_capacity_board_counts_and_zeros(session: Session, territory: Territory) -> None:
    sched = af.schedule(session, territory.gp, territory.bordeaux, territory.msp)
    nurse = af.schedule(session, territory.nurse, territory.begles)

    def paris(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 3, 10, hour - 1, minute, tzinfo=UTC)

    af.slot(session, sched, paris(8, 30), kind=SlotKind.UNSCHEDULED)  # already past at 09:00
    af.slot(session, sched, paris(10), kind=SlotKind.UNSCHEDULED)
    af.slot(session, sched, paris(12, 45), audience="PRO,SNP")  # SNP audience counts too
    af.slot(session, sched, paris(11), audience="PRO")  # neither: not counted
    af.slot(session, sched, paris(13), kind=SlotKind.UNSCHEDULED)
    booked = af.slot(session, sched, paris(14), kind=SlotKind.UNSCHEDULED)
    booked.status = "busy"  # type: ignore[assignment]
    af.slot(session, nurse, paris(17), kind=SlotKind.UNSCHEDULED)
    af.slot(session, nurse, paris(9) + timedelta(days=1), kind=SlotKind.UNSCHEDULED)  # tomorrow
    session.commit()
    cells = views.same_day_capacity(session, territory.coordinator, date(2026, 3, 10), now=NOW)
    board = {(cell.commune_name, cell.half_day): cell.free_snp for cell in cells}
    assert board == {
        ("Arcachon", "matin"): 0,
        ("Arcachon", "après-midi"): 0,
        ("Bègles", "matin"): 0,
        ("Bègles", "après-midi"): 1,
        ("Bordeaux", "matin"): 2,
        ("Bordeaux", "après-midi"): 1,
    }
    assert [cell.commune_name for cell in cells][::2] == ["Arcachon", "Bègles", "Bordeaux"]
    with pytest.raises(PermissionDenied):
        views.same_day_capacity(session, territory.gp_actor, date(2026, 3, 10), now=NOW)
