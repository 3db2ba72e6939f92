"""Patients, with the traits of the INS (identité nationale de santé) (data only).

The agenda needs a patient to book for; the orientation capability adds identity matching,
identity statuses and merges on top of these columns.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from cpts_app.models.types import UTCDateTime, utcnow


class Sex(StrEnum):
    """INS sex trait."""

    FEMALE = "F"
    MALE = "M"
    UNDETERMINED = "I"


class IdentityStatus(StrEnum):
    """INS identity statuses; an identity is only 'qualifiée' once validated and retrieved."""

    PROVISIONAL = "provisoire"
    RECOVERED = "recuperee"
    VALIDATED = "validee"
    QUALIFIED = "qualifiee"


class Patient(SQLModel, table=True):
    """A person the territory's professionals care for."""

    id: int | None = Field(default=None, primary_key=True)
    birth_name: str = Field(max_length=100)
    first_names: str = Field(max_length=150)
    used_name: str | None = Field(default=None, max_length=100)
    birth_date: date
    sex: Sex = Field(sa_column=Column(String(1), nullable=False))
    birthplace_insee: str | None = Field(default=None, max_length=5)
    ins_nir: str | None = Field(default=None, max_length=15, index=True)
    identity_status: IdentityStatus = Field(
        default=IdentityStatus.PROVISIONAL, sa_column=Column(String(12), nullable=False)
    )
    search_name: str = Field(default="", max_length=260, index=True)
    """Accent- and case-free "birth_name used_name first_names" for identity matching and search."""
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    commune_id: int | None = Field(default=None, foreign_key="commune.id", index=True)
    address: str = Field(default="", max_length=300)
    ald: bool = False
    css: bool = False
    ame: bool = False
    handicap: bool = False
    attending_doctor_id: int | None = Field(default=None, foreign_key="professional.id")
    """The médecin traitant, when the patient has one in the directory."""
    without_attending_doctor: bool = False
    """Explicitly 'sans médecin traitant' (the first target of a CPTS)."""
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
