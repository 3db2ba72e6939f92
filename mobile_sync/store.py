"""The laptop's local store: one SQLite file where every value is sealed by ``envelope``.

Why SQLite: one file that survives power cuts (WAL journal), with real transactions, so a write
and its outbox entry, or a pulled page and its cursor, land together or not at all. Identifiers
(table names, record ids, field names, HLC stamps) stay readable to index and merge; values and
pending operation bodies are always sealed, and the data key exists on disk only wrapped.

No Reflex, no ``cpts_app``: stdlib ``sqlite3`` + ``envelope``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from .envelope import (
    KdfParams,
    RecordCipher,
    TamperedRecord,
    create_vault,
    unlock_vault,
)

__all__ = [
    "CorruptedStore",
    "LocalStore",
    "PendingOp",
    "RemoteRecord",
    "StoreError",
]

STORE_FORMAT = b"2"
OUTBOX_TABLE = "outbox"
MANIFEST_FIELD = "#champs"
"""Pseudo-field (never a real field name) under which each record's field list is sealed."""
META_TABLE = "meta"
_RESERVED_META = frozenset({"vault", "store_format", "sync_cursor"})
_SIDE_SUFFIXES = ("-wal", "-shm", "-journal")

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE record (tbl TEXT NOT NULL, rid TEXT NOT NULL, version INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL DEFAULT 0, base INTEGER NOT NULL DEFAULT 0, manifest BLOB,"
    " PRIMARY KEY (tbl, rid))",
    "CREATE TABLE field (tbl TEXT NOT NULL, rid TEXT NOT NULL, name TEXT NOT NULL,"
    " version INTEGER NOT NULL, hlc TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (tbl, rid, name))",
    "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, op_id TEXT NOT NULL UNIQUE,"
    " tbl TEXT NOT NULL, rid TEXT NOT NULL, base_version INTEGER NOT NULL, hlc TEXT NOT NULL,"
    " body BLOB NOT NULL, sent INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX outbox_record ON outbox (tbl, rid)",
)
_TABLES = frozenset({"meta", "record", "field", "outbox"})


class StoreError(Exception):
    """Refusal from the local store; ``message`` is the French sentence for the screen."""

    default_message = "Erreur de la base locale."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class CorruptedStore(StoreError):
    default_message = "Base locale corrompue : restaurez-la ou réinscrivez l'appareil."


@dataclass(frozen=True)
class PendingOp:
    """One outbox entry, decrypted, as the push step sends it."""

    seq: int
    op_id: str
    table: str
    record_id: str
    base_version: int
    hlc: str
    fields: dict[str, Any]
    delete: bool
    field_hlc: dict[str, str] = field(default_factory=dict)
    """When several edits were folded into this op: the HLC of each field's last edit."""


@dataclass(frozen=True)
class RemoteRecord:
    """One record of a pulled page: the server's state at ``version``."""

    table: str
    record_id: str
    version: int
    deleted: bool
    fields: dict[str, Any] = field(default_factory=dict)
    field_hlc: dict[str, str] = field(default_factory=dict)


def _outbox_place(op_id: str, table: str, record_id: str, hlc: str, base_version: int) -> tuple:
    """The body is bound to its op_id, target record, HLC and base version: rows cannot be mixed."""
    target = json.dumps([table, record_id, hlc], ensure_ascii=False, separators=(",", ":"))
    return (OUTBOX_TABLE, op_id, target, base_version)


def _check_ident(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ValueError(f"{what} invalide.")
    return value


def _check_fields(fields: Any) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise TypeError("Les champs doivent être un dictionnaire.")
    for name in fields:
        _check_ident(name, "Nom de champ")
    return fields


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    """Autocommit (we issue BEGIN IMMEDIATE ourselves); temp tables in memory, never in /tmp."""
    uri = f"{path.resolve().as_uri()}?mode={mode}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10.0)
    try:
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA temp_store=MEMORY")
    except BaseException:
        conn.close()
        raise
    return conn


class LocalStore:
    """Open with ``create`` or ``open``; every public write is one ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, conn: sqlite3.Connection, cipher: RecordCipher, path: Path) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._cipher: RecordCipher | None = cipher
        self.path = path

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    @classmethod
    def create(cls, path: Path, passphrase: str, params: KdfParams = KdfParams()) -> LocalStore:  # noqa: B008
        path = Path(path)
        if path.exists() or any(Path(f"{path}{s}").exists() for s in _SIDE_SUFFIXES):
            raise StoreError("Une base locale existe déjà à cet emplacement.")
        vault, key = create_vault(passphrase, params)
        # O_EXCL + 0600: atomic "refuse if it exists", and unreadable by other local accounts.
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        conn: sqlite3.Connection | None = None
        try:
            conn = _connect(path, "rw")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("vault", vault), ("store_format", STORE_FORMAT)],
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn is not None:
                conn.close()
            cls.erase(path)
            raise
        return cls(conn, RecordCipher(key), path)

    @classmethod
    def open(cls, path: Path, passphrase: str) -> LocalStore:
        """Checks the file, then the passphrase; writes nothing until both pass."""
        path = Path(path)
        if not path.is_file():
            raise StoreError("Base locale introuvable.")
        try:
            conn = _connect(path, "rw")
        except sqlite3.Error:
            raise CorruptedStore() from None
        try:
            vault = cls._validated_vault(conn)
            key = unlock_vault(vault, passphrase)
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error:
            conn.close()
            raise CorruptedStore() from None
        except BaseException:
            conn.close()
            raise
        return cls(conn, RecordCipher(key), path)

    @staticmethod
    def _validated_vault(conn: sqlite3.Connection) -> bytes:
        """Not SQLite, failed integrity check, missing tables or meta: all are ``CorruptedStore``."""
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        if rows != [("ok",)]:
            raise CorruptedStore()
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not names >= _TABLES:
            raise CorruptedStore()
        meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('vault', 'store_format')"))
        if meta.get("store_format") != STORE_FORMAT or not isinstance(meta.get("vault"), bytes):
            raise CorruptedStore()
        return meta["vault"]

    def close(self) -> None:
        """Closing the last connection checkpoints the WAL; the key is dropped from this object."""
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._cipher = None

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @staticmethod
    def erase(path: Path) -> None:
        """A revoked device wipes itself: the file and its WAL/SHM/journal companions."""
        path = Path(path)
        for candidate in (path, *(Path(f"{path}{s}") for s in _SIDE_SUFFIXES)):
            candidate.unlink(missing_ok=True)

    # --- internals -------------------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("Base locale fermée.")
        return self._conn

    @property
    def _seal(self) -> RecordCipher:
        if self._cipher is None:
            raise StoreError("Base locale fermée.")
        return self._cipher

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: any exception (ours, sqlite's, the cipher's) rolls the whole write back."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _record_row(self, table: str, record_id: str) -> tuple[int, bool] | None:
        row = self._db.execute(
            "SELECT version, deleted FROM record WHERE tbl = ? AND rid = ?", (table, record_id)
        ).fetchone()
        return None if row is None else (int(row[0]), bool(row[1]))

    def _append_outbox(
        self, db: sqlite3.Connection, table: str, record_id: str, base_version: int, hlc: str, body: dict
    ) -> str:
        """Add an op, or fold the edit into the record's last op if that one was never sent.

        Why fold: a médicobus day is thousands of small edits of a few hundred records (a note
        list rewritten at every note); sending only each record's latest fields divides what
        crosses the link, and the per-field HLCs keep each field's own edit time for the merge.
        An op already sent (perhaps applied, its answer lost) is never changed: it is resent as is.
        """
        if not body["delete"]:
            folded = self._fold(db, table, record_id, base_version, hlc, body["fields"])
            if folded is not None:
                return folded
        body = {**body, "field_hlc": {name: hlc for name in body["fields"]}}
        op_id = uuid.uuid4().hex
        sealed = self._seal.seal_json(*_outbox_place(op_id, table, record_id, hlc, base_version), body)
        db.execute(
            "INSERT INTO outbox (op_id, tbl, rid, base_version, hlc, body) VALUES (?, ?, ?, ?, ?, ?)",
            (op_id, table, record_id, base_version, hlc, sealed),
        )
        return op_id

    def _fold(
        self,
        db: sqlite3.Connection,
        table: str,
        record_id: str,
        base_version: int,
        hlc: str,
        fields: dict[str, Any],
    ) -> str | None:
        row = db.execute(
            "SELECT seq, op_id, tbl, rid, base_version, hlc, body FROM outbox"
            " WHERE tbl = ? AND rid = ? ORDER BY seq DESC LIMIT 1",
            (table, record_id),
        ).fetchone()
        sent = (
            row is not None and db.execute("SELECT sent FROM outbox WHERE seq = ?", (row[0],)).fetchone()[0]
        )
        if row is None or sent:
            return None
        prior = self._open_outbox(row)
        if prior.delete or prior.base_version != base_version:
            return None
        merged = {
            "fields": {**prior.fields, **fields},
            "delete": False,
            "field_hlc": {**prior.field_hlc, **{name: hlc for name in fields}},
        }
        sealed = self._seal.seal_json(
            *_outbox_place(prior.op_id, table, record_id, hlc, base_version), merged
        )
        db.execute("UPDATE outbox SET hlc = ?, body = ? WHERE seq = ?", (hlc, sealed, prior.seq))
        return prior.op_id

    def set_base_versions(self, versions: Iterable[tuple[str, str, int]]) -> None:
        """The server applied our ops as is: it will not send them back, so take their versions."""
        with self._tx() as db:
            db.executemany(
                "UPDATE record SET base = ? WHERE tbl = ? AND rid = ? AND base < ?",
                [(version, table, rid, version) for table, rid, version in versions],
            )

    def mark_sent(self, op_ids: Iterable[str]) -> None:
        """About to be pushed: from now on these ops are frozen (a resend must be identical)."""
        with self._tx() as db:
            db.executemany("UPDATE outbox SET sent = 1 WHERE op_id = ?", [(op_id,) for op_id in op_ids])

    def _put_field(
        self,
        db: sqlite3.Connection,
        table: str,
        record_id: str,
        name: str,
        version: int,
        hlc: str,
        value: Any,
    ) -> None:
        sealed = self._seal.seal_json(table, record_id, name, version, value)
        db.execute(
            "INSERT INTO field (tbl, rid, name, version, hlc, value) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tbl, rid, name) DO UPDATE SET"
            " version = excluded.version, hlc = excluded.hlc, value = excluded.value",
            (table, record_id, name, version, hlc, sealed),
        )

    def _set_record(
        self,
        db: sqlite3.Connection,
        table: str,
        record_id: str,
        version: int,
        deleted: bool,
        base: int | None = None,
    ) -> None:
        """``version`` is local (it binds the ciphertexts, never goes back); ``base`` the server's."""
        db.execute(
            "INSERT INTO record (tbl, rid, version, deleted, base) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (tbl, rid) DO UPDATE SET version = excluded.version,"
            " deleted = excluded.deleted, base = COALESCE(?, record.base)",
            (table, record_id, version, int(deleted), base or 0, base),
        )

    def base_version(self, table: str, record_id: str) -> int:
        """The server version this laptop last received (0: the server never had the record)."""
        row = self._db.execute(
            "SELECT base FROM record WHERE tbl = ? AND rid = ?", (table, record_id)
        ).fetchone()
        return int(row[0]) if row else 0

    # --- local writes ----------------------------------------------------------------------------

    def write(self, table: str, record_id: str, fields: dict[str, Any], hlc: str) -> str:
        """New version + sealed fields + outbox entry in one transaction; returns the op_id."""
        _check_ident(table, "Table")
        _check_ident(record_id, "Identifiant d'enregistrement")
        _check_ident(hlc, "Horodatage HLC")
        _check_fields(fields)
        if not fields:
            raise ValueError("Aucun champ à enregistrer.")
        with self._tx() as db:
            row = self._record_row(table, record_id)
            base = self.base_version(table, record_id)
            version = (row[0] if row else 0) + 1
            self._set_record(db, table, record_id, version, False)
            for name, value in fields.items():
                self._put_field(db, table, record_id, name, version, hlc, value)
            self._seal_manifest(db, table, record_id)
            return self._append_outbox(
                db, table, record_id, base, hlc, {"fields": dict(fields), "delete": False}
            )

    def delete(self, table: str, record_id: str, hlc: str) -> str:
        """Tombstone: the record stays (so the version keeps growing), its values are erased."""
        _check_ident(table, "Table")
        _check_ident(record_id, "Identifiant d'enregistrement")
        _check_ident(hlc, "Horodatage HLC")
        with self._tx() as db:
            row = self._record_row(table, record_id)
            if row is None or row[1]:
                raise StoreError("Enregistrement introuvable ou déjà supprimé.")
            base = self.base_version(table, record_id)
            self._set_record(db, table, record_id, row[0] + 1, True)
            db.execute("DELETE FROM field WHERE tbl = ? AND rid = ?", (table, record_id))
            self._seal_manifest(db, table, record_id)
            return self._append_outbox(db, table, record_id, base, hlc, {"fields": {}, "delete": True})

    # --- reads -----------------------------------------------------------------------------------

    def _seal_manifest(self, db: sqlite3.Connection, table: str, record_id: str) -> None:
        """Seal the record's (field, version) list at the record's version.

        Why: each value is bound to its own field row's version; without this list, a whole old
        field row (version and value) put back would open and silently roll the field back.
        """
        (version,) = db.execute(
            "SELECT version FROM record WHERE tbl = ? AND rid = ?", (table, record_id)
        ).fetchone()
        fields = db.execute(
            "SELECT name, version FROM field WHERE tbl = ? AND rid = ? ORDER BY name", (table, record_id)
        ).fetchall()
        sealed = self._seal.seal_json(
            table, record_id, MANIFEST_FIELD, int(version), [list(f) for f in fields]
        )
        db.execute("UPDATE record SET manifest = ? WHERE tbl = ? AND rid = ?", (sealed, table, record_id))

    def read(self, table: str, record_id: str) -> dict[str, Any] | None:
        """The record's values; ``TamperedRecord`` if any row was altered, moved or put back."""
        head = self._db.execute(
            "SELECT version, deleted, manifest FROM record WHERE tbl = ? AND rid = ?", (table, record_id)
        ).fetchone()
        if head is None:
            return None
        version, deleted, manifest = head
        if manifest is None:
            raise TamperedRecord()
        listed = self._seal.open_json(table, record_id, MANIFEST_FIELD, int(version), manifest)
        rows = self._db.execute(
            "SELECT name, version, value FROM field WHERE tbl = ? AND rid = ? ORDER BY name",
            (table, record_id),
        ).fetchall()
        if [[name, int(v)] for name, v, _ in rows] != listed:
            raise TamperedRecord()
        if deleted:
            return None
        return {name: self._seal.open_json(table, record_id, name, int(v), value) for name, v, value in rows}

    def version(self, table: str, record_id: str) -> int:
        """0 when the laptop never saw the record."""
        row = self._record_row(table, record_id)
        return row[0] if row else 0

    def record_ids(self, table: str) -> list[str]:
        """Live (not deleted) records of ``table``, sorted."""
        return [
            r[0]
            for r in self._db.execute(
                "SELECT rid FROM record WHERE tbl = ? AND deleted = 0 ORDER BY rid", (table,)
            )
        ]

    # --- outbox ----------------------------------------------------------------------------------

    def _open_outbox(self, row: tuple) -> PendingOp:
        seq, op_id, table, record_id, base_version, hlc, body = row
        data = self._seal.open_json(*_outbox_place(op_id, table, record_id, hlc, int(base_version)), body)
        return PendingOp(
            seq=int(seq),
            op_id=op_id,
            table=table,
            record_id=record_id,
            base_version=int(base_version),
            hlc=hlc,
            fields=dict(data["fields"]),
            delete=bool(data["delete"]),
            field_hlc=dict(data.get("field_hlc") or {}),
        )

    def pending(self) -> list[PendingOp]:
        rows = self._db.execute(
            "SELECT seq, op_id, tbl, rid, base_version, hlc, body FROM outbox ORDER BY seq"
        ).fetchall()
        return [self._open_outbox(r) for r in rows]

    def pending_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def acknowledge(self, op_ids: Iterable[str]) -> None:
        """Ops the server answered for leave the outbox; unknown ids are ignored."""
        ids = [(op_id,) for op_id in op_ids]
        with self._tx() as db:
            db.executemany("DELETE FROM outbox WHERE op_id = ?", ids)

    # --- pull ------------------------------------------------------------------------------------

    def _pending_fields(self, table: str, record_id: str) -> set[str] | None:
        """Field names touched by pending ops on this record; None when there are none."""
        rows = self._db.execute(
            "SELECT seq, op_id, tbl, rid, base_version, hlc, body FROM outbox"
            " WHERE tbl = ? AND rid = ? ORDER BY seq",
            (table, record_id),
        ).fetchall()
        if not rows:
            return None
        names: set[str] = set()
        for row in rows:
            names.update(self._open_outbox(row).fields)
        return names

    def apply_remote(self, records: list[RemoteRecord], cursor: str) -> None:
        """A pulled page and its cursor land together, or nothing does (the cursor stays put).

        Fields touched by still-pending local ops keep their local values (the server merges them
        when they are pushed); a pending local delete keeps the record deleted locally.
        """
        _check_ident(cursor, "Curseur de synchronisation")
        try:
            with self._tx() as db:
                pending = db.execute("SELECT EXISTS (SELECT 1 FROM outbox)").fetchone()[0]
                for rec in records:
                    self._apply_one(db, rec, pending=bool(pending))
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('sync_cursor', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (cursor.encode("utf-8"),),
                )
        except (ValueError, TypeError, AttributeError):
            raise StoreError("Page de synchronisation invalide : rien n'a été appliqué.") from None

    def _apply_one(self, db: sqlite3.Connection, rec: RemoteRecord, *, pending: bool = True) -> None:
        table = _check_ident(rec.table, "Table")
        record_id = _check_ident(rec.record_id, "Identifiant d'enregistrement")
        version = rec.version
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError("Version distante invalide.")
        remote_fields = _check_fields(rec.fields)
        hlcs = rec.field_hlc
        if not isinstance(hlcs, dict) or not all(isinstance(v, str) for v in hlcs.values()):
            raise TypeError("Horodatages distants invalides.")

        touched = self._pending_fields(table, record_id) if pending else None
        current = self._record_row(table, record_id)
        kept: dict[str, tuple[str, Any]] = {}
        locally_deleted = False
        if touched is not None and current is not None:
            locally_deleted = current[1]
            rows = db.execute(
                "SELECT name, version, hlc, value FROM field WHERE tbl = ? AND rid = ?", (table, record_id)
            ).fetchall()
            for name, fversion, hlc, value in rows:
                if name in touched:
                    kept[name] = (hlc, self._seal.open_json(table, record_id, name, int(fversion), value))

        db.execute("DELETE FROM field WHERE tbl = ? AND rid = ?", (table, record_id))
        if touched is None:
            deleted = bool(rec.deleted)
            new_fields = {} if deleted else {n: (hlcs.get(n, ""), v) for n, v in remote_fields.items()}
        elif locally_deleted:
            deleted, new_fields = True, {}
        else:
            deleted = False
            base = {} if rec.deleted else {n: (hlcs.get(n, ""), v) for n, v in remote_fields.items()}
            new_fields = {**base, **kept}
        # The local version never goes back (an old ciphertext cannot be replayed at a reused
        # version); the server's version is kept apart as the base of the next edits.
        local = max(current[0] + 1, version) if current is not None else version
        self._set_record(db, table, record_id, local, deleted, base=version)
        version = local
        # Kept local values are re-sealed at the new version like the rest of the record.
        for name, (hlc, value) in new_fields.items():
            self._put_field(db, table, record_id, name, version, hlc, value)
        self._seal_manifest(db, table, record_id)

    def cursor(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'sync_cursor'").fetchone()
        return None if row is None else bytes(row[0]).decode("utf-8")

    def purge(self, table: str, record_ids: Iterable[str]) -> None:
        """Scope change: records the laptop may no longer hold. Pending ops stay for the server."""
        ids = [(table, rid) for rid in record_ids]
        with self._tx() as db:
            db.executemany("DELETE FROM field WHERE tbl = ? AND rid = ?", ids)
            db.executemany("DELETE FROM record WHERE tbl = ? AND rid = ?", ids)

    # --- meta ------------------------------------------------------------------------------------

    def set_meta(self, key: str, value: bytes, *, secret: bool) -> None:
        """Secret values (tokens, sealed keys' companions) are sealed at (meta, key)."""
        _check_ident(key, "Clé de métadonnée")
        if key in _RESERVED_META:
            raise ValueError("Clé de métadonnée réservée.")
        if not isinstance(value, bytes | bytearray):
            raise TypeError("Valeur de métadonnée : octets attendus.")
        stored = self._seal.seal(META_TABLE, key, "value", 0, bytes(value)) if secret else bytes(value)
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, stored),
            )

    def get_meta(self, key: str, *, secret: bool) -> bytes | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value = bytes(row[0])
        return self._seal.open(META_TABLE, key, "value", 0, value) if secret else value
