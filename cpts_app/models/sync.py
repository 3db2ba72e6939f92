"""Field laptops (médicobus, permanences) enrolled for offline work and synchronisation.

Why an enrolment code then a public key: the laptop makes its Ed25519 key itself and only the
public half ever reaches the server; the admin hands the laptop a short-lived one-time code (only
its hash is stored) that binds the key to the scope chosen for it. Revocation is a date, never a
deletion: the device's past batches stay attributable in the audit trail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from cpts_app.models.types import UTCDateTime, utcnow


class SyncDevice(SQLModel, table=True):
    __tablename__ = "sync_device"

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(max_length=32, unique=True, index=True)
    """Public identifier (32 hex) the laptop sends with every batch."""
    label: str = Field(max_length=120)
    user_id: int = Field(foreign_key="user.id", index=True)
    """The account the laptop works for (its permissions bound what it may sync)."""
    tour_id: int | None = Field(default=None, foreign_key="tour.id", index=True)
    """Scope: the médicobus tour (its communes, its agenda, its patients); None = a permanence
    scoped by its structure."""
    structure_id: int | None = Field(default=None, foreign_key="structure.id", index=True)
    lease_days: int = 7
    """A laptop that has not synced for this many days cannot be unlocked."""
    scope_epoch: int = 1
    """Bumped when the scope changes: the next pull tells the laptop what to purge."""
    public_key: bytes | None = Field(
        default=None, sa_column=Column(LargeBinary(32), unique=True, nullable=True)
    )
    enrolment_code_hash: str | None = Field(default=None, max_length=64, unique=True)
    enrolment_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by_user_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    enrolled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    revoked_reason: str | None = Field(default=None, max_length=300)
    wiped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the revoked laptop confirmed it erased its keys and data."""
    last_contact_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_seq: int = 0
    """Highest contiguous outbox sequence number of the device the server has processed."""
