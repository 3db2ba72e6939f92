"""A professional's agenda as an iCalendar feed behind a secret, revocable URL.

Why a token and not a session: calendar clients (Thunderbird, Apple, Google, Outlook) poll a plain
URL without cookies. The URL's secret is the only credential, so only its SHA-256 is stored, a new
one revokes the previous, and it can be revoked at once.

No health data: a feed leaves the platform (synced to phones and cloud calendars), so an event says
"Rendez-vous — <kind>" and never who the patient is, nor the reason. Times are written with
TZID=Europe/Paris and a VTIMEZONE, so clients show the right hour across the clock changes.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event, Timezone
from sqlmodel import Session, col, select

from cpts_app.models.agenda import (
    Appointment,
    AppointmentStatus,
    CalendarFeedToken,
    Slot,
    SlotKind,
    SlotStatus,
)
from cpts_app.models.directory import Professional
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.agenda.clock import PARIS
from cpts_app.services.agenda.labels import SLOT_KIND_LABELS
from cpts_app.services.errors import NotFound, PermissionDenied
from cpts_app.services.permissions import Actor, Permission, has_permission

PRODID = "-//CPTS//Agenda partagé//FR"
TIMEZONE = "Europe/Paris"
EXTRA_LABEL = "Surnuméraire"


def hash_feed_token(token: str) -> str:
    """The stored form of a feed secret."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed_token(session: Session, actor: Actor, professional_id: int) -> str:
    """A new secret for the professional's feed (shown once); the previous one stops working."""
    _require_own_or_manager(actor, professional_id)
    if session.get(Professional, professional_id) is None:
        raise NotFound("Professionnel introuvable.")
    revoked = _revoke(session, professional_id)
    token = secrets.token_urlsafe(32)
    session.add(
        CalendarFeedToken(
            professional_id=professional_id,
            token_hash=hash_feed_token(token),
            created_by_user_id=actor.user_id,
        )
    )
    session.flush()
    audit.record(
        session,
        "agenda.feed.create",
        actor=actor,
        target_type="professional",
        target_id=professional_id,
        detail={"revoked_previous": revoked},
    )
    return token


def revoke_feed_tokens(session: Session, actor: Actor, professional_id: int) -> int:
    """Revoke every active feed URL of the professional; how many were active."""
    _require_own_or_manager(actor, professional_id)
    revoked = _revoke(session, professional_id)
    audit.record(
        session,
        "agenda.feed.revoke",
        actor=actor,
        target_type="professional",
        target_id=professional_id,
        detail={"revoked": revoked},
    )
    return revoked


def feed_for_token(
    session: Session,
    token: str,
    *,
    now: datetime | None = None,
    days_back: int = 30,
    days_ahead: int = 90,
    include_free_snp_slots: bool = True,
) -> bytes | None:
    """The iCalendar body of the feed ``token`` opens, or None when unknown or revoked."""
    row = session.exec(
        select(CalendarFeedToken).where(
            CalendarFeedToken.token_hash == hash_feed_token(token),
            col(CalendarFeedToken.revoked_at).is_(None),
        )
    ).first()
    if row is None:
        return None
    professional = session.get(Professional, row.professional_id)
    if professional is None:
        return None
    now = now or utcnow()
    since, until = now - timedelta(days=days_back), now + timedelta(days=days_ahead)
    calendar = _calendar(professional, since.astimezone(PARIS).date(), until.astimezone(PARIS).date())
    appointments = session.exec(
        select(Appointment, Slot.kind)
        .outerjoin(Slot, col(Slot.id) == col(Appointment.slot_id))
        .where(
            Appointment.professional_id == professional.id,
            col(Appointment.start) >= since,
            col(Appointment.start) < until,
        )
        .order_by(col(Appointment.start), col(Appointment.id))
    ).all()
    for appointment, kind in appointments:
        calendar.add_component(_appointment_event(appointment, kind, now))
    if include_free_snp_slots:
        free_slots = session.exec(
            select(Slot)
            .where(
                Slot.professional_id == professional.id,
                col(Slot.start) >= max(since, now),
                col(Slot.start) < until,
                col(Slot.status) == SlotStatus.FREE.value,
                col(Slot.kind) == SlotKind.UNSCHEDULED.value,
            )
            .order_by(col(Slot.start), col(Slot.id))
        ).all()
        for slot in free_slots:
            calendar.add_component(_free_slot_event(slot, now))
    audit.record(
        session,
        "agenda.feed.read",
        target_type="professional",
        target_id=professional.id,
        detail={"professional_id": professional.id, "events": len(appointments)},
    )
    return calendar.to_ical()


def _require_own_or_manager(actor: Actor, professional_id: int) -> None:
    if has_permission(actor, Permission.MANAGE_ANY_AVAILABILITY):
        return
    if actor.professional_id == professional_id and has_permission(actor, Permission.VIEW_AGENDA):
        return
    raise PermissionDenied(
        "Accès refusé : seul·e le·la professionnel·le ou la coordination gère ce lien d'agenda."
    )


def _revoke(session: Session, professional_id: int) -> int:
    active = session.exec(
        select(CalendarFeedToken).where(
            CalendarFeedToken.professional_id == professional_id, col(CalendarFeedToken.revoked_at).is_(None)
        )
    ).all()
    moment = utcnow()
    for row in active:
        row.revoked_at = moment
        session.add(row)
    session.flush()
    return len(active)


def _calendar(professional: Professional, first: date, last: date) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Agenda CPTS — {professional.first_name} {professional.last_name}")
    calendar.add("x-wr-timezone", TIMEZONE)
    calendar.add_component(
        Timezone.from_tzid(
            TIMEZONE, first_date=first - timedelta(days=366), last_date=last + timedelta(days=366)
        )
    )
    return calendar


def _appointment_event(appointment: Appointment, kind: str | None, now: datetime) -> Event:
    label = SLOT_KIND_LABELS[SlotKind(kind)] if kind else EXTRA_LABEL
    cancelled = appointment.status == AppointmentStatus.CANCELLED
    event = Event()
    event.add("uid", f"appointment-{appointment.id}@cpts")
    event.add("dtstamp", now)
    event.add("dtstart", appointment.start.astimezone(PARIS))
    event.add("dtend", appointment.end.astimezone(PARIS))
    event.add("summary", f"Rendez-vous — {label}")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("last-modified", appointment.updated_at)
    event.add("sequence", 1 if cancelled else 0)
    return event


def _free_slot_event(slot: Slot, now: datetime) -> Event:
    event = Event()
    event.add("uid", f"slot-{slot.id}@cpts")
    event.add("dtstamp", now)
    event.add("dtstart", slot.start.astimezone(PARIS))
    event.add("dtend", slot.end.astimezone(PARIS))
    event.add("summary", "Créneau SNP libre")
    event.add("status", "TENTATIVE")
    event.add("transp", "TRANSPARENT")
    return event
