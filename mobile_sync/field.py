"""The laptop's life: enrol it, unlock it (within its offline lease), report its status, wipe it.

Why the lease is checked at unlock: a laptop lost or stolen while offline must stop opening
patient data after N days even if nobody revoked it. The last sync time and the highest clock
reading seen are sealed in the store (changing them needs the data key), and a clock set back
below the highest reading is refused — otherwise rolling the date back would extend the lease.
Syncing stays possible after the lease ended (``for_sync=True``): that is how a laptop renews it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from mobile_sync.client import SyncClient
from mobile_sync.envelope import KdfParams, generate_device_key, public_key_bytes
from mobile_sync.hlc import HybridClock, Timestamp
from mobile_sync.store import LocalStore

STORE_NAME = "terrain.db"
DAY_MS = 86_400_000
CLOCK_TOLERANCE_MS = 10 * 60_000
"""A clock may step back a little (NTP): beyond this, the lease would no longer mean anything."""


class FieldError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LeaseExpired(FieldError):
    """The offline lease is over: the laptop may sync, not open patient data."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def store_path(folder: Path) -> Path:
    return folder / STORE_NAME


@dataclass(frozen=True)
class FieldStatus:
    device_id: str
    label: str
    server_url: str
    pending: int
    last_sync_ms: int
    lease_days: int
    lease_ends_ms: int

    @property
    def lease_expired(self) -> bool:
        return now_ms() > self.lease_ends_ms


def _text(store: LocalStore, key: str) -> str:
    value = store.get_meta(key, secret=False)
    if value is None:
        raise FieldError("Portable mal inscrit (réglage manquant) : réinscrivez-le.")
    return value.decode()


def _int(store: LocalStore, key: str, *, secret: bool) -> int:
    value = store.get_meta(key, secret=secret)
    if value is None:
        raise FieldError("Portable mal inscrit (réglage manquant) : réinscrivez-le.")
    return int(value.decode())


def enrol(
    folder: Path,
    passphrase: str,
    server_url: str,
    code: str,
    client: SyncClient,
    *,
    params: KdfParams | None = None,
) -> FieldStatus:
    """Create the laptop's encrypted store, make its key, and bind it to the server with the code.

    The store is made first under a temporary name: if the server refuses, nothing stays on disk;
    if the store cannot be made, the code is not spent.
    """
    final = store_path(folder)
    if final.exists():
        raise FieldError("Ce portable est déjà inscrit (effacez-le d'abord pour le réinscrire).")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = folder / f".{STORE_NAME}.{os.getpid()}"
    LocalStore.erase(temporary)
    store = (
        LocalStore.create(temporary, passphrase, params)
        if params
        else LocalStore.create(temporary, passphrase)
    )
    try:
        key = generate_device_key()
        enrolment = client.enrol(code, public_key_bytes(key))
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        store.set_meta("device_key", raw, secret=True)
        for name, value in (
            ("device_id", enrolment.device_id),
            ("label", enrolment.label),
            ("server_url", server_url),
            ("lease_days", str(enrolment.lease_days)),
            ("scope_epoch", str(enrolment.scope_epoch)),
        ):
            store.set_meta(name, value.encode(), secret=False)
        seen = str(max(enrolment.server_time_ms, now_ms())).encode()
        store.set_meta("last_sync_ms", str(enrolment.server_time_ms).encode(), secret=True)
        store.set_meta("highest_clock_ms", seen, secret=True)
        store.set_meta("clock_offset_ms", str(enrolment.server_time_ms - now_ms()).encode(), secret=True)
    except BaseException:
        store.close()
        LocalStore.erase(temporary)
        raise
    store.close()
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{temporary}{suffix}")
        if source.exists():
            source.rename(Path(f"{final}{suffix}"))
    return status(folder, passphrase)


def unlock(
    folder: Path, passphrase: str, *, for_sync: bool = False, clock_ms: int | None = None
) -> LocalStore:
    """Open the store; refused when the offline lease is over (unless to sync) or the clock went back."""
    path = store_path(folder)
    if not path.exists():
        raise FieldError("Aucun portable inscrit dans ce dossier : lancez « python -m mobile_sync enroll ».")
    store = LocalStore.open(path, passphrase)
    try:
        now = now_ms() if clock_ms is None else clock_ms
        highest = _int(store, "highest_clock_ms", secret=True)
        if now < highest - CLOCK_TOLERANCE_MS:
            raise FieldError(
                "L'horloge de ce portable a été reculée : remettez-la à l'heure, puis synchronisez."
            )
        if not for_sync:
            lease_days = int(_text(store, "lease_days"))
            last_sync = _int(store, "last_sync_ms", secret=True)
            if now > last_sync + lease_days * DAY_MS:
                raise LeaseExpired(
                    f"Ce portable n'a pas été synchronisé depuis plus de {lease_days} jours : "
                    "connectez-le au réseau et synchronisez-le pour continuer."
                )
        if now > highest:
            store.set_meta("highest_clock_ms", str(now).encode(), secret=True)
    except BaseException:
        store.close()
        raise
    return store


def status(folder: Path, passphrase: str) -> FieldStatus:
    store = unlock(folder, passphrase, for_sync=True)
    try:
        lease_days = int(_text(store, "lease_days"))
        last_sync = _int(store, "last_sync_ms", secret=True)
        return FieldStatus(
            device_id=_text(store, "device_id"),
            label=_text(store, "label"),
            server_url=_text(store, "server_url"),
            pending=store.pending_count(),
            last_sync_ms=last_sync,
            lease_days=lease_days,
            lease_ends_ms=last_sync + lease_days * DAY_MS,
        )
    finally:
        store.close()


def device_id(store: LocalStore) -> str:
    return _text(store, "device_id")


def server_url(store: LocalStore) -> str:
    return _text(store, "server_url")


def clock_for(store: LocalStore) -> HybridClock:
    """The laptop's hybrid clock: node = device id, physical time corrected by the server offset.

    It restarts after the highest timestamp the store holds (``last_hlc``), so a restart or a
    clock stepped back never issues a timestamp below one already written.
    """
    last_text = store.get_meta("last_hlc", secret=True)
    last = Timestamp.parse(last_text.decode()) if last_text else None
    offset = store.get_meta("clock_offset_ms", secret=True)
    return HybridClock(_text(store, "device_id"), offset_ms=int(offset.decode()) if offset else 0, last=last)


def remember_clock(store: LocalStore, clock: HybridClock) -> None:
    """Seal the clock's last reading and offset so the next ``clock_for`` continues after it."""
    store.set_meta("last_hlc", clock.last().encode().encode(), secret=True)
    store.set_meta("clock_offset_ms", str(clock.offset_ms).encode(), secret=True)


def wipe(folder: Path) -> None:
    """Erase the store (a revoked laptop, or before re-enrolling): the keys go with it."""
    LocalStore.erase(store_path(folder))
