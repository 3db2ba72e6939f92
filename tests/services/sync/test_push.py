"""The push service without HTTP: gaps, rejections that do not block, scope, replays, echo marks."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, select

from cpts_app.models.audit import AuditEvent
from cpts_app.models.sync import SyncDevice, SyncRecord, SyncRejection
from cpts_app.services.sync import push as push_service
from cpts_app.services.sync import records
from cpts_app.services.sync.records import Scope
from mobile_sync.hlc import Timestamp
from mobile_sync.merge import IncomingChange, merge
from mobile_sync.protocol import Operation, PushBatch
from tests.mobile_sync.world import enrolment_code, make_tour

NOW_MS = 1_800_000_000_000
PATIENT = {"nom": "DURAND", "prenoms": "Jeanne", "date_naissance": "1948-05-02", "sexe": "F"}


def _device(session: Session, engine) -> SyncDevice:
    tour = make_tour(engine)
    enrolment_code(engine, tour, "Bus A")
    device = session.exec(select(SyncDevice)).one()
    device.public_key = b"k" * 32  # the signature is the route's business, not the service's
    session.add(device)
    session.commit()
    return device


def _op(seq: int, rid: str, fields: dict[str, Any], *, base: int = 0, table: str = "patient") -> Operation:
    hlc = Timestamp(NOW_MS + seq, 0, "bus").encode()
    return Operation(
        op_id=uuid.uuid4().hex, seq=seq, table=table, record_id=rid, base_version=base, hlc=hlc, fields=fields
    )


def _batch(device: SyncDevice, *ops: Operation) -> PushBatch:
    return PushBatch(
        protocol=1,
        device_id=device.device_id,
        batch_id=uuid.uuid4().hex,
        first_seq=ops[0].seq,
        operations=list(ops),
        sent_at_hlc=Timestamp(NOW_MS, 0, "bus").encode(),
    )


def _push(session: Session, device: SyncDevice, *ops: Operation):
    answer = push_service.push(session, device, _batch(device, *ops), received_ms=NOW_MS)
    session.commit()
    return answer


def test_a_gap_applies_nothing_and_says_where_to_resume(session: Session, engine) -> None:
    device = _device(session, engine)
    answer = _push(session, device, _op(3, "p1", PATIENT))
    assert answer.stopped_at_gap == 1 and answer.results == [] and answer.acknowledged_through_seq == 0
    assert session.exec(select(SyncRecord)).all() == []


def test_a_rejected_operation_is_kept_and_does_not_block_the_next(session: Session, engine) -> None:
    device = _device(session, engine)
    answer = _push(
        session,
        device,
        _op(1, "p1", {**PATIENT, "groupe_sanguin": "A+"}),  # not a field of the table
        _op(2, "p2", PATIENT),
    )
    assert [r.status for r in answer.results] == ["rejected", "applied"]
    assert "groupe_sanguin" in (answer.results[0].reason or "")
    assert answer.acknowledged_through_seq == 2
    rejection = session.exec(select(SyncRejection)).one()
    assert (rejection.record_id, rejection.device_id) == ("p1", device.device_id)
    actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert "sync.operation.rejected" in actions and "sync.patient.write" in actions
    assert [r.record_id for r in session.exec(select(SyncRecord)).all()] == ["p2"]


def test_a_record_of_another_tour_and_the_read_only_agenda_are_refused(session: Session, engine) -> None:
    device = _device(session, engine)
    other = make_tour(engine, suffix="2")
    counter = records.lock_counter(session)
    state = merge(
        None,
        IncomingChange(0, PATIENT, Timestamp(NOW_MS, 0, "x").encode(), "x"),
        push_service.POLICIES["patient"],
    )
    records.store_state(
        session, counter, "patient", "ailleurs", state.state, row=None, scope=Scope(other.tour_id, None)
    )
    session.commit()
    answer = _push(
        session,
        device,
        _op(1, "ailleurs", {"telephone": "06 12 34 56 78"}, base=1),
        _op(2, "slot-1", {"statut": "bloque"}, table="appointment"),
    )
    assert [r.status for r in answer.results] == ["rejected", "rejected"]
    assert "périmètre" in (answer.results[0].reason or "")
    assert "lecture seule" in (answer.results[1].reason or "")


def test_a_replay_is_answered_duplicate_with_the_version_the_laptop_holds(session: Session, engine) -> None:
    device = _device(session, engine)
    first = _op(1, "p1", PATIENT)
    assert [r.status for r in _push(session, device, first).results] == ["applied"]
    again = _push(session, device, first)
    assert [(r.status, r.version) for r in again.results] == [("duplicate", 1)]
    assert session.exec(select(SyncRecord)).one().version == 1


def test_the_echo_mark_is_set_only_when_the_laptop_holds_exactly_the_result(session: Session, engine) -> None:
    device = _device(session, engine)
    _push(session, device, _op(1, "p1", PATIENT))
    row = session.exec(select(SyncRecord)).one()
    assert row.last_origin == device.device_id  # its pull need not send it back
    # Someone else changes the address; the laptop, still at version 1, changes the phone.
    counter = records.lock_counter(session)
    result = merge(
        records.open_state(row),
        IncomingChange(
            1, {"adresse": "Mas des Pins"}, Timestamp(NOW_MS + 50, 0, "serveur").encode(), "serveur"
        ),
        push_service.POLICIES["patient"],
    )
    records.store_state(
        session, counter, "patient", "p1", result.state, row=row, scope=Scope(row.tour_id, None)
    )
    session.commit()
    _push(session, device, _op(2, "p1", {"telephone": "06 12 34 56 78"}, base=1))
    session.refresh(row)
    assert row.last_origin is None  # the laptop lacks the address: the record must go back down
    assert records.open_state(row).values()["adresse"] == "Mas des Pins"
