"""Field laptops (médicobus, permanences) enrolled for offline work and synchronisation.

Why an enrolment code then a public key: the laptop makes its Ed25519 key itself and only the
public half ever reaches the server; the admin hands the laptop a short-lived one-time code (only
its hash is stored) that binds the key to the scope chosen for it. Revocation is a date, never a
deletion: the device's past batches stay attributable in the audit trail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
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


class SyncRecord(SQLModel, table=True):
    """The server's copy of a record laptops hold offline, field by field, sealed.

    ``body`` is one envelope (``services.crypto.seal``) of the JSON map field → [value, version,
    hlc, origin]: the merge needs per-field versions and clocks, and the whole map must stay
    encrypted at rest like every health datum on the server. ``tour_id``/``structure_id`` are the
    scope a device must have to receive it.
    """

    __tablename__ = "sync_record"
    __table_args__ = (UniqueConstraint("tbl", "record_id", name="uq_sync_record_tbl_rid"),)

    id: int | None = Field(default=None, primary_key=True)
    tbl: str = Field(max_length=20)
    record_id: str = Field(max_length=64)
    version: int = 0
    deleted: bool = False
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    tour_id: int | None = Field(default=None, foreign_key="tour.id", index=True)
    structure_id: int | None = Field(default=None, foreign_key="structure.id", index=True)
    last_seq: int = Field(default=0, index=True)
    domain_id: int | None = None
    last_origin: str | None = Field(default=None, max_length=32)
    """The device whose clean edit made the current state: its next pull need not bring it back."""
    """The server-side row it became: a ``Patient`` for a patient, an ``Appointment`` for a booking."""
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SyncChange(SQLModel, table=True):
    """The change feed: one row per applied change, numbered in commit order.

    ``seq`` is handed out under the ``SyncCounter`` row lock, so a puller that has read up to N
    can never later find a smaller number committed behind it. ``previous_tour_id`` lets the feed
    tell a laptop to purge a record that left its tour.
    """

    __tablename__ = "sync_change"

    seq: int = Field(primary_key=True)
    tbl: str = Field(max_length=20)
    record_id: str = Field(max_length=64)
    tour_id: int | None = Field(default=None, index=True)
    structure_id: int | None = Field(default=None, index=True)
    previous_tour_id: int | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SyncCounter(SQLModel, table=True):
    """One row: the last ``SyncChange.seq`` and the server's last HLC (locked while applying)."""

    __tablename__ = "sync_counter"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = 0
    last_hlc: str = Field(default="", max_length=90)


class SyncTourDigest(SQLModel, table=True):
    """A fingerprint of a tour's published slots: a pull re-reads the agenda only when it changed."""

    __tablename__ = "sync_tour_digest"

    tour_id: int = Field(primary_key=True, foreign_key="tour.id")
    digest: str = Field(max_length=64)


class SyncConflict(SQLModel, table=True):
    """A value that lost a field-level merge, kept sealed until a coordinator reviews it."""

    __tablename__ = "sync_conflict"

    id: int | None = Field(default=None, primary_key=True)
    tbl: str = Field(max_length=20)
    record_id: str = Field(max_length=64, index=True)
    field: str = Field(max_length=40)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    """Sealed JSON {kept, discarded, kept_hlc, discarded_hlc}."""
    reason: str = Field(max_length=300)
    device_id: str | None = Field(default=None, max_length=32)
    tour_id: int | None = Field(default=None, index=True)
    structure_id: int | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    resolved_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    resolution: str = Field(default="", max_length=20)
    """``kept`` (the merged value stays) or ``restored`` (the discarded value was written back)."""


class SyncRejection(SQLModel, table=True):
    """An operation the server refused (a slot given away meanwhile…), kept for the laptop's screen."""

    __tablename__ = "sync_rejection"

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(max_length=32, index=True)
    op_id: str = Field(max_length=32, unique=True)
    tbl: str = Field(max_length=20)
    record_id: str = Field(max_length=64)
    reason: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
