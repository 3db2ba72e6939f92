"""Coordinators review merge conflicts: keep the merged value, or restore the other one to the feed."""

from __future__ import annotations

import secrets
from itertools import count

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func
from sqlmodel import Session, col, select

from cpts_app.models.access import Role
from cpts_app.models.audit import AuditEvent
from cpts_app.models.directory import Structure
from cpts_app.models.sync import SyncChange, SyncConflict, SyncDevice
from cpts_app.services.errors import DomainError, NotFound, PermissionDenied
from cpts_app.services.sync import conflicts, devices, push, records
from mobile_sync.hlc import Timestamp
from mobile_sync.merge import DELETION, Conflict, FieldState, RecordState
from mobile_sync.protocol import PROTOCOL_VERSION, Operation, PushBatch
from tests.services import factories

_seq = count(1)
PATIENT = {"nom": "Durand", "prenoms": "Léa Marie", "date_naissance": "1950-04-02", "sexe": "F"}


def _device(session: Session, admin, label: str) -> SyncDevice:
    # Both laptops serve the same permanence: they share its records.
    home = session.exec(select(Structure).where(Structure.name == "Permanence de Comps")).first()
    home = home or factories.structure(session, "Permanence de Comps", factories.commune(session, "Comps"))
    bus = factories.field_account(session, email=f"bus{next(_seq)}@example.fr", home=home)
    _, code = devices.create_enrolment(session, admin, label=label, user_id=bus.id, tour_id=None)
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return devices.claim_enrolment(session, code, key)


def _push(
    session: Session, device: SyncDevice, table: str, rid: str, fields: dict, *, base: int, at_ms: int
) -> None:
    seq = device.acknowledged_seq + 1
    hlc = Timestamp(at_ms, 0, device.device_id).encode()
    batch = PushBatch(
        protocol=PROTOCOL_VERSION,
        device_id=device.device_id,
        batch_id=secrets.token_hex(16),
        first_seq=seq,
        operations=[
            Operation(
                op_id=secrets.token_hex(16),
                seq=seq,
                table=table,
                record_id=rid,
                base_version=base,
                hlc=hlc,
                fields=fields,
            )
        ],
        sent_at_hlc=hlc,
    )
    answer = push.push(session, device, batch, received_ms=records.now_ms())
    assert answer.results[0].status in ("applied", "conflict"), answer.results[0]


@pytest.fixture
def world(session: Session):
    """Two laptops edited the same patient's name offline: « DURANT » (later) beat « DURAND »."""
    admin = factories.actor(session, Role.ADMIN)
    bus1 = _device(session, admin, "Médicobus – portable 1")
    bus2 = _device(session, admin, "Médicobus – portable 2")
    now = records.now_ms()
    _push(session, bus1, "patient", "pat-1", PATIENT, base=0, at_ms=now - 60_000)
    _push(session, bus1, "patient", "pat-1", {"telephone": "06 11 22 33 44"}, base=1, at_ms=now - 50_000)
    # bus2 started from version 1 and did not see bus1's phone; it changes it too, later.
    _push(session, bus2, "patient", "pat-1", {"telephone": "07 99 88 77 66"}, base=1, at_ms=now - 10_000)
    _push(
        session,
        bus1,
        "consultation",
        "cons-1",
        {
            "patient": "pat-1",
            "date": "2026-03-02T10:00:00+01:00",
            "professionnel": "Dr Petit",
            "motif": "Toux",
        },
        base=0,
        at_ms=now - 40_000,
    )
    _push(session, bus2, "consultation", "cons-1", {"motif": "Fièvre"}, base=0, at_ms=now - 5_000)
    session.commit()
    return {"admin": admin, "coordinator": factories.actor(session, Role.COORDINATOR), "bus1": bus1}


def _conflict(session: Session, tbl: str, field: str) -> SyncConflict:
    return session.exec(
        select(SyncConflict).where(SyncConflict.tbl == tbl, SyncConflict.field == field)
    ).one()


def _audits(session: Session, action: str) -> list[AuditEvent]:
    return session.exec(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_the_list_shows_french_labels_names_and_both_values(session: Session, world) -> None:
    views = conflicts.list_conflicts(session, world["coordinator"])
    by_field = {v.field: v for v in views}
    assert set(by_field) == {"telephone", "motif"}
    phone = by_field["telephone"]
    assert (phone.table_label, phone.field_label, phone.concerns) == (
        "Patient",
        "Téléphone",
        "DURAND Léa Marie",
    )
    assert (phone.kept, phone.discarded) == ("07 99 88 77 66", "06 11 22 33 44")
    assert phone.device_label == "Médicobus – portable 2"
    assert "plus récente" in phone.reason and phone.can_restore and phone.resolution == ""
    assert phone.created_at.tzinfo is not None and str(phone.created_at.tzinfo) == "Europe/Paris"
    reason = by_field["motif"]
    assert (reason.table_label, reason.field_label, reason.concerns) == (
        "Consultation",
        "Motif",
        "DURAND Léa Marie",
    )
    assert (reason.kept, reason.discarded) == ("Fièvre", "Toux")
    assert conflicts.count_open(session, world["coordinator"]) == 2
    # Reading patient data is audited, once per listing.
    assert len(_audits(session, "sync.conflicts.listed")) == 1


def test_values_are_rendered_as_short_french_text() -> None:
    notes = [{"id": "n1", "texte": "Tension 14/9"}, {"id": "n2", "texte": "Revoir dans 8 jours"}]
    assert conflicts.render_value("notes", notes) == "2 notes : « Tension 14/9 » ; « Revoir dans 8 jours »"
    assert conflicts.render_value("notes", notes[:1]) == "1 note : « Tension 14/9 »"
    assert conflicts.render_value("sans_medecin_traitant", True) == "Oui"
    assert conflicts.render_value("sans_medecin_traitant", False) == "Non"
    assert conflicts.render_value("telephone", None) == "(supprimé)"
    assert conflicts.render_value("date_naissance", "1950-04-02") == "02/04/1950"
    assert conflicts.render_value("sexe", "F") == "Féminin"
    assert conflicts.render_value("adresse", "x" * 300).endswith("…")


def test_keeping_marks_it_resolved_without_touching_the_record(session: Session, world) -> None:
    coordinator = world["coordinator"]
    target = _conflict(session, "patient", "telephone")
    before = session.exec(select(func.count()).select_from(SyncChange)).one()
    outcome = conflicts.resolve(session, coordinator, target.id, restore=False)
    session.commit()
    assert outcome.resolution == "kept" and outcome.version is None
    assert session.exec(select(func.count()).select_from(SyncChange)).one() == before
    session.refresh(target)
    assert target.resolution == "kept" and target.resolved_by_user_id == coordinator.user_id
    assert target.resolved_at is not None
    assert [v.field for v in conflicts.list_conflicts(session, coordinator)] == ["motif"]
    everything = conflicts.list_conflicts(session, coordinator, open_only=False)
    kept = next(v for v in everything if v.field == "telephone")
    assert kept.resolution_label == "valeur gardée" and kept.resolved_by == coordinator.display_name
    assert len(_audits(session, "sync.conflict.kept")) == 1
    with pytest.raises(DomainError) as again:
        conflicts.resolve(session, coordinator, target.id, restore=True)
    assert again.value.message == conflicts.ALREADY_RESOLVED


def test_restoring_writes_the_other_value_to_the_change_feed(session: Session, world) -> None:
    coordinator = world["coordinator"]
    target = _conflict(session, "patient", "telephone")
    row = records.find(session, "patient", "pat-1")
    version, last_seq = row.version, row.last_seq
    outcome = conflicts.resolve(session, coordinator, target.id, restore=True)
    session.commit()
    session.refresh(row)
    assert outcome.resolution == "restored" and outcome.version == version + 1
    assert row.version == version + 1 and row.last_seq > last_seq
    state = records.open_state(row)
    assert state.values()["telephone"] == "06 11 22 33 44"
    assert state.fields["telephone"].origin == records.SERVER_NODE
    assert state.values()["nom"] == "Durand"  # the other fields are untouched
    change = session.exec(select(SyncChange).where(SyncChange.seq == row.last_seq)).one()
    assert (change.tbl, change.record_id) == ("patient", "pat-1")
    restored = _audits(session, "sync.conflict.restored")
    assert len(restored) == 1 and restored[0].actor_user_id == coordinator.user_id
    assert "06 11" not in restored[0].detail  # no health data in the audit trail
    assert conflicts.count_open(session, coordinator) == 1


def test_a_laptop_that_pulls_afterwards_receives_the_restored_value(session: Session, world) -> None:
    from cpts_app.services.sync import pull
    from mobile_sync.protocol import PullRequest

    target = _conflict(session, "consultation", "motif")
    conflicts.resolve(session, world["coordinator"], target.id, restore=True)
    session.commit()
    page = pull.pull(session, world["bus1"], PullRequest(device_id=world["bus1"].device_id, cursor=None))
    change = [c for c in page.changes if c.record_id == "cons-1"][-1]
    assert change.fields["motif"] == "Toux"


def test_a_professional_may_neither_list_nor_resolve(session: Session, world) -> None:
    doctor = factories.actor(session, Role.PROFESSIONAL)
    target = _conflict(session, "patient", "telephone")
    with pytest.raises(PermissionDenied):
        conflicts.list_conflicts(session, doctor)
    with pytest.raises(PermissionDenied):
        conflicts.count_open(session, doctor)
    with pytest.raises(PermissionDenied):
        conflicts.resolve(session, doctor, target.id, restore=True)
    session.refresh(target)
    assert target.resolved_at is None
    assert conflicts.list_conflicts(session, world["admin"])  # admins have every permission


def test_unknown_id_deletions_and_deleted_records_are_refused_in_french(session: Session, world) -> None:
    coordinator = world["coordinator"]
    with pytest.raises(NotFound) as unknown:
        conflicts.resolve(session, coordinator, 999_999, restore=False)
    assert unknown.value.message == conflicts.CONFLICT_NOT_FOUND

    # A refused deletion: the record was kept, there is nothing to restore.
    counter = records.lock_counter(session)
    scope = records.Scope(None, None)
    values = {"nom": "Morel", "prenoms": "Jean", "date_naissance": "1960-01-01", "sexe": "M"}
    hlc = records.server_stamp(counter).encode()
    state = RecordState(1, False, {k: FieldState(v, 1, hlc, "serveur") for k, v in values.items()})
    records.store_state(session, counter, "patient", "pat-2", state, row=None, scope=scope)
    refused = records.store_conflict(
        session,
        "patient",
        "pat-2",
        Conflict(DELETION, values, None, hlc, hlc, "Suppression refusée : modifié ailleurs."),
        device_id=None,
        scope=scope,
    )
    session.flush()
    view = next(v for v in conflicts.list_conflicts(session, coordinator) if v.id == refused.id)
    assert (view.field_label, view.discarded, view.concerns) == (
        "Suppression de la fiche",
        "(supprimé)",
        "MOREL Jean",
    )
    assert not view.can_restore and view.device_label == "Serveur"
    with pytest.raises(DomainError) as deletion:
        conflicts.resolve(session, coordinator, refused.id, restore=True)
    assert deletion.value.message == conflicts.DELETION_NOT_RESTORABLE

    # A record deleted since the conflict: its other value cannot come back.
    telephone = _conflict(session, "patient", "telephone")
    row = records.find(session, "patient", "pat-1")
    tomb = RecordState(row.version + 1, True, {})
    records.store_state(session, counter, "patient", "pat-1", tomb, row=row, scope=scope)
    session.flush()
    with pytest.raises(DomainError) as deleted:
        conflicts.resolve(session, coordinator, telephone.id, restore=True)
    assert deleted.value.message == conflicts.RECORD_DELETED
    # Keeping is still possible (the decision is recorded).
    assert conflicts.resolve(session, coordinator, telephone.id, restore=False).resolution == "kept"


def test_open_only_pages_newest_first(session: Session, world) -> None:
    coordinator = world["coordinator"]
    first = conflicts.list_conflicts(session, coordinator, limit=1)
    second = conflicts.list_conflicts(session, coordinator, offset=1, limit=1)
    assert len(first) == len(second) == 1 and first[0].id != second[0].id
    ids = session.exec(select(SyncConflict.id).order_by(col(SyncConflict.id).desc())).all()
    assert [first[0].id, second[0].id] == ids
