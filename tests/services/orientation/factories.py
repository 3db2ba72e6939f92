"""A small territory for the orientation tests: the agenda's, plus a pharmacist, a nurse referrer
and a few patients with the traits the priority score reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from cpts_app.models.access import Role
from cpts_app.models.directory import Profession, Professional
from cpts_app.models.orientation import Referral, ReferralReason, ReferralSource, ReferralStatus, Urgency
from cpts_app.models.patient import Patient
from cpts_app.services.permissions import Actor
from tests.services import factories
from tests.services.agenda import factories as agenda
from tests.services.agenda.factories import NOW

__all__ = ["NOW", "World", "build_world", "make_patient", "make_referral"]


@dataclass
class World:
    t: agenda.Territory
    pharmacist: Professional
    pharmacist_actor: Actor
    emergency: Professional
    emergency_actor: Actor
    coordinator: Actor


def make_patient(
    session: Session,
    birth_name: str = "Martin",
    first_names: str = "Louise",
    born: date = date(1980, 5, 1),
    *,
    ald: bool = False,
    css: bool = False,
    handicap: bool = False,
    commune_id: int | None = None,
    phone: str | None = "+33612345678",
) -> Patient:
    row = agenda.patient(session, birth_name, first_names, born)
    row.ald, row.css, row.handicap, row.commune_id, row.phone = ald, css, handicap, commune_id, phone
    row.without_attending_doctor = True
    session.add(row)
    session.flush()
    return row


def make_referral(
    session: Session,
    patient: Patient | None,
    *,
    received_at: datetime = NOW,
    reason: ReferralReason = ReferralReason.FIND_ATTENDING_DOCTOR,
    urgency: Urgency = Urgency.SCHEDULED,
    status: ReferralStatus = ReferralStatus.RECEIVED,
    source: ReferralSource = ReferralSource.PHARMACIST,
    **fields: object,
) -> Referral:
    row = Referral(
        patient_id=patient.id if patient else None,
        source=source,
        reason=reason,
        urgency=urgency,
        consent_to_contact=True,
        status=status,
        commune_id=patient.commune_id if patient else None,
        received_at=received_at,
        updated_at=received_at,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def build_world(session: Session) -> World:
    t = agenda.build_territory(session)
    pharmacy = factories.structure(session, "Pharmacie du Centre", t.bordeaux)
    pharmacist = factories.professional(
        session, "Claire", "Bonnet", Profession.PHARMACIST, structures=[pharmacy]
    )
    emergency = factories.professional(session, "Yann", "Le Gall", Profession.SPECIALIST)
    emergency.specialty = "Médecine d'urgence"
    session.add(emergency)
    session.flush()
    world = World(
        t=t,
        pharmacist=pharmacist,
        pharmacist_actor=agenda.actor(session, Role.PROFESSIONAL, pharmacist),
        emergency=emergency,
        emergency_actor=agenda.actor(session, Role.PROFESSIONAL, emergency),
        coordinator=t.coordinator,
    )
    session.commit()
    return world
