"""Builders of agenda rows for the service tests (models used directly, times in UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import count

from sqlmodel import Session

from cpts_app.models.access import Role
from cpts_app.models.agenda import Schedule, Slot, SlotKind, SlotStatus
from cpts_app.models.directory import Commune, CommuneNeighbour, Profession, Professional, Structure
from cpts_app.models.patient import Patient, Sex
from cpts_app.services.identifiers import search_key
from cpts_app.services.permissions import Actor
from tests.services import factories

_sequence = count(1)

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
"""Tuesday 10 March 2026, 09:00 in Paris (UTC+1): the tests' fixed "now"."""


def neighbours(session: Session, left: Commune, right: Commune) -> None:
    session.add(CommuneNeighbour(commune_id=left.id, neighbour_id=right.id))
    session.add(CommuneNeighbour(commune_id=right.id, neighbour_id=left.id))
    session.flush()


def patient(
    session: Session,
    birth_name: str = "Dupont",
    first_names: str = "Anne Marie",
    born: date = date(1950, 4, 2),
    commune_row: Commune | None = None,
) -> Patient:
    row = Patient(
        birth_name=birth_name,
        first_names=first_names,
        birth_date=born,
        sex=Sex.FEMALE,
        search_name=search_key(f"{birth_name} {first_names}"),
        commune_id=commune_row.id if commune_row else None,
    )
    session.add(row)
    session.flush()
    return row


def schedule(
    session: Session, pro: Professional, commune_row: Commune, structure_row: Structure | None = None
) -> Schedule:
    row = Schedule(
        professional_id=pro.id,
        commune_id=commune_row.id,
        structure_id=structure_row.id if structure_row else None,
    )
    session.add(row)
    session.flush()
    return row


def slot(
    session: Session,
    sched: Schedule,
    start: datetime,
    *,
    minutes: int = 15,
    kind: SlotKind = SlotKind.CONSULTATION,
    audience: str = "PRO,CPTS",
    status: SlotStatus = SlotStatus.FREE,
    profession: str | None = None,
) -> Slot:
    pro = session.get(Professional, sched.professional_id)
    assert pro is not None
    row = Slot(
        schedule_id=sched.id,
        professional_id=sched.professional_id,
        profession=profession or str(pro.profession),
        commune_id=sched.commune_id,
        structure_id=sched.structure_id,
        start=start,
        end=start + timedelta(minutes=minutes),
        kind=kind,
        audience=audience,
        status=status,
    )
    session.add(row)
    session.flush()
    return row


def actor(session: Session, role: Role, professional: Professional | None = None) -> Actor:
    """A signed-in actor of ``role``, linked to ``professional`` when given."""
    row = factories.user(
        session, email=f"agenda.{role.value}.{next(_sequence)}@example.fr", role=role, display_name=role.value
    )
    if professional is not None:
        row.professional_id = professional.id
        session.add(row)
        session.flush()
    assert row.id is not None
    return Actor(
        user_id=row.id,
        role=role,
        display_name=row.display_name,
        professional_id=professional.id if professional else None,
        ip="203.0.113.9",
    )


@dataclass
class Territory:
    bordeaux: Commune
    begles: Commune
    far: Commune
    msp: Structure
    gp: Professional
    colleague: Professional
    nurse: Professional
    patient: Patient
    coordinator: Actor
    secretariat: Actor
    gp_actor: Actor
    colleague_actor: Actor
    nurse_actor: Actor


def build_territory(session: Session) -> Territory:
    """Three communes (Bordeaux and Bègles neighbours), an MSP, two GPs and a nurse, a patient, actors."""
    bordeaux = factories.commune(session, "Bordeaux", "33063")
    begles = factories.commune(session, "Bègles", "33039")
    far = factories.commune(session, "Arcachon", "33009")
    neighbours(session, bordeaux, begles)
    msp = factories.structure(session, "MSP des Capucins", bordeaux)
    gp = factories.professional(session, "Marie", "Lefèvre", structures=[msp], communes=[bordeaux])
    colleague = factories.professional(session, "Paul", "Durand", structures=[msp], communes=[bordeaux])
    nurse = factories.professional(session, "Jeanne", "Martin", Profession.NURSE, communes=[begles])
    patient_row = patient(session, commune_row=bordeaux)
    territory = Territory(
        bordeaux=bordeaux,
        begles=begles,
        far=far,
        msp=msp,
        gp=gp,
        colleague=colleague,
        nurse=nurse,
        patient=patient_row,
        coordinator=actor(session, Role.COORDINATOR),
        secretariat=actor(session, Role.SECRETARIAT),
        gp_actor=actor(session, Role.PROFESSIONAL, gp),
        colleague_actor=actor(session, Role.PROFESSIONAL, colleague),
        nurse_actor=actor(session, Role.PROFESSIONAL, nurse),
    )
    session.commit()
    return territory
