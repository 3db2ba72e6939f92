"""Envelope encryption: round trip, tampering, associated data, rotation and key files."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from cpts_app.services import crypto, keyring
from cpts_app.services.crypto import CryptoError, KeyNotFound
from cpts_app.settings import Settings

PLAINTEXT = "Mme Lefèvre, ALD diabète : renouvellement d'insuline à prévoir.".encode()
PLACE = {"purpose": "inbound_message.raw", "record_id": "42"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", secrets_dir=tmp_path / "secrets", database_url="")


def _key_id_length(blob: bytes) -> int:
    return blob[5]


def _offsets(blob: bytes) -> dict[str, int]:
    """Where each part of a version-1 blob starts (independent of the module's parser)."""
    header_end = 6 + _key_id_length(blob)
    return {"wrap_nonce": header_end, "wrapped_key": header_end + 12, "data_nonce": header_end + 60,
            "ciphertext": header_end + 72}  # fmt: skip


def _flip(blob: bytes, index: int) -> bytes:
    data = bytearray(blob)
    data[index] ^= 0x01
    return bytes(data)


def test_round_trip_and_text(settings: Settings) -> None:
    blob = crypto.seal(PLAINTEXT, settings=settings, **PLACE)
    assert crypto.open_sealed(blob, settings=settings, **PLACE) == PLAINTEXT
    text_blob = crypto.seal_text(
        "Élodie", purpose="message.body", record_id="thread-7/message-42", settings=settings
    )
    assert crypto.open_text(
        text_blob, purpose="message.body", record_id="thread-7/message-42", settings=settings
    ) == ("Élodie")
    assert crypto.open_sealed(crypto.seal(b"", settings=settings, **PLACE), settings=settings, **PLACE) == b""


def test_blob_layout_and_no_plaintext(settings: Settings) -> None:
    blob = crypto.seal(PLAINTEXT, settings=settings, **PLACE)
    key_id = keyring.current_key_id(settings)
    assert blob[:4] == b"CPTS" and blob[4] == 1
    assert blob[6 : 6 + _key_id_length(blob)].decode() == key_id == crypto.key_id_of(blob)
    assert len(blob) == _offsets(blob)["ciphertext"] + len(PLAINTEXT) + 16
    assert b"Lef" not in blob and b"insuline" not in blob and b"diab" not in blob
    # Fresh data key and nonces: the same plaintext never gives the same bytes.
    assert crypto.seal(PLAINTEXT, settings=settings, **PLACE)[6:] != blob[6:]


@pytest.mark.parametrize("part", ["wrap_nonce", "wrapped_key", "data_nonce", "ciphertext"])
def test_tampering_is_refused(settings: Settings, part: str) -> None:
    blob = crypto.seal(PLAINTEXT, settings=settings, **PLACE)
    with pytest.raises(CryptoError) as caught:
        crypto.open_sealed(_flip(blob, _offsets(blob)[part] + 3), settings=settings, **PLACE)
    assert "altérées" in caught.value.message


def test_tampered_tag_truncation_and_format(settings: Settings) -> None:
    blob = crypto.seal(PLAINTEXT, settings=settings, **PLACE)
    with pytest.raises(CryptoError):
        crypto.open_sealed(_flip(blob, len(blob) - 1), settings=settings, **PLACE)
    with pytest.raises(CryptoError):
        crypto.open_sealed(blob[:-20], settings=settings, **PLACE)
    with pytest.raises(CryptoError, match="Format"):
        crypto.open_sealed(b"XXXX" + blob[4:], settings=settings, **PLACE)
    with pytest.raises(CryptoError, match="Format"):
        crypto.open_sealed(blob[:4] + b"\x02" + blob[5:], settings=settings, **PLACE)


def test_relabelled_key_id_is_refused(settings: Settings) -> None:
    """A wrapped key moved under another (existing) key id does not unwrap: the header is its AAD."""
    blob = crypto.seal(PLAINTEXT, settings=settings, **PLACE)
    old_id = crypto.key_id_of(blob)
    new_id = crypto.rotate_master_key(settings)
    assert len(new_id) == len(old_id)
    relabelled = blob.replace(old_id.encode(), new_id.encode(), 1)
    with pytest.raises(CryptoError):
        crypto.open_sealed(relabelled, settings=settings, **PLACE)


@pytest.mark.parametrize(
    ("purpose", "record_id"),
    [("inbound_message.raw", "43"), ("message.body", "42"), ("inbound_message.raw", "42 ")],
)
def test_swapped_associated_data_is_refused(settings: Settings, purpose: str, record_id: str) -> None:
    blob = crypto.seal(PLAINTEXT, settings=settings, **PLACE)
    with pytest.raises(CryptoError):
        crypto.open_sealed(blob, purpose=purpose, record_id=record_id, settings=settings)


def test_ambiguous_purpose_is_a_programming_error(settings: Settings) -> None:
    with pytest.raises(ValueError):
        crypto.seal(PLAINTEXT, purpose="message|body", record_id="1", settings=settings)
    with pytest.raises(ValueError):
        crypto.seal(PLAINTEXT, purpose="message.body", record_id="", settings=settings)


def test_rotation_keeps_old_blobs_and_rewrap_moves_them(settings: Settings) -> None:
    old_blob = crypto.seal(PLAINTEXT, settings=settings, **PLACE)
    old_id = crypto.key_id_of(old_blob)
    new_id = crypto.rotate_master_key(settings)
    assert new_id != old_id and keyring.current_key_id(settings) == new_id
    assert crypto.open_sealed(old_blob, settings=settings, **PLACE) == PLAINTEXT
    assert crypto.key_id_of(crypto.seal(PLAINTEXT, settings=settings, **PLACE)) == new_id

    moved = crypto.rewrap(old_blob, settings)
    assert crypto.key_id_of(moved) == new_id
    # Data nonce and ciphertext are carried over byte for byte.
    assert moved[_offsets(moved)["data_nonce"] :] == old_blob[_offsets(old_blob)["data_nonce"] :]
    assert crypto.open_sealed(moved, settings=settings, **PLACE) == PLAINTEXT
    assert crypto.rewrap(moved, settings) == moved
    # Once moved, the blob no longer needs the old key.
    (settings.secrets_dir / f"master-{old_id}.key").unlink()
    assert crypto.open_sealed(moved, settings=settings, **PLACE) == PLAINTEXT
    with pytest.raises(KeyNotFound) as caught:
        crypto.open_sealed(old_blob, settings=settings, **PLACE)
    assert old_id in caught.value.message
    with pytest.raises(CryptoError):
        crypto.rewrap(old_blob, settings)


def test_rewrap_refuses_a_tampered_wrapped_key(settings: Settings) -> None:
    blob = crypto.seal(PLAINTEXT, settings=settings, **PLACE)
    crypto.rotate_master_key(settings)
    with pytest.raises(CryptoError):
        crypto.rewrap(_flip(blob, _offsets(blob)["wrapped_key"]), settings)


def test_fresh_secrets_folder_gets_a_private_key(settings: Settings) -> None:
    assert not settings.secrets_dir.exists()
    key_id = keyring.current_key_id(settings)
    folder = settings.secrets_dir
    key_file = folder / f"master-{key_id}.key"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(base64.b64decode(key_file.read_bytes().strip())) == 32
    assert (folder / "current-key").read_text().strip() == key_id
    assert keyring.current_key_id(settings) == key_id  # created once, then reused
    assert sorted(p.name for p in folder.iterdir()) == ["current-key", f"master-{key_id}.key"]


def test_other_installation_cannot_open(settings: Settings, tmp_path: Path) -> None:
    blob = crypto.seal(PLAINTEXT, settings=settings, **PLACE)
    other = Settings(data_dir=tmp_path / "data2", secrets_dir=tmp_path / "secrets2", database_url="")
    with pytest.raises(KeyNotFound):
        crypto.open_sealed(blob, settings=other, **PLACE)


def test_corrupt_key_file_is_a_missing_key(settings: Settings) -> None:
    key_id = keyring.current_key_id(settings)
    blob = crypto.seal(PLAINTEXT, settings=settings, **PLACE)
    (settings.secrets_dir / f"master-{key_id}.key").write_text("pas une clé")
    with pytest.raises(KeyNotFound):
        crypto.open_sealed(blob, settings=settings, **PLACE)


@pytest.mark.parametrize("where", ["data_dir", "inside_data_dir", "sqlite_folder"])
def test_keys_never_beside_the_data(tmp_path: Path, where: str) -> None:
    data_dir = tmp_path / "data"
    secrets_dir = {
        "data_dir": data_dir,
        "inside_data_dir": data_dir / "secrets",
        "sqlite_folder": tmp_path / "db",
    }[where]
    url = f"sqlite:///{tmp_path / 'db' / 'cpts.db'}" if where == "sqlite_folder" else ""
    settings = Settings(data_dir=data_dir, secrets_dir=secrets_dir, database_url=url)
    with pytest.raises(CryptoError, match="ne doit pas être celui des données"):
        crypto.seal(PLAINTEXT, settings=settings, **PLACE)
    assert not (secrets_dir / "current-key").exists()


def test_default_secrets_folder_is_ignored_by_git() -> None:
    secrets_dir = Settings.model_fields["secrets_dir"].default
    data_dir = Settings.model_fields["data_dir"].default
    gitignore = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().split()
    assert secrets_dir.name + "/" in gitignore
    assert secrets_dir.resolve() != data_dir.resolve()
