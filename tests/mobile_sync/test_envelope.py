"""Encryption at rest and device signatures (``mobile_sync.envelope``)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mobile_sync.envelope import (
    FAST_TEST_KDF,
    BadSignature,
    DataKey,
    EnvelopeError,
    KdfParams,
    RecordCipher,
    TamperedRecord,
    VaultCorrupted,
    WrongPassphrase,
    canonical_json,
    create_vault,
    generate_device_key,
    open_device_key,
    public_key_bytes,
    rewrap_vault,
    seal_device_key,
    sign,
    unlock_vault,
    verify,
)

PASS = "correct horse battery staple"


def _vault() -> tuple[bytes, DataKey]:
    return create_vault(PASS, FAST_TEST_KDF)


def _alter(vault: bytes, recompute_check: bool = False, **changes: object) -> bytes:
    doc = json.loads(vault)
    doc.update(changes)
    if recompute_check:
        import hashlib

        body = {k: v for k, v in doc.items() if k != "check"}
        doc["check"] = hashlib.sha256(canonical_json(body)).hexdigest()
    return canonical_json(doc)


def _flip_b64(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_default_kdf_is_owasp_minimum() -> None:
    assert KdfParams() == KdfParams(memory_kib=19456, iterations=2, lanes=1)


def test_vault_round_trip_and_no_key_in_vault() -> None:
    vault, key = _vault()
    assert unlock_vault(vault, PASS) == key
    assert key.raw not in vault
    assert base64.b64encode(key.raw) not in vault
    doc = json.loads(vault)
    assert doc["kdf"] == "argon2id" and (doc["m"], doc["t"], doc["p"]) == (8, 1, 1)
    assert key.raw.hex() not in repr(key) and "masquée" in repr(key)


def test_short_passphrase_refused_in_french() -> None:
    with pytest.raises(ValueError, match="au moins 12 caractères"):
        create_vault("court", FAST_TEST_KDF)


def test_wrong_passphrase() -> None:
    vault, _ = _vault()
    with pytest.raises(WrongPassphrase) as info:
        unlock_vault(vault, PASS + "!")
    assert info.value.message == "Phrase de passe incorrecte."


@pytest.mark.parametrize(
    "changes",
    [
        {"m": 16},
        {"t": 2},
        {"p": 2, "m": 16},
        {"v": 2},
        {"kdf": "scrypt"},
        {"salt": "flip"},
        {"nonce": "flip"},
        {"wrapped": "flip"},
    ],
)
def test_altered_vault_header_is_corrupted(changes: dict[str, object]) -> None:
    vault, _ = _vault()
    doc = json.loads(vault)
    changes = {k: _flip_b64(doc[k]) if v == "flip" else v for k, v in changes.items()}
    with pytest.raises(VaultCorrupted) as info:
        unlock_vault(_alter(vault, **changes), PASS)
    assert info.value.message == "Coffre local illisible ou altéré."


@pytest.mark.parametrize("name", ["m", "t", "salt", "wrapped"])
def test_altered_vault_with_recomputed_checksum_still_refused(name: str) -> None:
    """The checksum only names the failure; the AES-GCM associated data is what protects."""
    vault, _ = _vault()
    doc = json.loads(vault)
    value = {"m": 16, "t": 2}.get(name) or _flip_b64(doc[name])
    with pytest.raises(EnvelopeError):
        unlock_vault(_alter(vault, recompute_check=True, **{name: value}), PASS)


@pytest.mark.parametrize("garbage", [b"", b"not json", b"[]", b"\xff\xfe", b"{}" * 5000])
def test_malformed_vault(garbage: bytes) -> None:
    with pytest.raises(VaultCorrupted):
        unlock_vault(garbage, PASS)


def test_huge_kdf_params_refused_before_derivation() -> None:
    vault, _ = _vault()
    with pytest.raises(VaultCorrupted):
        unlock_vault(_alter(vault, recompute_check=True, m=2**40), PASS)


def test_rewrap_keeps_data_key() -> None:
    vault, key = _vault()
    new = rewrap_vault(vault, PASS, "une toute nouvelle phrase")
    assert new != vault
    assert unlock_vault(new, "une toute nouvelle phrase") == key
    with pytest.raises(WrongPassphrase):
        unlock_vault(new, PASS)
    with pytest.raises(WrongPassphrase):
        rewrap_vault(vault, "mauvaise phrase de passe", "une toute nouvelle phrase")
    with pytest.raises(ValueError):
        rewrap_vault(vault, PASS, "court")
    stronger = rewrap_vault(vault, PASS, "une toute nouvelle phrase", KdfParams(16, 2, 1))
    assert json.loads(stronger)["m"] == 16
    assert unlock_vault(stronger, "une toute nouvelle phrase") == key


def test_passphrase_unicode_normalization() -> None:
    vault, key = create_vault("ma phrase très secrète", FAST_TEST_KDF)
    decomposed = "ma phrase tre\u0300s secre\u0300te"
    assert unlock_vault(vault, decomposed) == key


def _cipher() -> RecordCipher:
    return RecordCipher(DataKey.generate())


def test_record_round_trip_and_format() -> None:
    cipher = _cipher()
    blob = cipher.seal("patient", "r1", "nom", 3, b"Dupont")
    assert blob[0] == 1 and len(blob) == 1 + 12 + len(b"Dupont") + 16
    assert cipher.open("patient", "r1", "nom", 3, blob) == b"Dupont"
    assert cipher.seal("patient", "r1", "nom", 3, b"Dupont") != blob  # fresh nonce
    value = {"nom": "Bérénice", "tel": ["06", 1], "ok": True}
    assert (
        cipher.open_json("patient", "r1", "x", 1, cipher.seal_json("patient", "r1", "x", 1, value)) == value
    )


def test_tampered_byte() -> None:
    cipher = _cipher()
    blob = cipher.seal("patient", "r1", "nom", 1, b"Dupont")
    for index in range(len(blob)):
        altered = bytearray(blob)
        altered[index] ^= 0x80
        with pytest.raises(TamperedRecord) as info:
            cipher.open("patient", "r1", "nom", 1, bytes(altered))
    assert info.value.message == "Donnée chiffrée altérée ou déplacée."
    with pytest.raises(TamperedRecord):
        cipher.open("patient", "r1", "nom", 1, blob[:20])


def test_swapped_between_records_fields_and_tables() -> None:
    cipher = _cipher()
    blob = cipher.seal("patient", "r1", "nom", 1, b"Dupont")
    for place in [
        ("patient", "r2", "nom", 1),
        ("patient", "r1", "prenom", 1),
        ("appointment", "r1", "nom", 1),
        ("patientr", "1", "nom", 1),  # length prefixes: no ambiguity by concatenation
        ("patient", "r1n", "om", 1),
    ]:
        with pytest.raises(TamperedRecord):
            cipher.open(*place, blob)


def test_old_version_replayed_at_new_version() -> None:
    cipher = _cipher()
    old = cipher.seal("patient", "r1", "nom", 1, b"ancien")
    with pytest.raises(TamperedRecord):
        cipher.open("patient", "r1", "nom", 2, old)


def test_other_key_cannot_open() -> None:
    blob = _cipher().seal("patient", "r1", "nom", 1, b"Dupont")
    with pytest.raises(TamperedRecord):
        _cipher().open("patient", "r1", "nom", 1, blob)


def test_canonical_json() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_signature_ok_tampered_and_other_device() -> None:
    key = generate_device_key()
    pub = public_key_bytes(key)
    assert len(pub) == 32
    body = {"device": "d1", "ops": [{"seq": 1, "fields": {"nom": "X"}}]}
    signature = sign(key, body)
    verify(pub, body, signature)
    verify(pub, json.loads(json.dumps(body)), signature.rstrip("="))  # unpadded accepted
    with pytest.raises(BadSignature) as info:
        verify(pub, {**body, "device": "d2"}, signature)
    assert info.value.message == "Signature du lot invalide."
    with pytest.raises(BadSignature):
        verify(public_key_bytes(generate_device_key()), body, signature)
    for bad in ["", "pas du base64 !", base64.b64encode(b"x" * 64).decode()]:
        with pytest.raises(BadSignature):
            verify(pub, body, bad)
    with pytest.raises(BadSignature):
        verify(b"short", body, signature)


def test_device_key_sealed_round_trip() -> None:
    cipher = _cipher()
    key = generate_device_key()
    blob = seal_device_key(cipher, key)
    assert key.private_bytes_raw() not in blob
    assert public_key_bytes(open_device_key(cipher, blob)) == public_key_bytes(key)
    with pytest.raises(TamperedRecord):
        open_device_key(_cipher(), blob)


def test_importable_without_reflex_or_app() -> None:
    code = (
        "import sys, mobile_sync.envelope, mobile_sync.store;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('reflex', 'cpts_app')];"
        "assert not bad, bad"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
