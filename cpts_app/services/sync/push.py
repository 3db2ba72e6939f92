"""Applying a laptop's signed batch: once, in order, each operation merged field by field.

Why one transaction per batch: the device's ``acknowledged_seq`` moves with the changes it
acknowledges, so a batch replayed after a crash (or a kill -9 on either side) is answered
``duplicate`` without applying anything twice. Each operation runs in a savepoint: a rejected one
(bad fields, outside the device's scope, a slot given away meanwhile) is recorded and answered
with its reason, and the ones after it still apply.
"""

from __future__ import annotations

import contextlib

from sqlmodel import Session, col, select

from cpts_app.models.access import User
from cpts_app.models.sync import SyncDevice, SyncRecord, SyncRejection
from cpts_app.services import audit
from cpts_app.services.errors import DomainError
from cpts_app.services.permissions import Actor, Permission, Role, has_permission
from cpts_app.services.sync import records
from cpts_app.services.sync.records import Scope
from cpts_app.services.sync.slot_bookings import BookingRejected, apply_booking
from mobile_sync.merge import POLICIES, IncomingChange, MergeError, merge
from mobile_sync.protocol import (
    ConflictInfo,
    Operation,
    OperationResult,
    PushBatch,
    PushResponse,
    plan_batch,
)
from mobile_sync.schema import LAPTOP_WRITABLE, SchemaError, check_fields

OUT_OF_SCOPE = "Enregistrement hors du périmètre de cet appareil : modification refusée."
READ_ONLY = "Table en lecture seule sur le portable : modification refusée."
NOT_ALLOWED = "Le compte de cet appareil n'a pas le droit d'écrire ces données."
NO_SCOPE = "Appareil sans tournée ni structure : l'administrateur doit lui donner une tournée."

_WRITE_PERMISSION = {
    "patient": Permission.CREATE_PATIENT,
    "consultation": Permission.READ_PATIENT,
    "slot_booking": Permission.BOOK_APPOINTMENT,
}


class Rejected(DomainError):
    """An operation refused on its own; the batch goes on."""


def device_actor(session: Session, device: SyncDevice, ip: str | None = None) -> Actor:
    """The account a laptop works for: its rights bound what the laptop may write."""
    user = session.get(User, device.user_id)
    if user is None or not user.active:
        raise Rejected(NOT_ALLOWED)
    return Actor(
        user_id=device.user_id,
        role=Role(user.role),
        display_name=user.display_name,
        professional_id=user.professional_id,
        ip=ip,
    )


def device_scope(device: SyncDevice) -> Scope:
    return Scope(tour_id=device.tour_id, structure_id=device.structure_id)


def in_scope(row_tour: int | None, row_structure: int | None, scope: Scope) -> bool:
    if scope.tour_id is not None:
        return row_tour == scope.tour_id
    if scope.structure_id is None:
        return False  # a device without any scope holds nothing
    return row_tour is None and row_structure == scope.structure_id


def push(
    session: Session, device: SyncDevice, batch: PushBatch, *, received_ms: int, ip: str | None = None
) -> PushResponse:
    """Apply ``batch`` for ``device`` (already authenticated by its signature)."""
    counter = records.lock_counter(session)
    plan = plan_batch(batch, device.acknowledged_seq)
    known = _known_rows(session, batch.operations)
    results = [_duplicate(known, device, op) for op in plan.duplicates]
    if plan.gap_at is None and plan.to_apply:
        actor = device_actor(session, device, ip)
        records.observe(counter, batch.sent_at_hlc, received_ms)
        for op in plan.to_apply:
            results.append(_apply_one(session, counter, device, actor, op, received_ms, known))
            device.acknowledged_seq = op.seq
        session.add(device)
        audit.record(
            session,
            "sync.push",
            actor_user_id=device.user_id,
            target_type="sync_device",
            target_id=device.device_id,
            ip=ip,
            detail={
                "batch": batch.batch_id,
                "operations": len(plan.to_apply),
                "duplicates": len(plan.duplicates),
                "rejected": sum(r.status == "rejected" for r in results),
            },
        )
    stamp = records.server_stamp(counter, received_ms)
    session.add(counter)
    return PushResponse(
        server_time_ms=records.now_ms(),
        server_hlc=stamp.encode(),
        acknowledged_through_seq=device.acknowledged_seq,
        results=results,
        stopped_at_gap=plan.gap_at,
    )


def _known_rows(session: Session, operations: list[Operation]) -> dict[tuple[str, str], SyncRecord]:
    """The server copies of every record the batch touches, in one query."""
    ids = sorted({op.record_id for op in operations})
    rows = session.exec(select(SyncRecord).where(col(SyncRecord.record_id).in_(ids))).all() if ids else []
    return {(row.tbl, row.record_id): row for row in rows}


def _duplicate(
    known: dict[tuple[str, str], SyncRecord], device: SyncDevice, op: Operation
) -> OperationResult:
    """Already applied (its answer was lost): say so, with the version when the laptop holds it.

    The version is given only if the record is still exactly what this device left it: then the
    pull will not send it back, and the laptop needs the number for its next edits.
    """
    row = known.get((op.table, op.record_id))
    held = row is not None and row.last_origin == device.device_id
    return OperationResult(
        op_id=op.op_id, seq=op.seq, status="duplicate", version=row.version if held and row else None
    )


def _apply_one(
    session: Session,
    counter,
    device: SyncDevice,
    actor: Actor,
    op: Operation,
    received_ms: int,
    known: dict[tuple[str, str], SyncRecord],
) -> OperationResult:
    # Only a booking writes before it can be refused (the agenda decides): it alone needs a
    # savepoint; every other refusal happens before the first write.
    guard = session.begin_nested() if op.table == "slot_booking" else contextlib.nullcontext()
    try:
        with guard:
            return _merge_op(session, counter, device, actor, op, received_ms, known)
    except (Rejected, BookingRejected, SchemaError, MergeError, DomainError) as refusal:
        reason = getattr(refusal, "message", None) or str(refusal) or "Opération refusée."
        _republish(session, counter, op.table, op.record_id)
        session.add(
            SyncRejection(
                device_id=device.device_id,
                op_id=op.op_id,
                tbl=op.table,
                record_id=op.record_id,
                reason=reason[:300],
            )
        )
        audit.record(
            session,
            "sync.operation.rejected",
            actor_user_id=device.user_id,
            target_type=op.table,
            target_id=op.record_id,
            outcome="refused",
            detail={"device": device.device_id, "op": op.op_id},
        )
        return OperationResult(op_id=op.op_id, seq=op.seq, status="rejected", reason=reason[:500])


def _republish(session: Session, counter, tbl: str, record_id: str) -> None:
    """After a refused edit, send the server's unchanged record again so the laptop reverts to it.

    The feed only carries records in the device's scope, so this never leaks a record elsewhere.
    """
    row = records.find(session, tbl, record_id)
    if row is not None:
        scope = Scope(row.tour_id, row.structure_id)
        records.store_state(session, counter, tbl, record_id, records.open_state(row), row=row, scope=scope)


def _merge_op(
    session: Session,
    counter,
    device: SyncDevice,
    actor: Actor,
    op: Operation,
    received_ms: int,
    known: dict[tuple[str, str], SyncRecord],
) -> OperationResult:
    if op.table not in LAPTOP_WRITABLE:
        raise Rejected(READ_ONLY)
    if not has_permission(actor, _WRITE_PERMISSION[op.table]):
        raise Rejected(NOT_ALLOWED)
    scope = device_scope(device)
    if scope.tour_id is None and scope.structure_id is None:
        raise Rejected(NO_SCOPE)
    row = known.get((op.table, op.record_id))
    if row is not None and not in_scope(row.tour_id, row.structure_id, scope):
        raise Rejected(OUT_OF_SCOPE)
    current = records.open_state(row) if row is not None else None
    if not op.delete:
        check_fields(op.table, dict(op.fields), creating=current is None or current.version == 0)
    change = IncomingChange(
        base_version=op.base_version,
        fields=dict(op.fields),
        hlc=op.hlc,
        origin=device.device_id,
        delete=op.delete,
        received_ms=received_ms,
        field_hlc=dict(op.field_hlc),
    )
    result = merge(current, change, POLICIES[op.table])
    if result.status == "rejected":
        raise Rejected(result.reason or "Opération refusée.")
    appointment_id = None
    if op.table == "slot_booking" and current is None and not op.delete:
        appointment_id = apply_booking(session, counter, actor, device, op, scope)
    if result.changed:
        # The laptop already holds exactly this state when nothing else changed since its base.
        clean = (
            not result.conflicts
            and all(
                f.version <= op.base_version or f.origin == device.device_id
                for f in result.state.fields.values()
            )
            and all(result.state.fields[n].value == op.fields[n] for n in result.changed if n in op.fields)
        )
        row = records.store_state(
            session,
            counter,
            op.table,
            op.record_id,
            result.state,
            row=row,
            scope=scope,
            echo_of=device.device_id if clean and op.table != "slot_booking" else None,
        )
        if appointment_id is not None:
            row.domain_id = appointment_id
        known[(op.table, op.record_id)] = row
    for conflict in result.conflicts:
        records.store_conflict(
            session, op.table, op.record_id, conflict, device_id=device.device_id, scope=scope
        )
    audit.record(
        session,
        f"sync.{op.table}.{'delete' if op.delete else 'write'}",
        actor=actor,
        target_type=op.table,
        target_id=op.record_id,
        outcome="conflict" if result.conflicts else "success",
        detail={"device": device.device_id, "fields": sorted(result.changed)},
    )
    return OperationResult(
        op_id=op.op_id,
        seq=op.seq,
        status="conflict" if result.conflicts else "applied",
        version=result.state.version,
        conflicts=[
            ConflictInfo(
                field=c.field,
                kept_value=c.kept_value,
                discarded_value=c.discarded_value,
                reason=c.reason,
            )
            for c in result.conflicts
        ],
    )
