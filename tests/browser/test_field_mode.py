"""Field mode in the browser: a médicobus laptop enrolled against the server, working offline.

The laptop instance (``field_laptop``) runs the app with ``CPTS_MODE=field`` on a folder enrolled
through the real enrolment route of the one-worker server instance.
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from cpts_app.models.access import Role, User
from cpts_app.models.patient import Patient
from cpts_app.models.sync import SyncConflict
from cpts_app.services.agenda.booking import book
from cpts_app.services.permissions import Actor
from mobile_sync import field
from mobile_sync.probe import PROBE_PATH
from mobile_sync.store import LocalStore
from tests.browser.conftest import FieldLaptop

PENDING = "#modifications-en-attente"


def _unlock(page: Page, laptop: FieldLaptop, *, author: str = "IDE Dupont") -> None:
    page.goto("/terrain")
    page.fill("#phrase", laptop.passphrase)
    page.fill("#auteur", author)
    page.click("#deverrouiller")
    expect(page).to_have_url(re.compile(r"/terrain/(patients|synchronisation)$"))


def _pending(page: Page, count: int) -> None:
    expect(page.locator(PENDING)).to_have_text(f"{count} modification(s) en attente")


def test_a_wrong_passphrase_is_refused_in_french_and_pages_need_the_unlock(
    field_page: Page, field_laptop: FieldLaptop
) -> None:
    field_page.goto("/terrain/patients")
    expect(field_page).to_have_url(re.compile(r"/terrain$"))
    field_page.fill("#phrase", "pas la bonne phrase de passe")
    field_page.click("#deverrouiller")
    expect(field_page.locator("#erreur-deverrouillage")).to_have_text("Phrase de passe incorrecte.")
    expect(field_page.locator("#phrase")).to_have_value("")  # the passphrase does not stay on the page


def test_patient_observation_and_note_offline_raise_the_pending_count(
    field_page: Page, field_laptop: FieldLaptop
) -> None:
    page = field_page
    _unlock(page, field_laptop)
    expect(page.locator("#appareil")).to_have_text("Médicobus – portable de test")
    _pending(page, 0)

    # The indicator tells what the server's time route answers (no route yet: offline).
    try:
        up = httpx.get(f"{field_laptop.server.url}{PROBE_PATH}", timeout=2).is_success
    except httpx.HTTPError:
        up = False
    expect(page.locator("#indicateur-reseau")).to_have_text(
        "En ligne" if up else "Hors ligne", timeout=20_000
    )

    # A wrong date of birth: French message, nothing written.
    page.fill("#nouveau-nom", "Durand")
    page.fill("#nouveau-prenoms", "Élodie")
    page.click("#creer-patient")
    expect(page.locator("#erreur-creation")).to_contain_text("date_naissance")
    _pending(page, 0)

    page.fill("#nouveau-date_naissance", "1950-04-12")
    page.select_option("#nouveau-sexe", "F")
    page.check("#nouveau-sans_medecin_traitant")
    page.click("#creer-patient")
    expect(page).to_have_url(re.compile(r"/terrain/patients/[0-9a-f]{32}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("DURAND Élodie")
    _pending(page, 1)

    page.fill("#nouvelle-observation", "Tension 14/9, à recontrôler.")
    page.click("#ajouter-observation")
    expect(page.locator("#observations .entree")).to_have_count(1)
    expect(page.locator("#observations")).to_contain_text("Tension 14/9, à recontrôler.")
    expect(page.locator("#observations")).to_contain_text("IDE Dupont")
    _pending(page, 1)  # the store folds unsent writes of one record into one pending change

    page.fill("#consultation-professionnel", "Dr Martin")
    page.fill("#consultation-motif", "Suivi tension")
    page.click("#ouvrir-consultation")
    visit = page.locator(".consultation")
    expect(visit).to_have_count(1)
    expect(visit).to_contain_text("Dr Martin")
    _pending(page, 2)
    visit.locator("textarea[name=texte]").fill("Examen normal, ordonnance renouvelée.")
    visit.get_by_role("button", name="Ajouter").click()
    expect(visit.locator(".notes .entree")).to_have_count(1)
    expect(visit.locator(".notes")).to_contain_text("Examen normal, ordonnance renouvelée.")
    _pending(page, 2)
    # Notes and observations are append-only: nothing on the page edits or deletes them.
    expect(page.locator(".entree button")).to_have_count(0)

    # Search ignores accents and case.
    page.goto("/terrain/patients")
    page.fill("#recherche-patient", "elodie DUR")
    expect(page.locator(".patient")).to_have_count(1)
    page.fill("#recherche-patient", "personne")
    expect(page.locator(".patient")).to_have_count(0)

    # Nothing of the patient is on disk in clear.
    for path in field_laptop.folder.iterdir():
        assert b"DURAND" not in path.read_bytes(), path
        assert b"Tension 14/9" not in path.read_bytes(), path

    # « Verrouiller »: back to the unlock page, and the pages refuse until unlocked again.
    page.click("#verrouiller")
    expect(page).to_have_url(re.compile(r"/terrain$"))
    page.goto("/terrain/patients")
    expect(page).to_have_url(re.compile(r"/terrain$"))
    expect(page.locator("#phrase")).to_be_visible()
    assert field.status(field_laptop.folder, field_laptop.passphrase).pending == 2


def test_synchronise_sends_the_outbox_with_a_progress_bar(
    field_page: Page, field_laptop: FieldLaptop
) -> None:
    page = field_page
    _unlock(page, field_laptop)
    page.goto("/terrain/synchronisation")
    page.click("#synchroniser")
    expect(page.locator("#pourcentage-synchronisation")).to_have_text("100 %", timeout=60_000)
    expect(page.locator("#etape-synchronisation")).to_have_text("Synchronisation terminée.")
    expect(page.locator("#bilan-synchronisation")).to_contain_text("Modifications envoyées")
    _pending(page, 0)
    expect(page.locator("#derniere-synchronisation")).not_to_have_text("jamais")
    assert field.status(field_laptop.folder, field_laptop.passphrase).pending == 0


def test_two_laptops_in_field_mode_edit_one_patient_offline_and_converge(
    browser: Browser, field_page: Page, field_laptop: FieldLaptop, second_field_laptop: FieldLaptop
) -> None:
    """Laptops A and B, both running the app in field mode, change the same patient while
    offline; after their syncs both show the same record, both observations are kept, and the
    telephone edited on both sides shows up as a conflict on A's sync page and on the server."""
    a = field_page
    context_b = second_field_laptop.new_context(browser)
    b = context_b.new_page()
    try:
        _unlock(a, field_laptop, author="Dr Roche")
        a.fill("#nouveau-nom", "Convergence")
        a.fill("#nouveau-prenoms", "Paul")
        a.fill("#nouveau-date_naissance", "1944-02-29")
        a.select_option("#nouveau-sexe", "M")
        a.fill("#nouveau-telephone", "06 00 00 00 00")
        a.click("#creer-patient")
        expect(a).to_have_url(re.compile(r"/terrain/patients/[0-9a-f]{32}$"))
        patient = "/terrain/patients/" + a.url.rsplit("/", 1)[1]
        _synchronise(a)

        # B receives the patient, changes the phone and adds an observation, and syncs first.
        _unlock(b, second_field_laptop, author="IDE Garnier")
        _synchronise(b)
        b.goto(patient)
        expect(b.get_by_role("heading", level=1)).to_have_text("CONVERGENCE Paul")
        expect(b.locator("#identite-telephone")).to_have_value("06 00 00 00 00")  # the form is loaded
        b.fill("#identite-telephone", "06 22 22 22 22")
        b.click("#enregistrer-identite")
        b.fill("#nouvelle-observation", "Vue par l'infirmière.")
        b.click("#ajouter-observation")
        expect(b.locator("#observations .entree")).to_have_count(1)
        _synchronise(b)

        # A, still on the old version, changes the same field later and adds its own observation.
        a.goto(patient)
        expect(a.locator("#identite-telephone")).to_have_value("06 00 00 00 00")  # the form is loaded
        a.fill("#identite-telephone", "06 11 11 11 11")
        a.click("#enregistrer-identite")
        a.fill("#nouvelle-observation", "Vu par le médecin.")
        a.click("#ajouter-observation")
        expect(a.locator("#observations .entree")).to_have_count(1)
        _synchronise(a)
        expect(a.locator("#conflits")).to_contain_text("06 22 22 22 22")  # the value set aside

        _synchronise(b)
        for page in (a, b):
            page.goto(patient)
            expect(page.locator("#identite-telephone")).to_have_value("06 11 11 11 11")
            expect(page.locator("#observations .entree")).to_have_count(2)
            expect(page.locator("#observations")).to_contain_text("Vue par l'infirmière.")
            expect(page.locator("#observations")).to_contain_text("Vu par le médecin.")
    finally:
        context_b.close()
    device_a = field.status(field_laptop.folder, field_laptop.passphrase).device_id
    with Session(field_laptop.server.engine) as session:  # sealed there: the page shows its values
        kept = session.exec(
            select(SyncConflict).where(SyncConflict.device_id == device_a, SyncConflict.field == "telephone")
        ).all()
    assert [c.resolved_at for c in kept] == [None]  # waiting for a coordinator on the server


def _synchronise(page: Page) -> None:
    page.goto("/terrain/synchronisation")
    page.click("#synchroniser")
    expect(page.locator("#etape-synchronisation")).to_have_text("Synchronisation terminée.", timeout=60_000)
    _pending(page, 0)


def test_a_slot_booked_offline_but_given_away_meanwhile_comes_back_to_rebook(
    field_page: Page, field_laptop: FieldLaptop
) -> None:
    page = field_page
    _unlock(page, field_laptop, author="Dr Roche")
    page.fill("#nouveau-nom", "Rebook")
    page.fill("#nouveau-prenoms", "Anne")
    page.fill("#nouveau-date_naissance", "1961-07-14")
    page.select_option("#nouveau-sexe", "F")
    page.click("#creer-patient")
    expect(page).to_have_url(re.compile(r"/terrain/patients/[0-9a-f]{32}$"))
    _synchronise(page)  # the patient goes up, the tour's agenda comes down

    page.goto("/terrain/agenda")
    free = page.locator(".creneau", has=page.locator(".reserver"))
    expect(free.first).to_be_visible()
    hours = free.first.locator("td").first.inner_text()
    free.first.locator(".reserver").click()
    option = page.locator("#reservation-patient option", has_text="REBOOK")
    page.select_option("#reservation-patient", option.get_attribute("value"))
    page.fill("#reservation-motif", "Renouvellement")
    page.click("#confirmer-reservation")
    booked = page.locator(".creneau", has_text=hours).first
    expect(booked.locator(".statut-creneau")).to_have_text("réservé (hors ligne)")
    _pending(page, 1)

    # Meanwhile the coordination gives that slot to someone else, on the server.
    with LocalStore.open(field.store_path(field_laptop.folder), field_laptop.passphrase) as store:
        (booking,) = [store.read("slot_booking", rid) for rid in store.record_ids("slot_booking")]
    slot_id = int(booking["creneau"].removeprefix("slot-"))
    with Session(field_laptop.server.engine) as session:
        coordinator = session.exec(select(User).where(User.email == "coordination@demo-cpts.fr")).one()
        actor = Actor(user_id=coordinator.id, role=Role(coordinator.role), display_name="Coordination")
        someone = session.exec(select(Patient)).first()
        book(session, actor, slot_id, someone.id, reason="Pris au téléphone")
        session.commit()

    _synchronise(page)
    expect(page.locator("#a-reprogrammer .a-reprogrammer")).to_have_count(1)
    expect(page.locator("#a-reprogrammer")).to_contain_text("reprogrammer")
    page.get_by_role("link", name="Choisir un autre créneau").click()
    expect(page).to_have_url(re.compile(r"/terrain/agenda$"))
    expect(page.locator(".creneau", has_text=hours).first.locator(".statut-creneau")).to_have_text("réservé")


def _set_server_url(laptop: FieldLaptop, url: str) -> None:
    """What a lost network looks like to the laptop: its (sealed) server address stops answering."""
    with LocalStore.open(field.store_path(laptop.folder), laptop.passphrase) as store:
        store.set_meta("server_url", url.encode(), secret=False)


def test_without_network_the_laptop_says_offline_keeps_its_changes_and_syncs_later(
    field_page: Page, field_laptop: FieldLaptop
) -> None:
    page = field_page
    _unlock(page, field_laptop)
    page.click("#verrouiller")  # the open store keeps the address it read: close it first
    expect(page).to_have_url(re.compile(r"/terrain$"))
    _set_server_url(field_laptop, "http://127.0.0.1:9")  # nothing listens there
    try:
        _unlock(page, field_laptop)
        expect(page.locator("#indicateur-reseau")).to_have_text("Hors ligne", timeout=30_000)
        page.goto("/terrain/patients")
        page.fill("#nouveau-nom", "Horsligne")
        page.fill("#nouveau-prenoms", "Marc")
        page.fill("#nouveau-date_naissance", "1970-01-01")
        page.select_option("#nouveau-sexe", "M")
        page.click("#creer-patient")
        expect(page).to_have_url(re.compile(r"/terrain/patients/[0-9a-f]{32}$"))
        _pending(page, 1)
        page.goto("/terrain/synchronisation")
        page.click("#synchroniser")
        expect(page.locator("#erreur-synchronisation")).to_contain_text("injoignable", timeout=30_000)
        _pending(page, 1)  # nothing lost: the change waits in the outbox
        page.click("#verrouiller")
        expect(page).to_have_url(re.compile(r"/terrain$"))
    finally:
        _set_server_url(field_laptop, field_laptop.server.url)
    _unlock(page, field_laptop)
    expect(page.locator("#indicateur-reseau")).to_have_text("En ligne", timeout=30_000)
    _synchronise(page)
