"""Reading the audit trail (admins): who did what, when, from where — paged, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel import Session, func, select

from cpts_app.models.access import User
from cpts_app.models.audit import AuditEvent
from cpts_app.services import audit
from cpts_app.services.permissions import Actor, Permission, require

PARIS = ZoneInfo("Europe/Paris")
PAGE_SIZE = 25
OUTCOME_LABELS = {"success": "réussi", "failure": "échec", "denied": "refusé"}


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: str
    """Paris time, "23/11/2026 09:14:05"."""
    actor: str
    action: str
    target: str
    outcome: str
    ip: str


def list_events(
    session: Session, actor: Actor, *, action_prefix: str = "", failures_only: bool = False, page: int = 1
) -> tuple[list[AuditRow], int]:
    """One page of events and the total count; reading the trail is itself audited."""
    require(actor, Permission.READ_AUDIT)
    query = select(AuditEvent)
    count = select(func.count()).select_from(AuditEvent)
    if action_prefix:
        query = query.where(AuditEvent.action.startswith(action_prefix))  # type: ignore[attr-defined]
        count = count.where(AuditEvent.action.startswith(action_prefix))  # type: ignore[attr-defined]
    if failures_only:
        query = query.where(AuditEvent.outcome != "success")
        count = count.where(AuditEvent.outcome != "success")
    total = session.exec(count).one()
    page = max(1, min(page, max(1, -(-total // PAGE_SIZE))))
    events = session.exec(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())  # type: ignore[attr-defined, union-attr]
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    user_ids = {e.actor_user_id for e in events if e.actor_user_id is not None}
    names = {
        u.id: f"{u.display_name} ({u.email})"
        for u in session.exec(select(User).where(User.id.in_(user_ids))).all()  # type: ignore[union-attr]
    }
    rows = [
        AuditRow(
            id=e.id or 0,
            at=e.at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S"),
            actor=names.get(e.actor_user_id, "—") if e.actor_user_id else "—",
            action=e.action,
            target=f"{e.target_type} {e.target_id}" if e.target_type else "",
            outcome=OUTCOME_LABELS.get(e.outcome, e.outcome),
            ip=e.ip or "",
        )
        for e in events
    ]
    audit.record(session, "audit.read", actor=actor, detail={"page": page, "prefix": action_prefix})
    session.flush()
    return rows, total
