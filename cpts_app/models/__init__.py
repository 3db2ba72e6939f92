"""SQLModel tables, one module per domain. Importing this package registers every table."""

from cpts_app.models.access import LoginThrottle, Role, User, UserSession
from cpts_app.models.audit import AuditEvent
from cpts_app.models.directory import (
    Commune,
    CommuneNeighbour,
    Profession,
    Professional,
    ProfessionalCommune,
    ProfessionalStructure,
    Structure,
    StructureKind,
    Territory,
)

__all__ = [
    "AuditEvent",
    "Commune",
    "CommuneNeighbour",
    "LoginThrottle",
    "Profession",
    "Professional",
    "ProfessionalCommune",
    "ProfessionalStructure",
    "Role",
    "Structure",
    "StructureKind",
    "Territory",
    "User",
    "UserSession",
]
