"""Encryption at rest and device signatures for the offline laptops.

Why: a médicobus laptop can be lost or stolen while it holds patient data for days. Every value is
sealed with AES-GCM under a random data key; that key exists on disk only wrapped by a key derived
from the user's passphrase (Argon2id), so the disk alone reveals nothing. The associated data of
each ciphertext names its table, record, field and version, so a ciphertext moved to another
place, or an old one replayed as a newer version, is refused instead of silently read.

Pure stdlib + ``cryptography``: no Reflex, no ``cpts_app``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
import unicodedata
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

__all__ = [
    "FAST_TEST_KDF",
    "MIN_PASSPHRASE_CHARS",
    "BadSignature",
    "DataKey",
    "EnvelopeError",
    "KdfParams",
    "RecordCipher",
    "TamperedRecord",
    "VaultCorrupted",
    "WrongPassphrase",
    "canonical_json",
    "create_vault",
    "generate_device_key",
    "open_device_key",
    "public_key_bytes",
    "rewrap_vault",
    "seal_device_key",
    "sign",
    "unlock_vault",
    "verify",
]

MIN_PASSPHRASE_CHARS = 12
KEY_BYTES = 32
SALT_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
VAULT_VERSION = 1
RECORD_FORMAT = 1
MAX_VAULT_BYTES = 4096
_VAULT_KEYS = frozenset({"v", "kdf", "m", "t", "p", "salt", "nonce", "wrapped", "check"})
_VAULT_DOMAIN = b"cpts-mobile-vault\x00"
_RECORD_DOMAIN = b"cpts-mobile-record\x00"


class EnvelopeError(Exception):
    """Base of the refusals shown to the user; ``message`` is the French sentence to display."""

    default_message = "Erreur de chiffrement local."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class WrongPassphrase(EnvelopeError):
    default_message = "Phrase de passe incorrecte."


class VaultCorrupted(EnvelopeError):
    default_message = "Coffre local illisible ou altéré."


class TamperedRecord(EnvelopeError):
    default_message = "Donnée chiffrée altérée ou déplacée."


class BadSignature(EnvelopeError):
    default_message = "Signature du lot invalide."


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost; the defaults are the OWASP minimum (m=19 MiB, t=2, p=1)."""

    memory_kib: int = 19456
    iterations: int = 2
    lanes: int = 1

    def __post_init__(self) -> None:
        _check_kdf(self.memory_kib, self.iterations, self.lanes, ValueError)


def _check_kdf(memory_kib: Any, iterations: Any, lanes: Any, error: type[Exception]) -> None:
    """Bounds keep a forged vault from making unlock allocate gigabytes or loop for minutes."""
    for value in (memory_kib, iterations, lanes):
        if not isinstance(value, int) or isinstance(value, bool):
            raise error("Paramètres de dérivation de clé invalides.")
    if not (1 <= lanes <= 64 and 1 <= iterations <= 64 and 8 * lanes <= memory_kib <= 4 * 1024 * 1024):
        raise error("Paramètres de dérivation de clé invalides.")


FAST_TEST_KDF = KdfParams(memory_kib=8, iterations=1, lanes=1)
"""Only for tests: derivation in microseconds instead of ~0.1 s."""


class DataKey:
    """The 32-byte key that seals every local value; never printed, never written unwrapped."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != KEY_BYTES:
            raise ValueError("Clé de données invalide : 32 octets attendus.")
        self._raw = raw

    @classmethod
    def generate(cls) -> DataKey:
        return cls(os.urandom(KEY_BYTES))

    @property
    def raw(self) -> bytes:
        return self._raw

    def __repr__(self) -> str:
        return "DataKey(<masquée>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataKey):
            return NotImplemented
        return hmac.compare_digest(self._raw, other._raw)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        raise TypeError("Une clé de données ne se sérialise pas.")


def canonical_json(obj: Any) -> bytes:
    """One byte string per value, so signatures and ciphertexts are reproducible on both sides."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


# --- vault: the data key wrapped under the passphrase -------------------------------------------


def _normalize(passphrase: str) -> bytes:
    """NFC so the same passphrase typed on two keyboards/OSes derives the same key."""
    if not isinstance(passphrase, str):
        raise TypeError("La phrase de passe doit être une chaîne de caractères.")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _check_new_passphrase(passphrase: str) -> bytes:
    encoded = _normalize(passphrase)
    if len(encoded.decode("utf-8")) < MIN_PASSPHRASE_CHARS:
        raise ValueError(f"La phrase de passe doit contenir au moins {MIN_PASSPHRASE_CHARS} caractères.")
    return encoded


def _derive(passphrase: bytes, salt: bytes, params: KdfParams) -> bytes:
    return Argon2id(
        salt=salt,
        length=KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(passphrase)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _header(params: KdfParams, salt: bytes) -> dict[str, Any]:
    return {
        "v": VAULT_VERSION,
        "kdf": "argon2id",
        "m": params.memory_kib,
        "t": params.iterations,
        "p": params.lanes,
        "salt": _b64(salt),
    }


def _checksum(doc: dict[str, Any]) -> str:
    """Not a security control (anyone can recompute it): it lets unlock tell a damaged vault
    apart from a wrong passphrase. Integrity itself comes from the AES-GCM associated data."""
    body = {k: v for k, v in doc.items() if k != "check"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def _wrap(key: DataKey, passphrase: bytes, params: KdfParams) -> bytes:
    salt = os.urandom(SALT_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    header = _header(params, salt)
    kek = _derive(passphrase, salt, params)
    wrapped = AESGCM(kek).encrypt(nonce, key.raw, _VAULT_DOMAIN + canonical_json(header))
    doc = {**header, "nonce": _b64(nonce), "wrapped": _b64(wrapped)}
    doc["check"] = _checksum(doc)
    return canonical_json(doc)


def _parse_vault(vault: bytes) -> tuple[dict[str, Any], KdfParams, bytes, bytes, bytes]:
    """Everything checked before Argon2 runs, so a damaged vault is named as such."""
    if not isinstance(vault, bytes | bytearray) or len(vault) > MAX_VAULT_BYTES:
        raise VaultCorrupted()
    try:
        doc = json.loads(bytes(vault).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise VaultCorrupted() from None
    if not isinstance(doc, dict) or set(doc) != _VAULT_KEYS:
        raise VaultCorrupted()
    if doc["v"] != VAULT_VERSION or doc["kdf"] != "argon2id" or not isinstance(doc["check"], str):
        raise VaultCorrupted()
    if not hmac.compare_digest(doc["check"], _checksum(doc)):
        raise VaultCorrupted()
    _check_kdf(doc["m"], doc["t"], doc["p"], VaultCorrupted)
    try:
        salt = base64.b64decode(doc["salt"], validate=True)
        nonce = base64.b64decode(doc["nonce"], validate=True)
        wrapped = base64.b64decode(doc["wrapped"], validate=True)
    except (TypeError, binascii.Error, ValueError):
        raise VaultCorrupted() from None
    if len(salt) != SALT_BYTES or len(nonce) != NONCE_BYTES or len(wrapped) != KEY_BYTES + TAG_BYTES:
        raise VaultCorrupted()
    params = KdfParams(memory_kib=doc["m"], iterations=doc["t"], lanes=doc["p"])
    return doc, params, salt, nonce, wrapped


def create_vault(passphrase: str, params: KdfParams = KdfParams()) -> tuple[bytes, DataKey]:
    """A fresh random data key and its wrapped form, the only form that may be stored."""
    encoded = _check_new_passphrase(passphrase)
    key = DataKey.generate()
    return _wrap(key, encoded, params), key


def unlock_vault(vault: bytes, passphrase: str) -> DataKey:
    """Version, KDF parameters and salt are associated data: altering any of them fails here."""
    _doc, params, salt, nonce, wrapped = _parse_vault(vault)
    kek = _derive(_normalize(passphrase), salt, params)
    aad = _VAULT_DOMAIN + canonical_json(_header(params, salt))
    try:
        raw = AESGCM(kek).decrypt(nonce, wrapped, aad)
    except InvalidTag:
        raise WrongPassphrase() from None
    return DataKey(raw)


def rewrap_vault(vault: bytes, old: str, new: str, params: KdfParams | None = None) -> bytes:
    """Passphrase change: same data key (no record re-encrypted), new salt, nonce and KEK."""
    encoded = _check_new_passphrase(new)
    key = unlock_vault(vault, old)
    if params is None:
        params = _parse_vault(vault)[1]
    return _wrap(key, encoded, params)


# --- records ---------------------------------------------------------------------------------------


def _record_aad(table: str, record_id: str, field: str, version: int) -> bytes:
    """Length-prefixed, so ("ab", "c") and ("a", "bc") can never share associated data."""
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version < 2**63:
        raise ValueError("Version d'enregistrement invalide.")
    parts = [_RECORD_DOMAIN, bytes([RECORD_FORMAT])]
    for text in (table, record_id, field):
        if not isinstance(text, str):
            raise TypeError("Table, identifiant et champ doivent être des chaînes.")
        encoded = text.encode("utf-8")
        parts.append(struct.pack(">I", len(encoded)) + encoded)
    parts.append(struct.pack(">Q", version))
    return b"".join(parts)


class RecordCipher:
    """Seals one value at one place: format byte + 12-byte nonce + AES-GCM ciphertext."""

    __slots__ = ("_aead",)

    def __init__(self, key: DataKey) -> None:
        self._aead = AESGCM(key.raw)

    def __repr__(self) -> str:
        return "RecordCipher(<clé masquée>)"

    def seal(self, table: str, record_id: str, field: str, version: int, plaintext: bytes) -> bytes:
        aad = _record_aad(table, record_id, field, version)
        nonce = os.urandom(NONCE_BYTES)
        return bytes([RECORD_FORMAT]) + nonce + self._aead.encrypt(nonce, bytes(plaintext), aad)

    def open(self, table: str, record_id: str, field: str, version: int, ciphertext: bytes) -> bytes:
        aad = _record_aad(table, record_id, field, version)
        if (
            not isinstance(ciphertext, bytes | bytearray | memoryview)
            or len(ciphertext) < 1 + NONCE_BYTES + TAG_BYTES
            or ciphertext[0] != RECORD_FORMAT
        ):
            raise TamperedRecord()
        data = bytes(ciphertext)
        try:
            return self._aead.decrypt(data[1 : 1 + NONCE_BYTES], data[1 + NONCE_BYTES :], aad)
        except InvalidTag:
            raise TamperedRecord() from None

    def seal_json(self, table: str, record_id: str, field: str, version: int, value: Any) -> bytes:
        return self.seal(table, record_id, field, version, canonical_json(value))

    def open_json(self, table: str, record_id: str, field: str, version: int, ciphertext: bytes) -> Any:
        plaintext = self.open(table, record_id, field, version, ciphertext)
        try:
            return json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise TamperedRecord() from None


# --- device signing --------------------------------------------------------------------------------

_DEVICE_KEY_PLACE = ("device", "signing-key", "ed25519", 0)


def generate_device_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    """Raw 32 bytes, what the server records at enrolment."""
    return key.public_key().public_bytes_raw()


def seal_device_key(cipher: RecordCipher, key: Ed25519PrivateKey) -> bytes:
    """The private key is stored only in this sealed form, under the data key."""
    return cipher.seal(*_DEVICE_KEY_PLACE, key.private_bytes_raw())


def open_device_key(cipher: RecordCipher, blob: bytes) -> Ed25519PrivateKey:
    raw = cipher.open(*_DEVICE_KEY_PLACE, blob)
    try:
        return Ed25519PrivateKey.from_private_bytes(raw)
    except ValueError:
        raise TamperedRecord() from None


def sign(key: Ed25519PrivateKey, body: Any) -> str:
    """Base64 (standard, padded) Ed25519 signature over ``canonical_json(body)``."""
    return _b64(key.sign(canonical_json(body)))


def _decode_signature(signature: str) -> bytes:
    """Standard or URL-safe base64, padded or not, as ``protocol`` accepts."""
    text = signature.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    return base64.b64decode(text, validate=True)


def verify(public_key: bytes, body: Any, signature: str) -> None:
    """Raises ``BadSignature`` for any reason the body cannot be attributed to this device."""
    try:
        raw = _decode_signature(signature)
        pub = Ed25519PublicKey.from_public_bytes(bytes(public_key))
        pub.verify(raw, canonical_json(body))
    except (InvalidSignature, ValueError, TypeError, AttributeError, binascii.Error):
        raise BadSignature() from None
