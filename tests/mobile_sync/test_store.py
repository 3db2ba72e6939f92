"""The laptop's encrypted local store (``mobile_sync.store``)."""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mobile_sync.envelope import (
    FAST_TEST_KDF,
    RecordCipher,
    TamperedRecord,
    VaultCorrupted,
    WrongPassphrase,
    unlock_vault,
)
from mobile_sync.store import CorruptedStore, LocalStore, RemoteRecord, StoreError

PASS = "phrase de passe du médicobus"
HLC = "000001700000000-000000-laptop1"
CORRUPTED = "Base locale corrompue : restaurez-la ou réinscrivez l'appareil."


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "local.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[LocalStore]:
    db_path.parent.mkdir()
    with LocalStore.create(db_path, PASS, FAST_TEST_KDF) as opened:
        yield opened


def _hlc(n: int) -> str:
    return f"{1_700_000_000_000 + n:015d}-000000-laptop1"


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p): hashlib.sha256(p.read_bytes()).digest() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- lifecycle -------------------------------------------------------------------------------------


def test_create_open_and_refuse_existing(db_path: Path) -> None:
    db_path.parent.mkdir()
    with LocalStore.create(db_path, PASS, FAST_TEST_KDF) as created:
        created.write("patient", "p1", {"nom": "Martin"}, HLC)
    assert (db_path.stat().st_mode & 0o777) == 0o600
    with pytest.raises(StoreError, match="existe déjà"):
        LocalStore.create(db_path, PASS, FAST_TEST_KDF)
    with LocalStore.open(db_path, PASS) as reopened:
        assert reopened.read("patient", "p1") == {"nom": "Martin"}
        assert reopened.version("patient", "p1") == 1
        mode = reopened._db.execute("PRAGMA journal_mode").fetchone()[0]
        secure = reopened._db.execute("PRAGMA secure_delete").fetchone()[0]
        assert (mode, secure) == ("wal", 1)
    with pytest.raises(StoreError, match="introuvable"):
        LocalStore.open(db_path.with_name("absent.sqlite3"), PASS)
    assert not db_path.with_name("absent.sqlite3").exists()


def test_closed_store_refuses(store: LocalStore) -> None:
    store.close()
    with pytest.raises(StoreError, match="fermée"):
        store.read("patient", "p1")


def test_wrong_passphrase_leaves_file_byte_identical(store: LocalStore, db_path: Path) -> None:
    store.write("patient", "p1", {"nom": "Martin"}, HLC)
    store.close()
    before = _files(db_path.parent)
    with pytest.raises(WrongPassphrase) as info:
        LocalStore.open(db_path, "pas la bonne phrase")
    assert info.value.message == "Phrase de passe incorrecte."
    assert _files(db_path.parent) == before
    with LocalStore.open(db_path, PASS) as reopened:
        assert reopened.pending_count() == 1


@pytest.mark.parametrize("damage", ["random", "empty", "header_only", "half", "zeroed_page"])
def test_corrupted_file_refused_in_french(store: LocalStore, db_path: Path, damage: str) -> None:
    for n in range(200):
        store.write("patient", f"p{n}", {"nom": f"Nom {n}", "notes": "x" * 300}, _hlc(n))
    store.close()
    data = db_path.read_bytes()
    assert len(data) > 8192
    damaged = {
        "random": os.urandom(len(data)),
        "empty": b"",
        "header_only": data[:100],
        "half": data[: len(data) // 2],
        "zeroed_page": data[:4096] + b"\x00" * 4096 + data[8192:],
    }[damage]
    db_path.write_bytes(damaged)
    with pytest.raises(CorruptedStore) as info:
        LocalStore.open(db_path, PASS)
    assert info.value.message == CORRUPTED


def test_altered_vault_in_meta(store: LocalStore, db_path: Path) -> None:
    store.close()
    with sqlite3.connect(db_path) as raw:
        raw.execute("UPDATE meta SET value = X'00' WHERE key = 'vault'")
    raw.close()
    with pytest.raises(VaultCorrupted):
        LocalStore.open(db_path, PASS)


def test_erase_removes_every_file(store: LocalStore, db_path: Path) -> None:
    store.write("patient", "p1", {"nom": "Martin"}, HLC)
    assert Path(f"{db_path}-wal").exists()
    store.close()
    LocalStore.erase(db_path)
    assert list(db_path.parent.iterdir()) == []


# --- writes, reads, outbox -------------------------------------------------------------------------


def test_write_read_version_outbox(store: LocalStore) -> None:
    op1 = store.write("patient", "p1", {"nom": "Martin", "age": 41}, _hlc(1))
    op2 = store.write("patient", "p1", {"age": 42, "allergies": ["pénicilline"]}, _hlc(2))
    store.write("patient", "p2", {"nom": "Durand"}, _hlc(3))
    assert store.read("patient", "p1") == {"nom": "Martin", "age": 42, "allergies": ["pénicilline"]}
    assert store.version("patient", "p1") == 2
    assert store.version("patient", "absent") == 0
    assert store.read("patient", "absent") is None
    assert store.record_ids("patient") == ["p1", "p2"]
    ops = store.pending()
    # Two edits of p1 never sent are folded into one op; each field keeps its own edit time.
    assert op2 == op1 and store.pending_count() == 2 and len(op1) == 32
    assert [(o.op_id, o.record_id, o.base_version, o.delete) for o in ops] == [
        (op1, "p1", 0, False),  # the base is the server's version, not the local edit count
        (ops[1].op_id, "p2", 0, False),
    ]
    assert ops[0].fields == {"nom": "Martin", "age": 42, "allergies": ["pénicilline"]}
    assert ops[0].field_hlc == {"nom": _hlc(1), "age": _hlc(2), "allergies": _hlc(2)}
    assert ops[0].hlc == _hlc(2) and ops[0].seq < ops[1].seq


def test_an_op_already_sent_is_never_changed(store: LocalStore) -> None:
    op1 = store.write("patient", "p1", {"nom": "Martin"}, _hlc(1))
    store.mark_sent([op1])
    op2 = store.write("patient", "p1", {"nom": "Martine"}, _hlc(2))
    first, second = store.pending()
    assert op2 != op1 and (first.op_id, first.fields) == (op1, {"nom": "Martin"})
    assert (second.op_id, second.fields) == (op2, {"nom": "Martine"})
    op3 = store.write("patient", "p1", {"age": 41}, _hlc(3))
    assert op3 == op2 and store.pending()[1].fields == {"nom": "Martine", "age": 41}


def test_write_is_atomic(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.write("patient", "p1", {"nom": "Martin", "tel": "01"}, _hlc(1))
    before = (store.read("patient", "p1"), store.version("patient", "p1"), store.pending())
    original = RecordCipher.seal_json
    calls = {"n": 0}

    def failing(self: RecordCipher, *args: Any) -> bytes:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("panne simulée")
        return original(self, *args)

    monkeypatch.setattr(RecordCipher, "seal_json", failing)
    with pytest.raises(RuntimeError):
        store.write("patient", "p1", {"nom": "Autre", "tel": "02", "ville": "Lyon"}, _hlc(2))
    monkeypatch.undo()
    assert calls["n"] == 2
    assert (store.read("patient", "p1"), store.version("patient", "p1"), store.pending()) == before
    assert not store._db.in_transaction
    store.write("patient", "p1", {"nom": "Autre"}, _hlc(3))
    assert store.version("patient", "p1") == 2


def test_invalid_write_refused(store: LocalStore) -> None:
    with pytest.raises(ValueError):
        store.write("patient", "p1", {}, HLC)
    with pytest.raises(ValueError):
        store.write("patient", "", {"nom": "x"}, HLC)
    with pytest.raises(ValueError):
        store.write("patient", "p1", {"poids": float("nan")}, HLC)
    assert store.pending_count() == 0 and store.version("patient", "p1") == 0


def test_delete_tombstone(store: LocalStore) -> None:
    store.write("patient", "p1", {"nom": "Martin"}, _hlc(1))
    op = store.delete("patient", "p1", _hlc(2))
    assert store.read("patient", "p1") is None
    assert store.version("patient", "p1") == 2
    assert store.record_ids("patient") == []
    last = store.pending()[-1]
    assert (last.op_id, last.delete, last.fields, last.base_version) == (op, True, {}, 0)
    assert store._db.execute("SELECT COUNT(*) FROM field").fetchone()[0] == 0
    with pytest.raises(StoreError, match="introuvable"):
        store.delete("patient", "p1", _hlc(3))


def test_pending_and_acknowledge(store: LocalStore) -> None:
    ops = [store.write("patient", f"p{n}", {"nom": f"N{n}"}, _hlc(n)) for n in range(3)]
    store.acknowledge([ops[0], ops[2], "inconnu"])
    assert [o.op_id for o in store.pending()] == [ops[1]]
    assert store.pending_count() == 1
    store.acknowledge([])
    assert store.pending_count() == 1


def test_swapped_ciphertexts_in_database_refused(store: LocalStore) -> None:
    store.write("patient", "p1", {"nom": "Martin", "tel": "01"}, _hlc(1))
    store.write("patient", "p2", {"nom": "Durand"}, _hlc(2))
    db = store._db
    value_p2 = db.execute("SELECT value FROM field WHERE rid = 'p2' AND name = 'nom'").fetchone()[0]
    db.execute("UPDATE field SET value = ? WHERE rid = 'p1' AND name = 'nom'", (value_p2,))
    with pytest.raises(TamperedRecord):
        store.read("patient", "p1")
    body_2 = db.execute("SELECT body FROM outbox ORDER BY seq DESC LIMIT 1").fetchone()[0]
    db.execute("UPDATE outbox SET body = ? WHERE seq = (SELECT MIN(seq) FROM outbox)", (body_2,))
    with pytest.raises(TamperedRecord):
        store.pending()
    db.execute("UPDATE outbox SET base_version = 7 WHERE seq = (SELECT MAX(seq) FROM outbox)")
    with pytest.raises(TamperedRecord):
        store.pending()


# --- pull ------------------------------------------------------------------------------------------


def _remote(rid: str, version: int, deleted: bool = False, **fields: Any) -> RemoteRecord:
    return RemoteRecord("patient", rid, version, deleted, fields, {k: _hlc(version) for k in fields})


def test_apply_remote_and_cursor(store: LocalStore) -> None:
    assert store.cursor() is None
    store.apply_remote([_remote("p1", 3, nom="Martin", tel="01"), _remote("p2", 1, nom="Durand")], "c1")
    assert store.cursor() == "c1"
    assert store.read("patient", "p1") == {"nom": "Martin", "tel": "01"}
    assert store.version("patient", "p1") == 3
    store.apply_remote([_remote("p1", 4, ville="Lyon"), _remote("p2", 2, deleted=True)], "c2")
    assert store.read("patient", "p1") == {"ville": "Lyon"}
    assert store.read("patient", "p2") is None and store.version("patient", "p2") == 2
    assert store.pending_count() == 0 and store.cursor() == "c2"


@pytest.mark.parametrize(
    "bad",
    [
        _remote("p9", 0, nom="x"),
        _remote("", 1, nom="x"),
        _remote("p9", 1, poids=float("nan")),
        RemoteRecord("patient", "p9", 1, False, {"nom": "x"}, {"nom": 5}),  # type: ignore[dict-item]
    ],
)
def test_apply_remote_all_or_nothing(store: LocalStore, bad: RemoteRecord) -> None:
    store.apply_remote([_remote("p1", 1, nom="Martin")], "c1")
    store.write("patient", "p1", {"tel": "01"}, _hlc(5))
    before = (store.read("patient", "p1"), store.version("patient", "p1"), store.pending())
    page = [_remote("p1", 2, nom="Remote"), _remote("p2", 1, nom="Durand"), bad]
    with pytest.raises(StoreError) as info:
        store.apply_remote(page, "c2")
    assert "rien n'a été appliqué" in info.value.message
    assert store.cursor() == "c1"
    assert (store.read("patient", "p1"), store.version("patient", "p1"), store.pending()) == before
    assert store.read("patient", "p2") is None and store.record_ids("patient") == ["p1"]


def test_apply_remote_failure_mid_page_rolls_back(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.apply_remote([_remote("p1", 1, nom="Martin")], "c1")
    original = RecordCipher.seal_json
    calls = {"n": 0}

    def failing(self: RecordCipher, *args: Any) -> bytes:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disque plein simulé")
        return original(self, *args)

    monkeypatch.setattr(RecordCipher, "seal_json", failing)
    with pytest.raises(OSError):
        store.apply_remote(
            [_remote("p1", 2, nom="A"), _remote("p2", 1, nom="B"), _remote("p3", 1, nom="C")], "c2"
        )
    monkeypatch.undo()
    assert store.cursor() == "c1" and store.record_ids("patient") == ["p1"]
    assert store.read("patient", "p1") == {"nom": "Martin"} and store.version("patient", "p1") == 1


def test_apply_remote_keeps_local_pending_fields(store: LocalStore) -> None:
    store.apply_remote([_remote("p1", 3, nom="Martin", tel="01", ville="Paris")], "c1")
    store.write("patient", "p1", {"tel": "06 local"}, _hlc(10))
    assert store.version("patient", "p1") == 4
    store.apply_remote([_remote("p1", 5, nom="MARTIN", tel="02 distant", ville="Lyon")], "c2")
    assert store.read("patient", "p1") == {"nom": "MARTIN", "tel": "06 local", "ville": "Lyon"}
    assert store.version("patient", "p1") == 5
    assert store.pending_count() == 1
    hlc = store._db.execute("SELECT hlc FROM field WHERE rid = 'p1' AND name = 'tel'").fetchone()[0]
    assert hlc == _hlc(10)
    # Remote deletion while a local edit is pending: the edit stays visible until the server decides.
    store.apply_remote([_remote("p1", 6, deleted=True)], "c3")
    assert store.read("patient", "p1") == {"tel": "06 local"}
    # Once acknowledged, the next page applies in full.
    store.acknowledge(o.op_id for o in store.pending())
    store.apply_remote([_remote("p1", 7, deleted=True)], "c4")
    assert store.read("patient", "p1") is None


def test_apply_remote_keeps_local_pending_delete(store: LocalStore) -> None:
    store.apply_remote([_remote("p1", 1, nom="Martin")], "c1")
    store.delete("patient", "p1", _hlc(3))
    store.apply_remote([_remote("p1", 2, nom="Martin bis")], "c2")
    assert store.read("patient", "p1") is None and store.base_version("patient", "p1") == 2
    assert store.version("patient", "p1") == 3  # local versions never go back (no ciphertext reuse)
    assert store.pending()[0].delete and store.pending()[0].base_version == 1


def test_purge(store: LocalStore) -> None:
    store.apply_remote([_remote("p1", 1, nom="A"), _remote("p2", 1, nom="B")], "c1")
    store.write("patient", "p1", {"nom": "A2"}, _hlc(2))
    store.purge("patient", ["p1", "absent"])
    assert store.read("patient", "p1") is None and store.version("patient", "p1") == 0
    assert store.record_ids("patient") == ["p2"]
    rows = store._db.execute("SELECT COUNT(*) FROM field WHERE rid = 'p1'").fetchone()[0]
    assert rows == 0
    assert store.pending_count() == 1  # pending changes are never dropped silently


def test_meta(store: LocalStore, db_path: Path) -> None:
    store.set_meta("device_id", b"dev-42", secret=False)
    store.set_meta("token", b"jeton-tres-secret", secret=True)
    assert store.get_meta("device_id", secret=False) == b"dev-42"
    assert store.get_meta("token", secret=True) == b"jeton-tres-secret"
    assert store.get_meta("absent", secret=True) is None
    with pytest.raises(TamperedRecord):
        store.get_meta("device_id", secret=True)
    with pytest.raises(ValueError):
        store.set_meta("vault", b"x", secret=False)
    store.close()
    assert all(b"jeton-tres-secret" not in p.read_bytes() for p in db_path.parent.iterdir())


# --- the stolen laptop -----------------------------------------------------------------------------

SECRETS_TEXT = ["Bérénice Quintard-Loupiac", "0612345678", "Quintard", "Bérénice"]


def _needles(key: bytes, texts: list[str]) -> list[bytes]:
    needles = [key, key.hex().encode(), base64.b64encode(key), base64.urlsafe_b64encode(key)]
    for text in texts:
        needles += [text.encode("utf-8"), text.encode("utf-16-le"), text.encode("unicode_escape")]
    return needles


def _files_touched_since(folder: Path, since: float, skip: Path | None = None) -> Iterator[Path]:
    """Files created or modified under ``folder`` since ``since`` (unreadable ones are skipped)."""
    stack = [str(folder)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if skip is None or Path(entry.path) != skip:
                        stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    if max(st.st_mtime, st.st_ctime) >= since and st.st_size < 100_000_000:
                        yield Path(entry.path)
            except OSError:
                continue


def _leaks(
    roots: list[Path], since: float, needles: list[bytes], skip: Path | None = None
) -> list[tuple[str, int]]:
    found = []
    for root in roots:
        for path in _files_touched_since(root, since, skip):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            found += [(str(path), i) for i, needle in enumerate(needles) if needle in data]
    return found


def test_stolen_laptop_finds_no_plaintext_and_no_key(tmp_path: Path) -> None:
    """Disk of a stolen laptop, store open (WAL present) then closed: no name, no phone, no key.

    Our own folder is searched for every needle; the shared system temp folders (where SQLite
    would put spill files) for the key and run-unique values only, since other test suites of
    the project may legitimately write "0612345678" there at the same time.
    """
    since = time.time() - 1
    marker = f"Quintard-Loupiac-{uuid.uuid4().hex}"
    path = tmp_path / "data" / "local.sqlite3"
    path.parent.mkdir()
    store = LocalStore.create(path, PASS, FAST_TEST_KDF)
    for n in range(50):
        fields = {"nom": "Bérénice Quintard-Loupiac", "tel": "0612345678", "notes": f"{marker} {n} " * 40}
        store.write("patient", f"p{n}", fields, _hlc(n))
    store.write("patient", "p0", {"nom": "Bérénice Quintard-Loupiac (née Roux)"}, _hlc(99))
    store.delete("patient", "p1", _hlc(100))
    page = [
        _remote("p2", 9, nom="Bérénice Quintard-Loupiac", tel="0612345678"),
        _remote("p60", 1, nom="Bérénice", notes=marker),
    ]
    store.apply_remote(page, "curseur-1")
    store.set_meta("note", f"Bérénice Quintard-Loupiac {marker}".encode(), secret=True)
    store.acknowledge([store.pending()[0].op_id])
    store.purge("patient", ["p3"])
    store.record_ids("patient")  # an ORDER BY, the kind of query that may spill to temp files
    assert store.read("patient", "p2")["tel"] == "0612345678"  # type: ignore[index]

    with sqlite3.connect(path) as raw:
        vault = raw.execute("SELECT value FROM meta WHERE key = 'vault'").fetchone()[0]
    raw.close()
    key = unlock_vault(vault, PASS).raw
    all_needles = _needles(key, [*SECRETS_TEXT, marker])
    shared_needles = _needles(key, [marker])
    shared = [Path(d) for d in {tempfile.gettempdir(), "/var/tmp"} if Path(d).is_dir()]

    def leaks() -> list[tuple[str, int]]:
        return _leaks([tmp_path], since, all_needles) + _leaks(shared, since, shared_needles, skip=tmp_path)

    wal = Path(f"{path}-wal")
    assert wal.exists() and wal.stat().st_size > 0  # store still open: the WAL holds recent pages
    assert leaks() == []
    store.close()
    assert not wal.exists()
    assert leaks() == []
    with LocalStore.open(path, PASS) as reopened:
        assert reopened.read("patient", "p0") == {
            "nom": "Bérénice Quintard-Loupiac (née Roux)",
            "tel": "0612345678",
            "notes": f"{marker} 0 " * 40,
        }
