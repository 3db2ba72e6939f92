"""The fields of each synced table, checked the same way on the laptop and on the server.

Why one module: a laptop offline for days writes records the server will only see later; if the
two sides disagreed on what a valid patient is, a week of work could bounce at the next sync. The
laptop checks before writing (French message at the form), the server checks again before
merging (a rejected operation, with the same message, that does not block the ones after it).

Tables:

- ``patient``: identity and contact of a person seen by the médicobus; ``observations`` is an
  append-only list of ``{"id", "texte", "auteur", "hlc"}``.
- ``consultation``: one visit; ``patient``, ``date``, ``professionnel`` are set once; ``notes`` is
  append-only (clinical facts are never overwritten nor deleted).
- ``appointment``: a slot of the tour as the server publishes it (read-only on the laptop).
- ``slot_booking``: the laptop's request to book one of those slots for a patient; the server
  applies it through the agenda (no double booking) or rejects it for rebooking.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

RECORD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SEXES = frozenset({"F", "M", "I"})
APPOINTMENT_STATUSES = frozenset({"libre", "reserve", "bloque", "annule"})
LAPTOP_WRITABLE = frozenset({"patient", "consultation", "slot_booking"})
"""``appointment`` records come from the server's agenda only."""

MAX_TEXT = 2000
MAX_ENTRIES = 500


class SchemaError(ValueError):
    """A record that does not fit its table (French message, no field value repeated)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _text(name: str, value: Any, *, required: bool, max_len: int = 200) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value.strip()):
        raise SchemaError(f"Champ « {name} » obligatoire (texte).")
    if len(value) > max_len:
        raise SchemaError(f"Champ « {name} » trop long ({max_len} caractères au plus).")


def _iso_date(name: str, value: Any) -> None:
    try:
        parsed = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise SchemaError(f"Champ « {name} » : date attendue au format AAAA-MM-JJ.")
    if parsed > date.today() or parsed.year < 1900:
        raise SchemaError(f"Champ « {name} » : date impossible.")


def _iso_datetime(name: str, value: Any) -> None:
    try:
        datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        raise SchemaError(f"Champ « {name} » : date et heure attendues (ISO 8601).") from None
    if not isinstance(value, str):
        raise SchemaError(f"Champ « {name} » : date et heure attendues (ISO 8601).")


def _reference(name: str, value: Any, *, required: bool = True) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not RECORD_ID.match(value):
        raise SchemaError(f"Champ « {name} » : identifiant d'enregistrement invalide.")


def _entries(name: str, value: Any) -> None:
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        raise SchemaError(f"Champ « {name} » : liste d'entrées attendue ({MAX_ENTRIES} au plus).")
    for item in value:
        if not isinstance(item, dict) or set(item) - {"id", "texte", "auteur", "hlc"}:
            raise SchemaError(f"Champ « {name} » : entrée mal formée.")
        _reference(f"{name}.id", item.get("id"))
        _text(f"{name}.texte", item.get("texte"), required=True, max_len=MAX_TEXT)
        _text(f"{name}.auteur", item.get("auteur"), required=False)
        _text(f"{name}.hlc", item.get("hlc"), required=False, max_len=90)


def _boolean(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise SchemaError(f"Champ « {name} » : oui ou non attendu.")


def _sex(name: str, value: Any) -> None:
    if value not in SEXES:
        raise SchemaError(f"Champ « {name} » : F, M ou I attendu.")


def _phone(name: str, value: Any) -> None:
    if value is None:
        return
    _text(name, value, required=True, max_len=20)
    if not re.fullmatch(r"\+?[0-9 .]{6,20}", value):
        raise SchemaError(f"Champ « {name} » : numéro de téléphone invalide.")


def _insee(name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not re.fullmatch(r"[0-9][0-9AB][0-9]{3}", value):
        raise SchemaError(f"Champ « {name} » : code INSEE de commune invalide.")


def _status(name: str, value: Any) -> None:
    if value not in APPOINTMENT_STATUSES:
        raise SchemaError(f"Champ « {name} » : statut de créneau inconnu.")


_CHECKS: dict[str, dict[str, Any]] = {
    "patient": {
        "nom": lambda n, v: _text(n, v, required=True, max_len=100),
        "prenoms": lambda n, v: _text(n, v, required=True, max_len=150),
        "date_naissance": _iso_date,
        "sexe": _sex,
        "telephone": _phone,
        "commune_insee": _insee,
        "adresse": lambda n, v: _text(n, v, required=False, max_len=300),
        "sans_medecin_traitant": _boolean,
        "observations": _entries,
    },
    "consultation": {
        "patient": _reference,
        "date": _iso_datetime,
        "professionnel": lambda n, v: _text(n, v, required=True),
        "motif": lambda n, v: _text(n, v, required=False, max_len=500),
        "notes": _entries,
    },
    "appointment": {
        "debut": _iso_datetime,
        "fin": _iso_datetime,
        "commune": lambda n, v: _text(n, v, required=False),
        "lieu": lambda n, v: _text(n, v, required=False),
        "statut": _status,
        "patient": lambda n, v: _reference(n, v, required=False),
        "professionnel": lambda n, v: _text(n, v, required=False),
    },
    "slot_booking": {
        "creneau": _reference,
        "patient": _reference,
        "motif": lambda n, v: _text(n, v, required=False, max_len=500),
    },
}

REQUIRED_ON_CREATE: dict[str, frozenset[str]] = {
    "patient": frozenset({"nom", "prenoms", "date_naissance", "sexe"}),
    "consultation": frozenset({"patient", "date", "professionnel"}),
    "appointment": frozenset({"debut", "fin", "statut"}),
    "slot_booking": frozenset({"creneau", "patient"}),
}


def fields_of(table: str) -> frozenset[str]:
    return frozenset(_CHECKS[table])


def check_fields(table: str, fields: dict[str, Any], *, creating: bool) -> None:
    """Raise ``SchemaError`` unless ``fields`` fit ``table`` (all required ones when creating)."""
    checks = _CHECKS.get(table)
    if checks is None:
        raise SchemaError("Table de synchronisation inconnue.")
    unknown = sorted(set(fields) - set(checks))
    if unknown:
        raise SchemaError(f"Champ inconnu pour cette table : « {unknown[0]} ».")
    if creating:
        missing = sorted(REQUIRED_ON_CREATE[table] - set(fields))
        if missing:
            raise SchemaError(f"Champ « {missing[0]} » obligatoire.")
    for name, value in fields.items():
        checks[name](name, value)
