"""The systems, codes and profiles of the SAS slot search (ANS IG ``ans.fhir.fr.sas``, CPTS flow).

Why one module: every URL below is checked by the SAS validator; one typo and the national platform
drops our slots. Sources (IG repository ansforge/IG-fhir-service-acces-aux-soins, 2026 snapshot):
``input/pagecontent/specifications_techniques-cpts-recherche_creneaux.md`` (nomenclatures, profile
URLs, FINESS prefix), ``input/pagecontent/faq.md`` (identifier prefixes, IDNPS/IDNST types, one
Schedule per PractitionerRole, Location contained), ``input/fsh/profiles/**`` and
``input/fsh/examples/CPTS/*`` (slot example with TRE_R66 604 and the R5 serviceType extension).

Assumed, not in the guide: the TRE_G15 profession codes on ``PractitionerRole.code`` (the MOS
nomenclature the French profiles bind) and where a profession has none (biologists, support roles)
only the French label is sent as ``text``.
"""

from __future__ import annotations

from cpts_app.models.agenda import SlotKind
from cpts_app.models.directory import Profession

IDNPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
"""National identifier of health professionals: "8" + RPPS or "0" + ADELI."""
IDNST_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"
"""National identifier of structures: "1" + FINESS (also 3 SIRET, 4 RPPS rang, 0 ADELI rang)."""
RPPS_PREFIX = "8"
ADELI_PREFIX = "0"
FINESS_PREFIX = "1"

IDENTIFIER_TYPE_SYSTEM = "http://interopsante.org/fhir/CodeSystem/fr-v2-0203"
"""IDNPS / IDNST types as fixed by FrPractitionerAgregateur and the FAQ."""
CPTS_ORGANIZATION_TYPE_SYSTEM = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
"""The CPTS Organization profile (sas-cpts-organization-aggregator) binds IDNST to FR Core's copy."""

SLOT_TYPE_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"
"""TRE_R314 TypeCreneau: PUBLIC, PRO, SNP, CPTS, carried in ``Slot.meta.security``."""
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
APPOINTMENT_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0276"
ESTABLISHMENT_CATEGORY_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement"
)
CPTS_ESTABLISHMENT_CATEGORY = "604"
SERVICE_TYPE_REFERENCE_EXTENSION = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"
ORDINAL_SPECIALTY_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
)
GENERAL_MEDICINE_SPECIALTY = ("SM54", "Médecine générale (SM)")
PROFESSION_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"

PROFILE_BUNDLE = "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-bundle-aggregator"
PROFILE_SLOT = "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-slot-aggregator"
PROFILE_SCHEDULE = "http://sas.fr/fhir/StructureDefinition/FrScheduleAgregateur"
PROFILE_PRACTITIONER = "http://sas.fr/fhir/StructureDefinition/FrPractitionerAgregateur"
PROFILE_PRACTITIONER_ROLE = "http://sas.fr/fhir/StructureDefinition/FrPractitionerRoleExerciceAgregateur"
PROFILE_LOCATION = "http://sas.fr/fhir/StructureDefinition/FrLocationAgregateur"
PROFILE_HEALTHCARE_SERVICE = (
    "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-healthcareservice-aggregator"
)
PROFILE_ORGANIZATION = (
    "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-cpts-organization-aggregator"
)

SLOT_TYPE_LABELS: dict[str, str] = {
    "PUBLIC": "Créneau accessible par le grand public",
    "PRO": "Créneau accessible par les professionnels de santé",
    "SNP": "Créneau accessible par les Régulateurs et Organisateurs de Soins Non Programmés",
    "CPTS": "Créneau accessible par les CPTS",
}

CONSULTATION_TYPES: dict[SlotKind, tuple[str, str]] = {
    SlotKind.CONSULTATION: ("AMB", "ambulatory"),
    SlotKind.UNSCHEDULED: ("AMB", "ambulatory"),
    SlotKind.MEDICOBUS: ("AMB", "ambulatory"),
    SlotKind.PERMANENCE: ("AMB", "ambulatory"),
    SlotKind.HOME_VISIT: ("HH", "home health"),
    SlotKind.TELECONSULTATION: ("VR", "virtual"),
}
"""ActEncounterCode: AMB au cabinet, HH à domicile, VR téléconsultation (the three the SAS reads)."""

PROFESSION_CODES: dict[Profession, tuple[str, str]] = {
    Profession.GENERAL_PRACTITIONER: ("10", "Médecin"),
    Profession.SPECIALIST: ("10", "Médecin"),
    Profession.PHARMACIST: ("21", "Pharmacien"),
    Profession.MIDWIFE: ("50", "Sage-Femme"),
    Profession.NURSE: ("60", "Infirmier"),
    Profession.ADVANCED_PRACTICE_NURSE: ("60", "Infirmier"),
    Profession.PHYSIOTHERAPIST: ("70", "Masseur-Kinésithérapeute"),
    Profession.PODIATRIST: ("80", "Pédicure-Podologue"),
    Profession.SPEECH_THERAPIST: ("91", "Orthophoniste"),
}
"""TRE_G15 ProfessionSante (assumed mapping; a biologist is a médecin or a pharmacien: text only)."""
