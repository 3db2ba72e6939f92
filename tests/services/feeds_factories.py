"""Builders for the feed tests (SAS FHIR search, iCalendar): a CPTS, its places and agenda rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session

from cpts_app.models.agenda import Appointment, AppointmentStatus, Schedule, Slot, SlotKind, SlotStatus
from cpts_app.models.directory import Commune, Profession, Professional, Structure, StructureKind, Territory
from cpts_app.models.patient import Patient, Sex
from cpts_app.services.identifiers import search_key
from tests.services import factories

CPTS_FINESS = factories.finess(4242, department="95")


@dataclass
class Place:
    territory: Territory
    commune: Commune
    structure: Structure


def place(session: Session, *, finess: str | None = CPTS_FINESS, insee_code: str = "95500") -> Place:
    """A CPTS with one commune and one MSP holding a FINESS."""
    territory = Territory(name="CPTS Axe Majeur", finess=finess)
    session.add(territory)
    session.flush()
    commune = Commune(name="Gonesse", insee_code=insee_code, postcode="95500", territory_id=territory.id)
    session.add(commune)
    session.flush()
    structure = factories.structure(
        session,
        "MSP des Tilleuls",
        commune,
        kind=StructureKind.MSP,
        finess_number=factories.finess(77, department="95"),
        phone="+33139000000",
    )
    structure.address = "12 rue des Tilleuls"
    session.add(structure)
    session.flush()
    return Place(territory, commune, structure)


def professional(
    session: Session,
    seed: int,
    where: Place,
    *,
    profession: Profession = Profession.GENERAL_PRACTITIONER,
    adeli: str | None = None,
    with_rpps: bool = True,
) -> Professional:
    pro = factories.professional(
        session,
        f"Prénom{seed}",
        f"Nom{seed}",
        profession,
        rpps_number=factories.rpps(seed) if with_rpps else None,
        structures=[where.structure],
        communes=[where.commune],
    )
    if adeli:
        pro.adeli = adeli
        session.add(pro)
        session.flush()
    return pro


def schedule(session: Session, pro: Professional, where: Place, *, at_home: bool = False) -> Schedule:
    row = Schedule(
        professional_id=pro.id,
        commune_id=where.commune.id,
        structure_id=None if at_home else where.structure.id,
        label="Domicile" if at_home else where.structure.name,
    )
    session.add(row)
    session.flush()
    return row


def slot(
    session: Session,
    sched: Schedule,
    pro: Professional,
    start: datetime,
    *,
    minutes: int = 15,
    kind: SlotKind = SlotKind.UNSCHEDULED,
    audience: str = "SNP",
    status: SlotStatus = SlotStatus.FREE,
) -> Slot:
    row = Slot(
        schedule_id=sched.id,
        professional_id=pro.id,
        profession=pro.profession,
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


def patient(session: Session, birth_name: str = "Martinez", first_names: str = "Lucie") -> Patient:
    row = Patient(
        birth_name=birth_name,
        first_names=first_names,
        birth_date=date(1948, 5, 17),
        sex=Sex.FEMALE,
        search_name=search_key(f"{birth_name} {first_names}"),
    )
    session.add(row)
    session.flush()
    return row


def appointment(
    session: Session,
    booked: Slot,
    who: Patient,
    booked_by_user_id: int,
    *,
    status: AppointmentStatus = AppointmentStatus.BOOKED,
    reason: str = "Douleur thoracique",
) -> Appointment:
    booked.status = SlotStatus.BUSY
    session.add(booked)
    cancelled = status == AppointmentStatus.CANCELLED
    row = Appointment(
        slot_id=booked.id,
        active_slot_id=None if cancelled else booked.id,
        professional_id=booked.professional_id,
        patient_id=who.id,
        start=booked.start,
        end=booked.end,
        status=status,
        reason=reason,
        booked_by_user_id=booked_by_user_id,
    )
    session.add(row)
    session.flush()
    return row
