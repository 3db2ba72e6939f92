"""Master keys of the envelope encryption, kept as files in ``settings.secrets_dir``.

Why files outside the database: a stolen database dump or backup must not carry the key that
opens it (DESIGN principle 3). The default folder ``secrets/`` is ignored by git; an operator who
points ``CPTS_SECRETS_DIR`` elsewhere must keep it out of any repository and out of the backups of
the data it protects. A folder equal to (or inside) the data folder, or the folder of the SQLite
file itself, is refused.

Layout of the folder (0700):

- ``master-<key_id>.key``: 32 random bytes in base64, mode 0600, never rewritten nor deleted by
  the application (old keys must stay readable after a rotation);
- ``current-key``: the id of the key that seals new data, replaced atomically by a rotation.

Nothing secret is ever logged: only key ids, which are labels.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import os
import re
import secrets
import stat
import threading
from pathlib import Path

from sqlalchemy.engine import make_url

from cpts_app.models.types import utcnow
from cpts_app.services.errors import DomainError
from cpts_app.settings import Settings, get_settings

KEY_BYTES = 32
CURRENT_FILE = "current-key"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_log = logging.getLogger(__name__)


class CryptoError(DomainError):
    """Encrypted data cannot be opened (altered, misplaced, or its key is missing)."""


class KeyNotFound(CryptoError):
    """The master key a blob names is not in the secrets folder."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"La clé de chiffrement « {key_id} » est introuvable : ces données ne peuvent pas être "
            "déchiffrées sur cette installation."
        )
        self.key_id = key_id


def _settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else get_settings()


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_location(settings: Settings) -> Path:
    """The resolved secrets folder, refused when it sits with the data it protects."""
    folder = settings.secrets_dir.expanduser().resolve()
    data_dir = settings.data_dir.expanduser().resolve()
    refused = _is_within(folder, data_dir)
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        refused = refused or folder == Path(url.database).expanduser().resolve().parent
    if refused:
        raise CryptoError(
            "Le dossier des clés (CPTS_SECRETS_DIR) ne doit pas être celui des données ni se "
            "trouver à côté de la base qu'il protège : choisissez un autre dossier."
        )
    return folder


def secrets_folder(settings: Settings | None = None) -> Path:
    """The secrets folder, created with mode 0700 if missing (refused beside the data)."""
    folder = _check_location(_settings(settings))
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
    elif stat.S_IMODE(folder.stat().st_mode) & 0o077:
        _log.warning("Le dossier des clés %s est lisible par d'autres comptes (attendu : 0700).", folder)
    return folder


def _key_path(folder: Path, key_id: str) -> Path:
    if not _KEY_ID.match(key_id):
        raise KeyNotFound(key_id[:64])
    return folder / f"master-{key_id}.key"


def _write_new_file(path: Path, content: bytes) -> None:
    """Create ``path`` with mode 0600, failing if it exists (never overwrite a key)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)


def create_key(settings: Settings | None = None) -> str:
    """Write a new random master key and return its id (it is not made current)."""
    folder = secrets_folder(settings)
    key_id = f"{utcnow():%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    _write_new_file(_key_path(folder, key_id), base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
    _log.info("Nouvelle clé maîtresse créée : %s", key_id)
    return key_id


@functools.lru_cache(maxsize=16)
def _checked_location(secrets_dir: str, data_dir: str, database_url: str) -> Path:
    """``_check_location`` once per configuration (it resolves three paths)."""
    settings = Settings(secrets_dir=Path(secrets_dir), data_dir=Path(data_dir), database_url=database_url)
    return _check_location(settings)


_loaded: dict[tuple[str, int, int, int], bytes] = {}
_loaded_lock = threading.Lock()


def load_key(key_id: str, settings: Settings | None = None) -> bytes:
    """The 32 bytes of master key ``key_id``; ``KeyNotFound`` if absent or unreadable.

    Why a cache keyed on the file's identity (path, inode, size, mtime): a first sync of 50 000
    records opens as many envelopes; reading and checking the key file each time cost most of
    it. One ``stat`` per call still notices a key file removed or replaced.
    """
    current = _settings(settings)
    folder = _checked_location(
        str(current.secrets_dir), str(current.data_dir), current.effective_database_url
    )
    path = _key_path(folder, key_id)
    try:
        info = path.stat()
    except OSError as exc:
        raise KeyNotFound(key_id) from exc
    identity = (str(path), info.st_ino, info.st_size, info.st_mtime_ns)
    with _loaded_lock:
        cached = _loaded.get(identity)
    if cached is not None:
        return cached
    try:
        raw = path.read_bytes()
        key = base64.b64decode(raw.strip(), validate=True)
    except (OSError, binascii.Error) as exc:
        raise KeyNotFound(key_id) from exc
    if len(key) != KEY_BYTES:
        raise KeyNotFound(key_id)
    with _loaded_lock:
        _loaded[identity] = key
    return key


def _set_current(folder: Path, key_id: str) -> None:
    """Point ``current-key`` at ``key_id`` atomically (a reader sees the old or the new id)."""
    temporary = folder / f".{CURRENT_FILE}.{secrets.token_hex(4)}"
    _write_new_file(temporary, key_id.encode() + b"\n")
    os.replace(temporary, folder / CURRENT_FILE)


def _publish_first(folder: Path, key_id: str) -> None:
    """Create ``current-key`` complete or not at all: a hard link never shows a half-written file."""
    temporary = folder / f".{CURRENT_FILE}.{secrets.token_hex(4)}"
    _write_new_file(temporary, key_id.encode() + b"\n")
    try:
        os.link(temporary, folder / CURRENT_FILE)
    except FileExistsError:
        pass  # another process published its first key a moment earlier: use that one
    finally:
        temporary.unlink()


def current_key_id(settings: Settings | None = None) -> str:
    """The id of the key that seals new data; the first key is created on first use.

    Two processes starting together may both create a key: the first to link ``current-key``
    wins (``os.link`` fails if it exists) and the other's key stays unused, which is harmless.
    """
    settings = _settings(settings)
    folder = secrets_folder(settings)
    current = folder / CURRENT_FILE
    if not current.exists():
        _publish_first(folder, create_key(settings))
    key_id = current.read_text(encoding="ascii").strip()
    if not _KEY_ID.match(key_id):
        raise CryptoError("Le fichier « current-key » du dossier des clés est illisible.")
    return key_id


def rotate_master_key(settings: Settings | None = None) -> str:
    """Create a new master key, make it current and return its id; older keys stay readable.

    Existing blobs keep opening with their own key; ``crypto.rewrap`` moves them to the new one.
    """
    settings = _settings(settings)
    key_id = create_key(settings)
    _set_current(secrets_folder(settings), key_id)
    return key_id
