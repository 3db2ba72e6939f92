"""The server's copy of synced records: sealed field maps, the change feed, the server's clock.

Why sealed as one envelope per record: the merge needs each field's value, version, clock and
origin; all of it is health data, encrypted at rest with the server's master key (AAD = table and
record id, so a body copied onto another record does not open). Every change takes the next
number of the feed under the ``SyncCounter`` row lock, which also serialises writers: a laptop
that read the feed up to N never finds a smaller number committed later.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from cpts_app.models.sync import SyncChange, SyncConflict, SyncCounter, SyncRecord
from cpts_app.models.types import utcnow
from cpts_app.services import crypto
from mobile_sync.hlc import Timestamp
from mobile_sync.merge import Conflict, FieldState, RecordState

SERVER_NODE = "serveur"
RECORD_PURPOSE = "sync_record"
CONFLICT_PURPOSE = "sync_conflict"


@dataclass(frozen=True)
class Scope:
    """Where a record belongs: a médicobus tour, else a structure (a permanence)."""

    tour_id: int | None
    structure_id: int | None


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _aad_id(tbl: str, record_id: str) -> str:
    return f"{tbl}/{record_id}"


def seal_state(tbl: str, record_id: str, state: RecordState) -> bytes:
    payload = {name: [f.value, f.version, f.hlc, f.origin] for name, f in sorted(state.fields.items())}
    return crypto.seal(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
        purpose=RECORD_PURPOSE,
        record_id=_aad_id(tbl, record_id),
    )


def open_state(row: SyncRecord) -> RecordState:
    raw = crypto.open_sealed(row.body, purpose=RECORD_PURPOSE, record_id=_aad_id(row.tbl, row.record_id))
    payload: dict[str, list[Any]] = json.loads(raw)
    fields = {name: FieldState(v[0], int(v[1]), str(v[2]), str(v[3])) for name, v in payload.items()}
    return RecordState(row.version, row.deleted, fields)


def field_hlcs(state: RecordState) -> dict[str, str]:
    return {name: f.hlc for name, f in state.fields.items() if f.hlc}


def find(session: Session, tbl: str, record_id: str) -> SyncRecord | None:
    return session.exec(
        select(SyncRecord).where(SyncRecord.tbl == tbl, SyncRecord.record_id == record_id)
    ).first()


def lock_counter(session: Session) -> SyncCounter:
    """The feed counter, locked until commit (``FOR UPDATE`` on PostgreSQL; SQLite locks the file)."""
    counter = session.exec(select(SyncCounter).where(SyncCounter.id == 1).with_for_update()).first()
    if counter is None:
        counter = SyncCounter(id=1, last_seq=0, last_hlc="")
        session.add(counter)
        session.flush()
    return counter


def server_stamp(counter: SyncCounter, at_ms: int | None = None) -> Timestamp:
    """The server's next HLC reading, kept in the counter row so every worker shares one clock."""
    wall = now_ms() if at_ms is None else at_ms
    last = Timestamp.parse(counter.last_hlc) if counter.last_hlc else Timestamp(0, 0, SERVER_NODE)
    stamp = (
        Timestamp(wall, 0, SERVER_NODE)
        if wall > last.wall_ms
        else Timestamp(last.wall_ms, last.counter + 1, SERVER_NODE)
    )
    if stamp.counter > 999_999:
        stamp = Timestamp(stamp.wall_ms + 1, 0, SERVER_NODE)
    counter.last_hlc = stamp.encode()
    return stamp


def observe(counter: SyncCounter, remote: str, received_ms: int) -> None:
    """Move the server clock past a (clamped) laptop timestamp, as an HLC must."""
    stamp = Timestamp.parse(remote).clamped(received_ms)
    if not counter.last_hlc or Timestamp.parse(counter.last_hlc) < stamp:
        counter.last_hlc = Timestamp(stamp.wall_ms, stamp.counter, SERVER_NODE).encode()


def store_state(
    session: Session,
    counter: SyncCounter,
    tbl: str,
    record_id: str,
    state: RecordState,
    *,
    row: SyncRecord | None,
    scope: Scope,
    echo_of: str | None = None,
) -> SyncRecord:
    """Save ``state`` and append one feed entry; a record moving scope remembers where it was."""
    counter.last_seq += 1
    previous_tour = row.tour_id if row is not None else None
    if row is None:
        row = SyncRecord(
            tbl=tbl, record_id=record_id, tour_id=scope.tour_id, structure_id=scope.structure_id, body=b""
        )
    else:
        row.tour_id, row.structure_id = scope.tour_id, scope.structure_id
    row.version = state.version
    row.deleted = state.deleted
    row.body = seal_state(tbl, record_id, state)
    row.last_seq = counter.last_seq
    row.last_origin = echo_of
    row.updated_at = utcnow()
    session.add(row)
    session.add(
        SyncChange(
            seq=counter.last_seq,
            tbl=tbl,
            record_id=record_id,
            tour_id=scope.tour_id,
            structure_id=scope.structure_id,
            previous_tour_id=previous_tour if previous_tour != scope.tour_id else None,
        )
    )
    session.add(counter)
    return row


def conflict_aad(tbl: str, record_id: str, field: str) -> str:
    return f"{tbl}/{record_id}/{field}"


def store_conflict(
    session: Session, tbl: str, record_id: str, conflict: Conflict, *, device_id: str | None, scope: Scope
) -> SyncConflict:
    """Keep the losing value sealed for a coordinator: a merge never drops anything silently."""
    body = json.dumps(
        {
            "kept": conflict.kept_value,
            "discarded": conflict.discarded_value,
            "kept_hlc": conflict.kept_hlc,
            "discarded_hlc": conflict.discarded_hlc,
        },
        ensure_ascii=False,
    )
    row = SyncConflict(
        tbl=tbl,
        record_id=record_id,
        field=conflict.field,
        body=crypto.seal(
            body.encode(), purpose=CONFLICT_PURPOSE, record_id=conflict_aad(tbl, record_id, conflict.field)
        ),
        reason=conflict.reason[:300],
        device_id=device_id,
        tour_id=scope.tour_id,
        structure_id=scope.structure_id,
    )
    session.add(row)
    return row


def open_conflict(row: SyncConflict) -> dict[str, Any]:
    """``{"kept", "discarded", "kept_hlc", "discarded_hlc"}`` of a stored conflict."""
    raw = crypto.open_sealed(
        row.body, purpose=CONFLICT_PURPOSE, record_id=conflict_aad(row.tbl, row.record_id, row.field)
    )
    return json.loads(raw)
