"""What the agenda screens show: a professional's or a structure's days, one appointment, and the
coordinator's board of same-day capacity.

Why entries of plain strings: the page shows exactly what the actor may see (a patient's name only
through ``access.can_see_patient``), and the Reflex state keeps only these few rows on screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from cpts_app.models.agenda import Appointment, AppointmentStatus, Slot, SlotKind, SlotStatus
from cpts_app.models.agenda import Audience as AudienceCode
from cpts_app.models.directory import Commune, Professional, ProfessionalStructure, Structure
from cpts_app.models.patient import Patient
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.agenda import access
from cpts_app.services.agenda.clock import (
    AFTERNOON,
    HALF_DAY_SPLIT,
    MORNING,
    day_bounds,
    day_label,
    paris_at,
    paris_day,
    time_label,
)
from cpts_app.services.agenda.labels import APPOINTMENT_STATUS_LABELS, SLOT_KIND_LABELS
from cpts_app.services.errors import NotFound, ValidationFailed
from cpts_app.services.identifiers import search_key
from cpts_app.services.patients import display_name
from cpts_app.services.permissions import Actor, Permission, require

MAX_DAYS = 31
BOOKED_LABEL = "Réservé"
EXTRA = "extra"
EXTRA_KIND_LABEL = "Surnuméraire"


@dataclass(frozen=True)
class AgendaEntry:
    slot_id: int | None
    appointment_id: int | None
    start: datetime
    end: datetime
    day: str
    """ISO date, Paris."""
    time_label: str
    kind: str
    kind_label: str
    status: str
    """free | busy | busy-unavailable | extra."""
    audience: list[str]
    patient_label: str
    """"NOM Prénoms" when the actor may see it, "Réservé" otherwise, "" when free."""
    reason: str
    """Only when the patient is visible."""
    professional_id: int
    professional_name: str
    structure_name: str
    commune_name: str
    can_book: bool
    can_cancel: bool


@dataclass(frozen=True)
class CapacityCell:
    commune_id: int
    commune_name: str
    day: date
    half_day: str
    """"matin" | "après-midi"."""
    free_snp: int


@dataclass(frozen=True)
class AppointmentView:
    id: int
    patient_label: str
    professional_name: str
    start: datetime
    time_label: str
    day_label: str
    status: str
    status_label: str
    reason: str
    extra: bool
    can_cancel: bool


def _period(day_from: date, days: int) -> tuple[datetime, datetime]:
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed({"days": f"Affichez entre 1 et {MAX_DAYS} jours."})
    return day_bounds(day_from, days)


def _name(first: str, last: str) -> str:
    return f"{first} {last.upper()}"


def _patient(actor: Actor, appointment: Appointment | None, patient: Patient | None) -> tuple[str, str, bool]:
    """(label, reason, visible) of the patient booked on an entry."""
    if appointment is None or patient is None:
        return "", "", False
    if access.can_see_patient(actor, appointment):
        label = display_name(patient.birth_name, patient.first_names, patient.used_name)
        return label, appointment.reason, True
    return BOOKED_LABEL, "", False


def _entries(
    session: Session,
    actor: Actor,
    slot_filter: Sequence[Any],
    extra_filter: Sequence[Any],
    now: datetime,
) -> tuple[list[AgendaEntry], int]:
    """The period's slots (with their active appointment) and extra appointments; visible names."""
    entries: list[AgendaEntry] = []
    visible = 0
    slot_rows = session.exec(
        select(
            Slot,
            Appointment,
            Patient,
            Professional.first_name,
            Professional.last_name,
            Structure.name,
            Commune.name,
        )
        .join(Professional, col(Professional.id) == Slot.professional_id)
        .join(Commune, col(Commune.id) == Slot.commune_id)
        .outerjoin(Structure, col(Structure.id) == Slot.structure_id)
        .outerjoin(Appointment, col(Appointment.active_slot_id) == Slot.id)
        .outerjoin(Patient, col(Patient.id) == Appointment.patient_id)
        .where(*slot_filter)
    ).all()
    for slot, appointment, patient, first, last, structure_name, commune_name in slot_rows:
        label, reason, seen = _patient(actor, appointment, patient)
        visible += seen
        entries.append(
            AgendaEntry(
                slot_id=slot.id,
                appointment_id=appointment.id if appointment else None,
                start=slot.start,
                end=slot.end,
                day=paris_day(slot.start).isoformat(),
                time_label=time_label(slot.start, slot.end),
                kind=str(slot.kind),
                kind_label=SLOT_KIND_LABELS.get(SlotKind(slot.kind), str(slot.kind)),
                status=str(slot.status),
                audience=sorted(access.audience_codes(slot.audience)),
                patient_label=label,
                reason=reason,
                professional_id=slot.professional_id,
                professional_name=_name(first, last),
                structure_name=structure_name or "",
                commune_name=commune_name,
                can_book=slot.status == SlotStatus.FREE and slot.start > now and access.can_book(actor, slot),
                can_cancel=appointment is not None
                and appointment.status == AppointmentStatus.BOOKED
                and access.can_cancel(actor, appointment),
            )
        )
    extra_rows = session.exec(
        select(Appointment, Patient, Professional.first_name, Professional.last_name)
        .join(Professional, col(Professional.id) == Appointment.professional_id)
        .join(Patient, col(Patient.id) == Appointment.patient_id)
        .where(
            col(Appointment.extra).is_(True),
            col(Appointment.status) != AppointmentStatus.CANCELLED,
            *extra_filter,
        )
    ).all()
    for appointment, patient, first, last in extra_rows:
        label, reason, seen = _patient(actor, appointment, patient)
        visible += seen
        entries.append(
            AgendaEntry(
                slot_id=None,
                appointment_id=appointment.id,
                start=appointment.start,
                end=appointment.end,
                day=paris_day(appointment.start).isoformat(),
                time_label=time_label(appointment.start, appointment.end),
                kind=EXTRA,
                kind_label=EXTRA_KIND_LABEL,
                status=EXTRA,
                audience=[],
                patient_label=label,
                reason=reason,
                professional_id=appointment.professional_id,
                professional_name=_name(first, last),
                structure_name="",
                commune_name="",
                can_book=False,
                can_cancel=appointment.status == AppointmentStatus.BOOKED
                and access.can_cancel(actor, appointment),
            )
        )
    entries.sort(
        key=lambda entry: (
            entry.start,
            entry.professional_name,
            entry.slot_id or 0,
            entry.appointment_id or 0,
        )
    )
    return entries, visible


def _audit_view(
    session: Session, actor: Actor, target_type: str, target_id: int, visible: int, days: int
) -> None:
    if visible > 0:
        audit.record(
            session,
            "agenda.view",
            actor=actor,
            target_type=target_type,
            target_id=target_id,
            detail={"patients": visible, "days": days},
        )


def professional_agenda(
    session: Session, actor: Actor, professional_id: int, day_from: date, days: int = 1
) -> list[AgendaEntry]:
    """One professional's slots and extra appointments over ``days`` Paris days, in time order."""
    require(actor, Permission.VIEW_AGENDA)
    start, end = _period(day_from, days)
    if session.get(Professional, professional_id) is None:
        raise NotFound("Ce professionnel n'existe pas.")
    entries, visible = _entries(
        session,
        actor,
        [col(Slot.professional_id) == professional_id, col(Slot.start) >= start, col(Slot.start) < end],
        [
            col(Appointment.professional_id) == professional_id,
            col(Appointment.start) >= start,
            col(Appointment.start) < end,
        ],
        utcnow(),
    )
    _audit_view(session, actor, "professional", professional_id, visible, days)
    return entries


def structure_agenda(
    session: Session, actor: Actor, structure_id: int, day_from: date, days: int = 1
) -> list[AgendaEntry]:
    """All slots of a structure (MSP, médicobus, permanence) and its members' extra appointments."""
    require(actor, Permission.VIEW_AGENDA)
    start, end = _period(day_from, days)
    if session.get(Structure, structure_id) is None:
        raise NotFound("Cette structure n'existe pas.")
    members = select(ProfessionalStructure.professional_id).where(
        col(ProfessionalStructure.structure_id) == structure_id
    )
    entries, visible = _entries(
        session,
        actor,
        [col(Slot.structure_id) == structure_id, col(Slot.start) >= start, col(Slot.start) < end],
        [
            col(Appointment.professional_id).in_(members),
            col(Appointment.start) >= start,
            col(Appointment.start) < end,
        ],
        utcnow(),
    )
    _audit_view(session, actor, "structure", structure_id, visible, days)
    return entries


def same_day_capacity(
    session: Session, actor: Actor, day: date, *, now: datetime | None = None
) -> list[CapacityCell]:
    """Free SNP slots still ahead, per commune and half-day of ``day``; every commune, zeros included."""
    require(actor, Permission.VIEW_CAPACITY_BOARD)
    now = now or utcnow()
    start, end = day_bounds(day)
    split = paris_at(day, HALF_DAY_SPLIT)
    communes = sorted(
        session.exec(select(Commune.id, Commune.name)).all(), key=lambda row: (search_key(row[1]), row[0])
    )
    ids = [commune_id for commune_id, _ in communes if commune_id is not None]
    counts: dict[int, tuple[int, int]] = {}
    if ids and end > now:
        is_snp = (col(Slot.kind) == SlotKind.UNSCHEDULED) | access.audience_includes(AudienceCode.SNP.value)
        rows = session.exec(
            select(
                Slot.commune_id,
                func.sum(case((col(Slot.start) < split, 1), else_=0)),
                func.sum(case((col(Slot.start) >= split, 1), else_=0)),
            )
            .where(
                col(Slot.commune_id).in_(ids),
                col(Slot.start) >= max(start, now),
                col(Slot.start) < end,
                col(Slot.status) == SlotStatus.FREE,
                is_snp,
            )
            .group_by(col(Slot.commune_id))
        ).all()
        counts = {
            commune_id: (int(morning or 0), int(afternoon or 0)) for commune_id, morning, afternoon in rows
        }
    cells: list[CapacityCell] = []
    for commune_id, name in communes:
        assert commune_id is not None
        morning, afternoon = counts.get(commune_id, (0, 0))
        cells.append(CapacityCell(commune_id, name, day, MORNING, morning))
        cells.append(CapacityCell(commune_id, name, day, AFTERNOON, afternoon))
    return cells


def get_appointment(session: Session, actor: Actor, appointment_id: int) -> AppointmentView:
    """One appointment as the actor may see it (the patient's name read is audited)."""
    require(actor, Permission.VIEW_AGENDA)
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("Ce rendez-vous n'existe pas.")
    patient = session.get(Patient, appointment.patient_id)
    professional = session.get(Professional, appointment.professional_id)
    label, reason, seen = _patient(actor, appointment, patient)
    if seen:
        audit.record(
            session,
            "agenda.appointment.read",
            actor=actor,
            target_type="appointment",
            target_id=appointment_id,
            detail={"patient_id": appointment.patient_id},
        )
    status = AppointmentStatus(appointment.status)
    return AppointmentView(
        id=appointment_id,
        patient_label=label,
        professional_name=_name(professional.first_name, professional.last_name) if professional else "",
        start=appointment.start,
        time_label=time_label(appointment.start, appointment.end),
        day_label=day_label(appointment.start),
        status=status.value,
        status_label=APPOINTMENT_STATUS_LABELS.get(status, status.value),
        reason=reason,
        extra=appointment.extra,
        can_cancel=status == AppointmentStatus.BOOKED and access.can_cancel(actor, appointment),
    )
