"""The shared agenda in real browsers: find and book a same-day slot, live updates in a second
browser, cancellation, and the capacity board."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cpts_app.models.agenda import Appointment, AppointmentStatus, Schedule, SlotStatus
from cpts_app.models.agenda import Slot as SlotRow
from cpts_app.models.directory import Commune
from tests.browser.agenda_data import add_slot, demo_doctor, paris_day, paris_time
from tests.browser.helpers import COORDINATOR, sign_in

DOCTOR = ("medecin@demo-cpts.fr", "Demo-Medecin-2026")


def _slot_line(page: Page, slot_id: int):
    return page.locator(f"[data-slot='{slot_id}']")


def _book_from(page: Page, trigger, patient_name: str) -> None:
    """Open the dialog from ``trigger``, create the patient, confirm."""
    trigger.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#nouveau-patient").click()
    dialog.locator("#champ-birth_name").fill(patient_name)
    dialog.locator("#champ-first_names").fill("Jeanne")
    dialog.locator("#champ-birth_date").fill("1948-03-12")
    dialog.locator("#champ-sex").select_option("F")
    dialog.locator("#champ-phone").fill("06 12 34 56 78")
    dialog.locator("#enregistrer-patient").click()
    expect(dialog.locator("#patient-selectionne")).to_contain_text(patient_name.upper())
    dialog.locator("#motif").fill("Fièvre depuis hier, pas de médecin traitant")
    dialog.locator("#pour-le-compte-de").fill("Pharmacie du Centre")
    dialog.locator("#confirmer-reservation").click()
    expect(dialog).to_be_hidden()


def test_coordinator_finds_and_books_a_same_day_slot(page: Page, app_engine: Engine) -> None:
    doctor = demo_doctor(app_engine)
    # Soon, in the doctor's own commune: among the earliest results whatever the hour of the run.
    slot = add_slot(app_engine, doctor.id, minutes_from_now=3)
    with Session(app_engine) as s:
        commune = s.get(Commune, s.get(Schedule, slot.schedule_id).commune_id)
    sign_in(page, *COORDINATOR)
    page.goto("/agenda/trouver")
    page.select_option("#filtre-commune", label=commune.name)
    page.uncheck("#filtre-voisines")
    page.select_option("#filtre-profession", label="Médecin généraliste")
    page.select_option("#filtre-fenetre", value="48h")
    page.select_option("#filtre-type", label="Soins non programmés")
    page.click("#bouton-trouver")
    offer = page.locator(".creneau-propose", has_text=paris_time(slot.start)).filter(
        has_text=doctor.last_name.upper()
    )
    expect(offer.first).to_be_visible()
    _book_from(page, offer.first.get_by_role("button", name="Réserver"), "Dupuis-Essai")
    expect(page.get_by_text("Rendez-vous réservé pour DUPUIS-ESSAI Jeanne")).to_be_visible()
    # The booked slot disappears from the results (they refresh by themselves).
    expect(
        page.locator(".creneau-propose", has_text=paris_time(slot.start)).filter(
            has_text=doctor.last_name.upper()
        )
    ).to_have_count(0)
    with Session(app_engine) as s:
        appointments = s.exec(select(Appointment).where(Appointment.slot_id == slot.id)).all()
        assert len(appointments) == 1
        assert appointments[0].status == AppointmentStatus.BOOKED
        assert appointments[0].on_behalf_of == "Pharmacie du Centre"
        assert s.get(SlotRow, slot.id).status == SlotStatus.BUSY


def test_second_browser_sees_the_slot_taken_and_freed_without_reload(
    browser: Browser, base_url: str, page: Page, app_engine: Engine
) -> None:
    doctor = demo_doctor(app_engine)
    slot = add_slot(app_engine, doctor.id, minutes_from_now=100)
    agenda_url = f"/agenda/professionnel?id={doctor.id}&jour={paris_day(slot.start)}"

    # Browser 1: the doctor watches their own agenda.
    sign_in(page, *DOCTOR)
    page.goto(agenda_url)
    expect(_slot_line(page, slot.id)).to_contain_text("Libre")

    # Browser 2: the coordinator books that slot from the same agenda.
    other = browser.new_context(base_url=base_url, locale="fr-FR", viewport={"width": 1280, "height": 900})
    coordinator = other.new_page()
    sign_in(coordinator, *COORDINATOR)
    coordinator.goto(agenda_url)
    _book_from(
        coordinator, _slot_line(coordinator, slot.id).get_by_role("button", name="Réserver"), "Martin-Essai"
    )

    # Browser 1 shows it taken, with the patient's name (it is the doctor's own agenda), no reload.
    expect(_slot_line(page, slot.id)).to_contain_text("Pris")
    expect(_slot_line(page, slot.id)).to_contain_text("MARTIN-ESSAI Jeanne")

    # The coordinator cancels; the doctor's open agenda shows the slot free again.
    _slot_line(coordinator, slot.id).get_by_role("button", name="Annuler").click()
    coordinator.locator("#motif-annulation").fill("La patiente a trouvé un créneau plus tôt")
    coordinator.click("#confirmer-annulation")
    expect(_slot_line(page, slot.id)).to_contain_text("Libre")
    other.close()


def test_booking_a_slot_taken_meanwhile_is_refused_in_french(
    browser: Browser, base_url: str, page: Page, app_engine: Engine
) -> None:
    doctor = demo_doctor(app_engine)
    slot = add_slot(app_engine, doctor.id, minutes_from_now=160)
    agenda_url = f"/agenda/professionnel?id={doctor.id}&jour={paris_day(slot.start)}"
    sign_in(page, *COORDINATOR)
    page.goto(agenda_url)
    # Stale page: the dialog is opened, then someone else takes the slot before confirmation.
    _slot_line(page, slot.id).get_by_role("button", name="Réserver").click()
    dialog = page.get_by_role("dialog")
    other = browser.new_context(base_url=base_url)
    doctor_page = other.new_page()
    sign_in(doctor_page, *DOCTOR)
    doctor_page.goto(agenda_url)
    _book_from(
        doctor_page, _slot_line(doctor_page, slot.id).get_by_role("button", name="Réserver"), "Premier-Essai"
    )
    other.close()

    dialog.locator("#patient-recherche").fill("Premier-Essai")
    dialog.get_by_role("button", name="Chercher").click()
    dialog.locator(".patient-trouve").first.click()
    dialog.locator("#confirmer-reservation").click()
    expect(dialog.locator("#erreur-reservation")).to_contain_text("vient d'être réservé")
    with Session(app_engine) as s:
        assert len(s.exec(select(Appointment).where(Appointment.active_slot_id == slot.id)).all()) == 1


def test_capacity_board_counts_free_same_day_slots(page: Page, app_engine: Engine) -> None:
    sign_in(page, *COORDINATOR)
    page.goto("/agenda/capacite")
    expect(page.locator(".ligne-capacite")).to_have_count(13)
    expect(page.locator("#total-matin")).to_have_text(re.compile(r"^\d+$"))
    # A GP's account has no access to the board.
    page.get_by_role("button", name="Se déconnecter").click()
    sign_in(page, *DOCTOR)
    page.goto("/agenda/capacite")
    expect(page.get_by_role("alert")).to_contain_text("Accès refusé")


def test_medicobus_agenda_shows_where_the_bus_is(page: Page, app_engine: Engine) -> None:
    from datetime import UTC, datetime, timedelta

    from cpts_app.models.directory import Structure, StructureKind
    from tests.browser.agenda_data import PARIS

    with Session(app_engine) as s:
        bus = s.exec(select(Structure).where(Structure.kind == StructureKind.MEDICOBUS)).one()
    next_week = (datetime.now(UTC) + timedelta(days=7)).astimezone(PARIS).date()
    sign_in(page, *COORDINATOR)
    page.goto(f"/agenda/structure?id={bus.id}&jour={next_week.isoformat()}&vue=semaine")
    expect(page.locator("#titre-agenda")).to_contain_text("Médicobus")
    tour = page.locator("#tournee-medicobus")
    expect(tour.locator("tbody tr").first).to_be_visible()
    assert tour.locator("tbody tr").count() >= 8  # two stops a day, five weekdays (a holiday may drop one)
    expect(page.locator(".creneau-libre").first).to_be_visible()
