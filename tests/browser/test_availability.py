"""A professional publishes availability in the browser; overlaps are refused in French; the
calendar subscription link serves an iCalendar feed."""

from __future__ import annotations

import httpx
from icalendar import Calendar
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from cpts_app.models.agenda import AvailabilityRule, Schedule
from tests.browser.agenda_data import demo_doctor
from tests.browser.helpers import sign_in

DOCTOR = ("medecin@demo-cpts.fr", "Demo-Medecin-2026")


def _rule_count(engine: Engine, professional_id: int) -> int:
    with Session(engine) as s:
        return s.exec(
            select(func.count())
            .select_from(AvailabilityRule)
            .join(Schedule, Schedule.id == AvailabilityRule.schedule_id)
            .where(Schedule.professional_id == professional_id)
        ).one()


def test_doctor_publishes_a_rule_and_an_overlap_is_refused(
    page: Page, app_engine: Engine, base_url: str
) -> None:
    doctor = demo_doctor(app_engine)
    before = _rule_count(app_engine, doctor.id)
    sign_in(page, *DOCTOR)
    page.goto("/agenda/disponibilites")
    form = page.locator("form", has=page.locator("#publier-disponibilite"))
    expect(form).to_be_visible()

    def submit_rule() -> None:
        form.locator("#champ-weekday").select_option(label="dimanche")
        form.locator("#champ-start_time").fill("10:00")
        form.locator("#champ-end_time").fill("11:00")
        form.locator("#champ-slot_minutes").fill("20")
        form.locator("#champ-kind").select_option(label="Soins non programmés")
        form.locator("input[name='audience_SNP']").check()
        form.locator("#publier-disponibilite").click()

    submit_rule()
    expect(page.locator("#message-dispo")).to_contain_text("créneaux publiés")
    expect(page.locator("#regles-disponibilite")).to_contain_text("dimanche")
    assert _rule_count(app_engine, doctor.id) == before + 1

    submit_rule()
    expect(page.locator("#erreur-start_time")).to_contain_text("chevauchent")
    assert _rule_count(app_engine, doctor.id) == before + 1

    # The calendar subscription link: shown once, serves an iCalendar feed without patient names.
    page.click("#creer-lien-ical")
    link = page.locator("#lien-ical")
    expect(link).to_contain_text("/agenda/ical/")
    path = link.inner_text().split("/agenda/ical/", 1)[1]
    response = httpx.get(f"{base_url}/agenda/ical/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    assert calendar.get("X-WR-TIMEZONE") == "Europe/Paris"
    page.click("#revoquer-lien-ical")
    expect(page.locator("#message-dispo")).to_contain_text("révoqué")
    assert httpx.get(f"{base_url}/agenda/ical/{path}").status_code == 404
