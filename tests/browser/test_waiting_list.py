"""Waiting list and surnuméraire bookings in the browser (coordination)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cpts_app.models.access import Role, User
from cpts_app.models.agenda import Appointment, Schedule, WaitingListEntry, WaitingStatus
from cpts_app.models.directory import Commune
from cpts_app.services.agenda import booking
from cpts_app.services.permissions import Actor
from tests.browser.agenda_data import PARIS, add_patient, add_slot, demo_doctor
from tests.browser.helpers import COORDINATOR, sign_in


def _pick_patient(page: Page, name: str) -> None:
    page.fill("#patient-recherche", name)
    page.get_by_role("button", name="Chercher").first.click()
    page.locator(".patient-trouve", has_text=name.upper()).first.click()
    expect(page.locator("#patient-selectionne")).to_contain_text(name.upper())


def test_freed_slot_is_offered_to_the_waiting_list(page: Page, app_engine: Engine) -> None:
    doctor = demo_doctor(app_engine)
    waiting_patient = add_patient(app_engine, "Attente-Essai")
    with Session(app_engine) as s:
        schedule = s.exec(select(Schedule).where(Schedule.professional_id == doctor.id)).first()
        commune = s.get(Commune, schedule.commune_id)
        coordinator = s.exec(select(User).where(User.role == Role.COORDINATOR)).first()
    sign_in(page, *COORDINATOR)
    page.goto("/agenda/attente")
    _pick_patient(page, "Attente-Essai")
    page.select_option("#champ-profession", label="Médecin généraliste")
    page.select_option("#champ-commune_id", label=commune.name)
    page.click("#inscrire-attente")
    row = page.locator(".entree-attente", has_text="ATTENTE-ESSAI")
    expect(row).to_contain_text("En attente")

    # Someone else's appointment with that doctor is cancelled: the freed slot is offered.
    slot = add_slot(app_engine, doctor.id, minutes_from_now=300, audience="PRO,CPTS")
    other_patient = add_patient(app_engine, "Annule-Essai")
    actor = Actor(user_id=coordinator.id, role=Role.COORDINATOR, display_name="coordination")
    with Session(app_engine) as s:
        appointment_id = booking.book(s, actor, slot.id, other_patient)
        s.commit()
    with Session(app_engine) as s:
        offered = booking.cancel(s, actor, appointment_id, "Le patient est hospitalisé")
        s.commit()
    with Session(app_engine) as s:
        entry = s.exec(select(WaitingListEntry).where(WaitingListEntry.patient_id == waiting_patient)).one()
        assert (
            entry.id in offered and entry.status == WaitingStatus.OFFERED and entry.offered_slot_id == slot.id
        )
    page.reload()
    expect(row).to_contain_text("Créneau proposé")
    expect(row).to_contain_text(doctor.last_name.upper())


def test_coordinator_books_a_surnumeraire_with_its_justification(page: Page, app_engine: Engine) -> None:
    doctor = demo_doctor(app_engine)
    add_patient(app_engine, "Surnum-Essai")
    day = (datetime.now(UTC) + timedelta(days=1)).astimezone(PARIS).date()
    sign_in(page, *COORDINATOR)
    page.goto(f"/agenda/professionnel?id={doctor.id}&jour={day.isoformat()}")
    page.click("#ouvrir-surnumeraire")
    dialog = page.get_by_role("dialog")
    _pick_patient(page, "Surnum-Essai")
    dialog.locator("#champ-debut").fill("20:05")
    dialog.locator("#champ-fin").fill("20:20")
    dialog.locator("#enregistrer-surnumeraire").click()
    expect(dialog.locator("#erreur-extra_reason")).to_contain_text("motif du rendez-vous surnuméraire")
    with Session(app_engine) as s:
        assert not s.exec(
            select(Appointment).where(Appointment.extra, Appointment.professional_id == doctor.id)
        ).all()

    dialog.locator("#justification").fill("Sortie d'hospitalisation, pansement à refaire ce soir")
    dialog.locator("#enregistrer-surnumeraire").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".creneau", has_text="20:05")).to_contain_text("Surnuméraire")
    with Session(app_engine) as s:
        extra = s.exec(
            select(Appointment).where(Appointment.extra, Appointment.professional_id == doctor.id)
        ).one()
        assert extra.extra_reason.startswith("Sortie d'hospitalisation")
        assert extra.start.astimezone(PARIS).strftime("%H:%M") == "20:05"
