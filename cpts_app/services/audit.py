"""Audit events: written in the same transaction as the action they record."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from cpts_app.models.audit import AuditEvent
from cpts_app.services.permissions import Actor


def record(
    session: Session,
    action: str,
    *,
    actor: Actor | None = None,
    actor_user_id: int | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    outcome: str = "success",
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to ``session`` (the caller commits it with the action)."""
    event = AuditEvent(
        action=action,
        actor_user_id=actor.user_id if actor is not None else actor_user_id,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        outcome=outcome,
        ip=ip if ip is not None else (actor.ip if actor is not None else None),
        detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
    )
    session.add(event)
    return event
