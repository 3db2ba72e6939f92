"""Pages of the change feed for one laptop: its scope only, resumable by cursor.

Why the feed and not "records changed since a date": numbers handed out under a lock never go
back and never skip, so a cursor is exact — a page interrupted by a dropped connection is simply
asked again. A record that left the device's tour comes out as a purge; a scope change (new
``scope_epoch``) tells the laptop to drop what it holds and start again from zero.
"""

from __future__ import annotations

from sqlalchemy import false, or_
from sqlmodel import Session, col, select

from cpts_app.models.sync import SyncChange, SyncDevice, SyncRecord
from cpts_app.services import audit
from cpts_app.services.sync import records
from cpts_app.services.sync.slot_bookings import publish_tour
from mobile_sync.protocol import (
    MAX_PURGE_IDS,
    PullPage,
    PullRequest,
    PurgeItem,
    RemoteChange,
    decode_cursor,
    encode_cursor,
)


def _record_scope(device: SyncDevice):
    if device.tour_id is not None:
        return SyncRecord.tour_id == device.tour_id
    if device.structure_id is None:
        return false()  # a device without any scope receives nothing
    return col(SyncRecord.tour_id).is_(None) & (SyncRecord.structure_id == device.structure_id)


def _left_scope(session: Session, device: SyncDevice, after: int, through: int) -> dict[str, list[str]]:
    """Records whose change in (after, through] took them out of the device's tour: to purge."""
    if device.tour_id is None:
        return {}
    moved = session.exec(
        select(SyncChange.tbl, SyncChange.record_id)
        .join(SyncRecord, (SyncRecord.tbl == SyncChange.tbl) & (SyncRecord.record_id == SyncChange.record_id))
        .where(
            SyncChange.seq > after,
            SyncChange.seq <= through,
            SyncChange.previous_tour_id == device.tour_id,
            or_(col(SyncRecord.tour_id).is_(None), SyncRecord.tour_id != device.tour_id),
        )
    ).all()
    purge: dict[str, set[str]] = {}
    for tbl, record_id in moved:
        purge.setdefault(tbl, set()).add(record_id)
    return {tbl: sorted(ids) for tbl, ids in purge.items()}


def pull(session: Session, device: SyncDevice, request: PullRequest, *, ip: str | None = None) -> PullPage:
    """One page of records changed after ``request.cursor`` (``ProtocolError`` for a bad cursor).

    Each record comes once, in the order of its last change (``SyncRecord.last_seq``), so a busy
    record edited a thousand times costs one entry. A record the device itself just pushed, as it
    is, is not sent back (``last_origin``) — except on a first pull, when the laptop holds nothing.
    """
    counter = records.lock_counter(session)
    position, epoch = decode_cursor(request.cursor) if request.cursor else (0, device.scope_epoch)
    if epoch != device.scope_epoch:
        stamp = records.server_stamp(counter)
        session.add(counter)
        return PullPage(
            server_time_ms=records.now_ms(),
            server_hlc=stamp.encode(),
            cursor=encode_cursor(0, device.scope_epoch),
            more=True,
            reset=True,
        )
    if device.tour_id is not None:
        publish_tour(session, counter, device.tour_id)
    query = select(SyncRecord).where(SyncRecord.last_seq > position, _record_scope(device))
    if position > 0:
        query = query.where(
            or_(col(SyncRecord.last_origin).is_(None), SyncRecord.last_origin != device.device_id)
        )
    rows = session.exec(query.order_by(col(SyncRecord.last_seq)).limit(request.limit + 1)).all()
    more = len(rows) > request.limit
    rows = rows[: request.limit]
    through = rows[-1].last_seq if more else counter.last_seq
    changes: list[RemoteChange] = []
    for row in rows:
        if row.deleted:
            changes.append(
                RemoteChange(table=row.tbl, record_id=row.record_id, version=row.version, deleted=True)
            )
            continue
        state = records.open_state(row)
        changes.append(
            RemoteChange(
                table=row.tbl,
                record_id=row.record_id,
                version=row.version,
                fields=state.values(),
                field_hlc=records.field_hlcs(state),
            )
        )
    purge = _left_scope(session, device, position, through)
    if changes or purge:
        audit.record(
            session,
            "sync.pull",
            actor_user_id=device.user_id,
            target_type="sync_device",
            target_id=device.device_id,
            ip=ip,
            detail={
                "records": len(changes),
                "purged": sum(len(v) for v in purge.values()),
                "through": through,
            },
        )
    stamp = records.server_stamp(counter)
    session.add(counter)
    return PullPage(
        server_time_ms=records.now_ms(),
        server_hlc=stamp.encode(),
        changes=changes,
        cursor=encode_cursor(through, device.scope_epoch),
        more=more,
        purge=[
            PurgeItem(table=t, record_ids=ids[i : i + MAX_PURGE_IDS])
            for t, ids in sorted(purge.items())
            for i in range(0, len(ids), MAX_PURGE_IDS)
        ],
    )
