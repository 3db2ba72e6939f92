"""A large agenda for the benchmarks: 150 professionals, 13 weeks of slots (≥ 100 000), bulk-inserted.

Why direct bulk inserts: expanding availability rules row by row would make building the data the
slow part of every benchmark; the rows are shaped exactly as the services write them (UTC times,
comma-separated audiences, search columns copied from the schedule). Deterministic (seeded).

Reusable: ``prepare_database(url)`` gives a migrated empty database (PostgreSQL: schema reset),
``build_agenda(engine)`` fills it and returns the ids a benchmark needs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from itertools import pairwise

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from stdnum import luhn

import cpts_app.models  # noqa: F401
from cpts_app.db import make_engine, migrate
from cpts_app.models.access import Role, User
from cpts_app.models.agenda import Schedule, Slot, SlotKind, SlotStatus
from cpts_app.models.directory import (
    Commune,
    CommuneNeighbour,
    Profession,
    Professional,
    ProfessionalCommune,
    ProfessionalStructure,
    Structure,
    StructureKind,
    Territory,
)
from cpts_app.models.patient import Patient, Sex
from cpts_app.models.types import utcnow
from cpts_app.services.agenda.clock import paris_at, paris_day
from cpts_app.services.identifiers import search_key
from cpts_app.services.permissions import Actor

PROFESSION_MIX: list[tuple[Profession, int]] = [
    (Profession.GENERAL_PRACTITIONER, 50),
    (Profession.NURSE, 45),
    (Profession.PHYSIOTHERAPIST, 20),
    (Profession.PHARMACIST, 15),
    (Profession.SPEECH_THERAPIST, 8),
    (Profession.MIDWIFE, 7),
    (Profession.SPECIALIST, 5),
]
AUDIENCES = ["PRO,CPTS", "PUBLIC,PRO,SNP,CPTS", "PRO,SNP", "PUBLIC", "PUBLIC,PRO"]
OPENING_HOURS = [(time(8, 0), time(12, 0)), (time(14, 0), time(18, 0))]
SLOT_MINUTES = 30
CHUNK = 5_000


@dataclass
class AgendaData:
    coordinator: Actor
    professional_ids: list[int]
    professions: dict[int, str]
    commune_ids: list[int]
    patient_ids: list[int]
    first_day: date
    weeks: int
    slot_count: int
    rpps: dict[int, str] = field(default_factory=dict)


def prepare_database(url: str) -> Engine:
    """A migrated, empty database at ``url`` (PostgreSQL's public schema is dropped first)."""
    engine = make_engine(url)
    if not url.startswith("sqlite"):
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrate(url)
    return engine


def _rpps(seed: int) -> str:
    body = f"1{seed:09d}"
    return body + luhn.calc_check_digit(body)


def next_monday(today: date | None = None) -> date:
    """The first Monday on or after ``today`` (Paris): the default first day of the agenda."""
    day = today or paris_day(utcnow())
    return day + timedelta(days=(7 - day.weekday()) % 7)


def build_agenda(
    engine: Engine,
    *,
    professionals: int = 150,
    weeks: int = 13,
    communes: int = 20,
    patients: int = 500,
    first_day: date | None = None,
    busy_ratio: float = 0.25,
    seed: int = 7,
) -> AgendaData:
    """Fill an empty migrated database; Monday–Friday, 08:00–12:00 and 14:00–18:00 Paris, 30-min slots."""
    rng = random.Random(seed)
    first = first_day or next_monday()
    with Session(engine, expire_on_commit=False) as session:
        territory = Territory(name="CPTS Banc d'essai")
        session.add(territory)
        session.flush()
        commune_rows = [
            Commune(
                insee_code=f"30{i:03d}", postcode="30000", name=f"Commune {i:02d}", territory_id=territory.id
            )
            for i in range(communes)
        ]
        session.add_all(commune_rows)
        session.flush()
        commune_ids = [row.id for row in commune_rows if row.id is not None]
        for left, right in pairwise(commune_ids):
            session.add(CommuneNeighbour(commune_id=left, neighbour_id=right))
            session.add(CommuneNeighbour(commune_id=right, neighbour_id=left))
        structures = [
            Structure(
                name=f"MSP {i:02d}",
                kind=StructureKind.MSP,
                commune_id=commune_ids[i % communes],
                address=f"{i + 1} rue de la Santé",
            )
            for i in range(max(1, professionals // 5))
        ]
        session.add_all(structures)
        session.flush()
        professions = [p for p, weight in PROFESSION_MIX for _ in range(weight)]
        pros: list[Professional] = []
        for i in range(professionals):
            last, first_name = f"Nom{i:03d}", f"Prénom{i:03d}"
            pros.append(
                Professional(
                    first_name=first_name,
                    last_name=last,
                    search_name=search_key(f"{last} {first_name}"),
                    profession=professions[i % len(professions)],
                    rpps=_rpps(900_000 + i),
                )
            )
        session.add_all(pros)
        session.flush()
        schedules: list[Schedule] = []
        for i, pro in enumerate(pros):
            structure = structures[i % len(structures)]
            session.add(ProfessionalStructure(professional_id=pro.id, structure_id=structure.id))
            session.add(ProfessionalCommune(professional_id=pro.id, commune_id=structure.commune_id))
            schedules.append(
                Schedule(professional_id=pro.id, structure_id=structure.id, commune_id=structure.commune_id)
            )
        session.add_all(schedules)
        user = User(
            email="coordination@banc-essai.fr",
            password_hash="x",
            role=Role.COORDINATOR,
            display_name="Coordination",
        )
        session.add(user)
        patient_rows = [
            Patient(
                birth_name=f"Patient{i:04d}",
                first_names="Camille",
                birth_date=date(1940 + i % 70, 1 + i % 12, 1 + i % 28),
                sex=Sex.UNDETERMINED,
                search_name=search_key(f"Patient{i:04d} Camille"),
                commune_id=commune_ids[i % communes],
            )
            for i in range(patients)
        ]
        session.add_all(patient_rows)
        session.commit()
        assert user.id is not None

        slot_count = 0
        rows: list[dict[str, object]] = []
        now = utcnow()
        days = [
            first + timedelta(days=d) for d in range(weeks * 7) if (first + timedelta(days=d)).weekday() < 5
        ]
        for sched, pro in zip(schedules, pros, strict=True):
            for day in days:
                for opening, closing in OPENING_HOURS:
                    start = paris_at(day, opening)
                    end_of_period = paris_at(day, closing)
                    while start < end_of_period:
                        end = start + timedelta(minutes=SLOT_MINUTES)
                        rows.append(
                            {
                                "schedule_id": sched.id,
                                "professional_id": pro.id,
                                "profession": str(pro.profession),
                                "commune_id": sched.commune_id,
                                "structure_id": sched.structure_id,
                                "start": start,
                                "end": end,
                                "kind": SlotKind.UNSCHEDULED.value
                                if rng.random() < 0.2
                                else SlotKind.CONSULTATION.value,
                                "audience": rng.choice(AUDIENCES),
                                "status": SlotStatus.BUSY.value
                                if rng.random() < busy_ratio
                                else SlotStatus.FREE.value,
                                "created_at": now,
                            }
                        )
                        start = end
                if len(rows) >= CHUNK:
                    session.execute(insert(Slot), rows)
                    slot_count += len(rows)
                    rows = []
        if rows:
            session.execute(insert(Slot), rows)
            slot_count += len(rows)
        session.commit()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return AgendaData(
        coordinator=Actor(user_id=user.id, role=Role.COORDINATOR, display_name=user.display_name),
        professional_ids=[pro.id for pro in pros if pro.id is not None],
        professions={pro.id: str(pro.profession) for pro in pros if pro.id is not None},
        commune_ids=commune_ids,
        patient_ids=[row.id for row in patient_rows if row.id is not None],
        first_day=first,
        weeks=weeks,
        slot_count=slot_count,
        rpps={pro.id: pro.rpps or "" for pro in pros if pro.id is not None},
    )
