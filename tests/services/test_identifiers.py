"""Identifiers typed by users: accepted in their usual spellings, refused with a French message."""

from __future__ import annotations

import pytest
from stdnum import luhn

from cpts_app.services.identifiers import (
    format_phone,
    normalize_email,
    normalize_phone,
    search_key,
    validate_adeli,
    validate_finess,
    validate_rpps,
)

VALID_RPPS = "1000123456" + luhn.calc_check_digit("1000123456")
VALID_FINESS = "33000012" + luhn.calc_check_digit("33000012")


def _wrong_key(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def test_rpps_valid_with_spaces_is_compacted() -> None:
    spaced = f"{VALID_RPPS[:3]} {VALID_RPPS[3:7]} {VALID_RPPS[7:]}"
    assert validate_rpps(spaced) == VALID_RPPS


@pytest.mark.parametrize("value", ["1000123456", "123456789012", "1000A23456" + "7", ""])
def test_rpps_wrong_length_or_letters(value: str) -> None:
    with pytest.raises(ValueError, match="11 chiffres"):
        validate_rpps(value)


def test_rpps_bad_key() -> None:
    with pytest.raises(ValueError, match="clé de contrôle"):
        validate_rpps(_wrong_key(VALID_RPPS))


@pytest.mark.parametrize("value,expected", [("331234567", "331234567"), ("2a 1234567", "2A1234567")])
def test_adeli_valid(value: str, expected: str) -> None:
    assert validate_adeli(value) == expected


@pytest.mark.parametrize("value", ["33123456", "3312345678", "2C1234567", "33A234567"])
def test_adeli_invalid(value: str) -> None:
    with pytest.raises(ValueError, match="ADELI"):
        validate_adeli(value)


def test_finess_valid_and_corsican_format() -> None:
    assert validate_finess(VALID_FINESS) == VALID_FINESS
    assert validate_finess("2b0001234") == "2B0001234"


def test_finess_bad_key_and_bad_format() -> None:
    with pytest.raises(ValueError, match="clé de contrôle"):
        validate_finess(_wrong_key(VALID_FINESS))
    with pytest.raises(ValueError, match="9 caractères"):
        validate_finess("3300001")
    with pytest.raises(ValueError, match="9 caractères"):
        validate_finess("2C0001234")


@pytest.mark.parametrize(
    "value,expected",
    [
        ("06 12 34 56 78", "+33612345678"),
        ("0612345678", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("01 23 45 67 89", "+33123456789"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_normalised_to_e164(value: str, expected: str) -> None:
    assert normalize_phone(value) == expected


@pytest.mark.parametrize("value", ["12345", "06 12 34 56 7", "abc", ""])
def test_phone_invalid(value: str) -> None:
    with pytest.raises(ValueError, match="n'est pas un numéro valide"):
        normalize_phone(value)


def test_format_phone() -> None:
    assert format_phone("+33612345678") == "06 12 34 56 78"
    assert format_phone("+442079460958") == "+44 20 7946 0958"
    assert format_phone(None) == ""
    assert format_phone("") == ""


def test_email_normalised() -> None:
    assert normalize_email("  Marie.Lefevre@Example.FR ") == "marie.lefevre@example.fr"


@pytest.mark.parametrize("value", ["marie", "marie@", "@example.fr", "marie lefevre@example.fr", ""])
def test_email_invalid(value: str) -> None:
    with pytest.raises(ValueError, match=r"L'adresse e-mail n'est pas valide\."):
        normalize_email(value)


def test_search_key() -> None:
    assert search_key("Lefèvre Marie") == "lefevre marie"
    assert search_key("  ÉLOÏSE   d'Aubigné-Cœur ") == "eloise d aubigne coeur"
    assert search_key("") == ""
