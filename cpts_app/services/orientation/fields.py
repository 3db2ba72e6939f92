"""Validation helpers and French messages shared by the orientation's forms."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import TypeVar

from cpts_app.models.types import utcnow

E = TypeVar("E", bound=StrEnum)

REQUIRED = "Ce champ est obligatoire."
CONSENT_REQUIRED = "Le consentement du patient à être contacté est requis."
BAD_REASON = "Choisissez un motif dans la liste."
BAD_URGENCY = "Choisissez un délai : dans la demi-journée, sous 48 h ou programmé."
IMPOSSIBLE_BIRTH_DATE = "Date de naissance impossible."
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def choice(errors: dict[str, str], field: str, raw: str, enum: type[E], message: str) -> E | None:
    """The member of ``enum`` typed in ``raw``, or None with the French message recorded."""
    value = (raw or "").strip()
    if not value:
        errors[field] = REQUIRED
        return None
    try:
        return enum(value)
    except ValueError:
        errors[field] = message
        return None


def bounded_text(errors: dict[str, str], field: str, raw: str, max_length: int) -> str:
    """``raw`` trimmed; an error when longer than ``max_length``."""
    text = (raw or "").strip()
    if len(text) > max_length:
        errors[field] = f"Ce champ ne doit pas dépasser {max_length} caractères."
    return text


def required_name(errors: dict[str, str], field: str, raw: str, max_length: int) -> str:
    """A name with its inner spaces collapsed; required and bounded."""
    value = " ".join((raw or "").split())
    if not value:
        errors[field] = REQUIRED
    elif len(value) > max_length:
        errors[field] = f"Ce champ ne doit pas dépasser {max_length} caractères."
    return value


def birth_date(errors: dict[str, str], raw: str, field: str = "birth_date") -> date | None:
    """A birth date typed as YYYY-MM-DD (date input) or dd/mm/yyyy, between 1900 and today."""
    value = (raw or "").strip()
    if not value:
        errors[field] = REQUIRED
        return None
    born: date | None = None
    try:
        if "/" in value:
            day, month, year = (int(part) for part in value.split("/"))
            born = date(year, month, day)
        else:
            born = date.fromisoformat(value)
    except ValueError:
        born = None
    if born is None or born < EARLIEST_BIRTH_DATE or born > utcnow().date():
        errors[field] = IMPOSSIBLE_BIRTH_DATE
        return None
    return born
