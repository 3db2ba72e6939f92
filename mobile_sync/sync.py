"""One synchronisation of a laptop: push the outbox, then pull the feed, resumably.

Why this order and these steps:

- push first, so what was written offline is merged on the server before the laptop reads back;
- each batch is signed and numbered; an op leaves the outbox only once the server answered for it
  (applied, duplicate, conflict or rejected), so a crash or a cut connection at any point means the
  same batch is sent again and the server answers ``duplicate`` — nothing is applied twice, nothing
  is lost;
- rejections (a slot given away meanwhile) and conflicts (a value that lost a merge) are kept,
  sealed, for the laptop's screens « À reprogrammer » and « Conflits »;
- each pulled page lands with its cursor in one transaction: an interrupted pull resumes at the
  last page saved;
- every answer carries the server time: the hybrid clock takes its offset from it, so a laptop
  whose clock is a day off still stamps its edits with the right time.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mobile_sync import field
from mobile_sync.client import SyncClient, SyncRefused
from mobile_sync.envelope import canonical_json, sign
from mobile_sync.hlc import ClockDrift, HybridClock
from mobile_sync.protocol import (
    MAX_BATCH_BYTES,
    PROTOCOL_VERSION,
    SYNC_TABLES,
    Operation,
    PullPage,
    PullRequest,
    PushBatch,
    SignedPullRequest,
    SignedPushBatch,
    batch_signing_body,
)
from mobile_sync.store import LocalStore, PendingOp, RemoteRecord

BATCH_SIZE = 500
PAGE_SIZE = 500
MAX_KEPT = 500
"""Rejections and conflicts kept for the screens (the oldest go first)."""


@dataclass(frozen=True)
class SyncProgress:
    phase: str
    """``envoi``, ``reception`` or ``termine``."""
    done: int
    total: int | None
    message: str


@dataclass(frozen=True)
class SyncReport:
    pushed: int
    rejected: int
    conflicts: int
    pulled: int
    purged: int
    server_time_ms: int
    revoked: bool
    round_trips: int = 0


def _notes(store: LocalStore, key: str) -> list[dict[str, Any]]:
    raw = store.get_meta(key, secret=True)
    return json.loads(raw) if raw else []


def _save_notes(store: LocalStore, key: str, items: list[dict[str, Any]]) -> None:
    store.set_meta(key, json.dumps(items[-MAX_KEPT:], ensure_ascii=False).encode(), secret=True)


def rejections(store: LocalStore) -> list[dict[str, Any]]:
    """Operations the server refused: ``{"op_id", "table", "record_id", "raison", "quand_ms", "champs"}``."""
    return _notes(store, "rejections")


def conflicts(store: LocalStore) -> list[dict[str, Any]]:
    """Values that lost a merge.

    Each: ``{"table", "record_id", "champ", "valeur_gardee", "valeur_ecartee", "raison"}``.
    """
    return _notes(store, "conflicts")


def dismiss_rejection(store: LocalStore, op_id: str) -> None:
    """The user rebooked (or gave up): the notice leaves the « À reprogrammer » list."""
    _save_notes(store, "rejections", [r for r in rejections(store) if r.get("op_id") != op_id])


class _Session:
    """State of one synchronisation run (clock, key, counters, progress)."""

    def __init__(
        self,
        store: LocalStore,
        client: SyncClient,
        progress: Callable[[SyncProgress], None] | None,
        clock: HybridClock | None,
    ) -> None:
        self.store = store
        self.client = client
        self.progress = progress or (lambda _p: None)
        self.device_id = field.device_id(store)
        raw_key = store.get_meta("device_key", secret=True)
        if raw_key is None:
            raise field.FieldError("Clé de l'appareil absente : réinscrivez ce portable.")
        self.key = Ed25519PrivateKey.from_private_bytes(raw_key)
        self.clock = clock or field.clock_for(store)
        self.server_time_ms = 0
        self.round_trips = 0

    def heard(self, server_time_ms: int, server_hlc: str | None) -> None:
        """Every answer: correct the clock offset, and move the HLC past the server's reading."""
        self.server_time_ms = server_time_ms
        self.clock.set_offset(server_time_ms)
        if server_hlc:
            # The offset was just corrected from the same answer: a drift left here is noise.
            with contextlib.suppress(ClockDrift):
                self.clock.observe(server_hlc)

    def call(self, send: Callable[[], Any]) -> Any:
        self.round_trips += 1
        try:
            return send()
        except SyncRefused as refusal:
            if refusal.server_time_ms:
                self.heard(refusal.server_time_ms, None)
            raise  # a revoked laptop is erased by ``synchronise``, in the store's own thread


def _operation(op: PendingOp) -> Operation:
    return Operation(
        op_id=op.op_id,
        seq=op.seq,
        table=op.table,
        record_id=op.record_id,
        base_version=op.base_version,
        hlc=op.hlc,
        fields=op.fields,
        delete=op.delete,
        field_hlc={name: stamp for name, stamp in op.field_hlc.items() if name in op.fields},
    )


def _fitting(ops: list[PendingOp]) -> list[PendingOp]:
    """The leading ops whose batch stays under the server's size limit (always at least one)."""
    budget = MAX_BATCH_BYTES * 3 // 4
    size = 0
    for count, op in enumerate(ops):
        size += len(canonical_json(op.fields)) + 300  # ids, seq, hlc, JSON punctuation
        if size > budget and count:
            return ops[:count]
    return ops


def _push(run: _Session, batch_size: int) -> tuple[int, int, int]:
    store = run.store
    total = store.pending_count()
    done = rejected = conflicted = 0
    run.progress(SyncProgress("envoi", 0, total, f"Envoi de {total} modification(s)…"))
    while True:
        chunk = _fitting(store.pending()[:batch_size])
        if not chunk:
            break
        by_seq = {op.seq: op for op in chunk}
        batch = PushBatch(
            protocol=PROTOCOL_VERSION,
            device_id=run.device_id,
            batch_id=uuid.uuid4().hex,
            first_seq=chunk[0].seq,
            operations=[_operation(op) for op in chunk],
            sent_at_hlc=run.clock.now().encode(),
        )
        signed = SignedPushBatch(batch=batch, signature=sign(run.key, batch_signing_body(batch)))
        store.mark_sent(op.op_id for op in chunk)
        answer = run.call(lambda signed=signed: run.client.push(signed))
        run.heard(answer.server_time_ms, answer.server_hlc)
        if answer.stopped_at_gap is not None:
            raise SyncRefused(
                409,
                f"Le serveur attend l'opération n° {answer.stopped_at_gap}, qui n'est plus sur ce portable : "
                "contactez l'administrateur (rien n'a été effacé ici).",
            )
        new_rejections, new_conflicts, answered = [], [], []
        for result in answer.results:
            op = by_seq.get(result.seq)
            if op is None or op.op_id != result.op_id or result.seq > answer.acknowledged_through_seq:
                continue
            answered.append(op.op_id)
            if result.status == "rejected":
                new_rejections.append(
                    {
                        "op_id": op.op_id,
                        "table": op.table,
                        "record_id": op.record_id,
                        "raison": result.reason or "Opération refusée par le serveur.",
                        "quand_ms": answer.server_time_ms,
                        "champs": op.fields,
                    }
                )
            for item in result.conflicts:
                new_conflicts.append(
                    {
                        "table": op.table,
                        "record_id": op.record_id,
                        "champ": item.field,
                        "valeur_gardee": item.kept_value,
                        "valeur_ecartee": item.discarded_value,
                        "raison": item.reason,
                    }
                )
        if not answered:
            raise SyncRefused(502, "Le serveur n'a accusé réception d'aucune opération : réessayez.")
        # Notices first, then the acknowledgement: a crash in between re-sends the batch, whose
        # answers are then ``duplicate`` — the notice is already kept.
        if new_rejections:
            known = {r["op_id"] for r in rejections(store)}
            _save_notes(
                store,
                "rejections",
                rejections(store) + [r for r in new_rejections if r["op_id"] not in known],
            )
        if new_conflicts:
            _save_notes(store, "conflicts", conflicts(store) + new_conflicts)
        store.acknowledge(answered)
        store.set_base_versions(
            (by_seq[r.seq].table, by_seq[r.seq].record_id, r.version)
            for r in answer.results
            if r.status in ("applied", "duplicate") and r.version and r.seq in by_seq
        )
        _drop_rejected_bookings(store, new_rejections)
        done += len(answered)
        rejected += len(new_rejections)
        conflicted += len(new_conflicts)
        run.progress(SyncProgress("envoi", done, total, f"Envoi : {done}/{total} modification(s)"))
    return done, rejected, conflicted


def _drop_rejected_bookings(store: LocalStore, rejected: list[dict[str, Any]]) -> None:
    """A refused booking never existed on the server: its local copy goes (the notice stays)."""
    ids = [
        r["record_id"]
        for r in rejected
        if r["table"] == "slot_booking" and store.base_version(r["table"], r["record_id"]) == 0
    ]
    if ids:
        store.purge("slot_booking", ids)


def _pull_page(run: _Session, cursor: str | None, page_size: int) -> PullPage:
    for attempt in (1, 2):
        request = PullRequest(
            device_id=run.device_id,
            cursor=cursor,
            limit=page_size,
            sent_at_ms=run.clock.physical_ms(),
            nonce=uuid.uuid4().hex,
        )
        signed = SignedPullRequest(request=request, signature=sign(run.key, request.model_dump(mode="json")))
        try:
            return run.call(lambda signed=signed: run.client.pull(signed))
        except SyncRefused as refusal:
            # A clock gone astray since the last sync: the refusal carried the server time, retry once.
            if attempt == 2 or refusal.status != 401 or not refusal.server_time_ms or refusal.revoked:
                raise
    raise AssertionError("unreachable")


def _reset_scope(store: LocalStore) -> int:
    """Scope changed: keep only records with changes still to push."""
    pending = {(op.table, op.record_id) for op in store.pending()}
    dropped = 0
    for table in sorted(SYNC_TABLES):
        ids = [rid for rid in store.record_ids(table) if (table, rid) not in pending]
        store.purge(table, ids)
        dropped += len(ids)
    return dropped


def _pull(run: _Session, page_size: int) -> tuple[int, int]:
    store = run.store
    cursor = store.cursor()
    pulled = purged = 0
    run.progress(SyncProgress("reception", 0, None, "Réception des modifications du serveur…"))
    # The next page is fetched while this one is applied: the server's work and the laptop's
    # (decrypt there, encrypt here) overlap. Only the network runs in the fetcher thread; the
    # store stays in this one, and each page still lands with its own cursor.
    with ThreadPoolExecutor(1, thread_name_prefix="cpts-reception") as fetcher:
        upcoming = fetcher.submit(_pull_page, run, cursor, page_size)
        while True:
            page = upcoming.result()
            run.heard(page.server_time_ms, page.server_hlc)
            if page.revoked:
                raise SyncRefused(
                    403, "Appareil révoqué : ses clés et ses données sont effacées.", revoked=True
                )
            if page.more:
                upcoming = fetcher.submit(_pull_page, run, page.cursor, page_size)
            applied, dropped = _apply_page(store, page)
            pulled += applied
            purged += dropped
            run.progress(SyncProgress("reception", pulled, None, f"Réception : {pulled} enregistrement(s)"))
            if not page.more:
                return pulled, purged


def _apply_page(store: LocalStore, page: PullPage) -> tuple[int, int]:
    """Purges, then the records and the cursor in one transaction; (records, purged)."""
    purged = 0
    if page.reset:
        purged += _reset_scope(store)
    for item in page.purge:
        store.purge(item.table, item.record_ids)
        purged += len(item.record_ids)
    store.apply_remote(
        [
            RemoteRecord(c.table, c.record_id, c.version, c.deleted, dict(c.fields), dict(c.field_hlc))
            for c in page.changes
        ],
        page.cursor,
    )
    return len(page.changes), purged


def synchronise(
    store: LocalStore,
    client: SyncClient,
    *,
    progress: Callable[[SyncProgress], None] | None = None,
    clock: HybridClock | None = None,
    batch_size: int = BATCH_SIZE,
    page_size: int = PAGE_SIZE,
) -> SyncReport:
    """Push then pull; raises ``SyncRefused`` (status 0: unreachable). A revoked laptop is erased."""
    run = _Session(store, client, progress, clock)
    try:
        pushed, rejected, conflicted = _push(run, batch_size)
        pulled, purged = _pull(run, page_size)
    except SyncRefused as refusal:
        if refusal.revoked and store.path.exists():
            path = store.path
            store.close()
            LocalStore.erase(path)
        raise
    finally:
        if store.is_open:
            field.remember_clock(store, run.clock)
    # The lease and the rollback check compare with the laptop's own clock: store its reading.
    local_now = field.now_ms()
    store.set_meta("last_sync_ms", str(local_now).encode(), secret=True)
    previous = store.get_meta("highest_clock_ms", secret=True)
    highest = max(int(previous.decode()) if previous else 0, local_now)
    store.set_meta("highest_clock_ms", str(highest).encode(), secret=True)
    run.progress(SyncProgress("termine", pushed + pulled, pushed + pulled, "Synchronisation terminée."))
    return SyncReport(
        pushed=pushed,
        rejected=rejected,
        conflicts=conflicted,
        pulled=pulled,
        purged=purged,
        server_time_ms=run.server_time_ms,
        revoked=False,
        round_trips=run.round_trips,
    )
