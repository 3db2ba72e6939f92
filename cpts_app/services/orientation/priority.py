"""The priority score of a referral, explained part by part for the coordinator's screen.

Why explained: a coordinator must be able to say why a patient is called before another; every
point of the score comes with its French reason. Why a pure function: the queue recomputes it at
each read, so that the waiting time keeps counting without any background job.

Weights (documented, tuned so that a half-day need always comes first and that a week of waiting
weighs as much as one vulnerability criterion):

========================================  ======
criterion                                  points
========================================  ======
urgency « dans la demi-journée »              50
urgency « sous 48 h »                         25
ALD / maladie chronique                       30
70 ans ou plus                                20
sortie d'hospitalisation                      25
CSS ou AME                                    15
handicap                                      15
waiting time, per full day waited              2   (capped at 30, i.e. 15 days)
========================================  ======
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from cpts_app.models.orientation import Referral, ReferralReason, Urgency
from cpts_app.models.patient import Patient
from cpts_app.services.agenda.clock import paris_day

URGENCY_POINTS: dict[Urgency, int] = {Urgency.HALF_DAY: 50, Urgency.WITHIN_48H: 25, Urgency.SCHEDULED: 0}
ALD_POINTS = 30
ELDERLY_AGE = 70
ELDERLY_POINTS = 20
HOSPITAL_DISCHARGE_POINTS = 25
LOW_INCOME_POINTS = 15
HANDICAP_POINTS = 15
WAITING_POINTS_PER_DAY = 2
WAITING_POINTS_CAP = 30

_URGENCY_PARTS: dict[Urgency, str] = {
    Urgency.HALF_DAY: "Dans la demi-journée",
    Urgency.WITHIN_48H: "Sous 48 h",
}


@dataclass(frozen=True)
class PriorityExplanation:
    """The score and its parts, e.g. ``[("ALD", 30), ("70 ans ou plus", 20)]``."""

    score: int
    parts: list[tuple[str, int]]


def age_on(birth_date: date, day: date) -> int:
    """Age in full years on ``day``."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def score_referral(referral: Referral, patient: Patient | None, *, now: datetime) -> PriorityExplanation:
    """The priority of ``referral`` at ``now`` (patient traits count once the patient is known)."""
    parts: list[tuple[str, int]] = []
    urgency_points = URGENCY_POINTS.get(Urgency(referral.urgency), 0)
    if urgency_points:
        parts.append((_URGENCY_PARTS[Urgency(referral.urgency)], urgency_points))
    if referral.reason == ReferralReason.CHRONIC_ALD or (patient is not None and patient.ald):
        parts.append(("ALD", ALD_POINTS))
    if patient is not None and age_on(patient.birth_date, paris_day(now)) >= ELDERLY_AGE:
        parts.append((f"{ELDERLY_AGE} ans ou plus", ELDERLY_POINTS))
    if referral.reason == ReferralReason.HOSPITAL_DISCHARGE:
        parts.append(("Sortie d'hospitalisation", HOSPITAL_DISCHARGE_POINTS))
    if patient is not None and (patient.css or patient.ame):
        parts.append(("CSS / AME", LOW_INCOME_POINTS))
    if patient is not None and patient.handicap:
        parts.append(("Handicap", HANDICAP_POINTS))
    days = max(0, int((now - referral.received_at).total_seconds() // 86400))
    waiting = min(WAITING_POINTS_CAP, days * WAITING_POINTS_PER_DAY)
    if waiting:
        parts.append((f"Attente {days} j", waiting))
    return PriorityExplanation(score=sum(points for _, points in parts), parts=parts)
