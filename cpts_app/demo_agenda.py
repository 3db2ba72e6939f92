"""The demo agenda: eight weeks of availability for the demo territory, a médicobus tour, the
permanence de Fourques, a few dozen patients and enough bookings for agendas to look used.

Why a generator: the agenda must look like a real territory's week (morning and afternoon
consultations, soins non programmés blocks at noon and in the evening, nurses' home visits, the
bus touring the small communes) and follow "today", so it cannot be a fixture file. It is
deterministic for a given ``now`` (one seeded ``random.Random``, rows in a fixed order) and
idempotent (nothing is done once any schedule exists). Slots are bulk-inserted by
``services.agenda.availability.generate_slots`` so that ``cpts demo`` stays fast.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import phonenumbers
from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from cpts_app.demo_territory import COMMUNES, LAST_NAMES, MEDICOBUS_COMMUNES, STREETS
from cpts_app.models import (
    Appointment,
    AppointmentStatus,
    AvailabilityRule,
    Commune,
    Patient,
    Profession,
    Professional,
    ProfessionalStructure,
    Role,
    Schedule,
    Sex,
    Slot,
    SlotKind,
    SlotStatus,
    Structure,
    StructureKind,
    Tour,
    TourStop,
    User,
)
from cpts_app.models.types import utcnow
from cpts_app.services.agenda.availability import generate_slots
from cpts_app.services.agenda.recurrence import PARIS, is_public_holiday
from cpts_app.services.agenda.tours import generate_tour_slots
from cpts_app.services.identifiers import search_key

AGENDA_SEED = 20230106 + 3
"""Distinct from the directory's seed so that adding agenda data never reshuffles the directory."""
WEEKS = 8
BOOKED_SHARE = 0.15
"""About this share of the first two weeks' slots is already booked."""
PATIENT_COUNT = 30
COORDINATOR_EMAIL = "coordination@demo-cpts.fr"

CARE = "PRO,CPTS"
CARE_AND_PUBLIC = "PUBLIC,PRO,CPTS"
UNSCHEDULED = "PRO,SNP,CPTS"

# fmt: off
_OLDER_WOMEN = ("Jeanne", "Simone", "Odette", "Yvette", "Monique", "Colette", "Paulette",
                "Germaine", "Huguette", "Josette")
_OLDER_MEN = ("Marcel", "Lucien", "René", "Gérard", "Jacques", "André", "Roger", "Raymond",
              "Maurice", "Henri")
_ADULT_WOMEN = ("Sandrine", "Nathalie", "Aurélie", "Céline", "Émilie", "Sophie", "Karine",
                "Laetitia", "Audrey", "Julie")
_ADULT_MEN = ("Sébastien", "Nicolas", "Julien", "Mickaël", "Christophe", "Stéphane",
              "Frédéric", "David", "Cédric", "Olivier")
_CHILDREN_GIRLS = ("Emma", "Jade", "Louise", "Léna", "Chloé", "Inès", "Manon", "Zoé")
_CHILDREN_BOYS = ("Gabriel", "Lucas", "Hugo", "Nathan", "Louis", "Raphaël", "Enzo", "Arthur")
# fmt: on

_REASONS: dict[str, tuple[str, ...]] = {
    Profession.GENERAL_PRACTITIONER.value: (
        "Renouvellement d'ordonnance",
        "Fièvre depuis 48 heures",
        "Suivi du diabète",
        "Douleurs lombaires",
        "Toux persistante",
        "Certificat de sport",
        "Contrôle de tension",
        "Suivi après hospitalisation",
    ),
    Profession.NURSE.value: (
        "Pansement",
        "Prise de sang à domicile",
        "Injection d'insuline",
        "Surveillance après sortie d'hospitalisation",
        "Préparation du pilulier",
    ),
    Profession.PHYSIOTHERAPIST.value: ("Rééducation du genou", "Lombalgie", "Rééducation après chute"),
    Profession.ADVANCED_PRACTICE_NURSE.value: ("Suivi de maladie chronique", "Renouvellement adapté"),
}
_DEFAULT_REASONS = ("Premier rendez-vous", "Suivi", "Bilan")
_ON_BEHALF_OF = (
    "",
    "",
    "Patient (téléphone)",
    "Pharmacie du Centre",
    "SAS du Gard",
    "Service des urgences du CHU de Nîmes",
)
_PLACES = ("Parking de la mairie", "Place de l'Église", "Salle polyvalente", "Place du Marché")


@dataclass(frozen=True)
class AgendaSummary:
    """What the demo agenda holds (after loading, or as found)."""

    created: bool
    schedules: int
    slots: int
    appointments: int
    patients: int
    tours: int


@dataclass(frozen=True)
class _Rule:
    weekday: int
    start: str
    end: str
    minutes: int
    kind: SlotKind
    audience: str


def _weekly(
    days: range | tuple[int, ...], start: str, end: str, minutes: int, kind: SlotKind, audience: str
) -> list[_Rule]:
    return [_Rule(day, start, end, minutes, kind, audience) for day in days]


WEEKDAYS = range(0, 5)


def _gp_rules(rng: random.Random) -> list[_Rule]:
    """Consultations morning and afternoon, a noon SNP block, sometimes an evening one."""
    minutes = rng.choice((15, 20, 20))
    audience = rng.choice((CARE, CARE_AND_PUBLIC))
    off = rng.choice((2, 2, 3, 4, None))  # a weekday afternoon off (Wednesday most often), or none
    evening = rng.random() < 0.4
    teleconsultation = rng.random() < 0.2
    rules = _weekly(WEEKDAYS, "08:30", "12:00", minutes, SlotKind.CONSULTATION, audience)
    rules += _weekly(WEEKDAYS, "12:00", "13:00", 15, SlotKind.UNSCHEDULED, UNSCHEDULED)
    for day in WEEKDAYS:
        if day == off:
            continue
        rules.append(_Rule(day, "14:00", "18:30", minutes, SlotKind.CONSULTATION, audience))
        if teleconsultation and day == 3:
            rules.append(_Rule(day, "18:30", "19:30", 15, SlotKind.TELECONSULTATION, UNSCHEDULED))
        elif evening:
            rules.append(_Rule(day, "18:30", "19:30", 15, SlotKind.UNSCHEDULED, UNSCHEDULED))
    if rng.random() < 0.25:
        rules.append(_Rule(5, "09:00", "12:00", 20, SlotKind.UNSCHEDULED, UNSCHEDULED))
    return rules


def _nurse_rules(rng: random.Random) -> list[_Rule]:
    """The part of the home-visit round a nurse opens to the CPTS: late mornings (Saturday
    included) and weekday evenings; the rest of the round is their own patients'."""
    start = rng.choice(("10:30", "11:00"))
    rules = _weekly(range(0, 6), start, "12:30", 30, SlotKind.HOME_VISIT, CARE)
    rules += _weekly(WEEKDAYS, "17:00", "19:00", 30, SlotKind.HOME_VISIT, CARE)
    return rules


def _practice_rules(rng: random.Random, minutes: int, days: int) -> list[_Rule]:
    """Consultations on ``days`` weekdays, morning and afternoon."""
    chosen = sorted(rng.sample(list(WEEKDAYS), k=days))
    audience = rng.choice((CARE, CARE_AND_PUBLIC))
    rules = _weekly(tuple(chosen), "09:00", "12:00", minutes, SlotKind.CONSULTATION, audience)
    rules += _weekly(tuple(chosen), "14:00", "18:00", minutes, SlotKind.CONSULTATION, audience)
    return rules


def _permanence_rules(minutes: int) -> list[_Rule]:
    """The permanence de Fourques opens two days a week (Tuesday and Thursday)."""
    rules = _weekly((1, 3), "09:00", "12:00", minutes, SlotKind.PERMANENCE, UNSCHEDULED)
    rules += _weekly((1, 3), "13:30", "17:00", minutes, SlotKind.PERMANENCE, UNSCHEDULED)
    return rules


def _rules_for(rng: random.Random, profession: str, kind: StructureKind) -> list[_Rule]:
    if kind == StructureKind.PERMANENCE:
        if profession == Profession.GENERAL_PRACTITIONER.value:
            return _permanence_rules(20)
        if profession == Profession.ADVANCED_PRACTICE_NURSE.value:
            return _permanence_rules(30)
        return []
    if kind == StructureKind.MEDICOBUS:
        return []  # the bus's slots come from its tour
    rules_by_profession: dict[str, Callable[[], list[_Rule]]] = {
        Profession.GENERAL_PRACTITIONER.value: lambda: _gp_rules(rng),
        Profession.NURSE.value: lambda: _nurse_rules(rng),
        Profession.PHYSIOTHERAPIST.value: lambda: _practice_rules(rng, 30, 5),
        Profession.SPECIALIST.value: lambda: _practice_rules(rng, 30, rng.randint(2, 3)),
        Profession.SPEECH_THERAPIST.value: lambda: _practice_rules(rng, 45, 4),
        Profession.PODIATRIST.value: lambda: _practice_rules(rng, 30, 3),
        Profession.MIDWIFE.value: lambda: _practice_rules(rng, 30, 3),
    }
    make = rules_by_profession.get(profession)
    return make() if make else []


def load_demo_agenda(session: Session, *, today: date, now: datetime | None = None) -> AgendaSummary:
    """Fill the demo territory's agenda for ``WEEKS`` weeks from the Monday of ``today``'s week.

    ``now`` (default: the current time) decides what is past: no slot is generated before it.
    Flushes, does not commit.
    """
    moment = now or utcnow()
    monday = today - timedelta(days=today.weekday())
    if session.exec(select(Schedule.id).limit(1)).first() is not None:
        return agenda_summary(session, created=False)
    rng = random.Random(AGENDA_SEED)
    last_day = monday + timedelta(weeks=WEEKS, days=-1)

    staff = session.exec(
        select(Professional.id, Professional.profession, Structure)
        .join(ProfessionalStructure, col(ProfessionalStructure.professional_id) == Professional.id)
        .join(Structure, col(Structure.id) == ProfessionalStructure.structure_id)
        .where(col(Professional.active).is_(True))
        .order_by(col(Professional.id), col(Structure.id))
    ).all()
    planned: list[tuple[Schedule, list[_Rule]]] = []
    seen: set[int] = set()
    for professional_id, profession, structure in staff:
        if professional_id in seen:
            continue  # one agenda per professional, at their first structure
        seen.add(professional_id)
        rules = _rules_for(rng, str(profession), StructureKind(structure.kind))
        if rules:
            schedule = Schedule(
                professional_id=professional_id,
                structure_id=structure.id,
                commune_id=structure.commune_id,
                label=structure.name,
            )
            planned.append((schedule, rules))
    session.add_all([schedule for schedule, _ in planned])
    session.flush()
    session.add_all(
        [
            AvailabilityRule(
                schedule_id=schedule.id,
                weekday=rule.weekday,
                start_time=rule.start,
                end_time=rule.end,
                slot_minutes=rule.minutes,
                kind=rule.kind,
                audience=rule.audience,
                valid_from=monday,
            )
            for schedule, rules in planned
            for rule in rules
        ]
    )
    session.flush()
    for schedule, _ in planned:
        assert schedule.id is not None
        generate_slots(session, schedule.id, monday, last_day, now=moment)

    _load_tour(session, rng, monday, last_day, moment)
    patients = _load_patients(session, rng)
    _book_some(session, rng, patients, moment, monday + timedelta(weeks=2))
    session.flush()
    return agenda_summary(session, created=True)


def _load_tour(session: Session, rng: random.Random, monday: date, last_day: date, now: datetime) -> None:
    """One stop per weekday, rotating over the six small communes, morning and afternoon."""
    bus = session.exec(
        select(Structure).where(Structure.kind == StructureKind.MEDICOBUS).order_by(col(Structure.id))
    ).first()
    if bus is None:
        return
    communes = {
        c.insee_code: c
        for c in session.exec(select(Commune).where(col(Commune.insee_code).in_(MEDICOBUS_COMMUNES)))
    }
    rotation = [communes[code] for code in MEDICOBUS_COMMUNES if code in communes]
    if not rotation:
        return
    tour = Tour(structure_id=bus.id, name="Tournée du médicobus des Costières")
    session.add(tour)
    session.flush()
    place_of = {c.id: rng.choice(_PLACES) for c in rotation}
    stops: list[TourStop] = []
    index = 0
    day = monday
    while day <= last_day:
        if day.weekday() < 5:
            commune = rotation[index % len(rotation)]
            index += 1
            if not is_public_holiday(day):
                for start, end in (("09:00", "12:00"), ("13:30", "16:30")):
                    stops.append(
                        TourStop(
                            tour_id=tour.id,
                            day=day,
                            commune_id=commune.id,
                            place=place_of[commune.id],
                            start_time=start,
                            end_time=end,
                            slot_minutes=20,
                        )
                    )
        day += timedelta(days=1)
    session.add_all(stops)
    session.flush()
    assert tour.id is not None
    generate_tour_slots(session, tour.id, now=now)


def _mobile(rng: random.Random) -> str:
    while True:
        number = "+33" + rng.choice("67") + "".join(rng.choice("0123456789") for _ in range(8))
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def _load_patients(session: Session, rng: random.Random) -> list[Patient]:
    """Patients of every age, with their commune, phone, coverage and médecin traitant (or none)."""
    communes = {c.insee_code: c for c in session.exec(select(Commune))}
    facts = [f for f in COMMUNES if f.insee_code in communes]
    if not facts:
        return []
    gps_by_commune: dict[int, list[int]] = {}
    for gp_id, commune_id in session.exec(
        select(Professional.id, Structure.commune_id)
        .join(ProfessionalStructure, col(ProfessionalStructure.professional_id) == Professional.id)
        .join(Structure, col(Structure.id) == ProfessionalStructure.structure_id)
        .where(Professional.profession == Profession.GENERAL_PRACTITIONER)
        .order_by(col(Professional.id))
    ):
        gps_by_commune.setdefault(commune_id, []).append(gp_id)
    all_gps = [gp for ids in gps_by_commune.values() for gp in ids]
    creator = _coordinator_id(session)
    patients: list[Patient] = []
    taken: set[tuple[str, str]] = set()
    while len(patients) < PATIENT_COUNT:
        sex = rng.choice((Sex.FEMALE, Sex.MALE))
        generation = rng.choices(("older", "adult", "child"), weights=(4, 4, 2))[0]
        names = {
            ("older", Sex.FEMALE): _OLDER_WOMEN,
            ("older", Sex.MALE): _OLDER_MEN,
            ("adult", Sex.FEMALE): _ADULT_WOMEN,
            ("adult", Sex.MALE): _ADULT_MEN,
            ("child", Sex.FEMALE): _CHILDREN_GIRLS,
            ("child", Sex.MALE): _CHILDREN_BOYS,
        }[(generation, sex)]
        first, last = rng.choice(names), rng.choice(LAST_NAMES)
        if (first, last) in taken:
            continue
        taken.add((first, last))
        years = {"older": (1932, 1958), "adult": (1965, 2000), "child": (2010, 2022)}[generation]
        birth = date(rng.randint(*years), rng.randint(1, 12), rng.randint(1, 28))
        fact = rng.choices(facts, weights=[f.population for f in facts])[0]
        commune = communes[fact.insee_code]
        without_doctor = rng.random() < 0.25
        local_gps = gps_by_commune.get(commune.id or 0) or all_gps
        patients.append(
            Patient(
                birth_name=last.upper(),
                first_names=first,
                birth_date=birth,
                sex=sex,
                search_name=search_key(f"{last} {first}"),
                phone=_mobile(rng),
                commune_id=commune.id,
                address=f"{rng.randint(1, 60)} {rng.choice(STREETS)}, {commune.postcode} {commune.name}",
                ald=generation == "older" and rng.random() < 0.5,
                css=rng.random() < 0.12,
                attending_doctor_id=None if without_doctor or not local_gps else rng.choice(local_gps),
                without_attending_doctor=without_doctor,
                created_by_user_id=creator,
            )
        )
    session.add_all(patients)
    session.flush()
    return patients


def _coordinator_id(session: Session) -> int | None:
    found = session.exec(select(User.id).where(User.email == COORDINATOR_EMAIL)).first()
    if found is not None:
        return found
    return session.exec(
        select(User.id)
        .where(col(User.role).in_([Role.COORDINATOR.value, Role.ADMIN.value]))
        .order_by(col(User.id))
    ).first()


def _book_some(
    session: Session, rng: random.Random, patients: list[Patient], now: datetime, until: date
) -> None:
    """Book about ``BOOKED_SHARE`` of the free slots before ``until`` (Paris), as the coordinator."""
    booker = _coordinator_id(session)
    if booker is None or not patients:
        return
    limit = datetime.combine(until, datetime.min.time(), tzinfo=PARIS)
    slots = session.exec(
        select(Slot.id, Slot.professional_id, Slot.profession, Slot.start, Slot.end)
        .where(Slot.status == SlotStatus.FREE, col(Slot.start) > now, col(Slot.start) < limit)
        .order_by(col(Slot.id))
    ).all()
    created_at = utcnow()
    rows: list[dict[str, Any]] = []
    for slot_id, professional_id, profession, start, end in slots:
        if rng.random() >= BOOKED_SHARE:
            continue
        rows.append(
            {
                "slot_id": slot_id,
                "active_slot_id": slot_id,
                "professional_id": professional_id,
                "patient_id": rng.choice(patients).id,
                "start": start,
                "end": end,
                "status": AppointmentStatus.BOOKED.value,
                "reason": rng.choice(_REASONS.get(profession, _DEFAULT_REASONS)),
                "extra": False,
                "extra_reason": "",
                "booked_by_user_id": booker,
                "on_behalf_of": rng.choice(_ON_BEHALF_OF),
                "created_at": created_at,
                "updated_at": created_at,
                "cancel_reason": "",
            }
        )
    for index in range(0, len(rows), 5_000):
        chunk = rows[index : index + 5_000]
        session.connection().execute(insert(Appointment.__table__), chunk)
        session.execute(
            update(Slot)
            .where(col(Slot.id).in_([r["slot_id"] for r in chunk]))
            .values(status=SlotStatus.BUSY.value)
        )


def agenda_summary(session: Session, *, created: bool) -> AgendaSummary:
    def count(model: type) -> int:
        return session.exec(select(func.count()).select_from(model)).one()

    return AgendaSummary(
        created=created,
        schedules=count(Schedule),
        slots=count(Slot),
        appointments=count(Appointment),
        patients=count(Patient),
        tours=count(Tour),
    )
