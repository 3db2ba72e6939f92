"""The coordinator's queue and the referring professional's « mes demandes ».

Why the priority is recomputed at read time: the score grows with waiting time, so the stored
``priority_score`` (set at creation) would grow stale; the open referrals of one pôle are a few
hundred at most, so they are scored and sorted in Python after one query.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from cpts_app.models.orientation import Referral, ReferralReason, ReferralStatus
from cpts_app.models.patient import Patient
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.errors import ValidationFailed
from cpts_app.services.orientation.access import require_coordinator, require_referrer
from cpts_app.services.orientation.detail import ReferralDetail, get_referral
from cpts_app.services.orientation.items import QueueItem, build_items
from cpts_app.services.orientation.labels import OPEN_STATUSES
from cpts_app.services.permissions import Actor

__all__ = ["QueueItem", "ReferralDetail", "coordinator_queue", "get_referral", "my_referrals"]

MAX_PAGE_SIZE = 100
BAD_STATUS = "Ce statut n'existe pas."
BAD_REASON_FILTER = "Ce motif n'existe pas."


def coordinator_queue(
    session: Session,
    actor: Actor,
    *,
    status: str = "",
    commune_id: int | None = None,
    reason: str = "",
    page: int = 1,
    page_size: int = 20,
    now: datetime | None = None,
) -> tuple[list[QueueItem], int]:
    """One page of the queue (open referrals by default), by priority then age; and the total."""
    require_coordinator(actor)
    now = now or utcnow()
    errors: dict[str, str] = {}
    statuses: set[str]
    if status:
        if status not in {s.value for s in ReferralStatus}:
            errors["status"] = BAD_STATUS
        statuses = {status}
    else:
        statuses = {s.value for s in OPEN_STATUSES}
    if reason and reason not in {r.value for r in ReferralReason}:
        errors["reason"] = BAD_REASON_FILTER
    if errors:
        raise ValidationFailed(errors)
    query = (
        select(Referral, Patient)
        .outerjoin(Patient, col(Patient.id) == Referral.patient_id)
        .where(col(Referral.status).in_(statuses))
    )
    if commune_id is not None:
        query = query.where(col(Referral.commune_id) == commune_id)
    if reason:
        query = query.where(col(Referral.reason) == reason)
    rows = list(session.exec(query).all())
    items = build_items(session, rows, now)  # type: ignore[arg-type]
    received = {referral.id: referral.received_at for referral, _ in rows}
    items.sort(key=lambda item: (-item.priority, received[item.id], item.id))
    size = max(1, min(page_size, MAX_PAGE_SIZE))
    start = (max(1, page) - 1) * size
    page_items = items[start : start + size]
    audit.record(
        session,
        "referral.queue.read",
        actor=actor,
        target_type="referral",
        detail={
            "status": status,
            "commune_id": commune_id,
            "reason": reason,
            "page": page,
            "shown": [item.id for item in page_items],
            "total": len(items),
        },
    )
    return page_items, len(items)


def my_referrals(session: Session, actor: Actor, *, now: datetime | None = None) -> list[QueueItem]:
    """The referrals the actor made, newest first, with their status (nothing of anyone else's)."""
    require_referrer(actor)
    now = now or utcnow()
    rows = list(
        session.exec(
            select(Referral, Patient)
            .outerjoin(Patient, col(Patient.id) == Referral.patient_id)
            .where(col(Referral.referrer_user_id) == actor.user_id)
            .order_by(col(Referral.received_at).desc(), col(Referral.id).desc())
        ).all()
    )
    items = build_items(session, rows, now)  # type: ignore[arg-type]
    audit.record(
        session,
        "referral.mine.read",
        actor=actor,
        target_type="referral",
        detail={"shown": [item.id for item in items]},
    )
    return items
