"""The SAS slot search: free SNP/CPTS slots of 1 to 25 professionals as a FHIR R4 searchset Bundle.

Why here: the national Service d'Accès aux Soins aggregates same-day capacity by asking each
editor for the slots of the professionals it found (ANS guide ``ans.fhir.fr.sas``, "CPTS —
Recherche des créneaux"). Only slots whose audience includes SNP or CPTS leave the platform, and
only free ones: no patient data is ever in the answer.

Shape (from the guide, see ``fhir_sas_codes``): one Schedule per place (= our Schedule), its actors
the Practitioner and a PractitionerRole with the place as a contained Location; CPTS slots carry a
``serviceType`` TRE_R66 604 pointing (R5 extension) at a HealthcareService provided by the CPTS
Organization (FINESS with prefix 1). Ids are stable ("slot-123", "schedule-4", "practitioner-7",
"practitionerrole-4", "healthcareservice-cpts-1", "organization-cpts-1").

Assumed: an unknown but well-formed identifier is not an error — the guide calls a search that
could run a success with 0 to n matches — so the Bundle says so in an OperationOutcome entry
(``search.mode = outcome``, French diagnostics). A CPTS without FINESS is sent without identifier
(the Organization profile then warns). Médicobus slots use their schedule's place. ``_count``
caps the Slots returned; ``total`` always counts them all (no paging links).

Cost: two queries whatever the number of slots (the professionals with all their schedules, places
and CPTS; then the slots), a third only to count when ``_count`` caps the answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from cpts_app.models.agenda import Audience, Schedule, Slot, SlotKind, SlotStatus
from cpts_app.models.directory import Commune, Profession, Professional, Structure, Territory
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.agenda.access import audience_codes, audience_includes
from cpts_app.services.agenda.clock import PARIS
from cpts_app.services.fhir_sas_codes import (
    ACT_CODE_SYSTEM,
    ADELI_PREFIX,
    APPOINTMENT_REASON_SYSTEM,
    CONSULTATION_TYPES,
    CPTS_ESTABLISHMENT_CATEGORY,
    CPTS_ORGANIZATION_TYPE_SYSTEM,
    ESTABLISHMENT_CATEGORY_SYSTEM,
    FINESS_PREFIX,
    GENERAL_MEDICINE_SPECIALTY,
    IDENTIFIER_TYPE_SYSTEM,
    IDNPS_SYSTEM,
    IDNST_SYSTEM,
    ORDINAL_SPECIALTY_SYSTEM,
    PROFESSION_CODES,
    PROFESSION_SYSTEM,
    PROFILE_BUNDLE,
    PROFILE_HEALTHCARE_SERVICE,
    PROFILE_LOCATION,
    PROFILE_ORGANIZATION,
    PROFILE_PRACTITIONER,
    PROFILE_PRACTITIONER_ROLE,
    PROFILE_SCHEDULE,
    PROFILE_SLOT,
    RPPS_PREFIX,
    SERVICE_TYPE_REFERENCE_EXTENSION,
    SLOT_TYPE_LABELS,
    SLOT_TYPE_SYSTEM,
)
from cpts_app.services.fhir_sas_query import BadSearch, SasSlotQuery, parse_slot_search
from cpts_app.services.labels import PROFESSION_LABELS

__all__ = ["BadSearch", "SasSlotQuery", "operation_outcome", "parse_slot_search", "search_sas_slots"]

EXPOSED_AUDIENCES = (Audience.SNP.value, Audience.CPTS.value)
DEFAULT_SLOT_LIMIT = 5000
AGENDA_PATH = "/agenda/professionnel"


@dataclass(frozen=True)
class _SlotRow:
    id: int
    schedule_id: int
    professional_id: int
    start: datetime
    end: datetime
    kind: str
    audience: str


@dataclass(frozen=True)
class _Place:
    schedule: Schedule
    structure: Structure | None
    commune: Commune
    territory: Territory | None


def operation_outcome(message: str, code: str = "invalid", severity: str = "error") -> dict[str, Any]:
    """A FHIR OperationOutcome carrying one French diagnostic."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": message}],
    }


def search_sas_slots(
    session: Session,
    query: SasSlotQuery,
    *,
    base_url: str,
    now: datetime | None = None,
    ip: str | None = None,
) -> dict[str, Any]:
    """The searchset Bundle answering ``query``; records the ``fhir.slot.search`` audit event."""
    now = now or utcnow()
    base = base_url.rstrip("/")
    professionals, places = _professionals_and_places(session, query)
    limit = query.count or DEFAULT_SLOT_LIMIT
    slots = _slots(session, list(professionals), query, now, limit + 1)
    total = len(slots)
    if total > limit:
        slots = slots[:limit]
        total = _count_slots(session, list(professionals), query, now)
    bundle = _Builder(base, query.includes).bundle(slots, professionals, places)
    bundle.update(
        id=str(uuid.uuid4()),
        meta={"lastUpdated": _instant(now), "profile": [PROFILE_BUNDLE]},
        total=total,
        link=[{"relation": "self", "url": f"{base}/fhir/Slot?{urlencode(list(query.raw))}"}],
    )
    unknown = _unknown_identifiers(query, professionals.values())
    if unknown:
        bundle["entry"].append(
            {
                "resource": operation_outcome(
                    "Identifiant(s) inconnu(s) de la plateforme : " + ", ".join(unknown),
                    code="not-found",
                    severity="warning",
                ),
                "search": {"mode": "outcome"},
            }
        )
    audit.record(
        session,
        "fhir.slot.search",
        target_type="slot",
        ip=ip,
        detail={
            "identifiers": len(query.requested_identifiers()),
            "unknown": len(unknown),
            "from": _instant(query.start_from),
            "until": _instant(query.start_until),
            "total": total,
        },
    )
    return bundle


def _professionals_and_places(
    session: Session, query: SasSlotQuery
) -> tuple[dict[int, Professional], dict[int, _Place]]:
    """The active professionals asked for, and every schedule of theirs with its place: one query."""
    clauses = []
    if query.rpps:
        clauses.append(col(Professional.rpps).in_(query.rpps))
    if query.adeli:
        clauses.append(col(Professional.adeli).in_(query.adeli))
    statement = (
        select(Professional, Schedule, Structure, Commune, Territory)
        .outerjoin(Schedule, col(Schedule.professional_id) == col(Professional.id))
        .outerjoin(Commune, col(Commune.id) == col(Schedule.commune_id))
        .outerjoin(Structure, col(Structure.id) == col(Schedule.structure_id))
        .outerjoin(Territory, col(Territory.id) == col(Commune.territory_id))
        .where(or_(*clauses), col(Professional.active).is_(True))
    )
    professionals: dict[int, Professional] = {}
    places: dict[int, _Place] = {}
    for professional, schedule, structure, commune, territory in session.exec(statement).all():
        if professional.id is not None:
            professionals[professional.id] = professional
        if schedule is not None and schedule.id is not None and commune is not None:
            places[schedule.id] = _Place(schedule, structure, commune, territory)
    return professionals, places


def _slot_conditions(professional_ids: list[int], query: SasSlotQuery, now: datetime) -> list[Any]:
    return [
        col(Slot.professional_id).in_(professional_ids),
        col(Slot.start) >= max(query.start_from, now),
        col(Slot.start) < query.start_until,
        col(Slot.status) == SlotStatus.FREE.value,
        or_(*(audience_includes(code) for code in EXPOSED_AUDIENCES)),
    ]


def _slots(
    session: Session, professional_ids: list[int], query: SasSlotQuery, now: datetime, limit: int
) -> list[_SlotRow]:
    if not professional_ids:
        return []
    statement = (
        select(
            Slot.id, Slot.schedule_id, Slot.professional_id, Slot.start, Slot.end, Slot.kind, Slot.audience
        )
        .where(*_slot_conditions(professional_ids, query, now))
        .order_by(col(Slot.start), col(Slot.id))
        .limit(limit)
    )
    # Core rows, not ORM ones: hundreds of slots per search, and the ORM's row machinery costs.
    return [_SlotRow(*row) for row in session.connection().execute(statement).all()]


def _count_slots(session: Session, professional_ids: list[int], query: SasSlotQuery, now: datetime) -> int:
    statement = select(func.count()).select_from(Slot).where(*_slot_conditions(professional_ids, query, now))
    return int(session.exec(statement).one())


def _unknown_identifiers(query: SasSlotQuery, found: Any) -> list[str]:
    known = {RPPS_PREFIX + p.rpps for p in found if p.rpps} | {
        ADELI_PREFIX + p.adeli for p in found if p.adeli
    }
    return [identifier for identifier in query.requested_identifiers() if identifier not in known]


@lru_cache(maxsize=16384)
def _instant(moment: datetime) -> str:
    """An instant on Paris clocks ("2026-03-30T09:00:00+02:00"), as in the guide's examples.

    Cached: slots sit on a grid, so a search writes the same few dozen instants hundreds of times.
    """
    return moment.astimezone(PARIS).isoformat(timespec="seconds")


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


class _Builder:
    """Turns the rows of one search into Bundle entries (matches first, then includes, no duplicate)."""

    def __init__(self, base: str, includes: frozenset[str]) -> None:
        self.base = base
        self.includes = includes
        self.included: dict[str, dict[str, Any]] = {}
        self._parts: dict[tuple[str, str, int | None], tuple[dict[str, Any], list[Any], dict[str, Any]]] = {}

    def bundle(
        self, slots: list[_SlotRow], professionals: dict[int, Professional], places: dict[int, _Place]
    ) -> dict[str, Any]:
        matches = []
        seen_schedules: set[int] = set()
        seen_territories: set[int] = set()
        for slot in slots:
            place = places[slot.schedule_id]
            cpts_id = place.territory.id if place.territory is not None else None
            meta, service_types, appointment_type = self._slot_parts(slot.audience, slot.kind, cpts_id)
            matches.append(
                self._entry(
                    {
                        "resourceType": "Slot",
                        "id": f"slot-{slot.id}",
                        "meta": meta,
                        "serviceType": service_types,
                        "appointmentType": appointment_type,
                        "schedule": {"reference": f"Schedule/schedule-{slot.schedule_id}"},
                        "status": "free",
                        "start": _instant(slot.start),
                        "end": _instant(slot.end),
                        "comment": f"{self.base}{AGENDA_PATH}?id={slot.professional_id}",
                    },
                    "match",
                )
            )
            if slot.schedule_id not in seen_schedules:
                seen_schedules.add(slot.schedule_id)
                professional = professionals[slot.professional_id]
                self._include("schedule", self._schedule(place))
                self._include("practitioner", self._practitioner(professional))
                self._include("role", self._role(professional, place))
            if len(service_types) > 1 and place.territory is not None and cpts_id not in seen_territories:
                seen_territories.add(cpts_id)
                self._include("service", self._service(place.territory))
                self._include("organization", self._organization(place.territory))
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": matches + list(self.included.values()),
        }

    def _include(self, kind: str, resource: dict[str, Any]) -> None:
        key = f"{resource['resourceType']}/{resource['id']}"
        if kind in self.includes and key not in self.included:
            self.included[key] = self._entry(resource, "include")

    def _entry(self, resource: dict[str, Any], mode: str) -> dict[str, Any]:
        return {
            "fullUrl": f"{self.base}/fhir/{resource['resourceType']}/{resource['id']}",
            "resource": resource,
            "search": {"mode": mode},
        }

    def _slot_parts(
        self, audience: str, kind_code: str, cpts_id: int | None
    ) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
        """meta, serviceType and appointmentType of a slot: a handful of combinations, built once each.

        The parts are shared between Slots of one Bundle (it is serialised, never modified).
        """
        key = (audience, kind_code, cpts_id)
        if key not in self._parts:
            codes = audience_codes(audience)
            kind = SlotKind(kind_code)
            consultation_code, consultation_display = CONSULTATION_TYPES[kind]
            service_types: list[dict[str, Any]] = [
                {"coding": [_coding(ACT_CODE_SYSTEM, consultation_code, consultation_display)]}
            ]
            if Audience.CPTS.value in codes and cpts_id is not None:
                service_types.append(
                    {
                        "extension": [
                            {
                                "url": SERVICE_TYPE_REFERENCE_EXTENSION,
                                "valueReference": {"reference": f"HealthcareService/{_service_id(cpts_id)}"},
                            }
                        ],
                        "coding": [_coding(ESTABLISHMENT_CATEGORY_SYSTEM, CPTS_ESTABLISHMENT_CATEGORY)],
                    }
                )
            walk_in = kind is SlotKind.UNSCHEDULED
            meta = {
                "profile": [PROFILE_SLOT],
                "security": [
                    _coding(SLOT_TYPE_SYSTEM, code.value, SLOT_TYPE_LABELS[code.value])
                    for code in Audience
                    if code.value in codes
                ],
            }
            appointment_type = {
                "coding": [
                    _coding(
                        APPOINTMENT_REASON_SYSTEM,
                        "WALKIN" if walk_in else "ROUTINE",
                        "A previously unscheduled walk-in visit" if walk_in else "Routine appointment",
                    )
                ]
            }
            self._parts[key] = (meta, service_types, appointment_type)
        return self._parts[key]

    @staticmethod
    def _schedule(place: _Place) -> dict[str, Any]:
        schedule = place.schedule
        return {
            "resourceType": "Schedule",
            "id": f"schedule-{schedule.id}",
            "meta": {"profile": [PROFILE_SCHEDULE]},
            "active": schedule.active,
            "actor": [
                {"reference": f"Practitioner/practitioner-{schedule.professional_id}"},
                {"reference": f"PractitionerRole/practitionerrole-{schedule.id}"},
            ],
        }

    @staticmethod
    def _practitioner(professional: Professional) -> dict[str, Any]:
        identifiers = []
        for prefix, number in ((RPPS_PREFIX, professional.rpps), (ADELI_PREFIX, professional.adeli)):
            if number:
                identifiers.append(
                    {
                        "type": {"coding": [_coding(IDENTIFIER_TYPE_SYSTEM, "IDNPS")]},
                        "system": IDNPS_SYSTEM,
                        "value": prefix + number,
                    }
                )
        return {
            "resourceType": "Practitioner",
            "id": f"practitioner-{professional.id}",
            "meta": {"profile": [PROFILE_PRACTITIONER]},
            "identifier": identifiers,
            "name": [{"family": professional.last_name, "given": [professional.first_name]}],
        }

    @staticmethod
    def _role(professional: Professional, place: _Place) -> dict[str, Any]:
        structure, commune = place.structure, place.commune
        line = (structure.address if structure else "") or (structure.name if structure else commune.name)
        location = {
            "resourceType": "Location",
            "id": "lieu",
            "meta": {"profile": [PROFILE_LOCATION]},
            "name": structure.name if structure else f"Visites à domicile — {commune.name}",
            "address": {"line": [line], "city": commune.name, "postalCode": commune.postcode},
        }
        profession = Profession(professional.profession)
        label = PROFESSION_LABELS[profession]
        code: dict[str, Any] = {"text": label}
        if profession in PROFESSION_CODES:
            code["coding"] = [_coding(PROFESSION_SYSTEM, *PROFESSION_CODES[profession])]
        role: dict[str, Any] = {
            "resourceType": "PractitionerRole",
            "id": f"practitionerrole-{place.schedule.id}",
            "meta": {"profile": [PROFILE_PRACTITIONER_ROLE]},
            "contained": [location],
            "active": True,
            "practitioner": {"reference": f"Practitioner/practitioner-{professional.id}"},
            "code": [code],
            "location": [{"reference": "#lieu"}],
        }
        if profession is Profession.GENERAL_PRACTITIONER:
            role["specialty"] = [{"coding": [_coding(ORDINAL_SPECIALTY_SYSTEM, *GENERAL_MEDICINE_SPECIALTY)]}]
        elif professional.specialty:
            role["specialty"] = [{"text": professional.specialty}]
        if structure is not None:
            organization: dict[str, Any] = {"display": structure.name}
            if structure.finess:
                organization["identifier"] = {
                    "type": {"coding": [_coding(IDENTIFIER_TYPE_SYSTEM, "IDNST")]},
                    "system": IDNST_SYSTEM,
                    "value": FINESS_PREFIX + structure.finess,
                }
            role["organization"] = organization
            if structure.phone:
                role["telecom"] = [{"system": "phone", "value": structure.phone}]
        return role

    @staticmethod
    def _service(territory: Territory) -> dict[str, Any]:
        return {
            "resourceType": "HealthcareService",
            "id": _service_id(territory.id),
            "meta": {"profile": [PROFILE_HEALTHCARE_SERVICE]},
            "providedBy": {"reference": f"Organization/organization-cpts-{territory.id}"},
            "name": territory.name,
        }

    @staticmethod
    def _organization(territory: Territory) -> dict[str, Any]:
        organization: dict[str, Any] = {
            "resourceType": "Organization",
            "id": f"organization-cpts-{territory.id}",
            "meta": {"profile": [PROFILE_ORGANIZATION]},
            "name": territory.name,
        }
        if territory.finess:
            organization["identifier"] = [
                {
                    "type": {"coding": [_coding(CPTS_ORGANIZATION_TYPE_SYSTEM, "IDNST")]},
                    "system": IDNST_SYSTEM,
                    "value": FINESS_PREFIX + territory.finess,
                }
            ]
        return organization


def _service_id(territory_id: int | None) -> str:
    return f"healthcareservice-cpts-{territory_id}"
