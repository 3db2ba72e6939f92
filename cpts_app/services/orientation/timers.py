"""The commitments' timers: first contact within 48 h; half-day needs (SNP) served in the half-day.

Why one place: the queue's red flags and the indicators must use the same deadlines. A half-day
need is « servie » when the referral is oriented before the end of the Paris half-day of its
receipt (13:00, or midnight for the afternoon, as in ``agenda.clock``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cpts_app.models.orientation import Referral, ReferralReason, Urgency
from cpts_app.services.agenda.clock import PARIS, half_day_end
from cpts_app.services.orientation.labels import TERMINAL_STATUSES

FIRST_CONTACT_DELAY = timedelta(hours=48)


@dataclass(frozen=True)
class Deadline:
    label: str
    overdue: bool


def is_half_day_need(referral: Referral) -> bool:
    """Soins non programmés, or an urgency « dans la demi-journée »."""
    return referral.urgency == Urgency.HALF_DAY or referral.reason == ReferralReason.UNSCHEDULED_CARE


def served_in_half_day(referral: Referral) -> bool:
    """Whether a half-day need was oriented before the end of its half-day."""
    return referral.oriented_at is not None and referral.oriented_at <= half_day_end(referral.received_at)


def _short(moment: datetime) -> str:
    return f"{moment.astimezone(PARIS):%d/%m %H:%M}"


def deadline(referral: Referral, now: datetime) -> Deadline:
    """The label of the next commitment and whether it is missed (only while still pending)."""
    terminal = referral.status in TERMINAL_STATUSES
    if is_half_day_need(referral):
        due = half_day_end(referral.received_at)
        if referral.oriented_at is not None:
            word = "Servie dans la demi-journée" if served_in_half_day(referral) else "Servie en retard"
            return Deadline(f"{word} ({_short(referral.oriented_at)})", overdue=False)
        return Deadline(f"À servir avant le {_short(due)}", overdue=not terminal and now > due)
    due = referral.received_at + FIRST_CONTACT_DELAY
    if referral.first_contact_at is not None:
        return Deadline(f"Premier contact le {_short(referral.first_contact_at)}", overdue=False)
    return Deadline(f"Premier contact avant le {_short(due)}", overdue=not terminal and now > due)
