"""Envelope encryption of sensitive fields and files: AES-256-GCM under per-record data keys.

Why envelopes: each record gets its own random data key, itself encrypted ("wrapped") by a master
key kept outside the database (``services.keyring``). Rotating the master key then only re-wraps
48 bytes per record (``rewrap``), never the data, and a database dump alone opens nothing.

Why associated data: the caller names the ciphertext's place, ``purpose`` and ``record_id``
(``"inbound_message.raw"``/``"42"``, ``"message.body"``/``"thread-7/message-42"``); the AAD
``f"{purpose}|{record_id}"`` is authenticated, so a blob copied onto another record or another
column does not open there.

Why AES-GCM for the wrapping too (rather than RFC 3394 AES key wrap): one primitive for the whole
format, and GCM authenticates associated data, which binds each wrapped key to the blob's header
(magic, format version, master key id) so that a header cannot be relabelled. The wrap's AAD
deliberately excludes ``purpose|record_id`` so that a rotation can re-wrap stored blobs without
knowing where they live; the record binding is enforced by the data layer's AAD. Nonces are
random (96 bits): with one fresh data key per record, a data key encrypts exactly once, and a master
key stays far below the 2**32 random-nonce bound between rotations.

Blob layout, version 1 (all lengths in bytes)::

    4   magic            b"CPTS"
    1   format version   0x01
    1   n                length of the master key id (1..64)
    n   master key id    ASCII [A-Za-z0-9_-]
    12  wrap nonce
    48  wrapped data key AES-GCM(master key, wrap nonce, data key, aad=the header above): 32 + 16 tag
    12  data nonce
    ..  ciphertext       AES-GCM(data key, data nonce, plaintext, aad=f"{purpose}|{record_id}"),
                         plaintext length + 16 tag
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cpts_app.services.keyring import (
    KEY_BYTES,
    CryptoError,
    KeyNotFound,
    current_key_id,
    load_key,
    rotate_master_key,
)
from cpts_app.settings import Settings

__all__ = [
    "CryptoError",
    "KeyNotFound",
    "key_id_of",
    "open_sealed",
    "open_text",
    "rewrap",
    "rotate_master_key",
    "seal",
    "seal_text",
]

MAGIC = b"CPTS"
VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
WRAPPED_KEY_BYTES = KEY_BYTES + TAG_BYTES
_MAX_KEY_ID = 64

TAMPERED = (
    "Les données chiffrées ont été altérées ou ne correspondent pas à cet enregistrement : "
    "elles ne peuvent pas être ouvertes."
)
UNKNOWN_FORMAT = "Format de données chiffrées inconnu : elles ne peuvent pas être ouvertes."


@dataclass(frozen=True)
class _Envelope:
    header: bytes
    key_id: str
    wrap_nonce: bytes
    wrapped_key: bytes
    data_nonce: bytes
    ciphertext: bytes


def _header(key_id: str) -> bytes:
    encoded = key_id.encode("ascii")
    return MAGIC + bytes([VERSION, len(encoded)]) + encoded


def _aad(purpose: str, record_id: str) -> bytes:
    """The associated data; ``purpose`` may not hold ``|`` so that the split is unambiguous."""
    if not purpose or "|" in purpose or not record_id:
        raise ValueError("purpose (sans « | ») et record_id sont obligatoires pour chiffrer.")
    return f"{purpose}|{record_id}".encode()


def _parse(blob: bytes) -> _Envelope:
    data = bytes(blob)
    fixed = len(MAGIC) + 2
    if len(data) < fixed or data[: len(MAGIC)] != MAGIC or data[len(MAGIC)] != VERSION:
        raise CryptoError(UNKNOWN_FORMAT)
    id_length = data[len(MAGIC) + 1]
    header_end = fixed + id_length
    minimum = header_end + NONCE_BYTES + WRAPPED_KEY_BYTES + NONCE_BYTES + TAG_BYTES
    if not 0 < id_length <= _MAX_KEY_ID or len(data) < minimum:
        raise CryptoError(UNKNOWN_FORMAT)
    try:
        key_id = data[fixed:header_end].decode("ascii")
    except UnicodeDecodeError as exc:
        raise CryptoError(UNKNOWN_FORMAT) from exc
    position = header_end
    wrap_nonce = data[position : position + NONCE_BYTES]
    position += NONCE_BYTES
    wrapped_key = data[position : position + WRAPPED_KEY_BYTES]
    position += WRAPPED_KEY_BYTES
    data_nonce = data[position : position + NONCE_BYTES]
    position += NONCE_BYTES
    return _Envelope(data[:header_end], key_id, wrap_nonce, wrapped_key, data_nonce, data[position:])


def _wrap(data_key: bytes, key_id: str, settings: Settings | None) -> bytes:
    """Header, wrap nonce and wrapped data key under master key ``key_id``."""
    header = _header(key_id)
    nonce = secrets.token_bytes(NONCE_BYTES)
    wrapped = AESGCM(load_key(key_id, settings)).encrypt(nonce, data_key, header)
    return header + nonce + wrapped


def _unwrap(envelope: _Envelope, settings: Settings | None) -> bytes:
    master = load_key(envelope.key_id, settings)
    try:
        return AESGCM(master).decrypt(envelope.wrap_nonce, envelope.wrapped_key, envelope.header)
    except InvalidTag as exc:
        raise CryptoError(TAMPERED) from exc


def seal(plaintext: bytes, *, purpose: str, record_id: str, settings: Settings | None = None) -> bytes:
    """Encrypt ``plaintext`` for the place ``purpose``/``record_id`` (see the module for the layout)."""
    aad = _aad(purpose, record_id)
    data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    data_nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(data_nonce, bytes(plaintext), aad)
    return _wrap(data_key, current_key_id(settings), settings) + data_nonce + ciphertext


def open_sealed(blob: bytes, *, purpose: str, record_id: str, settings: Settings | None = None) -> bytes:
    """The plaintext of ``blob``, or ``CryptoError`` if it was altered, moved, or its key is missing."""
    aad = _aad(purpose, record_id)
    envelope = _parse(blob)
    data_key = _unwrap(envelope, settings)
    try:
        return AESGCM(data_key).decrypt(envelope.data_nonce, envelope.ciphertext, aad)
    except InvalidTag as exc:
        raise CryptoError(TAMPERED) from exc


def seal_text(text: str, *, purpose: str, record_id: str, settings: Settings | None = None) -> bytes:
    """``seal`` for a string (UTF-8)."""
    return seal(text.encode("utf-8"), purpose=purpose, record_id=record_id, settings=settings)


def open_text(blob: bytes, *, purpose: str, record_id: str, settings: Settings | None = None) -> str:
    """``open_sealed`` for a string sealed by ``seal_text``."""
    plaintext = open_sealed(blob, purpose=purpose, record_id=record_id, settings=settings)
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CryptoError(TAMPERED) from exc


def key_id_of(blob: bytes) -> str:
    """The id of the master key that wraps ``blob`` (a rotation command skips current ones)."""
    return _parse(blob).key_id


def rewrap(blob: bytes, settings: Settings | None = None) -> bytes:
    """``blob`` with its data key re-wrapped under the current master key; data and nonce untouched.

    Returns ``blob`` itself when it already uses the current key, so the rotation command can run
    twice. Raises ``CryptoError`` if the wrapped key was altered, ``KeyNotFound`` if its key is gone.
    """
    envelope = _parse(blob)
    target = current_key_id(settings)
    if envelope.key_id == target:
        return bytes(blob)
    data_key = _unwrap(envelope, settings)
    return _wrap(data_key, target, settings) + envelope.data_nonce + envelope.ciphertext
