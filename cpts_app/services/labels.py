"""French labels of the enumerations, shared by every page, export and message.

Why here: the stored values are English codes; users must always see the same French words.
"""

from __future__ import annotations

from cpts_app.models.access import Role
from cpts_app.models.directory import Profession, StructureKind

PROFESSION_LABELS: dict[Profession, str] = {
    Profession.GENERAL_PRACTITIONER: "Médecin généraliste",
    Profession.SPECIALIST: "Médecin spécialiste",
    Profession.NURSE: "Infirmier·ère (IDE)",
    Profession.ADVANCED_PRACTICE_NURSE: "Infirmier·ère en pratique avancée (IPA)",
    Profession.PHARMACIST: "Pharmacien·ne",
    Profession.PHYSIOTHERAPIST: "Masseur-kinésithérapeute",
    Profession.PODIATRIST: "Podologue",
    Profession.SPEECH_THERAPIST: "Orthophoniste",
    Profession.MIDWIFE: "Sage-femme",
    Profession.BIOLOGIST: "Biologiste",
    Profession.MEDICAL_ASSISTANT: "Assistant·e médical·e",
    Profession.MEDICAL_SECRETARY: "Secrétaire médical·e",
    Profession.CARE_COORDINATOR: "Coordinateur·rice de parcours",
    Profession.SOCIAL_WORKER: "Référent·e social·e",
}

STRUCTURE_KIND_LABELS: dict[StructureKind, str] = {
    StructureKind.MSP: "MSP — maison de santé pluriprofessionnelle",
    StructureKind.HEALTH_CENTRE: "Centre de santé",
    StructureKind.PRACTICE: "Cabinet",
    StructureKind.PHARMACY: "Officine (pharmacie)",
    StructureKind.LABORATORY: "Laboratoire",
    StructureKind.HOSPITAL: "Hôpital",
    StructureKind.POLE: "Pôle de santé ambulatoire",
    StructureKind.MEDICOBUS: "Médicobus",
    StructureKind.PERMANENCE: "Permanence",
    StructureKind.DAC: "DAC — dispositif d'appui à la coordination",
}

ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "Administrateur·rice",
    Role.COORDINATOR: "Coordinateur·rice",
    Role.PROFESSIONAL: "Professionnel·le de santé",
    Role.SECRETARIAT: "Secrétariat / assistant·e",
    Role.MEDICOBUS_TEAM: "Équipe médicobus",
}

NON_CLINICAL_PROFESSIONS: frozenset[Profession] = frozenset(
    {
        Profession.MEDICAL_ASSISTANT,
        Profession.MEDICAL_SECRETARY,
        Profession.CARE_COORDINATOR,
        Profession.SOCIAL_WORKER,
    }
)

CLINICAL_PROFESSIONS: frozenset[Profession] = frozenset(Profession) - NON_CLINICAL_PROFESSIONS
"""Professions registered with the RPPS or ADELI: they must carry one of these numbers."""
