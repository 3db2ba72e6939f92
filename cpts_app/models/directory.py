"""The territory's directory: communes, structures and professionals (data only)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from cpts_app.models.types import UTCDateTime, utcnow


class StructureKind(StrEnum):
    """Places where professionals work (GLOSSARY: ``Structure(kind=...)``)."""

    MSP = "msp"
    HEALTH_CENTRE = "centre_sante"
    PRACTICE = "cabinet"
    PHARMACY = "officine"
    LABORATORY = "laboratoire"
    HOSPITAL = "hopital"
    POLE = "pole"
    MEDICOBUS = "medicobus"
    PERMANENCE = "permanence"
    DAC = "dac"


class Profession(StrEnum):
    """Clinical professions and the support roles of a territory."""

    GENERAL_PRACTITIONER = "medecin_generaliste"
    SPECIALIST = "medecin_specialiste"
    NURSE = "infirmier"
    ADVANCED_PRACTICE_NURSE = "ipa"
    PHARMACIST = "pharmacien"
    PHYSIOTHERAPIST = "masseur_kinesitherapeute"
    PODIATRIST = "podologue"
    SPEECH_THERAPIST = "orthophoniste"
    MIDWIFE = "sage_femme"
    BIOLOGIST = "biologiste"
    MEDICAL_ASSISTANT = "assistant_medical"
    MEDICAL_SECRETARY = "secretaire_medicale"
    CARE_COORDINATOR = "coordinateur_parcours"
    SOCIAL_WORKER = "referent_social"


class Territory(SQLModel, table=True):
    """A CPTS: the network of professionals of one territory."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    finess: str | None = Field(default=None, max_length=9)


class Commune(SQLModel, table=True):
    """A municipality, the unit of the territory (INSEE code)."""

    id: int | None = Field(default=None, primary_key=True)
    insee_code: str = Field(max_length=5, unique=True, index=True)
    postcode: str = Field(max_length=5)
    name: str = Field(max_length=120)
    territory_id: int | None = Field(default=None, foreign_key="territory.id", index=True)
    latitude: float | None = None
    longitude: float | None = None


class CommuneNeighbour(SQLModel, table=True):
    """Neighbourhood between communes; stored in both directions for simple queries."""

    commune_id: int = Field(foreign_key="commune.id", primary_key=True)
    neighbour_id: int = Field(foreign_key="commune.id", primary_key=True)


class Structure(SQLModel, table=True):
    """An MSP, cabinet, officine, pôle, médicobus, permanence… (FINESS where it applies)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    kind: StructureKind = Field(sa_column=Column(String(20), nullable=False, index=True))
    finess: str | None = Field(default=None, max_length=9, unique=True)
    commune_id: int = Field(foreign_key="commune.id", index=True)
    address: str = Field(default="", max_length=300)
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Professional(SQLModel, table=True):
    """A health professional or support member of the territory."""

    __table_args__ = (UniqueConstraint("rpps", name="uq_professional_rpps"),)

    id: int | None = Field(default=None, primary_key=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    search_name: str = Field(default="", max_length=210, index=True)
    """Accent- and case-free "last first", so that a search for "lefevre" finds "Lefèvre"."""
    profession: Profession = Field(sa_column=Column(String(40), nullable=False, index=True))
    specialty: str | None = Field(default=None, max_length=120)
    rpps: str | None = Field(default=None, max_length=11)
    adeli: str | None = Field(default=None, max_length=9)
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    accepts_new_patients: bool = Field(default=False, index=True)
    """Accepts new patients as médecin traitant (or new patients for other professions)."""
    new_patient_capacity: int = Field(default=0, ge=0)
    """How many new patients they can still take."""
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProfessionalStructure(SQLModel, table=True):
    """Where a professional works."""

    professional_id: int = Field(foreign_key="professional.id", primary_key=True)
    structure_id: int = Field(foreign_key="structure.id", primary_key=True, index=True)


class ProfessionalCommune(SQLModel, table=True):
    """The communes a professional serves."""

    professional_id: int = Field(foreign_key="professional.id", primary_key=True)
    commune_id: int = Field(foreign_key="commune.id", primary_key=True, index=True)
