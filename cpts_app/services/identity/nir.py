"""The INS matricule (NIR, or NIA for people being registered): format, key, and coherence.

Why ``stdnum.fr.nir``: it already computes the key as 97 − (number mod 97) and substitutes 19 for
2A and 18 for 2B (Corsica) before computing it, as the INS rules require (checked in the tests with
keys computed by hand). It accepts any first digit, though, and says nothing about the traits: this
module adds the sex digit (1, 3, 7 men; 2, 4, 8 women), French messages, and the comparison with
the declared sex and birth date.
"""

from __future__ import annotations

from datetime import date

from stdnum import exceptions as stdnum_errors
from stdnum.fr import nir

NIR_LENGTH = "Le matricule INS (NIR) doit comporter 15 caractères."
NIR_FORMAT = (
    "Le matricule INS (NIR) ne doit contenir que des chiffres (2A ou 2B pour un département de Corse)."
)
NIR_SEX_DIGIT = "Le premier chiffre du matricule INS (le sexe) doit être 1, 2, 3, 4, 7 ou 8."
NIR_KEY = "La clé du matricule INS est incorrecte."
_MALE_DIGITS = frozenset("137")
_FEMALE_DIGITS = frozenset("248")


def compact_nir(value: str) -> str:
    """The matricule without spaces or dots, upper-cased ("2a" → "2A"); not validated."""
    return nir.compact("".join((value or "").split()))


def validate_nir(value: str) -> str:
    """The 15-character matricule (13 + a 2-digit key), or ``ValueError`` with a French message."""
    number = compact_nir(value)
    if len(number) != 15:
        raise ValueError(NIR_LENGTH)
    try:
        nir.validate(number)
    except stdnum_errors.InvalidChecksum as exc:
        raise ValueError(NIR_KEY) from exc
    except stdnum_errors.ValidationError as exc:
        raise ValueError(NIR_FORMAT) from exc
    if number[0] not in _MALE_DIGITS | _FEMALE_DIGITS:
        raise ValueError(NIR_SEX_DIGIT)
    return number


def nir_sex(number: str) -> str:
    """ "M" or "F" as the matricule's first digit says (of a validated matricule)."""
    return "M" if number[0] in _MALE_DIGITS else "F"


def nir_mismatches(number: str, *, sex: str | None, birth_date: date | None) -> list[str]:
    """Which declared traits contradict a validated matricule: ``"sex"``, ``"birth_date"``.

    The year is compared on its last two digits; the month only when the matricule holds a real
    month (01–12): people whose birth month is unknown get 20 or more there.
    """
    mismatches: list[str] = []
    if sex in {"F", "M"} and nir_sex(number) != sex:
        mismatches.append("sex")
    if birth_date is not None:
        year, month = number[1:3], int(number[3:5])
        if year != f"{birth_date.year % 100:02d}" or (1 <= month <= 12 and month != birth_date.month):
            mismatches.append("birth_date")
    return mismatches
