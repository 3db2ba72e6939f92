"""Faults on the way: kill -9, cut connections, replays, tampering, revocation, bad input.

Each test breaks something at a precise point and then checks the promises of ``sync.py``:
nothing lost, nothing applied twice, the outbox empties only for what the server answered, and
refusals are French and leave the laptop's pending work in place.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from cpts_app.models.audit import AuditEvent
from cpts_app.models.sync import SyncChange, SyncDevice, SyncRecord
from cpts_app.services import keyring
from cpts_app.services.sync import devices, records
from mobile_sync import field
from mobile_sync.client import SyncClient, SyncRefused
from mobile_sync.envelope import TamperedRecord, sign
from mobile_sync.protocol import (
    BAD_SIGNATURE,
    MAX_BATCH_BYTES,
    PROTOCOL_VERSION,
    Operation,
    PushBatch,
    SignedPushBatch,
    batch_signing_body,
    decode_cursor,
)
from tests.mobile_sync.live_server import PROJECT, LiveServer
from tests.mobile_sync.world import PASSPHRASE, Laptop, enrolment_code

SCRIPT = Path(__file__).with_name("sync_subprocess.py")
PUSH = "/api/sync/envoi"
PULL = "/api/sync/reception"


# --- helpers ----------------------------------------------------------------------------------------


class Recorder(SyncClient):
    """A client that remembers what the server answered (statuses per op, pulled pages)."""

    def __init__(self, inner: SyncClient) -> None:
        self._inner = inner
        self.statuses: Counter[str] = Counter()
        self.signed: list[SignedPushBatch] = []
        self.pages = 0

    def push(self, signed):
        self.signed.append(signed)
        answer = self._inner.push(signed)
        self.statuses.update(r.status for r in answer.results)
        return answer

    def pull(self, signed):
        page = self._inner.pull(signed)
        self.pages += 1
        return page

    def close(self) -> None:
        self._inner.close()


class Faulty(httpx.BaseTransport):
    """Wraps a transport; on the ``nth`` request to ``path`` the connection drops.

    ``when="before"``: the request never reaches the server. ``"after"``: the server handled it
    (and committed), then the answer is lost on the way back. ``mangle`` rewrites the body instead.
    """

    def __init__(self, inner: httpx.BaseTransport, path: str, nth: int, when: str = "before", mangle=None):
        self.inner, self.path, self.nth, self.when, self.mangle = inner, path, nth, when, mangle
        self.count = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == self.path:
            self.count += 1
            if self.count == self.nth or (self.mangle is not None and self.nth == 0):
                if self.mangle is not None:
                    body = request.read()
                    gzipped = request.headers.get("content-encoding") == "gzip"
                    body = self.mangle(gzip.decompress(body) if gzipped else body)
                    body = gzip.compress(body) if gzipped else body
                    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
                    request = httpx.Request(request.method, request.url, headers=headers, content=body)
                elif self.when == "before":
                    raise httpx.ReadError("connexion coupée", request=request)
                else:
                    response = self.inner.handle_request(request)
                    response.read()
                    raise httpx.ReadError("connexion coupée après la réponse", request=request)
        return self.inner.handle_request(request)


def faulty_client(api: TestClient, path: str, nth: int, when: str = "before", mangle=None) -> SyncClient:
    transport = Faulty(api._transport, path, nth, when, mangle)
    return SyncClient(httpx.Client(transport=transport, base_url=str(api.base_url)))


def server_rows(engine, table: str) -> dict[str, tuple[int, bool, dict[str, Any]]]:
    with Session(engine) as session:
        rows = session.exec(select(SyncRecord).where(SyncRecord.tbl == table)).all()
        return {r.record_id: (r.version, r.deleted, records.open_state(r).values()) for r in rows}


def snapshot(engine) -> dict[str, Any]:
    """Everything a replay could change on the server."""
    with Session(engine) as session:
        rows = session.exec(select(SyncRecord).order_by(col(SyncRecord.tbl), col(SyncRecord.record_id))).all()
        return {
            "records": [(r.tbl, r.record_id, r.version, r.deleted, r.last_seq) for r in rows],
            "changes": session.exec(select(func.count()).select_from(SyncChange)).one(),
            "acks": sorted((d.device_id, d.acknowledged_seq) for d in session.exec(select(SyncDevice)).all()),
            "writes": session.exec(
                select(func.count())
                .select_from(AuditEvent)
                .where(col(AuditEvent.action).like("sync.%.write"))
            ).one(),
        }


def applied_writes(engine, device_id: str) -> Counter[str]:
    """How many times the server applied an op of ``device_id`` to each record (audit trail)."""
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "sync.patient.write")).all()
    return Counter(e.target_id for e in events if json.loads(e.detail).get("device") == device_id)


def acknowledged(engine, device_id: str) -> int:
    with Session(engine) as session:
        return (
            session.exec(select(SyncDevice).where(SyncDevice.device_id == device_id)).one().acknowledged_seq
        )


def feed_size(engine, tour_id: int) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(SyncChange).where(SyncChange.tour_id == tour_id)
        ).one()


def assert_laptop_matches_server(
    laptop: Laptop, engine, tables=("patient", "appointment"), *, versions: bool = True
) -> None:
    """Same records, same values; with ``versions``, the laptop also knows each server version."""
    for table in tables:
        rows = server_rows(engine, table)
        assert laptop.db.record_ids(table) == sorted(rid for rid, row in rows.items() if not row[1])
        for rid, (version, _deleted, values) in rows.items():
            assert laptop.db.read(table, rid) == values, (table, rid)
            if versions:
                assert laptop.db.base_version(table, rid) == version, (table, rid)


def signed_batch(laptop: Laptop, *, device_id: str | None = None) -> SignedPushBatch:
    """What the engine sends for the laptop's whole outbox, signed with its key."""
    ops = laptop.db.pending()
    batch = PushBatch(
        protocol=PROTOCOL_VERSION,
        device_id=device_id or laptop.device_id,
        batch_id=uuid.uuid4().hex,
        first_seq=ops[0].seq,
        operations=[
            Operation(
                op_id=op.op_id,
                seq=op.seq,
                table=op.table,
                record_id=op.record_id,
                base_version=op.base_version,
                hlc=op.hlc,
                fields=op.fields,
                delete=op.delete,
            )
            for op in ops
        ],
        sent_at_hlc=laptop.clock.now().encode(),
    )
    raw_key = laptop.db.get_meta("device_key", secret=True)
    assert raw_key is not None
    key = Ed25519PrivateKey.from_private_bytes(raw_key)
    return SignedPushBatch(batch=batch, signature=sign(key, batch_signing_body(batch)))


def post(api: TestClient, body: bytes) -> httpx.Response:
    return api.post(PUSH, content=body, headers={"Content-Type": "application/json"})


def sql(laptop: Laptop, statement: str, *params: Any) -> list[tuple]:
    """Raw access to the closed laptop's SQLite file, as a thief (or a bad disk) would have."""
    assert laptop.store is None, "close the laptop first"
    conn = sqlite3.connect(field.store_path(laptop.folder), isolation_level=None)
    try:
        return conn.execute(statement, params).fetchall()
    finally:
        conn.close()


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def live(database_url: str, engine, tmp_path):
    keyring.current_key_id()  # one master key, made before two processes could race for it
    with LiveServer(database_url, tmp_path / "server.log") as server:
        yield server


@pytest.fixture
def live_laptops(tmp_path, live: LiveServer, engine, tour):
    made: list[Laptop] = []

    def make(label: str) -> Laptop:
        client = SyncClient(httpx.Client(base_url=live.url, timeout=30))
        laptop = Laptop(tmp_path / label, client, enrolment_code(engine, tour, label))
        laptop.db.set_meta("server_url", live.url.encode(), secret=False)
        made.append(laptop)
        return laptop

    yield make
    for laptop in made:
        laptop.close()
        laptop.client.close()


def run_sync(laptop: Laptop, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    laptop.close()
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--dossier", str(laptop.folder), "--serveur", url, *args],
        input=PASSPHRASE + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT,
    )


# --- 1. kill -9 during push and during pull, then resume ---------------------------------------------


@pytest.mark.parametrize(
    ("point", "at", "server_acked", "left_in_outbox", "duplicates"),
    [
        ("push-acked", 1, 2, 3, 0),  # batch 1 applied and acknowledged: the rest is sent once
        ("push-answered", 1, 2, 5, 2),  # batch 1 applied, its answer never acknowledged: re-sent
        ("push-answered", 2, 4, 3, 2),  # same on the second batch
    ],
)
def test_kill_9_during_push_then_resume_loses_nothing_and_applies_nothing_twice(
    live_laptops, live, engine, point, at, server_acked, left_in_outbox, duplicates
) -> None:
    a = live_laptops("bus-a")
    p1 = a.new_patient()
    a.sync()
    a.write("patient", p1, {"telephone": "06 99 99 99 01", "adresse": "Mas des Oliviers"})
    others = [a.new_patient(nom=f"PATIENT{n}", prenoms="Louis") for n in range(4)]
    pending = a.db.pending()
    assert len(pending) == 5  # seq 2..6, batches of 2: [2,3] [4,5] [6]
    first_seq = pending[0].seq

    done = run_sync(a, live.url, "--kill", point, "--at", str(at), "--batch-size", "2")
    assert done.returncode == -9, done.stdout + done.stderr
    assert f"KILL {point} {at}" in done.stdout
    assert acknowledged(engine, a.device_id) == first_seq - 1 + server_acked
    a.reopen()
    assert a.db.pending_count() == left_in_outbox

    spy = Recorder(a.client)
    a.client = spy
    report = a.sync(batch_size=2)
    assert spy.statuses["duplicate"] == duplicates
    assert report.pushed == left_in_outbox and report.rejected == 0
    assert a.db.pending_count() == 0
    assert acknowledged(engine, a.device_id) == first_seq - 1 + 5
    # Each op applied exactly once: one audited write, one feed entry and one version per op.
    expected = Counter({p1: 2, **{rid: 1 for rid in others}})
    assert applied_writes(engine, a.device_id) == expected
    rows = server_rows(engine, "patient")
    assert {rid: row[0] for rid, row in rows.items()} == dict(expected)
    with Session(engine) as session:
        changes = session.exec(select(SyncChange).where(SyncChange.tbl == "patient")).all()
    assert Counter(c.record_id for c in changes) == expected
    assert rows[p1][2]["telephone"] == "06 99 99 99 01" and rows[p1][2]["adresse"] == "Mas des Oliviers"
    # Versions: see test_after_a_lost_answer_the_laptop_still_learns_the_server_versions.
    assert_laptop_matches_server(a, engine, versions=duplicates == 0)


@pytest.mark.parametrize(
    ("point", "at"),
    [
        ("pull-saved", 1),  # page 1 and its cursor saved, then killed
        ("pull-answered", 2),  # page 2 received, killed before saving it
        ("pull-mid-page", 2),  # killed inside page 2's SQLite transaction, before COMMIT
    ],
)
def test_kill_9_during_pull_resumes_at_the_last_saved_page(
    live_laptops, live, engine, tour, point, at
) -> None:
    a = live_laptops("bus-a")
    for n in range(7):
        a.new_patient(nom=f"PATIENT{n}", prenoms="Jeanne")
    a.sync()  # also publishes the tour's slots in the feed
    total = feed_size(engine, tour.tour_id)
    assert total == 7 + len(tour.slot_ids)
    b = live_laptops("bus-b")

    done = run_sync(b, live.url, "--kill", point, "--at", str(at), "--page-size", "2")
    assert done.returncode == -9, done.stdout + done.stderr
    assert f"KILL {point} {at}" in done.stdout
    b.reopen()  # opens (integrity check included) after a kill inside a transaction
    held = b.db.record_ids("patient") + b.db.record_ids("appointment")
    assert len(held) == 2  # exactly page 1: page 2 (received or half-written) left no trace
    cursor = b.db.cursor()
    assert cursor is not None
    with Session(engine) as session:
        second = session.exec(
            select(SyncChange.seq).where(SyncChange.tour_id == tour.tour_id).order_by(col(SyncChange.seq))
        ).all()[1]
    assert decode_cursor(cursor)[0] == second

    report = b.sync(page_size=2)
    assert report.pulled == total - 2  # resumed after page 1, not from the start
    assert_laptop_matches_server(b, engine)
    assert len(b.db.record_ids("patient")) + len(b.db.record_ids("appointment")) == total


def test_the_cli_sync_command_runs_in_a_real_process_and_a_revoked_laptop_wipes_itself(
    live_laptops, live, engine, tour
) -> None:
    a = live_laptops("bus-a")
    rid = a.new_patient()
    a.close()
    command = [sys.executable, "-m", "mobile_sync", "--dossier", str(a.folder), "--phrase-stdin", "sync"]
    done = subprocess.run(
        command, input=PASSPHRASE + "\n", capture_output=True, text=True, timeout=60, cwd=PROJECT
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Synchronisation terminée" in done.stdout
    assert server_rows(engine, "patient")[rid][0] == 1

    a.reopen()
    a.write("patient", rid, {"telephone": "06 00 00 00 09"})
    a.close()
    with Session(engine) as session:
        devices.revoke(session, tour.admin, a.device_id, "vol du portable")
        session.commit()
    done = subprocess.run(
        command, input=PASSPHRASE + "\n", capture_output=True, text=True, timeout=60, cwd=PROJECT
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "révoqué" in done.stderr
    assert list(a.folder.iterdir()) == []
    assert server_rows(engine, "patient")[rid][0] == 1  # the pending edit of a revoked laptop is not applied


# --- 2. connection dropped --------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_connection_dropped_on_the_second_page_resumes_from_the_saved_cursor(
    laptops, api, engine, tour, when
) -> None:
    a = laptops("bus-a")
    for n in range(5):
        a.new_patient(nom=f"PATIENT{n}")
    a.sync()
    total = feed_size(engine, tour.tour_id)
    b = laptops("bus-b", faulty_client(api, PULL, nth=2, when=when))
    with pytest.raises(SyncRefused) as cut:
        b.sync(page_size=3)
    assert cut.value.status == 0 and "injoignable" in cut.value.message
    assert len(b.db.record_ids("patient")) + len(b.db.record_ids("appointment")) == 3
    first_page_cursor = b.db.cursor()

    b.client = Recorder(SyncClient(api))
    report = b.sync(page_size=3)
    assert report.pulled == total - 3
    assert b.client.pages == -(-(total - 3) // 3) or b.client.pages == -(-(total - 3) // 3) + 1
    assert (
        first_page_cursor is not None
        and decode_cursor(b.db.cursor())[0] > decode_cursor(first_page_cursor)[0]
    )
    assert_laptop_matches_server(b, engine)


def test_an_answer_lost_after_the_server_applied_the_batch_is_resent_as_duplicate(
    laptops, api, engine
) -> None:
    a = laptops("bus-a", faulty_client(api, PUSH, nth=1, when="after"))
    rid = a.new_patient()
    other = a.new_patient(nom="MARTIN")
    with pytest.raises(SyncRefused) as cut:
        a.sync()
    assert cut.value.status == 0
    assert a.db.pending_count() == 2  # nothing acknowledged: the answer never came
    assert acknowledged(engine, a.device_id) == 2  # …but the server did apply it
    before = snapshot(engine)

    a.client = Recorder(SyncClient(api))
    a.sync()
    assert a.client.statuses == Counter({"duplicate": 2})
    assert a.db.pending_count() == 0
    after = snapshot(engine)
    assert after["writes"] == before["writes"] and after["acks"] == before["acks"]
    assert {k: v[0] for k, v in server_rows(engine, "patient").items()} == {rid: 1, other: 1}
    assert applied_writes(engine, a.device_id) == Counter({rid: 1, other: 1})
    assert_laptop_matches_server(a, engine, versions=False)


def test_after_a_lost_answer_the_laptop_still_learns_the_server_versions(laptops, api, engine) -> None:
    a = laptops("bus-a", faulty_client(api, PUSH, nth=2, when="after"))
    a.new_patient(nom="AVANT")
    a.sync()  # the cursor is past a record now: not a first pull any more (that one sends everything)
    rid = a.new_patient()
    with pytest.raises(SyncRefused):
        a.sync()
    a.client = SyncClient(api)
    a.sync()
    a.sync()
    assert a.db.pending_count() == 0
    assert a.db.base_version("patient", rid) == server_rows(engine, "patient")[rid][0] == 1


# --- 3. a batch sent twice ---------------------------------------------------------------------------


def test_the_same_signed_batch_posted_twice_is_answered_duplicate_and_changes_nothing(
    laptops, api, engine
) -> None:
    a = laptops("bus-a")
    p1 = a.new_patient()
    a.sync()
    a.write("patient", p1, {"telephone": "06 11 11 11 11"})
    p2, p3 = a.new_patient(nom="MARTIN"), a.new_patient(nom="BERNARD")
    body = signed_batch(a).model_dump_json().encode()

    first = post(api, body)
    assert first.status_code == 200, first.text
    assert [r["status"] for r in first.json()["results"]] == ["applied"] * 3
    before = snapshot(engine)
    second = post(api, body)
    assert second.status_code == 200, second.text
    assert [r["status"] for r in second.json()["results"]] == ["duplicate"] * 3
    assert second.json()["acknowledged_through_seq"] == first.json()["acknowledged_through_seq"]
    assert snapshot(engine) == before
    assert {rid: row[0] for rid, row in server_rows(engine, "patient").items()} == {p1: 2, p2: 1, p3: 1}

    # The laptop never saw the answers: its own sync sends them a third time, still harmless.
    a.client = Recorder(SyncClient(api))
    a.sync()
    assert a.client.statuses == Counter({"duplicate": 3})
    assert snapshot(engine)["writes"] == before["writes"]
    assert a.db.pending_count() == 0
    assert_laptop_matches_server(a, engine, versions=False)


# --- 4. tampering with the laptop's store ------------------------------------------------------------


def _flip(blob: bytes, at: int = -5) -> bytes:
    data = bytearray(blob)
    data[at] ^= 0x01
    return bytes(data)


def test_a_flipped_byte_in_a_sealed_value_is_refused_on_reading(laptops) -> None:
    a = laptops("bus-a")
    rid = a.new_patient()
    a.close()
    ((blob,),) = sql(a, "SELECT value FROM field WHERE tbl='patient' AND rid=? AND name='nom'", rid)
    sql(a, "UPDATE field SET value=? WHERE tbl='patient' AND rid=? AND name='nom'", _flip(blob), rid)
    a.reopen()
    with pytest.raises(TamperedRecord) as refused:
        a.db.read("patient", rid)
    assert refused.value.message == "Donnée chiffrée altérée ou déplacée."


def test_a_tampered_outbox_entry_stops_the_sync_before_anything_is_sent(laptops, engine) -> None:
    a = laptops("bus-a")
    rid = a.new_patient()
    a.close()
    ((body,),) = sql(a, "SELECT body FROM outbox")
    sql(a, "UPDATE outbox SET body=?", _flip(body, 20))
    a.reopen()
    with pytest.raises(TamperedRecord):
        a.sync()
    assert rid not in server_rows(engine, "patient")
    assert acknowledged(engine, a.device_id) == 0
    assert a.db.pending_count() == 1  # kept: nothing was answered for it


def test_ciphertexts_swapped_between_records_or_fields_do_not_open(laptops) -> None:
    a = laptops("bus-a")
    r1, r2 = a.new_patient(), a.new_patient(nom="MARTIN", prenoms="Louis")
    a.close()
    blob = {
        (rid, name): sql(a, "SELECT value FROM field WHERE tbl='patient' AND rid=? AND name=?", rid, name)[0][
            0
        ]
        for rid in (r1, r2)
        for name in ("nom", "prenoms")
    }
    # Same field, two records (same version): MARTIN's name moved onto DURAND's record.
    sql(a, "UPDATE field SET value=? WHERE rid=? AND name='nom'", blob[(r2, "nom")], r1)
    sql(a, "UPDATE field SET value=? WHERE rid=? AND name='nom'", blob[(r1, "nom")], r2)
    a.reopen()
    for rid in (r1, r2):
        with pytest.raises(TamperedRecord):
            a.db.read("patient", rid)
    a.close()
    # Two fields of one record.
    sql(a, "UPDATE field SET value=? WHERE rid=? AND name='nom'", blob[(r1, "nom")], r1)
    sql(a, "UPDATE field SET value=? WHERE rid=? AND name='prenoms'", blob[(r1, "nom")], r1)
    a.reopen()
    with pytest.raises(TamperedRecord):
        a.db.read("patient", r1)
    a.close()
    # Two outbox bodies.
    bodies = sql(a, "SELECT seq, body FROM outbox ORDER BY seq")
    sql(a, "UPDATE outbox SET body=? WHERE seq=?", bodies[1][1], bodies[0][0])
    sql(a, "UPDATE outbox SET body=? WHERE seq=?", bodies[0][1], bodies[1][0])
    a.reopen()
    with pytest.raises(TamperedRecord):
        a.db.pending()


def test_an_old_ciphertext_put_back_after_an_edit_is_refused(laptops) -> None:
    a = laptops("bus-a")
    rid = a.new_patient()
    a.sync()
    a.close()
    ((old,),) = sql(a, "SELECT value FROM field WHERE rid=? AND name='telephone'", rid)
    a.reopen()
    a.write("patient", rid, {"telephone": "06 22 22 22 22"})
    a.close()
    sql(a, "UPDATE field SET value=? WHERE rid=? AND name='telephone'", old, rid)
    a.reopen()
    with pytest.raises(TamperedRecord):
        a.db.read("patient", rid)


def test_an_old_field_row_put_back_whole_is_refused(laptops) -> None:
    a = laptops("bus-a")
    rid = a.new_patient()
    a.sync()
    a.close()
    ((version, old),) = sql(a, "SELECT version, value FROM field WHERE rid=? AND name='telephone'", rid)
    a.reopen()
    a.write("patient", rid, {"telephone": "06 22 22 22 22"})
    a.close()
    sql(a, "UPDATE field SET version=?, value=? WHERE rid=? AND name='telephone'", version, old, rid)
    a.reopen()
    with pytest.raises(TamperedRecord):
        a.db.read("patient", rid)


# --- 5. a batch replayed by another device -----------------------------------------------------------


def test_a_batch_replayed_by_another_device_is_a_duplicate_or_a_bad_signature(laptops, api, engine) -> None:
    a, b = laptops("bus-a"), laptops("bus-b")
    a.new_patient()
    a.new_patient(nom="MARTIN")
    a.client = spy = Recorder(SyncClient(api))
    a.sync()
    (captured,) = spy.signed
    before = snapshot(engine)

    # B sends A's bytes as they were: the signature is A's, so the server reads it as A's replay.
    again = post(api, captured.model_dump_json().encode())
    assert again.status_code == 200
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert snapshot(engine) == before

    # B claims the batch as its own: A's signature does not match B's key.
    forged = captured.model_copy(
        update={"batch": captured.batch.model_copy(update={"device_id": b.device_id})}
    )
    refused = post(api, forged.model_dump_json().encode())
    assert refused.status_code == 401
    assert refused.json()["detail"] == BAD_SIGNATURE
    assert snapshot(engine) == before
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "sync.push_refused")).all()
    assert [(e.target_id, e.outcome, json.loads(e.detail)["status"]) for e in events] == [
        (b.device_id, "refused", 401)
    ]


# --- 6. a revoked device -------------------------------------------------------------------------------


def test_a_revoked_laptop_is_refused_and_erases_its_store(laptops, engine, tour) -> None:
    a = laptops("bus-a")
    a.sync()
    rid = a.new_patient()
    with Session(engine) as session:
        devices.revoke(session, tour.admin, a.device_id, "portable volé")
        session.commit()
    with pytest.raises(SyncRefused) as refused:
        a.sync()
    assert refused.value.revoked is True and refused.value.status == 403
    assert "révoqué" in refused.value.message
    assert not a.db.is_open
    assert list(a.folder.iterdir()) == []  # terrain.db, -wal and -shm are all gone
    assert rid not in server_rows(engine, "patient")
    with pytest.raises(field.FieldError):
        field.unlock(a.folder, PASSPHRASE, for_sync=True)
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "sync.push_refused")).all()
    assert [(e.target_id, json.loads(e.detail)["revoked"]) for e in events] == [(a.device_id, True)]


def test_a_laptop_revoked_with_nothing_to_push_is_erased_at_the_pull(laptops, engine, tour) -> None:
    a = laptops("bus-a")
    a.sync()
    with Session(engine) as session:
        devices.revoke(session, tour.admin, a.device_id, "portable perdu")
        session.commit()
    with pytest.raises(SyncRefused) as refused:
        a.sync()
    assert refused.value.revoked is True
    assert list(a.folder.iterdir()) == []


# --- 10. bad input ---------------------------------------------------------------------------------------


def _unknown_device_batch(laptop: Laptop) -> bytes:
    signed = signed_batch(laptop, device_id=uuid.uuid4().hex)
    key = Ed25519PrivateKey.generate()
    return (
        signed.model_copy(update={"signature": sign(key, batch_signing_body(signed.batch))})
        .model_dump_json()
        .encode()
    )


@pytest.mark.parametrize(
    ("make_body", "status", "fragment"),
    [
        (lambda a: signed_batch(a).model_dump_json().encode()[:-40], 400, "Lot illisible"),
        (lambda a: b"{pas du json", 400, "JSON invalide"),
        (lambda a: b'{"batch": ' + b" " * (MAX_BATCH_BYTES + 10) + b"}", 413, "trop volumineux"),
        (_unknown_device_batch, 401, "Appareil inconnu"),
        (
            lambda a: signed_batch(a).model_dump_json().replace('"protocol":1', '"protocol":2').encode(),
            422,
            "Version du protocole",
        ),
    ],
)
def test_bad_batches_are_refused_in_french_and_nothing_is_applied(
    laptops, api, engine, make_body, status, fragment
) -> None:
    a = laptops("bus-a")
    a.new_patient()
    before = snapshot(engine)
    response = post(api, make_body(a))
    assert response.status_code == status
    assert fragment in response.json()["detail"]
    assert response.json()["heure_serveur_ms"] > 0
    assert snapshot(engine) == before
    assert a.db.pending_count() == 1


@pytest.mark.parametrize(
    ("mangle", "status"),
    [
        (lambda body: body[: len(body) // 2], 400),  # truncated on the way
        (lambda body: body.replace(b'"Jeanne"', b'"Jeanno"'), 401),  # altered on the way
    ],
)
def test_when_the_server_refuses_the_laptop_keeps_its_pending_changes(
    laptops, api, engine, mangle, status
) -> None:
    a = laptops("bus-a", faulty_client(api, PUSH, nth=0, mangle=mangle))
    rid = a.new_patient()
    with pytest.raises(SyncRefused) as refused:
        a.sync()
    assert refused.value.status == status and refused.value.message
    assert a.db.pending_count() == 1
    assert rid not in server_rows(engine, "patient")
    a.client = SyncClient(api)
    a.sync()
    assert a.db.pending_count() == 0 and server_rows(engine, "patient")[rid][2]["prenoms"] == "Jeanne"


def test_a_laptop_whose_device_id_was_altered_is_refused_and_keeps_its_work(laptops, engine) -> None:
    a = laptops("bus-a")
    rid = a.new_patient()
    real = a.device_id
    a.db.set_meta("device_id", uuid.uuid4().hex.encode(), secret=False)  # clear meta: anyone can edit it
    with pytest.raises(SyncRefused) as refused:
        a.sync()
    assert refused.value.status == 401 and "Appareil inconnu" in refused.value.message
    assert a.db.pending_count() == 1 and rid not in server_rows(engine, "patient")
    a.db.set_meta("device_id", real.encode(), secret=False)
    a.sync()
    assert a.db.pending_count() == 0


def test_an_outbox_heavier_than_the_batch_limit_still_gets_through(laptops, engine) -> None:
    """Valid ops (notes of 2000 characters) whose total is above MAX_BATCH_BYTES: split, not refused."""
    a = laptops("bus-a")
    patient = a.new_patient()
    visits = [uuid.uuid4().hex for _ in range(12)]
    for visit in visits:
        notes = [a.note(os.urandom(1000).hex()) for _ in range(100)]  # incompressible, 2000 chars each
        a.write(
            "consultation",
            visit,
            {
                "patient": patient,
                "date": "2026-01-08T09:20:00+01:00",
                "professionnel": "Dr Roche",
                "notes": notes,
            },
        )
    assert sum(len(json.dumps(op.fields)) for op in a.db.pending()) > MAX_BATCH_BYTES
    report = a.sync()
    assert report.rejected == 0 and a.db.pending_count() == 0
    assert sorted(server_rows(engine, "consultation")) == sorted(visits)
