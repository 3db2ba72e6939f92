"""Validation and normalisation of the identifiers users type: RPPS, ADELI, FINESS, phone, e-mail.

Why one module: the forms, the CLI, the demo loader and the API must accept and store exactly the
same values, so that a search or a uniqueness check never misses a number typed differently.
Each validator returns the normalised value or raises ``ValueError`` with a French message.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum import luhn

_SPACES = re.compile(r"[\s.\-]+")
_DEPARTMENT_9 = re.compile(r"^(?:\d{2}|2[AB])\d{7}$")
_DEFAULT_REGION = "FR"


def _compact(value: str) -> str:
    """The value without spaces, dots or dashes (people type "123 456 789 01" or "12.345.678")."""
    return _SPACES.sub("", value or "").upper()


def validate_rpps(value: str) -> str:
    """An RPPS number: 11 digits whose last one is a Luhn key."""
    number = _compact(value)
    if not number.isdigit() or len(number) != 11:
        raise ValueError("Le numéro RPPS doit comporter 11 chiffres.")
    if not luhn.is_valid(number):
        raise ValueError("Le numéro RPPS est invalide (clé de contrôle incorrecte).")
    return number


def validate_adeli(value: str) -> str:
    """An ADELI number: 9 characters, a department (digits, or 2A/2B) then digits; no public key."""
    number = _compact(value)
    if not _DEPARTMENT_9.match(number):
        raise ValueError(
            "Le numéro ADELI doit comporter 9 caractères : le département (2 chiffres, 2A ou 2B) "
            "puis des chiffres."
        )
    return number


def validate_finess(value: str) -> str:
    """A FINESS number: 9 characters, a department (digits, or 2A/2B) then digits, Luhn key last.

    Corsican numbers (2A/2B) are checked for their format only: no published rule says how their
    letters enter the Luhn key, and refusing a real establishment would be worse than missing a typo.
    """
    number = _compact(value)
    if not _DEPARTMENT_9.match(number):
        raise ValueError(
            "Le numéro FINESS doit comporter 9 caractères : le département (2 chiffres, 2A ou 2B) "
            "puis des chiffres."
        )
    if number.isdigit() and not luhn.is_valid(number):
        raise ValueError("Le numéro FINESS est invalide (clé de contrôle incorrecte).")
    return number


def normalize_phone(value: str) -> str:
    """A phone number in E.164 ("+33612345678"); national French numbers are understood."""
    message = "Le numéro de téléphone n'est pas un numéro valide."
    try:
        number = phonenumbers.parse((value or "").strip(), _DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(message) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(message)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str | None) -> str:
    """A stored number as French people read it ("06 12 34 56 78"); foreign ones internationally."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, _DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(number) == _DEFAULT_REGION:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalize_email(value: str) -> str:
    """An e-mail address, trimmed and lower-cased, after a syntax check (no DNS look-up)."""
    candidate = (value or "").strip()
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError("L'adresse e-mail n'est pas valide.") from exc
    return result.normalized.lower()


_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})


def search_key(text: str) -> str:
    """Accent-, case- and punctuation-free words separated by one space ("Lefèvre" → "lefevre").

    Why: SQLite's ``lower`` ignores accents and ``ILIKE`` is PostgreSQL-only; comparing stored keys
    behaves the same on both databases.
    """
    decomposed = unicodedata.normalize("NFKD", (text or "").translate(_LIGATURES))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words = "".join(ch if ch.isalnum() else " " for ch in stripped)
    return " ".join(words.split())
