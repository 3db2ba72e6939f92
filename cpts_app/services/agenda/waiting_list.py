"""The waiting list per profession and commune: patients offered the slots that others free.

Why offers, not automatic bookings: a freed slot is proposed to the oldest few entries of the
commune and its neighbours; whoever calls the patient first books it (the booking constraint
settles any race), and the others go back to waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, or_, select

from cpts_app.models.agenda import Slot, WaitingListEntry, WaitingStatus
from cpts_app.models.directory import Commune, CommuneNeighbour, Profession, Professional
from cpts_app.models.patient import Patient
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.agenda.clock import day_label, moment_label, time_label
from cpts_app.services.errors import NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.labels import PROFESSION_LABELS
from cpts_app.services.patients import display_name
from cpts_app.services.permissions import Actor, Permission, has_permission, require

OFFERS_PER_SLOT = 3
ENTRY_NOT_FOUND = "Cette inscription en liste d'attente n'existe pas."
CLOSABLE_STATUSES = frozenset({WaitingStatus.WAITING, WaitingStatus.BOOKED, WaitingStatus.CLOSED})


@dataclass(frozen=True)
class WaitingEntryView:
    id: int
    patient: str
    profession_label: str
    commune_name: str
    note: str
    status: str
    created_at: str
    """dd/mm/yyyy HH:MM, Paris."""
    offered_slot: str
    """"lundi 23 novembre 14:30–14:45 — Marie LEFÈVRE", or "" when nothing is offered."""


def _profession_label(value: str) -> str:
    try:
        return PROFESSION_LABELS[Profession(value)]
    except ValueError:
        return value


def add_to_waiting_list(
    session: Session, actor: Actor, *, patient_id: int, profession: str, commune_id: int, note: str = ""
) -> int:
    """Put a patient on the waiting list of a profession in a commune."""
    require(actor, Permission.BOOK_APPOINTMENT)
    errors: dict[str, str] = {}
    if session.get(Patient, patient_id) is None:
        errors["patient_id"] = "Choisissez un patient existant."
    if profession not in {member.value for member in Profession}:
        errors["profession"] = "Choisissez une profession."
    if session.get(Commune, commune_id) is None:
        errors["commune_id"] = "Cette commune n'existe pas."
    note = (note or "").strip()
    if len(note) > 500:
        errors["note"] = "La note ne doit pas dépasser 500 caractères."
    if errors:
        raise ValidationFailed(errors)
    entry = WaitingListEntry(
        patient_id=patient_id,
        profession=profession,
        commune_id=commune_id,
        note=note,
        created_by_user_id=actor.user_id,
    )
    session.add(entry)
    session.flush()
    assert entry.id is not None
    audit.record(
        session,
        "agenda.waiting.add",
        actor=actor,
        target_type="waitinglistentry",
        target_id=entry.id,
        detail={"patient_id": patient_id, "profession": profession, "commune_id": commune_id},
    )
    return entry.id


def offer_freed_slot(session: Session, slot: Slot, *, now: datetime | None = None) -> list[int]:
    """Offer a freed future slot to the oldest waiting entries of its profession and area.

    The area is the slot's commune and its neighbours. Called by the booking service inside the
    cancelling transaction, so the offers exist only if the cancellation does.
    """
    now = now or utcnow()
    if slot.id is None or slot.start <= now:
        return []
    neighbours = select(CommuneNeighbour.neighbour_id).where(
        col(CommuneNeighbour.commune_id) == slot.commune_id
    )
    entries = session.exec(
        select(WaitingListEntry)
        .where(
            col(WaitingListEntry.status) == WaitingStatus.WAITING,
            col(WaitingListEntry.profession) == slot.profession,
            or_(
                col(WaitingListEntry.commune_id) == slot.commune_id,
                col(WaitingListEntry.commune_id).in_(neighbours),
            ),
        )
        .order_by(col(WaitingListEntry.created_at), col(WaitingListEntry.id))
        .limit(OFFERS_PER_SLOT)
    ).all()
    offered: list[int] = []
    for entry in entries:
        entry.status = WaitingStatus.OFFERED
        entry.offered_slot_id = slot.id
        entry.offered_at = now
        session.add(entry)
        assert entry.id is not None
        offered.append(entry.id)
    if offered:
        session.flush()
        audit.record(
            session,
            "agenda.waiting.offer",
            target_type="slot",
            target_id=slot.id,
            detail={"entries": offered},
        )
    return offered


def list_waiting(
    session: Session, actor: Actor, *, profession: str = "", commune_id: int | None = None
) -> list[WaitingEntryView]:
    """Open entries (waiting or offered), oldest first: all of them for coordination, else one's own."""
    require(actor, Permission.BOOK_APPOINTMENT)
    conditions: list[Any] = [col(WaitingListEntry.status).in_([WaitingStatus.WAITING, WaitingStatus.OFFERED])]
    if not has_permission(actor, Permission.SEE_ALL_PATIENT_NAMES):
        conditions.append(col(WaitingListEntry.created_by_user_id) == actor.user_id)
    if profession:
        conditions.append(col(WaitingListEntry.profession) == profession)
    if commune_id is not None:
        conditions.append(col(WaitingListEntry.commune_id) == commune_id)
    rows = session.exec(
        select(WaitingListEntry, Patient, Commune.name)
        .join(Patient, col(Patient.id) == WaitingListEntry.patient_id)
        .join(Commune, col(Commune.id) == WaitingListEntry.commune_id)
        .where(*conditions)
        .order_by(col(WaitingListEntry.created_at), col(WaitingListEntry.id))
    ).all()
    slot_ids = {entry.offered_slot_id for entry, _, _ in rows if entry.offered_slot_id is not None}
    offers: dict[int, str] = {}
    if slot_ids:
        for slot, first, last in session.exec(
            select(Slot, Professional.first_name, Professional.last_name)
            .join(Professional, col(Professional.id) == Slot.professional_id)
            .where(col(Slot.id).in_(slot_ids))
        ).all():
            assert slot.id is not None
            offers[slot.id] = (
                f"{day_label(slot.start)} {time_label(slot.start, slot.end)} — {first} {last.upper()}"
            )
    views = [
        WaitingEntryView(
            id=entry.id or 0,
            patient=display_name(patient.birth_name, patient.first_names, patient.used_name),
            profession_label=_profession_label(entry.profession),
            commune_name=commune_name,
            note=entry.note,
            status=str(entry.status),
            created_at=moment_label(entry.created_at),
            offered_slot=offers.get(entry.offered_slot_id or 0, ""),
        )
        for entry, patient, commune_name in rows
    ]
    if views:
        audit.record(
            session,
            "agenda.waiting.list",
            actor=actor,
            target_type="waitinglistentry",
            detail={"patients": len(views)},
        )
    return views


def close_entry(session: Session, actor: Actor, entry_id: int, status: str) -> None:
    """Mark an entry booked or closed (or back to waiting after a declined offer)."""
    require(actor, Permission.BOOK_APPOINTMENT)
    entry = session.get(WaitingListEntry, entry_id)
    if entry is None:
        raise NotFound(ENTRY_NOT_FOUND)
    coordination = has_permission(actor, Permission.SEE_ALL_PATIENT_NAMES)
    if not coordination and entry.created_by_user_id != actor.user_id:
        raise PermissionDenied()
    if status not in {member.value for member in CLOSABLE_STATUSES}:
        raise ValidationFailed({"status": "Choisissez « réservé », « clos » ou « en attente »."})
    entry.status = WaitingStatus(status)
    if entry.status == WaitingStatus.WAITING:
        entry.offered_slot_id = None
        entry.offered_at = None
    session.add(entry)
    session.flush()
    audit.record(
        session,
        "agenda.waiting.update",
        actor=actor,
        target_type="waitinglistentry",
        target_id=entry_id,
        detail={"status": status},
    )
