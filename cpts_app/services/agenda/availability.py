"""A professional's availability: schedules, weekly rules, closures, ad-hoc slots and slot generation.

Why generated slots rather than rules read at query time: bookings, the SAS FHIR search and the
"earliest slot" search need plain indexed rows, and the database's unique constraints on slots and
appointments are what make double booking impossible. Rules are kept to regenerate (idempotently)
as the publication horizon moves forward.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, update
from sqlmodel import Session, col, select

from cpts_app.models.agenda import (
    Appointment,
    Audience,
    AvailabilityException,
    AvailabilityRule,
    Schedule,
    Slot,
    SlotKind,
    SlotStatus,
    WaitingListEntry,
)
from cpts_app.models.directory import Commune, Profession, Professional, Structure
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.agenda.labels import AUDIENCE_LABELS, SLOT_KIND_LABELS, WEEKDAY_LABELS
from cpts_app.services.agenda.recurrence import (
    PARIS,
    expand_rule,
    paris_day_bounds,
    paris_to_utc,
    parse_hhmm,
)
from cpts_app.services.errors import NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.permissions import Actor, Permission, has_permission, require

PUBLISH_WEEKS = 8
"""How far ahead slots are published by default (the demo, ``publish`` and ``add_rule``)."""
MIN_SLOT_MINUTES, MAX_SLOT_MINUTES = 5, 240
INSERT_CHUNK = 5_000

REQUIRED = "Ce champ est obligatoire."
SCHEDULE_NOT_FOUND = "Cet agenda n'existe pas."
RULE_NOT_FOUND = "Cette disponibilité n'existe pas."
END_BEFORE_START = "L'heure de fin doit être après l'heure de début."
SLOT_IN_THE_PAST = "Ce créneau est dans le passé."
INVALID_DATE = "Date invalide (format AAAA-MM-JJ attendu)."
INVALID_MOMENT = "Date et heure invalides (format AAAA-MM-JJTHH:MM attendu)."
NONEXISTENT_TIME = "Cette heure n'existe pas ce jour-là (changement d'heure)."


# --- permission ---------------------------------------------------------------------------------


def can_manage_schedule(actor: Actor, schedule: Schedule) -> bool:
    """Coordination roles manage every agenda; a professional manages their own."""
    return _can_manage_professional(actor, schedule.professional_id)


def _can_manage_professional(actor: Actor, professional_id: int) -> bool:
    if has_permission(actor, Permission.MANAGE_ANY_AVAILABILITY):
        return True
    return (
        has_permission(actor, Permission.MANAGE_OWN_AVAILABILITY)
        and actor.professional_id is not None
        and actor.professional_id == professional_id
    )


def _managed_schedule(session: Session, actor: Actor, schedule_id: int) -> Schedule:
    """The schedule, after the permission checks (role first, then ownership)."""
    if not (
        has_permission(actor, Permission.MANAGE_ANY_AVAILABILITY)
        or has_permission(actor, Permission.MANAGE_OWN_AVAILABILITY)
    ):
        raise PermissionDenied()
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(SCHEDULE_NOT_FOUND)
    if not can_manage_schedule(actor, schedule):
        raise PermissionDenied("Accès refusé : cet agenda n'est pas le vôtre.")
    return schedule


# --- parsing helpers ----------------------------------------------------------------------------


def _parse_date(errors: dict[str, str], name: str, raw: str, *, required: bool) -> date | None:
    text = (raw or "").strip()
    if not text:
        if required:
            errors[name] = REQUIRED
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = INVALID_DATE
        return None


def _parse_audience(errors: dict[str, str], raw: Iterable[str]) -> str:
    codes = [code.strip().upper() for code in raw if code and code.strip()]
    valid = {a.value for a in Audience}
    if not codes:
        errors["audience"] = "Choisissez au moins un public pour ces créneaux."
        return ""
    unknown = [c for c in codes if c not in valid]
    if unknown:
        errors["audience"] = f"Public inconnu : {', '.join(unknown)}."
        return ""
    # Stored in the national order, without duplicates, so equal audiences compare equal.
    return ",".join(a.value for a in Audience if a.value in codes)


def _parse_kind(errors: dict[str, str], raw: str) -> SlotKind | None:
    try:
        return SlotKind((raw or "").strip())
    except ValueError:
        errors["kind"] = "Type de créneau inconnu."
        return None


def _parse_moment(errors: dict[str, str], name: str, raw: str) -> datetime | None:
    """ "2026-03-30T08:00" in Paris wall time → an aware UTC instant."""
    text = (raw or "").strip()
    if not text:
        errors[name] = REQUIRED
        return None
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        errors[name] = INVALID_MOMENT
        return None
    if local.tzinfo is not None:
        return local.astimezone(PARIS).astimezone(local.tzinfo)
    instant = paris_to_utc(local.date(), local.time())
    if instant is None:
        errors[name] = NONEXISTENT_TIME
    return instant


# --- schedules ----------------------------------------------------------------------------------


def create_schedule(
    session: Session,
    actor: Actor,
    *,
    professional_id: int,
    structure_id: int | None,
    commune_id: int | None,
    label: str = "",
) -> int:
    """A new agenda of a professional at a structure (its commune by default) or in a commune."""
    if not _can_manage_professional(actor, professional_id):
        raise PermissionDenied()
    errors: dict[str, str] = {}
    professional = session.get(Professional, professional_id)
    if professional is None:
        errors["professional_id"] = "Ce professionnel n'existe pas."
    structure = session.get(Structure, structure_id) if structure_id is not None else None
    if structure_id is not None and structure is None:
        errors["structure_id"] = "Cette structure n'existe pas."
    if commune_id is None and structure is not None:
        commune_id = structure.commune_id
    if commune_id is None:
        if "structure_id" not in errors:
            errors["commune_id"] = "Indiquez une structure ou une commune."
    elif session.get(Commune, commune_id) is None:
        errors["commune_id"] = "Cette commune n'existe pas."
    label = (label or "").strip()
    if len(label) > 200:
        errors["label"] = "200 caractères au plus."
    if errors:
        raise ValidationFailed(errors)
    assert commune_id is not None
    schedule = Schedule(
        professional_id=professional_id, structure_id=structure_id, commune_id=commune_id, label=label
    )
    session.add(schedule)
    session.flush()
    audit.record(
        session,
        "agenda.schedule.create",
        actor=actor,
        target_type="schedule",
        target_id=schedule.id,
        detail={"professional_id": professional_id, "structure_id": structure_id, "commune_id": commune_id},
    )
    assert schedule.id is not None
    return schedule.id


# --- rules --------------------------------------------------------------------------------------


@dataclass
class RuleForm:
    """A weekly availability as typed in the form (strings; dates "YYYY-MM-DD")."""

    weekday: str
    start_time: str
    end_time: str
    slot_minutes: str = "15"
    kind: str = "consultation"
    audience: list[str] = field(default_factory=lambda: ["PRO", "CPTS"])
    valid_from: str = ""
    valid_until: str = ""
    skip_public_holidays: bool = True


@dataclass(frozen=True)
class _ValidRule:
    weekday: int
    start_time: str
    end_time: str
    slot_minutes: int
    kind: SlotKind
    audience: str
    valid_from: date
    valid_until: date | None


def _minutes(value: str) -> int:
    parsed = parse_hhmm(value)
    return parsed.hour * 60 + parsed.minute


def _int_or(raw: object, default: int) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        return default


def _validate_rule(form: RuleForm) -> _ValidRule:
    errors: dict[str, str] = {}
    weekday = _int_or(form.weekday, -1)
    if not 0 <= weekday <= 6:
        errors["weekday"] = "Choisissez un jour de la semaine."
    times: dict[str, str] = {}
    for name in ("start_time", "end_time"):
        raw = getattr(form, name)
        try:
            times[name] = parse_hhmm(raw).strftime("%H:%M")
        except ValueError as exc:
            errors[name] = REQUIRED if not (raw or "").strip() else str(exc)
    if len(times) == 2 and _minutes(times["end_time"]) <= _minutes(times["start_time"]):
        errors["end_time"] = END_BEFORE_START
    slot_minutes = _int_or(form.slot_minutes, 0)
    if not MIN_SLOT_MINUTES <= slot_minutes <= MAX_SLOT_MINUTES:
        errors["slot_minutes"] = (
            "La durée d'un créneau doit être comprise entre "
            f"{MIN_SLOT_MINUTES} et {MAX_SLOT_MINUTES} minutes."
        )
    elif (
        len(times) == 2
        and "end_time" not in errors
        and _minutes(times["end_time"]) - _minutes(times["start_time"]) < slot_minutes
    ):
        errors["slot_minutes"] = "La plage horaire est plus courte qu'un créneau."
    kind = _parse_kind(errors, form.kind)
    audience = _parse_audience(errors, form.audience)
    valid_from = _parse_date(errors, "valid_from", form.valid_from, required=True)
    valid_until = _parse_date(errors, "valid_until", form.valid_until, required=False)
    if valid_from and valid_until and valid_until < valid_from:
        errors["valid_until"] = "La date de fin doit être après la date de début."
    if errors:
        raise ValidationFailed(errors)
    assert kind is not None and valid_from is not None
    return _ValidRule(
        weekday=weekday,
        start_time=times["start_time"],
        end_time=times["end_time"],
        slot_minutes=slot_minutes,
        kind=kind,
        audience=audience,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def _periods_intersect(a_from: date, a_until: date | None, b_from: date, b_until: date | None) -> bool:
    return (a_until is None or b_from <= a_until) and (b_until is None or a_from <= b_until)


def _overlapping_rule(session: Session, schedule_id: int, rule: _ValidRule) -> AvailabilityRule | None:
    candidates = session.exec(
        select(AvailabilityRule).where(
            AvailabilityRule.schedule_id == schedule_id, AvailabilityRule.weekday == rule.weekday
        )
    ).all()
    start, end = _minutes(rule.start_time), _minutes(rule.end_time)
    for other in candidates:
        if not _periods_intersect(rule.valid_from, rule.valid_until, other.valid_from, other.valid_until):
            continue
        if start < _minutes(other.end_time) and _minutes(other.start_time) < end:
            return other
    return None


def add_rule(
    session: Session, actor: Actor, schedule_id: int, form: RuleForm, *, now: datetime | None = None
) -> int:
    """Add a weekly availability and publish its slots for the coming weeks.

    Every field is checked at once; a rule whose hours meet another rule of the same agenda on the
    same weekday during an intersecting period is refused (its slots would overlap).
    """
    schedule = _managed_schedule(session, actor, schedule_id)
    rule = _validate_rule(form)
    clash = _overlapping_rule(session, schedule_id, rule)
    if clash is not None:
        raise ValidationFailed(
            {
                "start_time": (
                    "Ces horaires chevauchent une disponibilité existante "
                    f"({WEEKDAY_LABELS[clash.weekday]} {clash.start_time}–{clash.end_time})."
                )
            }
        )
    row = AvailabilityRule(
        schedule_id=schedule_id,
        weekday=rule.weekday,
        start_time=rule.start_time,
        end_time=rule.end_time,
        slot_minutes=rule.slot_minutes,
        kind=rule.kind,
        audience=rule.audience,
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
        skip_public_holidays=form.skip_public_holidays,
    )
    session.add(row)
    session.flush()
    moment = now or utcnow()
    today = moment.astimezone(PARIS).date()
    created = generate_slots(
        session,
        schedule.id or schedule_id,
        today,
        today + timedelta(weeks=PUBLISH_WEEKS) - timedelta(days=1),
        now=moment,
    )
    audit.record(
        session,
        "agenda.rule.create",
        actor=actor,
        target_type="availability_rule",
        target_id=row.id,
        detail={
            "schedule_id": schedule_id,
            "weekday": rule.weekday,
            "start_time": rule.start_time,
            "end_time": rule.end_time,
            "kind": rule.kind.value,
            "audience": rule.audience,
            "slots_created": created,
        },
    )
    assert row.id is not None
    return row.id


def _withdraw_free_slots(session: Session, slot_ids: Sequence[int]) -> int:
    """Remove free slots; those an appointment or a waiting-list offer still points at (a cancelled
    booking, an offer) are marked unavailable instead, so no reference dangles. Returns the count."""
    if not slot_ids:
        return 0
    referenced: set[int] = set()
    for chunk in _chunks(list(slot_ids), 900):
        referenced |= set(
            session.exec(select(Appointment.slot_id).where(col(Appointment.slot_id).in_(chunk)))
        )
        referenced |= set(
            session.exec(
                select(WaitingListEntry.offered_slot_id).where(
                    col(WaitingListEntry.offered_slot_id).in_(chunk)
                )
            )
        )
    removable = [i for i in slot_ids if i not in referenced]
    kept = [i for i in slot_ids if i in referenced]
    for chunk in _chunks(removable, 900):
        session.execute(delete(Slot).where(col(Slot.id).in_(chunk), col(Slot.status) == SlotStatus.FREE))
    for chunk in _chunks(kept, 900):
        session.execute(
            update(Slot)
            .where(col(Slot.id).in_(chunk), col(Slot.status) == SlotStatus.FREE)
            .values(status=SlotStatus.BUSY_UNAVAILABLE)
        )
    return len(slot_ids)


def remove_rule(session: Session, actor: Actor, rule_id: int, *, now: datetime | None = None) -> None:
    """Delete a rule and its future free slots; booked slots (and past ones) stay, detached."""
    rule = session.get(AvailabilityRule, rule_id)
    if rule is None:
        if not (
            has_permission(actor, Permission.MANAGE_ANY_AVAILABILITY)
            or has_permission(actor, Permission.MANAGE_OWN_AVAILABILITY)
        ):
            raise PermissionDenied()
        raise NotFound(RULE_NOT_FOUND)
    _managed_schedule(session, actor, rule.schedule_id)
    moment = now or utcnow()
    free_ids = list(
        session.exec(
            select(Slot.id).where(
                Slot.rule_id == rule_id, Slot.status == SlotStatus.FREE, col(Slot.start) > moment
            )
        )
    )
    removed = _withdraw_free_slots(session, [i for i in free_ids if i is not None])
    session.execute(update(Slot).where(col(Slot.rule_id) == rule_id).values(rule_id=None))
    detail = {
        "schedule_id": rule.schedule_id,
        "weekday": rule.weekday,
        "start_time": rule.start_time,
        "end_time": rule.end_time,
        "slots_removed": removed,
    }
    session.delete(rule)
    session.flush()
    audit.record(
        session,
        "agenda.rule.delete",
        actor=actor,
        target_type="availability_rule",
        target_id=rule_id,
        detail=detail,
    )


# --- closures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExceptionOutcome:
    """What closing a period did: its id, the free slots withdrawn, the booked ones kept."""

    id: int
    removed_slots: int
    kept_booked: list[datetime]
    """Starts (UTC) of the booked slots inside the period: the appointments still stand and must be
    moved or cancelled by someone."""


def add_exception(
    session: Session, actor: Actor, schedule_id: int, starts_at: datetime, ends_at: datetime, reason: str
) -> ExceptionOutcome:
    """Close a period (congés, formation…): free slots inside are withdrawn, booked ones kept."""
    _managed_schedule(session, actor, schedule_id)
    errors: dict[str, str] = {}
    if starts_at is None or starts_at.tzinfo is None:
        errors["starts_at"] = INVALID_MOMENT
    if ends_at is None or ends_at.tzinfo is None:
        errors["ends_at"] = INVALID_MOMENT
    if not errors and ends_at <= starts_at:
        errors["ends_at"] = "La fin doit être après le début."
    reason = (reason or "").strip()
    if len(reason) > 200:
        errors["reason"] = "200 caractères au plus."
    if errors:
        raise ValidationFailed(errors)
    row = AvailabilityException(schedule_id=schedule_id, starts_at=starts_at, ends_at=ends_at, reason=reason)
    session.add(row)
    session.flush()
    inside = session.exec(
        select(Slot.id, Slot.start, Slot.status).where(
            Slot.schedule_id == schedule_id, col(Slot.start) < ends_at, col(Slot.end) > starts_at
        )
    ).all()
    free_ids = [i for i, _, status in inside if status == SlotStatus.FREE and i is not None]
    kept = sorted(start for _, start, status in inside if status == SlotStatus.BUSY)
    removed = _withdraw_free_slots(session, free_ids)
    audit.record(
        session,
        "agenda.exception.create",
        actor=actor,
        target_type="availability_exception",
        target_id=row.id,
        detail={
            "schedule_id": schedule_id,
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
            "slots_removed": removed,
            "booked_kept": len(kept),
        },
    )
    assert row.id is not None
    return ExceptionOutcome(id=row.id, removed_slots=removed, kept_booked=kept)


# --- slot generation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotCandidate:
    """A slot to create if the agenda has nothing at that time yet."""

    start: datetime
    end: datetime
    kind: SlotKind
    audience: str
    rule_id: int | None = None
    tour_stop_id: int | None = None


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


def insert_missing_slots(
    session: Session, schedule: Schedule, candidates: Sequence[SlotCandidate], *, now: datetime
) -> int:
    """Insert the candidates that start after ``now`` and overlap no slot of the agenda (system level).

    Idempotent: running it twice inserts nothing the second time. Bulk inserts keep 100 000 slots
    to seconds.
    """
    future = sorted((c for c in candidates if c.start > now), key=lambda c: c.start)
    if not future:
        return 0
    professional = session.get(Professional, schedule.professional_id)
    assert professional is not None and schedule.id is not None
    existing = session.exec(
        select(Slot.start, Slot.end)
        .where(
            Slot.schedule_id == schedule.id,
            col(Slot.start) < future[-1].end,
            col(Slot.end) > future[0].start,
        )
        .order_by(col(Slot.start))
    ).all()
    starts = [s for s, _ in existing]
    ends = [e for _, e in existing]
    profession = Profession(professional.profession).value
    created_at = utcnow()
    rows: list[dict[str, Any]] = []
    last_end: datetime | None = None
    for candidate in future:
        if last_end is not None and candidate.start < last_end:
            continue  # overlaps a candidate just accepted (two rules' slots meeting)
        index = bisect.bisect_left(starts, candidate.end)
        if index > 0 and ends[index - 1] > candidate.start and starts[index - 1] < candidate.end:
            continue
        # Existing slots are sorted by start and do not overlap, so their ends are sorted too.
        last_end = candidate.end
        rows.append(
            {
                "schedule_id": schedule.id,
                "professional_id": schedule.professional_id,
                "profession": profession,
                "commune_id": schedule.commune_id,
                "structure_id": schedule.structure_id,
                "start": candidate.start,
                "end": candidate.end,
                "kind": candidate.kind.value,
                "audience": candidate.audience,
                "status": SlotStatus.FREE.value,
                "rule_id": candidate.rule_id,
                "tour_stop_id": candidate.tour_stop_id,
                "created_at": created_at,
            }
        )
    for chunk in _chunks(rows, INSERT_CHUNK):
        session.connection().execute(insert(Slot.__table__), chunk)  # Core: no ORM bookkeeping
    return len(rows)


def closed_periods(
    session: Session, schedule_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The agenda's closures that meet [start, end)."""
    rows = session.exec(
        select(AvailabilityException.starts_at, AvailabilityException.ends_at).where(
            AvailabilityException.schedule_id == schedule_id,
            col(AvailabilityException.starts_at) < end,
            col(AvailabilityException.ends_at) > start,
        )
    ).all()
    return [(s, e) for s, e in rows]


def generate_slots(
    session: Session, schedule_id: int, window_start: date, window_end: date, *, now: datetime | None = None
) -> int:
    """Create the slots of every rule of an active agenda on the Paris days [window_start, window_end].

    System level (no actor): the demo, the CLI, ``publish`` and ``add_rule`` call it. Skips public
    holidays (per rule), closures, the past (start ≤ now) and what already exists. Returns the count.
    """
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(SCHEDULE_NOT_FOUND)
    if not schedule.active or window_end < window_start:
        return 0
    rules = session.exec(
        select(AvailabilityRule).where(
            AvailabilityRule.schedule_id == schedule_id,
            col(AvailabilityRule.valid_from) <= window_end,
        )
    ).all()
    rules = [r for r in rules if r.valid_until is None or r.valid_until >= window_start]
    if not rules:
        return 0
    closed = closed_periods(
        session, schedule_id, paris_day_bounds(window_start)[0], paris_day_bounds(window_end)[1]
    )
    candidates: list[SlotCandidate] = []
    for rule in rules:
        for start, end in expand_rule(
            rule.weekday,
            rule.start_time,
            rule.end_time,
            rule.slot_minutes,
            rule.valid_from,
            rule.valid_until,
            window_start,
            window_end,
            skip_public_holidays=rule.skip_public_holidays,
            closed=closed,
        ):
            candidates.append(SlotCandidate(start, end, SlotKind(rule.kind), rule.audience, rule_id=rule.id))
    return insert_missing_slots(session, schedule, candidates, now=now or utcnow())


def publish(
    session: Session,
    actor: Actor,
    schedule_id: int,
    weeks: int = PUBLISH_WEEKS,
    *,
    now: datetime | None = None,
) -> int:
    """Publish an agenda's slots from today for ``weeks`` weeks (idempotent); returns the count."""
    _managed_schedule(session, actor, schedule_id)
    if not 1 <= weeks <= 52:
        raise ValidationFailed({"weeks": "Entre 1 et 52 semaines."})
    moment = now or utcnow()
    today = moment.astimezone(PARIS).date()
    created = generate_slots(session, schedule_id, today, today + timedelta(weeks=weeks, days=-1), now=moment)
    audit.record(
        session,
        "agenda.publish",
        actor=actor,
        target_type="schedule",
        target_id=schedule_id,
        detail={"weeks": weeks, "slots_created": created},
    )
    return created


# --- ad-hoc slots -------------------------------------------------------------------------------


@dataclass
class SlotForm:
    """One ad-hoc slot as typed ("YYYY-MM-DDTHH:MM", Paris wall time)."""

    start: str
    end: str
    kind: str = "consultation"
    audience: list[str] = field(default_factory=lambda: ["PRO", "CPTS"])


def add_slot(
    session: Session, actor: Actor, schedule_id: int, form: SlotForm, *, now: datetime | None = None
) -> int:
    """Add one slot outside the weekly rules; refused in the past or over another slot."""
    schedule = _managed_schedule(session, actor, schedule_id)
    errors: dict[str, str] = {}
    start = _parse_moment(errors, "start", form.start)
    end = _parse_moment(errors, "end", form.end)
    moment = now or utcnow()
    if start is not None and start <= moment:
        errors["start"] = SLOT_IN_THE_PAST
    if start is not None and end is not None and end <= start:
        errors["end"] = "La fin du créneau doit être après son début."
    elif start is not None and end is not None and end - start > timedelta(hours=12):
        errors["end"] = "Un créneau dure au plus 12 heures."
    kind = _parse_kind(errors, form.kind)
    audience = _parse_audience(errors, form.audience)
    if not errors:
        assert start is not None and end is not None
        clash = session.exec(
            select(Slot.start, Slot.end).where(
                Slot.schedule_id == schedule_id, col(Slot.start) < end, col(Slot.end) > start
            )
        ).first()
        if clash is not None:
            errors["start"] = (
                "Ce créneau chevauche un créneau existant "
                f"({clash[0].astimezone(PARIS):%d/%m/%Y %H:%M}–{clash[1].astimezone(PARIS):%H:%M})."
            )
        elif closed_periods(session, schedule_id, start, end):
            errors["start"] = "Ce créneau tombe pendant une fermeture de l'agenda."
    if errors:
        raise ValidationFailed(errors)
    assert start is not None and end is not None and kind is not None
    professional = session.get(Professional, schedule.professional_id)
    assert professional is not None
    slot = Slot(
        schedule_id=schedule_id,
        professional_id=schedule.professional_id,
        profession=Profession(professional.profession).value,
        commune_id=schedule.commune_id,
        structure_id=schedule.structure_id,
        start=start,
        end=end,
        kind=kind,
        audience=audience,
    )
    session.add(slot)
    session.flush()
    audit.record(
        session,
        "agenda.slot.create",
        actor=actor,
        target_type="slot",
        target_id=slot.id,
        detail={
            "schedule_id": schedule_id,
            "start": start.isoformat(),
            "kind": kind.value,
            "audience": audience,
        },
    )
    assert slot.id is not None
    return slot.id


# --- views --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleView:
    id: int
    weekday_label: str
    start_time: str
    end_time: str
    slot_minutes: int
    kind_label: str
    audience_labels: list[str]
    valid_from: str
    """dd/mm/yyyy"""
    valid_until: str
    """dd/mm/yyyy, or "" when open-ended."""


@dataclass(frozen=True)
class ScheduleView:
    id: int
    label: str
    professional_id: int
    professional_name: str
    structure_name: str
    commune_name: str


def _audience_labels(audience: str) -> list[str]:
    codes = {c.strip() for c in audience.split(",") if c.strip()}
    return [AUDIENCE_LABELS[a] for a in Audience if a.value in codes]


def list_rules(session: Session, actor: Actor, schedule_id: int) -> list[RuleView]:
    """The weekly availabilities of an agenda, by weekday then hour."""
    require(actor, Permission.VIEW_AGENDA)
    if session.get(Schedule, schedule_id) is None:
        raise NotFound(SCHEDULE_NOT_FOUND)
    rules = session.exec(
        select(AvailabilityRule)
        .where(AvailabilityRule.schedule_id == schedule_id)
        .order_by(col(AvailabilityRule.weekday), col(AvailabilityRule.start_time), col(AvailabilityRule.id))
    ).all()
    return [
        RuleView(
            id=r.id or 0,
            weekday_label=WEEKDAY_LABELS[r.weekday],
            start_time=r.start_time,
            end_time=r.end_time,
            slot_minutes=r.slot_minutes,
            kind_label=SLOT_KIND_LABELS[SlotKind(r.kind)],
            audience_labels=_audience_labels(r.audience),
            valid_from=f"{r.valid_from:%d/%m/%Y}",
            valid_until=f"{r.valid_until:%d/%m/%Y}" if r.valid_until else "",
        )
        for r in rules
    ]


def schedules_of(session: Session, actor: Actor, professional_id: int) -> list[ScheduleView]:
    """The active agendas of a professional (one per place)."""
    require(actor, Permission.VIEW_AGENDA)
    rows = session.exec(
        select(Schedule, Professional, Structure, Commune)
        .join(Professional, col(Professional.id) == Schedule.professional_id)
        .join(Commune, col(Commune.id) == Schedule.commune_id)
        .outerjoin(Structure, col(Structure.id) == Schedule.structure_id)
        .where(Schedule.professional_id == professional_id, col(Schedule.active).is_(True))
        .order_by(col(Schedule.id))
    ).all()
    return [
        ScheduleView(
            id=schedule.id or 0,
            label=schedule.label,
            professional_id=schedule.professional_id,
            professional_name=f"{professional.first_name} {professional.last_name}",
            structure_name=structure.name if structure is not None else "",
            commune_name=commune.name,
        )
        for schedule, professional, structure, commune in rows
    ]
