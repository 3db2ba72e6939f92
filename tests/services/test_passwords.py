"""Password hashing: Argon2id PHC strings that verify only the right password."""

from __future__ import annotations

from cpts_app.services import passwords


def test_hash_then_verify() -> None:
    encoded = passwords.hash_password("un mot de passe assez long")
    assert encoded.startswith("$argon2id$")
    assert "un mot de passe" not in encoded
    assert passwords.verify_password("un mot de passe assez long", encoded)
    assert not passwords.verify_password("un mot de passe assez lonG", encoded)


def test_hashes_are_salted() -> None:
    assert passwords.hash_password("même mot de passe") != passwords.hash_password("même mot de passe")


def test_malformed_hash_is_refused_without_error() -> None:
    assert not passwords.verify_password("x", "not a hash")
    assert not passwords.verify_password("x", "")


def test_dummy_hash_matches_nothing_typed() -> None:
    assert passwords.DUMMY_HASH.startswith("$argon2id$")
    assert not passwords.verify_password("", passwords.DUMMY_HASH)
