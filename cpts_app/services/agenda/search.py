"""« Trouver un créneau »: the earliest free slots a user may book, by profession, area, kind and window.

Why everything in SQL: the audience rule (``access.bookable_condition``) and the window are WHERE
clauses, so the LIMIT applies in the database and a search reads a few index pages, not the agenda.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case
from sqlmodel import Session, col, select

from cpts_app.models.agenda import Slot, SlotKind, SlotStatus
from cpts_app.models.directory import Commune, CommuneNeighbour, Profession, Professional, Structure
from cpts_app.models.types import utcnow
from cpts_app.services.agenda import access
from cpts_app.services.agenda.clock import day_bounds, day_label, half_day_end, paris_day, time_label
from cpts_app.services.agenda.labels import SLOT_KIND_LABELS
from cpts_app.services.errors import ValidationFailed
from cpts_app.services.labels import PROFESSION_LABELS
from cpts_app.services.permissions import Actor, Permission, require

WINDOWS = ("half_day", "today", "48h", "dates")
MAX_LIMIT = 100
MAX_DATE_RANGE_DAYS = 92


@dataclass(frozen=True)
class SlotSearch:
    profession: str = ""
    commune_id: int | None = None
    include_neighbours: bool = True
    kind: str = ""
    window: str = "half_day"
    """half_day | today | 48h | dates."""
    date_from: date | None = None
    date_to: date | None = None
    limit: int = 20


@dataclass(frozen=True)
class SlotOffer:
    slot_id: int
    start: datetime
    end: datetime
    day_label: str
    """"lundi 23 novembre" (Paris)."""
    time_label: str
    """"14:30–14:45" (Paris)."""
    kind: str
    kind_label: str
    professional_id: int
    professional_name: str
    profession_label: str
    structure_name: str
    commune_name: str
    address: str
    audience: list[str]
    in_neighbour_commune: bool


def search_window(search: SlotSearch, now: datetime) -> tuple[datetime, datetime]:
    """[from, until) in UTC for the requested window; French errors for bad dates."""
    if search.window == "half_day":
        return now, half_day_end(now)
    if search.window == "today":
        return now, day_bounds(paris_day(now))[1]
    if search.window == "48h":
        return now, now + timedelta(hours=48)
    if search.window != "dates":
        raise ValidationFailed({"window": "Choisissez une période de recherche."})
    errors: dict[str, str] = {}
    if search.date_from is None:
        errors["date_from"] = "Indiquez la date de début."
    if search.date_to is None:
        errors["date_to"] = "Indiquez la date de fin."
    if search.date_from is not None and search.date_to is not None:
        if search.date_to < search.date_from:
            errors["date_to"] = "La date de fin doit être le même jour ou après la date de début."
        elif (search.date_to - search.date_from).days >= MAX_DATE_RANGE_DAYS:
            errors["date_to"] = f"La période ne doit pas dépasser {MAX_DATE_RANGE_DAYS} jours."
    if errors or search.date_from is None or search.date_to is None:
        raise ValidationFailed(errors)
    start, end = day_bounds(search.date_from, (search.date_to - search.date_from).days + 1)
    return max(start, now), end


def _area(session: Session, search: SlotSearch) -> list[int]:
    assert search.commune_id is not None
    communes = [search.commune_id]
    if search.include_neighbours:
        communes += session.exec(
            select(CommuneNeighbour.neighbour_id).where(col(CommuneNeighbour.commune_id) == search.commune_id)
        ).all()
    return communes


def _label(labels: dict[Any, str], value: str) -> str:
    return labels.get(value, value)


def find_slots(
    session: Session, actor: Actor, search: SlotSearch, *, now: datetime | None = None
) -> list[SlotOffer]:
    """The earliest free slots the actor may book; at equal times, the requested commune first."""
    require(actor, Permission.VIEW_AGENDA)
    now = now or utcnow()
    start_from, until = search_window(search, now)
    if until <= start_from:
        return []
    conditions: list[Any] = [
        col(Slot.status) == SlotStatus.FREE,
        col(Slot.start) >= start_from,
        col(Slot.start) < until,
        access.bookable_condition(actor),
    ]
    if search.profession:
        if search.profession not in {member.value for member in Profession}:
            raise ValidationFailed({"profession": "Cette profession n'existe pas."})
        conditions.append(col(Slot.profession) == search.profession)
    if search.kind:
        if search.kind not in {member.value for member in SlotKind}:
            raise ValidationFailed({"kind": "Ce type de créneau n'existe pas."})
        conditions.append(col(Slot.kind) == search.kind)
    order: list[Any] = [col(Slot.start)]
    if search.commune_id is not None:
        conditions.append(col(Slot.commune_id).in_(_area(session, search)))
        order.append(case((col(Slot.commune_id) == search.commune_id, 0), else_=1))
    order.append(col(Slot.id))
    rows = session.exec(
        select(
            Slot,
            Professional.first_name,
            Professional.last_name,
            Professional.profession,
            Structure.name,
            Structure.address,
            Commune.name,
        )
        .join(Professional, col(Professional.id) == Slot.professional_id)
        .join(Commune, col(Commune.id) == Slot.commune_id)
        .outerjoin(Structure, col(Structure.id) == Slot.structure_id)
        .where(*conditions)
        .order_by(*order)
        .limit(max(1, min(search.limit, MAX_LIMIT)))
    ).all()
    offers = []
    for slot, first, last, profession, structure_name, address, commune_name in rows:
        assert slot.id is not None
        offers.append(
            SlotOffer(
                slot_id=slot.id,
                start=slot.start,
                end=slot.end,
                day_label=day_label(slot.start),
                time_label=time_label(slot.start, slot.end),
                kind=str(slot.kind),
                kind_label=_label(SLOT_KIND_LABELS, str(slot.kind)),
                professional_id=slot.professional_id,
                professional_name=f"{first} {last.upper()}",
                profession_label=_label(PROFESSION_LABELS, str(profession)),
                structure_name=structure_name or "",
                commune_name=commune_name,
                address=address or "",
                audience=sorted(access.audience_codes(slot.audience)),
                in_neighbour_commune=search.commune_id is not None and slot.commune_id != search.commune_id,
            )
        )
    return offers
