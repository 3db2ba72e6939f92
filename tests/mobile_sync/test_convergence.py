"""Convergence: laptops with wrong clocks, and three writers editing the same patients offline.

What the merge promises (``merge.py``, ``hlc.py``): per field, the later edit by hybrid clock wins
on every node, the loser is kept in a ``SyncConflict`` row, append-only lists (notes,
observations) are unions, and a laptop's clock error is corrected by the offset its last sync
learnt — or, for a clock moved after that sync, bounded by the server's clamp at reception.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from typing import Any

import pytest
from sqlmodel import Session, select

from cpts_app.models.sync import SyncConflict, SyncRecord
from cpts_app.services.sync import records
from mobile_sync import field
from mobile_sync import server as sync_server
from mobile_sync.hlc import MAX_DRIFT_MS, Timestamp
from tests.mobile_sync.world import Laptop, set_clock

DAY_MS = 86_400_000


def server_record(engine, table: str, rid: str):
    with Session(engine) as session:
        row = session.exec(
            select(SyncRecord).where(SyncRecord.tbl == table, SyncRecord.record_id == rid)
        ).one()
        return records.open_state(row)


def stored_conflicts(engine) -> list[tuple[str, str, dict[str, Any]]]:
    with Session(engine) as session:
        rows = session.exec(select(SyncConflict)).all()
        return [(c.record_id, c.field, records.open_conflict(c)) for c in rows]


def sync_until_quiet(*laptops: Laptop) -> None:
    for _ in range(6):
        reports = [laptop.sync() for laptop in laptops]
        if all(r.pushed == 0 and r.pulled == 0 for r in reports):
            return
    raise AssertionError("les portables ne se sont pas stabilisés en 6 tours de synchronisation")


# --- 7. clocks a day off ------------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [DAY_MS, -DAY_MS], ids=["a-day-ahead", "a-day-behind"])
@pytest.mark.parametrize("skewed_pushes_first", [True, False], ids=["skewed-first", "skewed-last"])
def test_a_laptop_a_day_off_since_before_its_last_sync_orders_its_edits_by_real_time(
    laptops, engine, shift, skewed_pushes_first
) -> None:
    skewed, correct = laptops("bus-a"), laptops("bus-b")
    rid = correct.new_patient()
    correct.sync()
    set_clock(skewed, shift)
    skewed.sync()  # its first pull is refused (clock off), the retry uses the offset just learnt
    assert abs(skewed.clock.now().wall_ms - field.now_ms()) < 60_000
    assert skewed.db.read("patient", rid)["nom"] == "DURAND"

    # Ahead: the skewed laptop edits first and loses to the later edit; behind: it edits last and wins.
    first, second = (skewed, correct) if shift > 0 else (correct, skewed)
    first.write("patient", rid, {"telephone": "06 00 00 00 01"})
    time.sleep(0.05)
    second.write("patient", rid, {"telephone": "06 00 00 00 02"})
    order = [skewed, correct] if skewed_pushes_first else [correct, skewed]
    for laptop in order:
        laptop.sync()
    sync_until_quiet(skewed, correct)

    expected = server_record(engine, "patient", rid).values()
    assert expected["telephone"] == "06 00 00 00 02"  # the later edit in real time, wherever it came from
    assert skewed.db.read("patient", rid) == correct.db.read("patient", rid) == expected
    assert [(f, c["kept"], c["discarded"]) for _, f, c in stored_conflicts(engine)] == [
        ("telephone", "06 00 00 00 02", "06 00 00 00 01")
    ]


def test_a_clock_moved_a_day_ahead_after_the_last_sync_is_clamped_at_reception(
    laptops, engine, monkeypatch
) -> None:
    """What is guaranteed for a clock moved forward while offline (the offset cannot know it):

    the server clamps the edit's timestamp to its reception time + ``MAX_DRIFT_MS`` (5 min), so
    the edit is never ordered after a concurrent edit stamped later than that. Within those 5
    minutes after its reception it may still beat a concurrent edit made later in real time.
    """
    ahead, other = laptops("bus-a"), laptops("bus-b")
    rid = other.new_patient()
    other.sync()
    ahead.sync()
    set_clock(ahead, DAY_MS)  # after its last sync: its offset still says « on time »
    ahead.write("patient", rid, {"telephone": "06 00 00 00 01"})
    (op,) = ahead.db.pending()
    assert Timestamp.parse(op.hlc).wall_ms > field.now_ms() + DAY_MS - 60_000  # really a day ahead
    before = field.now_ms()
    ahead.sync()
    after = field.now_ms()
    kept = Timestamp.parse(server_record(engine, "patient", rid).fields["telephone"].hlc)
    assert before <= kept.wall_ms <= after + MAX_DRIFT_MS  # clamped, not a day ahead

    # Six minutes later (server and the other laptop), a concurrent edit of the same field.
    later = MAX_DRIFT_MS + 60_000
    real_server_ms, real_records_ms = sync_server.server_time_ms, records.now_ms
    monkeypatch.setattr(sync_server, "server_time_ms", lambda: real_server_ms() + later)
    monkeypatch.setattr(records, "now_ms", lambda: real_records_ms() + later)
    set_clock(other, later)
    other.write("patient", rid, {"telephone": "06 00 00 00 02"})
    other.sync()
    sync_until_quiet(ahead, other)
    final = server_record(engine, "patient", rid).values()
    assert final["telephone"] == "06 00 00 00 02"
    assert ahead.db.read("patient", rid) == other.db.read("patient", rid) == final
    assert [(f, c["discarded"]) for _, f, c in stored_conflicts(engine)] == [("telephone", "06 00 00 00 01")]


# --- 8. three writers, random offline edits ---------------------------------------------------------------

SCALARS = ("telephone", "adresse", "prenoms")


class Writers:
    """Random edits on three laptops, remembering every value written and every value overwritten."""

    def __init__(self, rng: random.Random, laptops: list[Laptop], patients: list[str], visits: list[str]):
        self.rng, self.laptops, self.patients, self.visits = rng, laptops, patients, visits
        self.written: dict[tuple[str, str], list[Any]] = defaultdict(list)
        self.overwritten: dict[tuple[str, str], set[Any]] = defaultdict(set)
        self.notes: dict[str, set[str]] = defaultdict(set)
        self.observations: dict[str, set[str]] = defaultdict(set)
        self.counter = 0

    def token(self) -> int:
        self.counter += 1
        return self.counter

    def edit(self, laptop: Laptop) -> None:
        kind = self.rng.choice(["scalar", "scalar", "scalar", "note", "observation"])
        if kind == "scalar":
            rid, name = self.rng.choice(self.patients), self.rng.choice(SCALARS)
            n = self.token()
            value = {
                "telephone": f"06 {n // 10000 % 100:02d} {n // 100 % 100:02d} {n % 100:02d} 00",
                "adresse": f"{n} chemin des Vignes",
                "prenoms": f"Jeanne-{n}",
            }[name]
            current = laptop.db.read("patient", rid)
            self.overwritten[(rid, name)].add(current.get(name))
            laptop.write("patient", rid, {name: value})
            self.written[(rid, name)].append(value)
        elif kind == "note":
            visit = self.rng.choice(self.visits)
            note = laptop.note(f"Note {self.token()} de {laptop.folder.name}")
            laptop.write(
                "consultation", visit, {"notes": [*laptop.db.read("consultation", visit)["notes"], note]}
            )
            self.notes[visit].add(note["id"])
        else:
            rid = self.rng.choice(self.patients)
            entry = laptop.note(f"Observation {self.token()}")
            current = laptop.db.read("patient", rid)["observations"]
            laptop.write("patient", rid, {"observations": [*current, entry]})
            self.observations[rid].add(entry["id"])


@pytest.mark.parametrize("seed", [7, 2026])
def test_three_writers_editing_the_same_patients_offline_converge_and_lose_nothing(
    laptops, engine, seed
) -> None:
    rng = random.Random(seed)
    a, b, s = laptops("bus-a"), laptops("bus-b"), laptops("serveur")  # « s »: the server's own user
    patients = [a.new_patient(nom=f"PATIENT{n}") for n in range(4)]
    visits = []
    for n in range(2):
        visit = f"visite{n}"
        first = a.note("Motif : suivi")
        a.write(
            "consultation",
            visit,
            {
                "patient": patients[n],
                "date": "2026-01-08T09:20:00+01:00",
                "professionnel": "Dr Roche",
                "notes": [first],
            },
        )
        visits.append(visit)
    sync_until_quiet(a, b, s)
    writers = Writers(rng, [a, b, s], patients, visits)
    for visit in visits:
        writers.notes[visit].update(n["id"] for n in a.db.read("consultation", visit)["notes"])

    for _round in range(6):
        for laptop in writers.laptops:
            for _ in range(rng.randint(2, 5)):
                writers.edit(laptop)
        for laptop in rng.sample(writers.laptops, k=rng.randint(0, 3)):
            laptop.sync()
    sync_until_quiet(a, b, s)

    assert [lt.db.pending_count() for lt in (a, b, s)] == [0, 0, 0]
    for table, ids in (("patient", patients), ("consultation", visits)):
        for laptop in (a, b, s):
            assert laptop.db.record_ids(table) == sorted(ids)
        for rid in ids:
            expected = server_record(engine, table, rid).values()
            assert a.db.read(table, rid) == b.db.read(table, rid) == s.db.read(table, rid) == expected
    for visit in visits:
        ids = [n["id"] for n in a.db.read("consultation", visit)["notes"]]
        assert sorted(ids) == sorted(writers.notes[visit])  # every note, once
    for rid in patients:
        ids = [o["id"] for o in a.db.read("patient", rid)["observations"]]
        assert sorted(ids) == sorted(writers.observations[rid])

    discarded: dict[tuple[str, str], set[Any]] = defaultdict(set)
    for rid, name, body in stored_conflicts(engine):
        discarded[(rid, name)].add(body["discarded"])
    lost_somewhere = 0
    for (rid, name), values in writers.written.items():
        final = a.db.read("patient", rid)[name]
        assert final in values or final in writers.overwritten[(rid, name)]
        for value in values:
            if value == final or value in writers.overwritten[(rid, name)]:
                continue  # the final value, or one some writer saw and replaced
            assert value in discarded[(rid, name)], (rid, name, value)  # else: dropped silently
            lost_somewhere += 1
    assert lost_somewhere > 0  # the scenario did produce concurrent edits of the same field
