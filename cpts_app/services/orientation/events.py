"""The timestamped steps of a referral (``ReferralEvent``), written with every change of status.

Why one helper: the indicators are computed from these rows, so every module must write them the
same way (same clock, same previous status).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from cpts_app.models.orientation import Referral, ReferralEvent, ReferralStatus


def add_event(
    session: Session,
    referral: Referral,
    to_status: ReferralStatus,
    *,
    at: datetime,
    from_status: str = "",
    reason: str = "",
    user_id: int | None = None,
) -> ReferralEvent:
    """Record a step of ``referral`` (which must have an id) at ``at``."""
    assert referral.id is not None
    event = ReferralEvent(
        referral_id=referral.id,
        at=at,
        from_status=from_status,
        to_status=to_status.value,
        reason=reason[:500],
        user_id=user_id,
    )
    session.add(event)
    return event
