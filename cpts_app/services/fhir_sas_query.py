"""Reading the SAS slot search parameters (flow "CPTS — Recherche des créneaux" of the ANS guide).

Why strict: the SAS platform sends a fixed query; anything else is a mistake the caller must see
at once (a 400 OperationOutcome with a French diagnostic), not a silently wider or empty search.
The guide's query is
``start=ge…&start=le…&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|8<RPPS>,…
&status=free&_include=Slot:schedule&_include:iterate=Schedule:actor
&_include=Slot:service-type-reference&_include:iterate=HealthcareService:organization``.

Choices beyond the guide: ``gt``/``lt`` are accepted as well as ``ge``/``le``; a date alone means
the Paris day; a time without an offset is refused (ambiguous); ``status`` may be omitted (only
``free`` is served); identifiers without their prefix are understood (the FAQ asks editors to
match "quel que soit le format"); a window longer than 31 days is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cpts_app.services.agenda.clock import paris_at
from cpts_app.services.errors import DomainError
from cpts_app.services.fhir_sas_codes import ADELI_PREFIX, IDNPS_SYSTEM, RPPS_PREFIX
from cpts_app.services.identifiers import validate_adeli, validate_rpps

MAX_PRACTITIONERS = 25
MAX_WINDOW = timedelta(days=31)
MAX_COUNT = 5000
IDENTIFIER_PARAMETER = "schedule.actor:Practitioner.identifier"

INCLUDES: dict[str, frozenset[str]] = {
    "Slot:schedule": frozenset({"schedule"}),
    "Schedule:actor": frozenset({"practitioner", "role"}),
    "Schedule:actor:Practitioner": frozenset({"practitioner"}),
    "Schedule:actor:PractitionerRole": frozenset({"role"}),
    "Slot:service-type-reference": frozenset({"service"}),
    "HealthcareService:organization": frozenset({"organization"}),
}
"""Accepted ``_include`` / ``_include:iterate`` values → the resources they add to the Bundle."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$")
_DECODED_PLUS = re.compile(r" (\d{2}:\d{2})$")
_FORMATS = frozenset({"json", "application/json", "application/fhir+json", "application/json+fhir"})


class BadSearch(DomainError):
    """A malformed or unsupported SAS search (French message, sent back in an OperationOutcome)."""


@dataclass(frozen=True)
class SasSlotQuery:
    """A checked search: a UTC window, the professionals' numbers and what to include."""

    start_from: datetime
    """Inclusive lower bound of Slot.start (UTC)."""
    start_until: datetime
    """Exclusive upper bound of Slot.start (UTC)."""
    rpps: tuple[str, ...]
    adeli: tuple[str, ...]
    includes: frozenset[str]
    count: int | None = None
    raw: tuple[tuple[str, str], ...] = ()

    def requested_identifiers(self) -> tuple[str, ...]:
        """The prefixed national identifiers asked for ("8" + RPPS, "0" + ADELI)."""
        return tuple(RPPS_PREFIX + n for n in self.rpps) + tuple(ADELI_PREFIX + n for n in self.adeli)


def parse_slot_search(params: list[tuple[str, str]]) -> SasSlotQuery:
    """The query of ``GET /fhir/Slot``; raises ``BadSearch`` with a French diagnostic."""
    lower: tuple[datetime, bool] | None = None
    upper: tuple[datetime, bool] | None = None
    rpps: list[str] = []
    adeli: list[str] = []
    includes: set[str] = set()
    count: int | None = None
    for key, value in params:
        value = value.strip()
        if key == "start":
            bound, is_lower = _start_bound(value)
            if is_lower:
                if lower is not None:
                    raise BadSearch(
                        "Le paramètre start avec le préfixe ge (ou gt) ne doit être donné qu'une fois."
                    )
                lower = bound
            else:
                if upper is not None:
                    raise BadSearch(
                        "Le paramètre start avec le préfixe le (ou lt) ne doit être donné qu'une fois."
                    )
                upper = bound
        elif key == IDENTIFIER_PARAMETER:
            for token in value.split(","):
                _add_identifier(token.strip(), rpps, adeli)
        elif key == "status":
            if {v.strip() for v in value.split(",")} != {"free"}:
                raise BadSearch("Seuls les créneaux libres sont recherchés : status doit valoir « free ».")
        elif key in ("_include", "_include:iterate"):
            if value not in INCLUDES:
                raise BadSearch(f"Valeur de {key} non prise en charge : « {value} ».")
            includes |= INCLUDES[value]
        elif key == "_count":
            count = _count(value)
        elif key == "_format":
            if value not in _FORMATS:
                raise BadSearch("Seul le format JSON est proposé (_format=json).")
        else:
            raise BadSearch(f"Paramètre de recherche inconnu ou non pris en charge : « {key} ».")
    if lower is None or upper is None:
        raise BadSearch(
            "Les deux bornes de la recherche sont obligatoires : "
            "start=ge<date de début> et start=le<date de fin>."
        )
    start_from, start_until = _window(lower, upper)
    rpps_unique, adeli_unique = tuple(dict.fromkeys(rpps)), tuple(dict.fromkeys(adeli))
    wanted = len(rpps_unique) + len(adeli_unique)
    if wanted == 0:
        raise BadSearch(f"Le paramètre {IDENTIFIER_PARAMETER} est obligatoire (1 à 25 identifiants).")
    if wanted > MAX_PRACTITIONERS:
        raise BadSearch(
            f"Trop d'identifiants de professionnels : {wanted} reçus, "
            f"{MAX_PRACTITIONERS} au plus par recherche."
        )
    return SasSlotQuery(
        start_from=start_from,
        start_until=start_until,
        rpps=rpps_unique,
        adeli=adeli_unique,
        includes=frozenset(includes),
        count=count,
        raw=tuple(params),
    )


def _start_bound(value: str) -> tuple[tuple[datetime, bool], bool]:
    """((the UTC instant, whether inclusive), whether it is a lower bound) of one ``start`` value."""
    prefix, text = value[:2], value[2:]
    if prefix not in ("ge", "gt", "le", "lt"):
        raise BadSearch(
            f"Le paramètre start doit commencer par le préfixe ge, gt, le ou lt (reçu : « {value} »)."
        )
    text = _DECODED_PLUS.sub(r"+\1", text)  # "+02:00" sent unencoded arrives as " 02:00"
    is_lower = prefix in ("ge", "gt")
    if _DATE.match(text):
        day = _parse_date(text)
        # A day covers [00:00, next 00:00) in Paris: "ge" and "lt" start it, "gt" and "le" end it.
        edge = paris_at(day) if prefix in ("ge", "lt") else paris_at(day + timedelta(days=1))
        return (edge, is_lower), is_lower
    if not _DATETIME.match(text):
        raise BadSearch(
            f"Date invalide dans start : « {text} ». "
            "Format attendu : AAAA-MM-JJ ou AAAA-MM-JJThh:mm:ss+hh:mm."
        )
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadSearch(f"Date invalide dans start : « {text} » n'existe pas.") from exc
    if moment.tzinfo is None:
        raise BadSearch(f"La date « {text} » doit préciser son fuseau horaire (par exemple +02:00 ou Z).")
    inclusive = prefix in ("ge", "le")
    return (moment.astimezone(UTC), inclusive), is_lower


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BadSearch(f"Date invalide dans start : « {text} » n'existe pas.") from exc


def _window(lower: tuple[datetime, bool], upper: tuple[datetime, bool]) -> tuple[datetime, datetime]:
    """[from, until) in UTC; slots start on whole seconds, so an exclusive bound moves by 1 µs."""
    start_from = lower[0] if lower[1] else lower[0] + timedelta(microseconds=1)
    start_until = upper[0] + timedelta(microseconds=1) if upper[1] else upper[0]
    if start_until <= start_from:
        raise BadSearch("La date de fin de la recherche doit être postérieure à sa date de début.")
    if start_until - start_from > MAX_WINDOW + timedelta(microseconds=1):
        raise BadSearch(f"La période de recherche est limitée à {MAX_WINDOW.days} jours.")
    return start_from, start_until


def _add_identifier(token: str, rpps: list[str], adeli: list[str]) -> None:
    """Sort one ``system|value`` token into RPPS or ADELI numbers (without their prefix)."""
    if not token:
        raise BadSearch(f"Identifiant vide dans {IDENTIFIER_PARAMETER}.")
    system, _, value = token.rpartition("|")
    if system and system != IDNPS_SYSTEM:
        raise BadSearch(f"Système d'identifiant inconnu : « {system} » (attendu : {IDNPS_SYSTEM}).")
    try:
        if len(value) == 12 and value.startswith(RPPS_PREFIX):
            rpps.append(validate_rpps(value[1:]))
        elif len(value) == 10 and value.startswith(ADELI_PREFIX):
            adeli.append(validate_adeli(value[1:]))
        elif len(value) == 11:
            rpps.append(validate_rpps(value))
        elif len(value) == 9:
            adeli.append(validate_adeli(value))
        else:
            raise ValueError(
                "préfixe 8 suivi du RPPS (11 chiffres) ou préfixe 0 suivi de l'ADELI (9 caractères)"
            )
    except ValueError as exc:
        raise BadSearch(f"Identifiant de professionnel invalide « {value} » : {exc}") from exc


def _count(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) <= MAX_COUNT:
        raise BadSearch(f"_count doit être un entier entre 1 et {MAX_COUNT}.")
    return int(value)
