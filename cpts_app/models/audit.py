"""The audit trail: one row per sensitive action, never updated (data only)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from cpts_app.models.types import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """Who did what to which record, when, from where, and whether it was allowed."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    action: str = Field(max_length=60, index=True)
    """Dotted verb, e.g. ``auth.sign_in``, ``directory.professional.update``."""
    target_type: str | None = Field(default=None, max_length=40)
    target_id: str | None = Field(default=None, max_length=64)
    outcome: str = Field(default="success", max_length=12)
    """``success``, ``failure`` or ``denied``."""
    ip: str | None = Field(default=None, max_length=64)
    detail: str = Field(default="{}")
    """JSON; never holds a password, a token or health data in clear."""
