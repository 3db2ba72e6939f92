"""The shared agenda, shaped like FHIR Schedule / Slot / Appointment (data only).

Times are stored in UTC (``UTCDateTime``); availability rules are written in Europe/Paris wall
time and expanded by ``services.agenda.recurrence``.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from cpts_app.models.types import UTCDateTime, utcnow


class SlotKind(StrEnum):
    """What a slot is for."""

    CONSULTATION = "consultation"
    UNSCHEDULED = "snp"
    """Soins non programmés: same-day care."""
    TELECONSULTATION = "teleconsultation"
    HOME_VISIT = "visite_domicile"
    MEDICOBUS = "medicobus"
    PERMANENCE = "permanence"


class Audience(StrEnum):
    """Who may see and book a slot: the national TRE_R314 codes, chosen per slot."""

    PUBLIC = "PUBLIC"
    PRO = "PRO"
    SNP = "SNP"
    CPTS = "CPTS"


class SlotStatus(StrEnum):
    """FHIR Slot.status."""

    FREE = "free"
    BUSY = "busy"
    BUSY_UNAVAILABLE = "busy-unavailable"


class AppointmentStatus(StrEnum):
    """FHIR Appointment.status (the subset a CPTS uses)."""

    BOOKED = "booked"
    FULFILLED = "fulfilled"
    NOSHOW = "noshow"
    CANCELLED = "cancelled"


class WaitingStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    CLOSED = "closed"


class Schedule(SQLModel, table=True):
    """One professional's availability at one place (a structure, or a commune for home visits)."""

    id: int | None = Field(default=None, primary_key=True)
    professional_id: int = Field(foreign_key="professional.id", index=True)
    structure_id: int | None = Field(default=None, foreign_key="structure.id", index=True)
    commune_id: int = Field(foreign_key="commune.id", index=True)
    label: str = Field(default="", max_length=200)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AvailabilityRule(SQLModel, table=True):
    """A weekly recurrence: every ``weekday`` from ``start_time`` to ``end_time``, Paris time."""

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="schedule.id", index=True)
    weekday: int = Field(ge=0, le=6)
    """Monday = 0 … Sunday = 6."""
    start_time: str = Field(max_length=5)
    """"HH:MM", Europe/Paris wall time."""
    end_time: str = Field(max_length=5)
    slot_minutes: int = Field(default=15, ge=5, le=240)
    kind: SlotKind = Field(sa_column=Column(String(20), nullable=False))
    audience: str = Field(max_length=40)
    """Comma-separated ``Audience`` codes, e.g. "PRO,SNP,CPTS"."""
    valid_from: date
    valid_until: date | None = None
    skip_public_holidays: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AvailabilityException(SQLModel, table=True):
    """A closed period of a schedule (congés, formation…): no slot is generated inside it."""

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="schedule.id", index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(default="", max_length=200)


class Tour(SQLModel, table=True):
    """A médicobus tour: days × stops in communes."""

    id: int | None = Field(default=None, primary_key=True)
    structure_id: int = Field(foreign_key="structure.id", index=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TourStop(SQLModel, table=True):
    """Where the médicobus stands on one day, and when (Paris time)."""

    __table_args__ = (UniqueConstraint("tour_id", "day", "start_time", name="uq_tourstop_day_start"),)

    id: int | None = Field(default=None, primary_key=True)
    tour_id: int = Field(foreign_key="tour.id", index=True)
    day: date = Field(index=True)
    commune_id: int = Field(foreign_key="commune.id")
    place: str = Field(default="", max_length=200)
    start_time: str = Field(max_length=5)
    end_time: str = Field(max_length=5)
    slot_minutes: int = Field(default=20, ge=5, le=240)


class Slot(SQLModel, table=True):
    """A bookable time span. Search columns are copied from the schedule for fast queries."""

    __table_args__ = (
        UniqueConstraint("schedule_id", "start", name="uq_slot_schedule_start"),
        Index("ix_slot_profession_status_start", "profession", "status", "start"),
        Index("ix_slot_professional_start", "professional_id", "start"),
        Index("ix_slot_commune_start", "commune_id", "start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="schedule.id")
    professional_id: int = Field(foreign_key="professional.id")
    profession: str = Field(max_length=40)
    commune_id: int = Field(foreign_key="commune.id")
    structure_id: int | None = Field(default=None, foreign_key="structure.id", index=True)
    start: datetime = Field(sa_type=UTCDateTime)
    end: datetime = Field(sa_type=UTCDateTime)
    kind: SlotKind = Field(sa_column=Column(String(20), nullable=False))
    audience: str = Field(max_length=40)
    status: SlotStatus = Field(default=SlotStatus.FREE, sa_column=Column(String(20), nullable=False))
    rule_id: int | None = Field(default=None, foreign_key="availabilityrule.id")
    tour_stop_id: int | None = Field(default=None, foreign_key="tourstop.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Appointment(SQLModel, table=True):
    """A booking of a slot (or, when ``extra``, outside published slots) for a patient.

    ``active_slot_id`` equals ``slot_id`` while the appointment holds the slot and is NULL once
    cancelled: its UNIQUE constraint is what makes a double booking impossible, on SQLite and on
    PostgreSQL alike, whatever two concurrent requests believe.
    """

    __table_args__ = (UniqueConstraint("active_slot_id", name="uq_appointment_active_slot"),)

    id: int | None = Field(default=None, primary_key=True)
    slot_id: int | None = Field(default=None, foreign_key="slot.id", index=True)
    active_slot_id: int | None = Field(default=None, foreign_key="slot.id")
    professional_id: int = Field(foreign_key="professional.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    start: datetime = Field(sa_type=UTCDateTime, index=True)
    end: datetime = Field(sa_type=UTCDateTime)
    status: AppointmentStatus = Field(
        default=AppointmentStatus.BOOKED, sa_column=Column(String(12), nullable=False, index=True)
    )
    reason: str = Field(default="", max_length=500)
    extra: bool = False
    """Surnuméraire: booked by a coordinator outside the published slots."""
    extra_reason: str = Field(default="", max_length=500)
    booked_by_user_id: int = Field(foreign_key="user.id")
    on_behalf_of: str = Field(default="", max_length=200)
    """Who asked for it (a pharmacy, the SAS, a referral…), as the booker typed or chose it."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: str = Field(default="", max_length=500)
    rescheduled_to_id: int | None = Field(default=None, foreign_key="appointment.id")


class WaitingListEntry(SQLModel, table=True):
    """A patient waiting for a slot of a profession in a commune; offered freed slots."""

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    profession: str = Field(max_length=40, index=True)
    commune_id: int = Field(foreign_key="commune.id", index=True)
    note: str = Field(default="", max_length=500)
    status: WaitingStatus = Field(default=WaitingStatus.WAITING, sa_column=Column(String(10), nullable=False))
    offered_slot_id: int | None = Field(default=None, foreign_key="slot.id")
    offered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by_user_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CalendarFeedToken(SQLModel, table=True):
    """The secret of a professional's iCalendar feed URL (only its SHA-256 is stored); revocable."""

    id: int | None = Field(default=None, primary_key=True)
    professional_id: int = Field(foreign_key="professional.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_by_user_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
