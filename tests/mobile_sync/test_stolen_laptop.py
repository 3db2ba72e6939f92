"""A stolen laptop: its folder must reveal no patient data, no passphrase and no key.

The thief gets every file of the folder as it is on disk — the store, its WAL and shared-memory
files, any leftover temporary file — after real work: patients synced, edits still pending, a
conflict noted, a sync cut in the middle of the pull.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mobile_sync import field
from mobile_sync.client import SyncClient, SyncRefused
from mobile_sync.envelope import unlock_vault
from tests.mobile_sync.world import PASSPHRASE

SECRETS = [
    "DURAND",
    "Jeanne",
    "06 12 34 56 78",
    "3 rue des Écoles",
    "LEFEBVRE",
    "Marcelline",
    "Mas des Pins",
    "07 98 76 54 32",
    "06 00 00 00 01",
    "Glycémie à jeun 1,26 g/l",
    "Suspicion de diabète",
    "Dr Roche",
]


class DropSecondPull(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.pulls = inner, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/sync/reception":
            self.pulls += 1
            if self.pulls == 2:
                raise httpx.ReadError("connexion coupée", request=request)
        return self.inner.handle_request(request)


def forms(text: str) -> list[bytes]:
    variants = {text, text.lower(), text.upper()}
    return [v.encode(enc) for v in variants for enc in ("utf-8", "utf-16-le", "utf-16-be")]


def leaks(folder: Path, needles: dict[str, list[bytes]]) -> list[tuple[str, str]]:
    found = []
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files, "nothing to search"
    for path in files:
        data = path.read_bytes()
        for label, variants in needles.items():
            if any(v in data for v in variants):
                found.append((path.name, label))
    return found


def test_a_stolen_laptop_folder_reveals_no_patient_data_passphrase_or_key(laptops, api, tmp_path) -> None:
    a = laptops("bus-a")
    b = laptops(
        "bus-b",
        SyncClient(httpx.Client(transport=DropSecondPull(api._transport), base_url=str(api.base_url))),
    )
    patient = a.new_patient()
    visit = "e" * 32
    a.write(
        "consultation",
        visit,
        {
            "patient": patient,
            "date": "2026-01-08T09:20:00+01:00",
            "professionnel": "Dr Roche",
            "motif": "Suspicion de diabète",
            "notes": [a.note("Glycémie à jeun 1,26 g/l")],
        },
    )
    for n in range(6):
        a.new_patient(nom=f"PATIENT{n}")
    a.sync()
    # B: a pull cut on its second page (a half-synced store), then pending work of its own.
    with pytest.raises(SyncRefused):
        b.sync(page_size=3)
    b.client = SyncClient(api)
    b.sync()
    b.write("patient", patient, {"telephone": "07 98 76 54 32", "adresse": "Mas des Pins"})
    a.write("patient", patient, {"telephone": "06 00 00 00 01"})
    a.sync()
    assert b.sync().conflicts == 1  # a conflict notice with both phone numbers is now in B's store
    b.new_patient(nom="LEFEBVRE", prenoms="Marcelline")  # pending, never sent
    assert b.db.pending_count() == 1

    store = b.db
    assert store._db.execute("PRAGMA temp_store").fetchone() == (2,)  # temp tables in memory, not /tmp
    assert store._db.execute("PRAGMA secure_delete").fetchone() == (1,)
    device_key = store.get_meta("device_key", secret=True)
    assert device_key is not None and len(device_key) == 32
    vault = bytes(store._db.execute("SELECT value FROM meta WHERE key='vault'").fetchone()[0])
    data_key = unlock_vault(vault, PASSPHRASE).raw

    needles = {text: forms(text) for text in SECRETS}
    needles["passphrase"] = forms(PASSPHRASE)
    needles["device key"] = [device_key, device_key.hex().encode()]
    needles["data key"] = [data_key, data_key.hex().encode()]

    # The thief may grab it running (WAL and SHM beside the store) or switched off.
    wal = Path(f"{field.store_path(b.folder)}-wal")
    assert wal.exists() and wal.stat().st_size > 0
    assert leaks(b.folder, needles) == []
    b.close()
    assert leaks(b.folder, needles) == []
    assert {p.name for p in b.folder.iterdir()} <= {"terrain.db", "terrain.db-wal", "terrain.db-shm"}


def test_the_search_does_find_data_written_in_clear(tmp_path) -> None:
    """Control: the same search is able to see a leak in any of the forms it looks for."""
    (tmp_path / "copie.txt").write_text("Patiente : durand, JEANNE", encoding="utf-16-le")
    assert leaks(tmp_path, {"DURAND": forms("DURAND"), "Jeanne": forms("Jeanne")}) == [
        ("copie.txt", "DURAND"),
        ("copie.txt", "Jeanne"),
    ]
