"""Known slots put into the running app's database, so agenda tests never depend on the hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cpts_app.models.access import User
from cpts_app.models.agenda import Schedule, Slot, SlotKind, SlotStatus
from cpts_app.models.directory import Professional

PARIS = ZoneInfo("Europe/Paris")


def demo_doctor(engine: Engine) -> Professional:
    """The médecin généraliste linked to the demo account medecin@demo-cpts.fr."""
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == "medecin@demo-cpts.fr")).one()
        return s.exec(select(Professional).where(Professional.id == user.professional_id)).one()


def add_slot(
    engine: Engine,
    professional_id: int,
    *,
    minutes_from_now: int,
    kind: SlotKind = SlotKind.UNSCHEDULED,
    audience: str = "SNP,CPTS,PRO",
) -> Slot:
    """A free slot of 15 minutes in one of the professional's schedules, starting soon."""
    start = (datetime.now(UTC) + timedelta(minutes=minutes_from_now)).replace(second=0, microsecond=0)
    start = start + timedelta(minutes=(1 - start.minute % 5) % 5)  # generated slots start on multiples of 5
    with Session(engine, expire_on_commit=False) as s:
        schedule = s.exec(select(Schedule).where(Schedule.professional_id == professional_id)).first()
        professional = s.get(Professional, professional_id)
        assert schedule is not None and professional is not None
        slot = Slot(
            schedule_id=schedule.id,
            professional_id=professional_id,
            profession=str(professional.profession),
            commune_id=schedule.commune_id,
            structure_id=schedule.structure_id,
            start=start,
            end=start + timedelta(minutes=15),
            kind=kind,
            audience=audience,
            status=SlotStatus.FREE,
        )
        s.add(slot)
        s.commit()
        return slot


def paris_day(moment: datetime) -> str:
    return moment.astimezone(PARIS).date().isoformat()


def paris_time(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%H:%M")


def add_patient(engine: Engine, birth_name: str, first_names: str = "Paul") -> int:
    """A patient written straight into the app's database."""
    from datetime import date

    from cpts_app.models.patient import Patient, Sex
    from cpts_app.services.identifiers import search_key

    with Session(engine) as s:
        patient = Patient(
            birth_name=birth_name,
            first_names=first_names,
            birth_date=date(1951, 6, 2),
            sex=Sex.MALE,
            search_name=search_key(f"{birth_name} {first_names}"),
            phone="+33612345678",
        )
        s.add(patient)
        s.commit()
        assert patient.id is not None
        return patient.id
