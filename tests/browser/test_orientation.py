"""Orientation end to end: a pharmacist signals a patient with ALD and no médecin traitant; the
coordinator sees the referral at the top of the queue, books a same-day slot; the pharmacist's
open page then shows the referral « Orientée ». Plus the public self-signal page."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cpts_app.models.agenda import Appointment, Schedule
from cpts_app.models.directory import Commune
from cpts_app.models.orientation import Referral, ReferralStatus
from tests.browser.agenda_data import add_slot, demo_doctor, paris_time
from tests.browser.helpers import COORDINATOR, sign_in

PHARMACIST = ("pharmacie@demo-cpts.fr", "Demo-Pharma-2026")


def test_pharmacist_referral_is_triaged_and_booked_by_the_coordinator(
    browser: Browser, base_url: str, page: Page, app_engine: Engine
) -> None:
    doctor = demo_doctor(app_engine)
    with Session(app_engine) as s:
        schedule = s.exec(select(Schedule).where(Schedule.professional_id == doctor.id)).first()
        commune = s.get(Commune, schedule.commune_id)
    # At least one free GP slot near the patient within 48 h, whatever the hour of the run.
    add_slot(app_engine, doctor.id, minutes_from_now=45)

    # The pharmacist signals the patient.
    sign_in(page, *PHARMACIST)
    page.goto("/orientation/nouvelle")
    page.click("#nouveau-patient")
    page.fill("#champ-birth_name", "Orientée-Essai")
    page.fill("#champ-first_names", "Marcelle")
    page.fill("#champ-birth_date", "1939-04-17")
    page.select_option("#champ-sex", "F")
    page.fill("#champ-phone", "06 98 76 54 32")
    page.select_option("#champ-commune_id", label=commune.name)
    for flag in ("ald", "css", "handicap", "without_attending_doctor"):
        page.check(f"input[name='{flag}']")
    page.click("#enregistrer-patient")
    expect(page.locator("#patient-selectionne")).to_contain_text("ORIENTÉE-ESSAI")
    page.select_option("#champ-reason", label="Maladie chronique / ALD")
    page.select_option("#champ-urgency", label="Dans la demi-journée")
    page.click("#envoyer-demande")
    expect(page.locator("#erreur-consent_to_contact")).to_contain_text("consentement")
    page.check("#consentement")
    page.click("#envoyer-demande")
    expect(page).to_have_url(re.compile(r"/orientation/mes-demandes"))
    mine = page.locator(".ma-demande", has_text="ORIENTÉE-ESSAI")
    expect(mine).to_contain_text("Reçue")

    # The coordinator finds it at the top of the queue, with the priority explained.
    other = browser.new_context(base_url=base_url, locale="fr-FR", viewport={"width": 1400, "height": 900})
    coordinator = other.new_page()
    sign_in(coordinator, *COORDINATOR)
    coordinator.goto("/orientation/file")
    first_row = coordinator.locator(".ligne-file").first
    expect(first_row).to_contain_text("ORIENTÉE-ESSAI")
    expect(first_row.locator(".explication-priorite")).to_contain_text("ALD")
    first_row.get_by_role("link", name=re.compile("ORIENTÉE-ESSAI")).click()
    expect(coordinator.locator("#demande-patient")).to_contain_text("ORIENTÉE-ESSAI")

    # A call, then a same-day slot booked from the referral.
    coordinator.select_option("#canal-contact", label="Appel")
    coordinator.click("#enregistrer-contact")
    coordinator.click("#chercher-48h")
    offer = coordinator.locator(".creneau-orientation").first
    offered_time = offer.locator("p").first.inner_text()
    offer.get_by_role("button", name="Réserver").click()
    expect(coordinator.locator(".statut-demande").first).to_contain_text("Orientée")

    # The pharmacist's open page shows it, without reload.
    expect(mine).to_contain_text("Orientée")
    with Session(app_engine) as s:
        mine_row = s.exec(select(Referral).where(Referral.contact_phone == "+33698765432")).one()
        assert mine_row.status == ReferralStatus.ORIENTED
        assert mine_row.first_contact_at is not None and mine_row.oriented_at is not None
        booked = s.get(Appointment, mine_row.appointment_id)
        assert booked is not None and booked.patient_id == mine_row.patient_id
        assert paris_time(booked.start) in offered_time
    other.close()


def test_public_self_signal_needs_no_account_and_refuses_bad_input(page: Page, app_engine: Engine) -> None:
    page.goto("/signalement")
    page.fill("#champ-birth_name", "Public-Essai")
    page.fill("#champ-first_names", "Léon")
    page.fill("#champ-birth_date", "2090-01-01")
    page.fill("#champ-phone", "12 34")
    page.select_option("#champ-reason", label="Recherche de médecin traitant")
    page.click("#envoyer-signalement")
    expect(page.locator("#erreur-birth_date")).to_be_visible()
    expect(page.locator("#erreur-phone")).to_contain_text("téléphone")
    with Session(app_engine) as s:
        assert not [r for r in s.exec(select(Referral)).all() if "public-essai" in r.contact_name.lower()]
    page.fill("#champ-birth_date", "1980-05-20")
    page.fill("#champ-phone", "06 11 22 33 44")
    page.check("#consentement")
    page.click("#envoyer-signalement")
    expect(page.locator("#signalement-recu")).to_be_visible()
    with Session(app_engine) as s:
        created = [r for r in s.exec(select(Referral)).all() if "public-essai" in r.contact_name.lower()]
        assert len(created) == 1 and created[0].status == ReferralStatus.TO_QUALIFY


def test_indicators_page_shows_figures_from_the_demo_events_and_exports_csv(page: Page) -> None:
    sign_in(page, *COORDINATOR)
    page.goto("/indicateurs")
    cards = page.locator(".indicateur")
    expect(cards.first).to_be_visible()
    received = cards.filter(has_text="Demandes reçues").locator("h1, h2, h3, h4, .rt-Heading").first
    expect(received).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(cards.filter(has_text="Délai médian de premier contact")).to_contain_text(" h")
    expect(page.locator("#graphique-semaines .recharts-surface").first).to_be_visible()
    with page.expect_download() as download_info:
        page.click("#export-csv")
    content = download_info.value.path().read_bytes().decode("utf-8-sig")
    assert ";" in content and "reçues" in content.lower()


def test_coordinator_merges_two_records_of_the_same_patient(page: Page, app_engine: Engine) -> None:
    from cpts_app.models.patient import Patient
    from tests.browser.agenda_data import add_patient

    first = add_patient(app_engine, "Doublon-Essai", "Rose")
    second = add_patient(app_engine, "Doublon-Essai", "Rose")
    sign_in(page, *COORDINATOR)
    page.goto("/patients/fusion")
    page.fill("input[name='recherche']", "doublon-essai rose")
    page.get_by_role("button", name="Chercher").click()
    rows = page.locator(".dossier-patient")
    expect(rows).to_have_count(2)
    page.click("#confirmer-fusion")
    expect(page.locator("#erreur-fusion")).to_contain_text("Choisissez")
    rows.nth(0).locator(".garder").click()
    rows.nth(1).locator(".fusionner").click()
    page.fill("input[name='motif']", "Même personne, dossier créé deux fois")
    page.click("#confirmer-fusion")
    expect(page.locator("#fusion-faite")).to_be_visible()
    with Session(app_engine) as s:
        remaining = [p for p in (s.get(Patient, first), s.get(Patient, second)) if p is not None]
        assert len(remaining) == 1
