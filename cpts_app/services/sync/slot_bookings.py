"""Slots of a tour published to its laptops, and bookings made offline applied to the agenda.

Why through the agenda service: a laptop that booked a slot offline must obey the same rule as
everyone — no double booking. If the slot was given away meanwhile, the agenda refuses, the
operation is rejected with a French reason and the laptop shows it « à reprogrammer ».
The tour's slots travel to the laptops as ``appointment`` records (``slot-<id>``) rebuilt from the
agenda before every pull, so a booking made on the server reaches the laptops too.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from cpts_app.models.agenda import Appointment, Slot, SlotStatus, TourStop
from cpts_app.models.directory import Commune, Professional
from cpts_app.models.patient import Patient
from cpts_app.models.sync import SyncCounter, SyncDevice, SyncRecord, SyncTourDigest
from cpts_app.models.types import utcnow
from cpts_app.services.agenda.booking import SlotTaken, book
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.services.patients import PatientForm, create_patient
from cpts_app.services.permissions import Actor
from cpts_app.services.sync import records
from cpts_app.services.sync.records import Scope
from mobile_sync.merge import IncomingChange, RecordState, TablePolicy, merge
from mobile_sync.protocol import Operation

PARIS = ZoneInfo("Europe/Paris")
WINDOW_BEFORE = timedelta(days=1)
WINDOW_AFTER = timedelta(days=31)
SLOT_GIVEN_AWAY = "Ce créneau a été attribué entre-temps : à reprogrammer avec le patient."
SLOT_UNKNOWN = "Créneau inconnu ou hors de la tournée de cet appareil : à reprogrammer."
PATIENT_UNKNOWN = "Patient inconnu du serveur pour cette réservation : synchronisez d'abord sa fiche."
_STATUS = {SlotStatus.FREE: "libre", SlotStatus.BUSY: "reserve", SlotStatus.BUSY_UNAVAILABLE: "bloque"}


class BookingRejected(DomainError):
    """The offline booking cannot stand (the message says what to do)."""


def slot_record_id(slot_id: int) -> str:
    return f"slot-{slot_id}"


def _slot_id(record_id: Any) -> int | None:
    if not isinstance(record_id, str) or not record_id.startswith("slot-"):
        return None
    digits = record_id.removeprefix("slot-")
    return int(digits) if digits.isdigit() else None


def _domain_patient(session: Session, actor: Actor, patient_rid: str, scope: Scope) -> int:
    """The ``Patient`` row behind a laptop's patient record, created on first booking."""
    row = records.find(session, "patient", patient_rid)
    if row is None or row.deleted or row.tour_id != scope.tour_id:
        raise BookingRejected(PATIENT_UNKNOWN)
    if row.domain_id is not None and session.get(Patient, row.domain_id) is not None:
        return row.domain_id
    values = records.open_state(row).values()
    commune = None
    if values.get("commune_insee"):
        commune = session.exec(select(Commune).where(Commune.insee_code == values["commune_insee"])).first()
    form = PatientForm(
        birth_name=str(values.get("nom", "")),
        first_names=str(values.get("prenoms", "")),
        birth_date=str(values.get("date_naissance", "")),
        sex=str(values.get("sexe", "")),
        phone=str(values.get("telephone") or ""),
        commune_id=str(commune.id) if commune and commune.id else "",
    )
    try:
        row.domain_id = create_patient(session, actor, form)
    except ValidationFailed as invalid:
        raise BookingRejected(
            "Fiche patient incomplète pour réserver : " + "; ".join(invalid.errors.values())
        ) from None
    session.add(row)
    return row.domain_id


def apply_booking(
    session: Session, counter: SyncCounter, actor: Actor, device: SyncDevice, op: Operation, scope: Scope
) -> int:
    """Book the slot for the patient through the agenda; the appointment id, or ``BookingRejected``."""
    slot_id = _slot_id(op.fields.get("creneau"))
    slot = session.get(Slot, slot_id) if slot_id is not None else None
    stop = session.get(TourStop, slot.tour_stop_id) if slot is not None and slot.tour_stop_id else None
    if slot is None or stop is None or stop.tour_id != device.tour_id:
        raise BookingRejected(SLOT_UNKNOWN)
    patient_id = _domain_patient(session, actor, str(op.fields.get("patient")), scope)
    try:
        appointment_id = book(
            session,
            actor,
            slot.id,
            patient_id,
            reason=str(op.fields.get("motif") or "")[:500],
            on_behalf_of=f"Portable {device.label}"[:200],
        )
    except SlotTaken:
        raise BookingRejected(SLOT_GIVEN_AWAY) from None
    except ValidationFailed as invalid:
        raise BookingRejected("Réservation impossible : " + "; ".join(invalid.errors.values())) from None
    publish_slot(session, counter, slot, stop)
    return appointment_id


def _slot_fields(session: Session, slot: Slot, stop: TourStop) -> dict[str, Any]:
    commune = session.get(Commune, stop.commune_id)
    professional = session.get(Professional, slot.professional_id)
    appointment = session.exec(select(Appointment).where(Appointment.active_slot_id == slot.id)).first()
    patient_rid = None
    if appointment is not None:
        linked = session.exec(
            select(SyncRecord.record_id).where(
                SyncRecord.tbl == "patient", SyncRecord.domain_id == appointment.patient_id
            )
        ).first()
        patient_rid = linked
    status = "reserve" if appointment is not None else _STATUS.get(SlotStatus(slot.status), "bloque")
    return {
        "debut": slot.start.astimezone(PARIS).isoformat(),
        "fin": slot.end.astimezone(PARIS).isoformat(),
        "commune": commune.name if commune else "",
        "lieu": stop.place,
        "statut": status,
        "patient": patient_rid,
        "professionnel": f"Dr {professional.first_name} {professional.last_name}" if professional else "",
    }


def publish_slot(session: Session, counter: SyncCounter, slot: Slot, stop: TourStop) -> bool:
    """Write the slot's ``appointment`` record if it changed; True when a feed entry was added."""
    assert slot.id is not None
    rid = slot_record_id(slot.id)
    row = records.find(session, "appointment", rid)
    current = records.open_state(row) if row is not None else RecordState()
    wanted = _slot_fields(session, slot, stop)
    if current.version and current.values() == wanted:
        return False
    stamp = records.server_stamp(counter)
    change = IncomingChange(current.version, wanted, stamp.encode(), records.SERVER_NODE)
    result = merge(current if current.version else None, change, TablePolicy())
    if not result.changed:
        return False
    records.store_state(
        session, counter, "appointment", rid, result.state, row=row, scope=Scope(stop.tour_id, None)
    )
    return True


def publish_tour(session: Session, counter: SyncCounter, tour_id: int, now: datetime | None = None) -> int:
    """Refresh the ``appointment`` records of a tour's slots around today; how many changed.

    One query fingerprints the window (slots, stops, who holds each slot); when it matches the
    last one, nothing else is read — a first sync of a hundred pages costs one query per page.
    """
    now = now or utcnow()
    rows = session.exec(
        select(Slot, TourStop, Appointment.id, Appointment.patient_id)
        .join(TourStop, col(Slot.tour_stop_id) == TourStop.id)
        .outerjoin(Appointment, col(Appointment.active_slot_id) == Slot.id)
        .where(
            TourStop.tour_id == tour_id,
            col(Slot.start) >= now - WINDOW_BEFORE,
            col(Slot.start) <= now + WINDOW_AFTER,
        )
        .order_by(col(Slot.start), col(Slot.id))
    ).all()
    digest = hashlib.sha256(
        repr(
            [
                (
                    s.id,
                    s.start.isoformat(),
                    s.end.isoformat(),
                    str(s.status),
                    s.professional_id,
                    t.place,
                    t.commune_id,
                    appointment_id,
                    patient_id,
                )
                for s, t, appointment_id, patient_id in rows
            ]
        ).encode()
    ).hexdigest()
    marker = session.get(SyncTourDigest, tour_id)
    if marker is not None and marker.digest == digest:
        return 0
    changed = sum(publish_slot(session, counter, slot, stop) for slot, stop, _, _ in rows)
    marker = marker or SyncTourDigest(tour_id=tour_id, digest=digest)
    marker.digest = digest
    session.add(marker)
    return changed
