"""Users, their server-side sessions and the sign-in throttle (data only)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from cpts_app.models.types import UTCDateTime, utcnow


class Role(StrEnum):
    """What a user may do; permissions per role live in ``services.permissions``."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    PROFESSIONAL = "professional"
    SECRETARIAT = "secretariat"
    MEDICOBUS_TEAM = "medicobus_team"


class User(SQLModel, table=True):
    """Someone who signs in. Linked to a ``Professional`` when they are one."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    """Stored normalised (lower case, trimmed)."""
    password_hash: str = Field(max_length=255)
    """Argon2id in PHC string format."""
    role: Role = Field(sa_column=Column(String(20), nullable=False))
    display_name: str = Field(max_length=200)
    professional_id: int | None = Field(default=None, foreign_key="professional.id")
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserSession(SQLModel, table=True):
    """A signed-in browser. Only the SHA-256 of the cookie's secret is stored."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    """Absolute expiry; the idle expiry is computed from ``last_seen_at``."""
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per e-mail (hashed, existing or not), for slow-down and temporary lock."""

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    failures: int = Field(default=0)
    window_started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
