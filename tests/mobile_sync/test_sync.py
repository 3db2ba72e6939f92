"""Push then pull against the real routes: laptops and the server converge, refusals are kept."""

from __future__ import annotations

import io
import time
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, select

from cpts_app.models.agenda import Appointment
from cpts_app.models.sync import SyncConflict
from cpts_app.services.sync import devices
from mobile_sync import cli, field
from mobile_sync.client import SyncClient
from mobile_sync.envelope import sign
from mobile_sync.protocol import PullRequest, SignedPullRequest
from mobile_sync.sync import conflicts, rejections
from tests.mobile_sync.world import PASSPHRASE, make_tour


def test_a_patient_written_offline_reaches_the_other_laptop(laptops) -> None:
    a, b = laptops("bus-a"), laptops("bus-b")
    rid = a.new_patient()
    report = a.sync()
    assert report.pushed == 1 and report.rejected == 0 and a.db.pending_count() == 0
    b.sync()
    assert b.db.read("patient", rid)["nom"] == "DURAND"
    assert b.db.base_version("patient", rid) == a.db.base_version("patient", rid) == 1


def test_the_tour_slots_arrive_and_a_booking_goes_through_the_agenda(laptops, engine, tour) -> None:
    a = laptops("bus-a")
    a.sync()
    slots = a.db.record_ids("appointment")
    assert len(slots) == len(tour.slot_ids)
    first = f"slot-{tour.slot_ids[0]}"
    assert a.db.read("appointment", first)["statut"] == "libre"
    patient = a.new_patient()
    a.write("slot_booking", "b" * 32, {"creneau": first, "patient": patient, "motif": "Renouvellement"})
    report = a.sync()
    assert report.rejected == 0
    assert a.db.read("appointment", first)["statut"] == "reserve"
    assert a.db.read("appointment", first)["patient"] == patient
    with Session(engine) as session:
        booked = session.exec(select(Appointment)).all()
    assert [x.slot_id for x in booked] == [tour.slot_ids[0]]


def test_a_slot_given_away_meanwhile_is_rejected_for_rebooking(laptops) -> None:
    a, b = laptops("bus-a"), laptops("bus-b")
    a.sync(), b.sync()
    slot = a.db.record_ids("appointment")[0]
    pa, pb = a.new_patient(), b.new_patient(nom="MARTIN")
    a.write("slot_booking", "a" * 32, {"creneau": slot, "patient": pa, "motif": ""})
    b.write("slot_booking", "c" * 32, {"creneau": slot, "patient": pb, "motif": ""})
    assert a.sync().rejected == 0
    report = b.sync()
    assert report.rejected == 1 and b.db.pending_count() == 0
    notice = rejections(b.db)[0]
    assert notice["table"] == "slot_booking" and "reprogrammer" in notice["raison"]
    assert notice["champs"]["patient"] == pb  # what to rebook is kept
    assert b.db.read("slot_booking", "c" * 32) is None
    assert b.db.read("appointment", slot)["patient"] == pa
    assert b.db.read("patient", pb)["nom"] == "MARTIN"  # the patient is not lost


def test_same_field_edited_on_two_laptops_gives_one_winner_and_a_recorded_conflict(laptops, engine) -> None:
    a, b = laptops("bus-a"), laptops("bus-b")
    rid = a.new_patient()
    a.sync(), b.sync()
    b.write("patient", rid, {"telephone": "06 00 00 00 02", "adresse": "Mas des Pins"})
    time.sleep(0.05)  # well beyond the laptops' clock offsets' error (a few ms on loopback)
    a.write("patient", rid, {"telephone": "06 00 00 00 01"})
    a.sync()
    report = b.sync()
    assert report.conflicts == 1
    a.sync()
    final_a, final_b = a.db.read("patient", rid), b.db.read("patient", rid)
    assert final_a == final_b
    assert final_a["telephone"] == "06 00 00 00 01"  # a's edit is the later one
    assert final_a["adresse"] == "Mas des Pins"  # the other field merged without conflict
    seen = conflicts(b.db)[0]
    assert seen["champ"] == "telephone" and seen["valeur_ecartee"] == "06 00 00 00 02"
    with Session(engine) as session:
        stored = session.exec(select(SyncConflict)).all()
    assert [(c.field, c.resolved_at) for c in stored] == [("telephone", None)]


def test_notes_written_on_both_laptops_are_all_kept(laptops) -> None:
    a, b = laptops("bus-a"), laptops("bus-b")
    patient = a.new_patient()
    visit = "d" * 32
    first = a.note("Tension 13/8")
    a.write(
        "consultation",
        visit,
        {
            "patient": patient,
            "date": "2026-12-08T09:20:00+01:00",
            "professionnel": "Dr Roche",
            "motif": "Suivi",
            "notes": [first],
        },
    )
    a.sync(), b.sync()
    second, third = a.note("Glycémie 1,1 g/l"), b.note("Renouvellement d'ordonnance")
    a.write("consultation", visit, {"notes": [first, second]})
    b.write("consultation", visit, {"notes": [first, third]})
    a.sync(), b.sync(), a.sync()
    texts_a = [n["texte"] for n in a.db.read("consultation", visit)["notes"]]
    assert sorted(texts_a) == sorted(["Tension 13/8", "Glycémie 1,1 g/l", "Renouvellement d'ordonnance"])
    assert a.db.read("consultation", visit) == b.db.read("consultation", visit)


def test_the_command_line_syncs_and_reports(laptops, monkeypatch, capsys, api) -> None:
    a = laptops("bus-a")
    a.new_patient()
    a.close()
    monkeypatch.setattr(SyncClient, "connect", classmethod(lambda cls, url, **kw: SyncClient(api)))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSPHRASE + "\n"))
    assert cli.main(["--dossier", str(a.folder), "--phrase-stdin", "sync"]) == 0
    out = capsys.readouterr().out
    assert "[envoi] 1/1" in out and "Synchronisation terminée : 1 modification(s) envoyée(s)" in out
    a.reopen()
    assert a.db.pending_count() == 0


def test_a_new_tour_for_the_laptop_purges_the_old_one_and_keeps_unsent_changes(laptops, engine, tour) -> None:
    a, b = laptops("bus-a"), laptops("bus-b")
    old = a.new_patient(nom="ANCIEN")
    a.sync()
    b.sync()
    kept = b.new_patient(nom="PAS-ENCORE-ENVOYE")
    other = make_tour(engine, suffix="2")
    with Session(engine) as session:
        devices.change_scope(session, tour.admin, b.device_id, other.tour_id)
        session.commit()
    report = b.sync()
    assert b.db.read("patient", old) is None  # no longer in its scope
    assert report.purged >= 1 + len(tour.slot_ids) and report.rejected == 0
    # Written before the move and not yet sent: pushed first, it now belongs to the new tour.
    assert (
        b.db.read("patient", kept)["nom"] == "PAS-ENCORE-ENVOYE" and b.db.base_version("patient", kept) == 1
    )
    assert sorted(b.db.record_ids("appointment")) == sorted(f"slot-{s}" for s in other.slot_ids)
    a.sync()
    assert a.db.read("patient", kept) is None  # the old tour's laptop does not receive it


def test_a_pull_must_be_signed_by_the_device(laptops, api) -> None:
    a, b = laptops("bus-a"), laptops("bus-b")
    a.new_patient()
    a.sync()
    request = PullRequest(device_id=a.device_id, sent_at_ms=field.now_ms(), nonce=uuid.uuid4().hex)
    b_key = Ed25519PrivateKey.from_private_bytes(b.db.get_meta("device_key", secret=True))
    forged = SignedPullRequest(request=request, signature=sign(b_key, request.model_dump(mode="json")))
    answer = api.post("/api/sync/reception", content=forged.model_dump_json())
    assert answer.status_code == 401 and "Signature" in answer.json()["detail"]
    a_key = Ed25519PrivateKey.from_private_bytes(a.db.get_meta("device_key", secret=True))
    stale = PullRequest(device_id=a.device_id, sent_at_ms=field.now_ms() - 3_600_000)
    signed = SignedPullRequest(request=stale, signature=sign(a_key, stale.model_dump(mode="json")))
    answer = api.post("/api/sync/reception", content=signed.model_dump_json())
    assert answer.status_code == 401 and "Horloge" in answer.json()["detail"]
    assert isinstance(answer.json()["heure_serveur_ms"], int)


def test_the_tour_agenda_is_read_only_on_the_laptop(laptops) -> None:
    a = laptops("bus-a")
    a.sync()
    slot = a.db.record_ids("appointment")[0]
    a.write("appointment", slot, {"statut": "bloque"})
    report = a.sync()
    assert report.rejected == 1 and "lecture seule" in rejections(a.db)[0]["raison"]
    assert a.db.read("appointment", slot)["statut"] == "libre"  # the server's value came back
