"""The field workspace: unlock by token, patients, append-only entries, agenda bookings, idle lock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from mobile_sync import field, probe, workspace, workspace_registry
from mobile_sync.client import SyncClient
from mobile_sync.envelope import FAST_TEST_KDF, WrongPassphrase
from mobile_sync.schema import SchemaError
from mobile_sync.store import LocalStore, RemoteRecord, StoreError

PASSPHRASE = "tournée du jeudi à Fourques"
DEVICE = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
IDENTITY = {
    "nom": "Durand",
    "prenoms": "Élodie Marie",
    "date_naissance": "1950-04-12",
    "sexe": "F",
    "telephone": "",
    "commune_insee": "30033",
    "adresse": "",
    "sans_medecin_traitant": True,
}


def _laptop(folder: Path, *, last_sync_ms: int | None = None) -> Path:
    """A store made by hand as ``field.enrol`` leaves it, with two published slots of the tour."""
    folder.mkdir(parents=True, exist_ok=True)
    now = field.now_ms()
    synced = now if last_sync_ms is None else last_sync_ms
    with LocalStore.create(field.store_path(folder), PASSPHRASE, FAST_TEST_KDF) as store:
        for key, value in (
            ("device_id", DEVICE),
            ("label", "Médicobus 2"),
            ("server_url", "https://localhost:3000"),
            ("lease_days", "7"),
            ("scope_epoch", "1"),
        ):
            store.set_meta(key, value.encode(), secret=False)
        store.set_meta("last_sync_ms", str(synced).encode(), secret=True)
        store.set_meta("highest_clock_ms", str(now).encode(), secret=True)
        store.set_meta("clock_offset_ms", b"0", secret=True)
        slots = [
            RemoteRecord(
                "appointment",
                f"slot{i}",
                1,
                False,
                {
                    "debut": f"2026-03-1{i}T09:00:00+01:00",
                    "fin": f"2026-03-1{i}T09:20:00+01:00",
                    "commune": "Fourques",
                    "lieu": "Place de la mairie",
                    "statut": status,
                    "professionnel": "Dr Martin",
                },
                {},
            )
            for i, status in ((1, "libre"), (2, "libre"), (3, "reserve"))
        ]
        store.apply_remote(slots, "c1")
    return folder


@pytest.fixture
def laptop(tmp_path: Path) -> Iterator[Path]:
    yield _laptop(tmp_path / "portable")
    workspace_registry.lock_all()


@pytest.fixture
def ws(laptop: Path) -> workspace.FieldWorkspace:
    return workspace_registry.get(workspace_registry.open_workspace(laptop, PASSPHRASE))


def test_wrong_passphrase_corruption_and_missing_store_are_refused_in_french(laptop: Path, tmp_path) -> None:
    with pytest.raises(WrongPassphrase) as wrong:
        workspace_registry.open_workspace(laptop, "pas la bonne phrase")
    assert wrong.value.message == "Phrase de passe incorrecte."
    with pytest.raises(field.FieldError, match="Aucun portable inscrit"):
        workspace_registry.open_workspace(tmp_path / "vide", PASSPHRASE)
    broken = tmp_path / "abime"
    broken.mkdir()
    field.store_path(broken).write_bytes(b"pas une base SQLite" * 100)
    with pytest.raises(StoreError) as corrupted:
        workspace_registry.open_workspace(broken, PASSPHRASE)
    assert "corrompue" in corrupted.value.message
    with pytest.raises(workspace.WorkspaceLocked):
        workspace_registry.get("jeton-inconnu")


def test_patients_are_created_searched_without_accents_and_edited_field_by_field(
    ws: workspace.FieldWorkspace,
) -> None:
    rid = ws.save_patient(None, IDENTITY)
    other = ws.save_patient(None, IDENTITY | {"nom": "Àlvarez", "prenoms": "Jean"})
    assert len(rid) == 32 and ws.pending_count() == 2
    assert [p["nom"] for p in ws.patients()] == ["ÀLVAREZ", "DURAND"]
    assert [p["rid"] for p in ws.patients("elodie DUR")] == [rid]
    assert [p["rid"] for p in ws.patients("alvarez")] == [other]
    record = ws.patient(rid)
    assert record is not None and "telephone" not in record  # an empty optional field is not stored
    assert record["prenoms"] == "Élodie Marie" and record["observations"] == []

    # Once the creations are sent, an edit sends only what changed: the phone alone.
    ws.call(lambda: ws._db.acknowledge([op.op_id for op in ws._db.pending()])).result()
    ws.save_patient(rid, IDENTITY | {"telephone": "06 12 34 56 78"})
    ws.save_patient(rid, IDENTITY | {"telephone": "06 12 34 56 78"})  # nothing changed: nothing written
    [edit] = ws.call(lambda: ws._db.pending()).result()
    assert edit.record_id == rid and edit.fields == {"telephone": "06 12 34 56 78"}
    assert ws.pending_count() == 1

    with pytest.raises(SchemaError) as refused:
        ws.save_patient(None, IDENTITY | {"date_naissance": "12/04/1950"})
    assert "AAAA-MM-JJ" in refused.value.message
    with pytest.raises(SchemaError, match="obligatoire"):
        ws.save_patient(None, IDENTITY | {"nom": "  "})
    assert ws.pending_count() == 1


def test_observations_and_notes_are_appended_never_replaced(ws: workspace.FieldWorkspace) -> None:
    rid = ws.save_patient(None, IDENTITY)
    ws.add_observation(rid, "Tension 14/9, à recontrôler.", "IDE Dupont")
    ws.add_observation(rid, "Recontrôlée : 13/8.", "IDE Dupont")
    observations = ws.patient(rid)["observations"]
    assert [o["texte"] for o in observations] == ["Tension 14/9, à recontrôler.", "Recontrôlée : 13/8."]
    assert observations[0]["hlc"] < observations[1]["hlc"] and observations[0]["hlc"].endswith(DEVICE)
    with pytest.raises(workspace.WorkspaceError, match="Écrivez le texte"):
        ws.add_observation(rid, "   ", "IDE Dupont")

    visit = ws.start_consultation(rid, "Dr Martin", "Renouvellement")
    ws.add_note(visit, "Examen normal.", "Dr Martin")
    ws.add_note(visit, "Ordonnance renouvelée 3 mois.", "Dr Martin")
    [consultation] = ws.consultations(rid)
    assert consultation["rid"] == visit and consultation["motif"] == "Renouvellement"
    assert [n["texte"] for n in consultation["notes"]] == ["Examen normal.", "Ordonnance renouvelée 3 mois."]
    # The outbox holds the whole list at each append (the server merges lists as a union by id).
    last = ws.call(lambda: ws._db.pending()[-1]).result()
    assert [n["texte"] for n in last.fields["notes"]] == ["Examen normal.", "Ordonnance renouvelée 3 mois."]
    with pytest.raises(workspace.NotFound):
        ws.add_note("inconnue", "texte", "moi")
    assert ws.consultations("autre") == []


def test_a_free_slot_is_booked_once_offline_and_shown_as_such(ws: workspace.FieldWorkspace) -> None:
    rid = ws.save_patient(None, IDENTITY)
    assert ws.agenda_days() == ["2026-03-11", "2026-03-12", "2026-03-13"]
    [slot] = ws.agenda("2026-03-11")
    assert slot["statut"] == "libre" and slot["libre"] == "oui" and slot["heures"] == "09:00 – 09:20"

    ws.book_slot("slot1", rid, "Suivi tension")
    [slot] = ws.agenda("2026-03-11")
    assert (
        slot["statut"] == workspace.BOOKED_OFFLINE
        and slot["libre"] == ""
        and slot["patient"] == "DURAND Élodie Marie"
    )
    with pytest.raises(workspace.WorkspaceError, match="déjà réservé sur ce portable"):
        ws.book_slot("slot1", rid)
    with pytest.raises(workspace.WorkspaceError, match="pas libre"):
        ws.book_slot("slot3", rid)
    with pytest.raises(workspace.NotFound):
        ws.book_slot("slot2", "personne")
    assert len(ws.agenda()) == 3 and ws.agenda("2026-03-13")[0]["statut"] == "réservé"


def test_status_lock_and_idle_lock(laptop: Path) -> None:
    token = workspace_registry.open_workspace(laptop, PASSPHRASE)
    second = workspace_registry.open_workspace(laptop, PASSPHRASE)  # another tab: same open store, own token
    ws = workspace_registry.get(token)
    assert workspace_registry.get(second) is ws
    status = ws.status()
    assert status.label == "Médicobus 2" and status.device_id == DEVICE and status.pending == 0
    assert status.lease_ends_ms == status.last_sync_ms + 7 * field.DAY_MS and not status.sync_only

    workspace_registry.lock(second)  # « Verrouiller » locks the laptop for every tab
    assert ws.closed
    with pytest.raises(workspace.WorkspaceLocked):
        workspace_registry.get(token)
    with pytest.raises(workspace.WorkspaceLocked):
        ws.patients()

    token = workspace_registry.open_workspace(laptop, PASSPHRASE)
    assert workspace_registry.sweep_idle() == 0
    workspace_registry.get(token, touch=False)  # a header poll does not keep the laptop open
    import time

    assert workspace_registry.sweep_idle(time.monotonic() + workspace_registry.IDLE_LOCK_SECONDS) == 1
    with pytest.raises(workspace.WorkspaceLocked):
        workspace_registry.get(token)


def test_an_expired_lease_opens_for_sync_only(tmp_path: Path) -> None:
    folder = _laptop(tmp_path / "vieux", last_sync_ms=field.now_ms() - 8 * field.DAY_MS)
    try:
        with pytest.raises(field.LeaseExpired, match="plus de 7 jours"):
            workspace_registry.open_workspace(folder, PASSPHRASE)
        ws = workspace_registry.get(workspace_registry.open_workspace(folder, PASSPHRASE, sync_only=True))
        assert ws.status().sync_only and ws.pending_count() == 0
        with pytest.raises(field.LeaseExpired, match="synchronisez"):
            ws.patients()
    finally:
        workspace_registry.lock_all()


def test_store_calls_run_in_one_thread_from_many(ws: workspace.FieldWorkspace) -> None:
    """sqlite3 refuses a connection used outside its thread: concurrent callers must still work."""
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            ws.save_patient(None, IDENTITY | {"prenoms": f"Patient {i}"})
            ws.patients("durand")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and ws.pending_count() == 8


async def test_async_callers_await_the_store_thread(ws: workspace.FieldWorkspace) -> None:
    rid = await asyncio.wrap_future(ws.call(ws.save_patient, None, IDENTITY))
    rows = await asyncio.wrap_future(ws.call(ws.patients, ""))
    assert [r["rid"] for r in rows] == [rid]


async def test_the_online_indicator_needs_the_server_time_route() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == probe.PROBE_PATH:
            return httpx.Response(200, json={"heure_serveur_ms": 1})
        return httpx.Response(404)

    ok = httpx.MockTransport(answer)
    assert await probe.server_reachable("https://serveur.example", transport=ok)
    missing = httpx.MockTransport(lambda request: httpx.Response(404))
    assert not await probe.server_reachable("https://serveur.example", transport=missing)

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("réseau coupé", request=request)

    assert not await probe.server_reachable(
        "https://serveur.example", transport=httpx.MockTransport(unreachable)
    )
    assert not await probe.server_reachable("http://127.0.0.1:9", timeout=0.5)  # nothing listens
    assert not await probe.server_reachable("")


def test_full_enrolment_then_work_in_the_workspace(tmp_path: Path, api: TestClient, code: str) -> None:
    folder = tmp_path / "portable"
    field.enrol(folder, PASSPHRASE, "https://localhost:3000", code, SyncClient(api), params=FAST_TEST_KDF)
    try:
        ws = workspace_registry.get(workspace_registry.open_workspace(folder, PASSPHRASE))
        assert ws.status().label == "Médicobus 1" and ws.server_url == "https://localhost:3000"
        rid = ws.save_patient(None, IDENTITY)
        ws.add_observation(rid, "Première visite au médicobus.", "Équipe")
        # The store folds unsent writes of one record into one pending change.
        assert ws.pending_count() == 1 and ws.status().pending == 1
        ws.close()
        # The work survives a restart, behind the same passphrase.
        ws = workspace_registry.get(workspace_registry.open_workspace(folder, PASSPHRASE))
        assert ws.patient(rid)["observations"][0]["texte"] == "Première visite au médicobus."
        assert field.status(folder, PASSPHRASE).pending == 1
    finally:
        workspace_registry.lock_all()


def test_synchronise_through_the_workspace_empties_the_outbox(
    tmp_path: Path, api: TestClient, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine runs in the store's thread; progress reaches « termine »; the lease restarts."""
    folder = tmp_path / "portable"
    field.enrol(folder, PASSPHRASE, "https://localhost:3000", code, SyncClient(api), params=FAST_TEST_KDF)
    monkeypatch.setattr(SyncClient, "connect", classmethod(lambda cls, url, **kw: SyncClient(api)))
    monkeypatch.setattr(SyncClient, "close", lambda self: None)  # the TestClient belongs to the fixture
    try:
        ws = workspace_registry.get(workspace_registry.open_workspace(folder, PASSPHRASE))
        rid = ws.save_patient(None, IDENTITY)
        ws.add_observation(rid, "Vu au médicobus.", "Équipe")
        before = ws.status().last_sync_ms
        steps: list = []
        report = ws.synchronise(steps.append)
        assert report.pushed == 1 and not report.revoked  # one record: its writes were folded
        assert steps[-1].phase == "termine" and not ws.syncing
        assert ws.pending_count() == 0 and ws.status().last_sync_ms >= before
        assert ws.rejections() == [] and ws.conflicts() == []
        assert ws.patient(rid)["observations"][0]["texte"] == "Vu au médicobus."
    finally:
        workspace_registry.lock_all()
