"""Médicobus tours: days × stops in communes, the slots they open, and where the bus is each day.

Why one agenda per commune of the tour: slots carry the commune where the patient is seen, so the
"earliest slot around my commune" search and the SAS API find the bus in the village it visits
that day, not at the structure's home address.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from cpts_app.models.access import Role
from cpts_app.models.agenda import Schedule, Slot, SlotKind, SlotStatus, Tour, TourStop
from cpts_app.models.directory import (
    Commune,
    Professional,
    ProfessionalStructure,
    Structure,
    StructureKind,
)
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.agenda.availability import (
    MAX_SLOT_MINUTES,
    MIN_SLOT_MINUTES,
    SlotCandidate,
    closed_periods,
    insert_missing_slots,
)
from cpts_app.services.agenda.recurrence import PARIS, expand_rule, paris_day_bounds, parse_hhmm
from cpts_app.services.errors import NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.labels import CLINICAL_PROFESSIONS
from cpts_app.services.permissions import Actor, Permission, has_permission, require

TOUR_AUDIENCE = "PRO,SNP,CPTS"
TOUR_NOT_FOUND = "Cette tournée n'existe pas."
STRUCTURE_NOT_FOUND = "Cette structure n'existe pas."


def _can_manage_bus(session: Session, actor: Actor, structure_id: int) -> bool:
    """Coordination roles, the médicobus team, or a professional of that médicobus."""
    if has_permission(actor, Permission.MANAGE_ANY_AVAILABILITY):
        return True
    if not has_permission(actor, Permission.MANAGE_OWN_AVAILABILITY):
        return False
    if actor.role is Role.MEDICOBUS_TEAM:
        return True
    if actor.professional_id is None:
        return False
    link = session.get(ProfessionalStructure, (actor.professional_id, structure_id))
    return link is not None


def _medicobus(session: Session, structure_id: int) -> Structure:
    structure = session.get(Structure, structure_id)
    if structure is None:
        raise NotFound(STRUCTURE_NOT_FOUND)
    if structure.kind != StructureKind.MEDICOBUS:
        raise ValidationFailed({"structure_id": "Cette structure n'est pas un médicobus."})
    return structure


def create_tour(session: Session, actor: Actor, structure_id: int, name: str) -> int:
    """A new tour of a médicobus."""
    if not _can_manage_bus(session, actor, structure_id):
        raise PermissionDenied()
    _medicobus(session, structure_id)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed({"name": "Ce champ est obligatoire."})
    if len(name) > 200:
        raise ValidationFailed({"name": "200 caractères au plus."})
    tour = Tour(structure_id=structure_id, name=name)
    session.add(tour)
    session.flush()
    audit.record(
        session,
        "agenda.tour.create",
        actor=actor,
        target_type="tour",
        target_id=tour.id,
        detail={"structure_id": structure_id},
    )
    assert tour.id is not None
    return tour.id


def _minutes(value: str) -> int:
    parsed = parse_hhmm(value)
    return parsed.hour * 60 + parsed.minute


def add_stop(
    session: Session,
    actor: Actor,
    tour_id: int,
    *,
    day: date,
    commune_id: int,
    place: str,
    start_time: str,
    end_time: str,
    slot_minutes: int = 20,
    now: datetime | None = None,
) -> int:
    """A stop of the tour: the bus stands in ``commune_id`` on ``day`` from start to end (Paris)."""
    tour = session.get(Tour, tour_id)
    if tour is None:
        raise NotFound(TOUR_NOT_FOUND)
    if not _can_manage_bus(session, actor, tour.structure_id):
        raise PermissionDenied()
    errors: dict[str, str] = {}
    times: dict[str, str] = {}
    for name, raw in (("start_time", start_time), ("end_time", end_time)):
        try:
            times[name] = parse_hhmm(raw).strftime("%H:%M")
        except ValueError as exc:
            errors[name] = str(exc)
    if len(times) == 2 and _minutes(times["end_time"]) <= _minutes(times["start_time"]):
        errors["end_time"] = "L'heure de fin doit être après l'heure de début."
    if not MIN_SLOT_MINUTES <= slot_minutes <= MAX_SLOT_MINUTES:
        errors["slot_minutes"] = (
            "La durée d'un créneau doit être comprise entre "
            f"{MIN_SLOT_MINUTES} et {MAX_SLOT_MINUTES} minutes."
        )
    if day < (now or utcnow()).astimezone(PARIS).date():
        errors["day"] = "Cette étape est dans le passé."
    if session.get(Commune, commune_id) is None:
        errors["commune_id"] = "Cette commune n'existe pas."
    place = (place or "").strip()
    if len(place) > 200:
        errors["place"] = "200 caractères au plus."
    if not errors:
        start, end = _minutes(times["start_time"]), _minutes(times["end_time"])
        for other in session.exec(select(TourStop).where(TourStop.tour_id == tour_id, TourStop.day == day)):
            if start < _minutes(other.end_time) and _minutes(other.start_time) < end:
                commune = session.get(Commune, other.commune_id)
                errors["start_time"] = (
                    f"Le médicobus est déjà à {commune.name if commune else '?'} ce jour-là "
                    f"de {other.start_time} à {other.end_time}."
                )
                break
    if errors:
        raise ValidationFailed(errors)
    stop = TourStop(
        tour_id=tour_id,
        day=day,
        commune_id=commune_id,
        place=place,
        start_time=times["start_time"],
        end_time=times["end_time"],
        slot_minutes=slot_minutes,
    )
    session.add(stop)
    session.flush()
    audit.record(
        session,
        "agenda.tour.stop.create",
        actor=actor,
        target_type="tour_stop",
        target_id=stop.id,
        detail={"tour_id": tour_id, "day": day.isoformat(), "commune_id": commune_id},
    )
    assert stop.id is not None
    return stop.id


def _bus_doctors(
    session: Session, structure_id: int, professional_ids: list[int] | None
) -> list[Professional]:
    """The clinical, active professionals of the médicobus (optionally only some of them)."""
    clinical = [p.value for p in CLINICAL_PROFESSIONS]
    query = (
        select(Professional)
        .join(ProfessionalStructure, col(ProfessionalStructure.professional_id) == Professional.id)
        .where(
            ProfessionalStructure.structure_id == structure_id,
            col(Professional.profession).in_(clinical),
            col(Professional.active).is_(True),
        )
        .order_by(col(Professional.id))
    )
    if professional_ids is not None:
        query = query.where(col(Professional.id).in_(professional_ids))
    return list(session.exec(query))


def _schedule_for(
    session: Session,
    professional: Professional,
    structure: Structure,
    commune: Commune,
    cache: dict[tuple[int | None, int | None], Schedule],
) -> Schedule:
    key = (professional.id, commune.id)
    if key not in cache:
        schedule = session.exec(
            select(Schedule).where(
                Schedule.professional_id == professional.id,
                Schedule.structure_id == structure.id,
                Schedule.commune_id == commune.id,
            )
        ).first()
        if schedule is None:
            assert professional.id is not None and commune.id is not None
            schedule = Schedule(
                professional_id=professional.id,
                structure_id=structure.id,
                commune_id=commune.id,
                label=f"{structure.name} — {commune.name}",
            )
            session.add(schedule)
            session.flush()
        cache[key] = schedule
    return cache[key]


def generate_tour_slots(
    session: Session, tour_id: int, *, professional_ids: list[int] | None = None, now: datetime | None = None
) -> int:
    """Open the médicobus slots of every future stop, for each clinician of the bus (system level).

    Each (professional, commune of a stop) has its own agenda at the médicobus structure, created
    when missing. Idempotent; returns the number of slots created.
    """
    tour = session.get(Tour, tour_id)
    if tour is None:
        raise NotFound(TOUR_NOT_FOUND)
    structure = session.get(Structure, tour.structure_id)
    assert structure is not None
    moment = now or utcnow()
    today = moment.astimezone(PARIS).date()
    stops = session.exec(
        select(TourStop)
        .where(TourStop.tour_id == tour_id, col(TourStop.day) >= today)
        .order_by(col(TourStop.day))
    ).all()
    doctors = _bus_doctors(session, structure.id or tour.structure_id, professional_ids)
    communes = {
        c.id: c
        for c in session.exec(select(Commune).where(col(Commune.id).in_({s.commune_id for s in stops})))
    }
    cache: dict[tuple[int | None, int | None], Schedule] = {}
    by_schedule: dict[int, tuple[Schedule, list[SlotCandidate]]] = {}
    for stop in stops:
        for doctor in doctors:
            schedule = _schedule_for(session, doctor, structure, communes[stop.commune_id], cache)
            assert schedule.id is not None
            day_start, day_end = paris_day_bounds(stop.day)
            spans = expand_rule(
                stop.day.weekday(),
                stop.start_time,
                stop.end_time,
                stop.slot_minutes,
                stop.day,
                stop.day,
                stop.day,
                stop.day,
                skip_public_holidays=False,  # a stop is planned for that very day
                closed=closed_periods(session, schedule.id, day_start, day_end),
            )
            entry = by_schedule.setdefault(schedule.id, (schedule, []))
            entry[1].extend(
                SlotCandidate(start, end, SlotKind.MEDICOBUS, TOUR_AUDIENCE, tour_stop_id=stop.id)
                for start, end in spans
            )
    return sum(
        insert_missing_slots(session, schedule, candidates, now=moment)
        for schedule, candidates in by_schedule.values()
    )


def publish_tour(session: Session, actor: Actor, tour_id: int, *, now: datetime | None = None) -> int:
    """Open the slots of a tour's stops (what a user does after adding stops); audited."""
    tour = session.get(Tour, tour_id)
    if tour is None:
        raise NotFound(TOUR_NOT_FOUND)
    if not _can_manage_bus(session, actor, tour.structure_id):
        raise PermissionDenied()
    created = generate_tour_slots(session, tour_id, now=now)
    audit.record(
        session,
        "agenda.tour.publish",
        actor=actor,
        target_type="tour",
        target_id=tour_id,
        detail={"slots_created": created},
    )
    return created


@dataclass(frozen=True)
class TourDay:
    """One stop of the bus, as the "où est le médicobus ?" list shows it."""

    day: date
    commune_name: str
    place: str
    start_time: str
    end_time: str
    free_slots: int
    booked_slots: int


def where_is_the_bus(
    session: Session, actor: Actor, structure_id: int, day_from: date, days: int
) -> list[TourDay]:
    """The stops of a médicobus's tours on the days [day_from, day_from + days), with their slots."""
    require(actor, Permission.VIEW_AGENDA)
    _medicobus(session, structure_id)
    day_until = day_from + timedelta(days=max(days, 0))
    rows = session.exec(
        select(TourStop, Commune.name)
        .join(Tour, col(Tour.id) == TourStop.tour_id)
        .join(Commune, col(Commune.id) == TourStop.commune_id)
        .where(
            Tour.structure_id == structure_id, col(TourStop.day) >= day_from, col(TourStop.day) < day_until
        )
        .order_by(col(TourStop.day), col(TourStop.start_time))
    ).all()
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    stop_ids = [stop.id for stop, _ in rows]
    if stop_ids:
        for stop_id, status, n in session.exec(
            select(Slot.tour_stop_id, Slot.status, func.count())
            .where(col(Slot.tour_stop_id).in_(stop_ids))
            .group_by(col(Slot.tour_stop_id), col(Slot.status))
        ):
            counts[stop_id][str(status)] = n
    return [
        TourDay(
            day=stop.day,
            commune_name=commune_name,
            place=stop.place,
            start_time=stop.start_time,
            end_time=stop.end_time,
            free_slots=counts[stop.id or 0].get(SlotStatus.FREE.value, 0),
            booked_slots=counts[stop.id or 0].get(SlotStatus.BUSY.value, 0),
        )
        for stop, commune_name in rows
    ]
