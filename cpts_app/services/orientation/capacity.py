"""The pôle's monthly intake capacity (seed 000: 150 new patients a month) and its gauge.

Why counted from the referrals: a patient « orienté » this calendar month (Paris) is one place
taken, whichever way (appointment or médecin traitant); one patient oriented twice counts once.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from cpts_app.models.orientation import OrientationSettings, Referral
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.agenda.clock import paris_at, paris_day
from cpts_app.services.errors import ValidationFailed
from cpts_app.services.orientation.access import require_capacity_editor, require_capacity_reader
from cpts_app.services.permissions import Actor

DEFAULT_MONTHLY_CAPACITY = 150
MAX_MONTHLY_CAPACITY = 100_000


def month_bounds(day: date) -> tuple[datetime, datetime]:
    """[first day 00:00, first day of next month 00:00) of ``day``'s month in Paris, as UTC."""
    first = day.replace(day=1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return paris_at(first), paris_at(following)


def current_capacity(session: Session) -> int:
    """The configured monthly capacity (150 when never set)."""
    row = session.exec(select(OrientationSettings).order_by(col(OrientationSettings.id))).first()
    return row.monthly_capacity if row is not None else DEFAULT_MONTHLY_CAPACITY


def oriented_patients(session: Session, start: datetime, end: datetime) -> int:
    """Distinct patients whose referral was oriented in [start, end)."""
    count = session.exec(
        select(func.count(func.distinct(Referral.patient_id))).where(
            col(Referral.oriented_at) >= start,
            col(Referral.oriented_at) < end,
            col(Referral.patient_id).is_not(None),
        )
    ).one()
    return int(count or 0)


def monthly_capacity_gauge(session: Session, actor: Actor, *, now: datetime | None = None) -> tuple[int, int]:
    """(patients oriented this month, monthly capacity)."""
    require_capacity_reader(actor)
    now = now or utcnow()
    start, end = month_bounds(paris_day(now))
    used = oriented_patients(session, start, end)
    capacity = current_capacity(session)
    audit.record(
        session,
        "referral.capacity.read",
        actor=actor,
        target_type="orientation_settings",
        detail={"used": used, "capacity": capacity},
    )
    return used, capacity


def set_monthly_capacity(session: Session, actor: Actor, value: int) -> None:
    """Change the pôle's monthly capacity (administrator or coordinator)."""
    require_capacity_editor(actor)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_MONTHLY_CAPACITY:
        raise ValidationFailed(
            {"monthly_capacity": f"Indiquez un nombre entier entre 0 et {MAX_MONTHLY_CAPACITY}."}
        )
    row = session.exec(select(OrientationSettings).order_by(col(OrientationSettings.id))).first()
    previous = row.monthly_capacity if row is not None else DEFAULT_MONTHLY_CAPACITY
    if row is None:
        row = OrientationSettings(monthly_capacity=value)
    else:
        row.monthly_capacity = value
    session.add(row)
    session.flush()
    audit.record(
        session,
        "referral.capacity.update",
        actor=actor,
        target_type="orientation_settings",
        target_id=row.id,
        detail={"from": previous, "to": value},
    )
