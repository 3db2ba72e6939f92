"""Two granian workers sharing Redis: a booking made through one worker reaches, without reload, an
agenda open in a browser whose websocket another worker serves.

How the worker of a browser is known: Reflex records the owner of each tab's socket in Redis
(``token_manager_socket_record_<tab token>`` → ``SocketRecord(instance_id, sid)``; each worker
process draws its own ``instance_id`` at start), and the tab token is in the page's
``sessionStorage``. The doctor opens tabs until one is served by the other worker than the
coordinator's (the kernel spreads connections; a handful of tabs suffices).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import redis
from playwright.sync_api import Browser, Page, expect

from tests.browser.agenda_data import add_patient, add_slot, demo_doctor, paris_day
from tests.browser.helpers import COORDINATOR, sign_in

if TYPE_CHECKING:
    from tests.browser.conftest import AppInstance

DOCTOR = ("medecin@demo-cpts.fr", "Demo-Medecin-2026")
MAX_DOCTOR_TABS = 8


def _worker_processes(app: AppInstance) -> list[psutil.Process]:
    """The granian workers: ``reflex run`` processes whose parent is ``reflex run`` too."""

    def is_reflex(process: psutil.Process | None) -> bool:
        return process is not None and any(Path(part).name == "reflex" for part in process.cmdline()[:2])

    tree = psutil.Process(app.pid).children(recursive=True)
    return [p for p in tree if is_reflex(p) and is_reflex(p.parent())]


def _worker_of(app: AppInstance, page: Page) -> str:
    """The ``instance_id`` of the worker that holds this tab's websocket."""
    token = page.evaluate("() => window.sessionStorage.getItem('token')")
    assert token, "the tab has no Reflex token yet"
    assert app.redis_url is not None
    connection = redis.Redis.from_url(app.redis_url)
    try:
        raw = connection.get(f"token_manager_socket_record_{token}")
    finally:
        connection.close()
    assert raw is not None, f"no socket record in Redis for tab {token}"
    return pickle.loads(raw).instance_id  # noqa: S301 (the test's own Redis)


def _line(page: Page, slot_id: int):
    return page.locator(f"[data-slot='{slot_id}']")


def test_booking_on_one_worker_reaches_an_agenda_served_by_the_other(
    browser: Browser, redis_app: AppInstance
) -> None:
    assert len(_worker_processes(redis_app)) == redis_app.workers == 2
    engine = redis_app.engine
    doctor = demo_doctor(engine)
    slot = add_slot(engine, doctor.id, minutes_from_now=110)
    add_patient(engine, "REDIS-ESSAI", "Lucie")
    agenda_url = f"/agenda/professionnel?id={doctor.id}&jour={paris_day(slot.start)}"

    coordinator_ctx, doctor_ctx = redis_app.new_context(browser), redis_app.new_context(browser)
    try:
        coordinator = coordinator_ctx.new_page()
        sign_in(coordinator, *COORDINATOR)
        coordinator.goto(agenda_url)
        expect(_line(coordinator, slot.id)).to_contain_text("Libre")
        booking_worker = _worker_of(redis_app, coordinator)

        # The doctor's tabs (same browser, one websocket each) until one is on the other worker.
        tabs: list[tuple[Page, str]] = []
        sign_in(doctor_page := doctor_ctx.new_page(), *DOCTOR)
        while len(tabs) < MAX_DOCTOR_TABS:
            tab = doctor_page if not tabs else doctor_ctx.new_page()
            tab.goto(agenda_url)
            expect(_line(tab, slot.id)).to_contain_text("Libre")
            tabs.append((tab, _worker_of(redis_app, tab)))
            if tabs[-1][1] != booking_worker:
                break
        workers = {booking_worker} | {worker for _, worker in tabs}
        assert len(workers) == 2, f"all {len(tabs) + 1} tabs landed on one worker"

        # The coordinator books through its worker; every doctor tab shows it, with no reload.
        _line(coordinator, slot.id).get_by_role("button", name="Réserver").click()
        dialog = coordinator.get_by_role("dialog")
        dialog.locator("#patient-recherche").fill("REDIS-ESSAI")
        dialog.get_by_role("button", name="Chercher").click()
        dialog.locator(".patient-trouve").first.click()
        dialog.locator("#motif").fill("Contrôle tensionnel")
        dialog.locator("#confirmer-reservation").click()
        expect(dialog).to_be_hidden()
        for tab, _ in tabs:
            expect(_line(tab, slot.id)).to_contain_text("Pris")
            expect(_line(tab, slot.id)).to_contain_text("REDIS-ESSAI Lucie")

        # And back: the cancellation frees the slot in every open tab.
        _line(coordinator, slot.id).get_by_role("button", name="Annuler").click()
        coordinator.locator("#motif-annulation").fill("Erreur de saisie")
        coordinator.click("#confirmer-annulation")
        for tab, _ in tabs:
            expect(_line(tab, slot.id)).to_contain_text("Libre")
    finally:
        coordinator_ctx.close()
        doctor_ctx.close()
