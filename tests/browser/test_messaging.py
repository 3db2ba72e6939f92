"""Secure messaging end to end: a coordinator writes in a patient's care team thread, the doctor of
the team sees the badge and the message without reloading, a physiotherapist outside the team is
refused by URL and by API; bad input is refused in French and nothing is half-stored."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, BrowserContext, Page, WebSocketRoute, expect
from sqlalchemy.engine import Engine

from tests.browser.helpers import COORDINATOR, sign_in
from tests.browser.messaging_data import care_team, message_count, physiotherapist_account

DOCTOR = ("medecin@demo-cpts.fr", "Demo-Medecin-2026")
# Two workers, Redis and the browsers share two cores: allow for a slow moment (not a timing test;
# the delivery latency is measured in benchmarks/message_delivery.py).
expect.set_options(timeout=15_000)
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _context(browser: Browser, base_url: str) -> BrowserContext:
    ctx = browser.new_context(base_url=base_url, locale="fr-FR", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(30_000)
    return ctx


def _doctor_name(page: Page) -> str:
    return page.locator("#utilisateur-connecte").inner_text().strip()


def run_two_browser_scenario(browser: Browser, base_url: str, engine: Engine) -> None:
    """The scenario of the issue, shared by the one-worker and the two-workers-with-Redis tests."""
    thread_id, patient_name = care_team(engine, member_emails={DOCTOR[0]: "Médecin traitant"})
    physio = physiotherapist_account(engine)
    coordinator_ctx, doctor_ctx, physio_ctx = (_context(browser, base_url) for _ in range(3))
    try:
        doctor = doctor_ctx.new_page()
        sign_in(doctor, *DOCTOR)
        doctor_name = _doctor_name(doctor)
        doctor.goto("/annuaire")
        expect(doctor.locator("#lien-messagerie")).to_be_visible()
        expect(doctor.locator("#badge-non-lus")).to_have_count(0)

        coordinator = coordinator_ctx.new_page()
        sign_in(coordinator, *COORDINATOR)
        coordinator.goto(f"/messagerie?fil={thread_id}")
        expect(coordinator.locator("#titre-fil")).to_contain_text(patient_name)
        coordinator.fill(
            "#composer",
            f"Bonjour @{doctor_name}, résultats à voir :\n- INR 2,4\n- https://example.org/protocole",
        )
        coordinator.click("#envoyer")
        expect(coordinator.locator(".message")).to_have_count(1)
        expect(coordinator.locator("#composer")).to_have_value("")

        # The doctor, who never reloaded, sees the badge, then the message.
        expect(doctor.locator("#badge-non-lus")).to_have_text("1")
        doctor.click("#lien-messagerie")
        expect(doctor).to_have_url(re.compile(r"/messagerie/?$"))
        doctor.locator(".fil", has_text=patient_name).click()
        message = doctor.locator(".message").first
        expect(message).to_contain_text("INR 2,4")
        expect(message.locator("a", has_text="https://example.org/protocole")).to_have_attribute(
            "href", "https://example.org/protocole"
        )
        expect(message).to_contain_text("vous êtes mentionné(e)")
        expect(doctor.locator("#badge-non-lus")).to_have_count(0)
        # The coordinator's open page shows the read receipt without reload (small team).
        expect(coordinator.locator(".lu-par")).to_contain_text(doctor_name)

        # A second message arrives in the doctor's open thread without reload.
        coordinator.fill("#composer", "Deuxième message : ECG normal.")
        coordinator.click("#envoyer")
        expect(doctor.locator(".message")).to_have_count(2)
        expect(doctor.locator(".message").nth(1)).to_contain_text("ECG normal")

        # A physiotherapist outside the care team: refused by URL and by API.
        physio_page = physio_ctx.new_page()
        sign_in(physio_page, *physio)
        physio_page.goto(f"/messagerie?fil={thread_id}")
        expect(physio_page.locator("#erreur-fil")).to_contain_text("Accès refusé")
        expect(physio_page.locator(".message")).to_have_count(0)
        api = physio_page.request.get(f"/api/messagerie/fils/{thread_id}/messages")
        assert api.status == 403
        assert "Accès refusé" in api.json()["detail"]
        own = doctor.request.get(f"/api/messagerie/fils/{thread_id}/messages")
        assert own.status == 200
        assert [m["id"] for m in own.json()["messages"]]
    finally:
        for ctx in (coordinator_ctx, doctor_ctx, physio_ctx):
            ctx.close()


def test_care_team_thread_two_browsers_two_workers_with_redis(browser: Browser, redis_app) -> None:
    """The same scenario on two workers sharing Redis; then no message text in any Redis value
    (the state Reflex pickles there) — nor the patient's name."""
    import redis

    run_two_browser_scenario(browser, redis_app.url, redis_app.engine)
    connection = redis.Redis.from_url(redis_app.redis_url)
    try:
        values = []
        for key in connection.scan_iter(count=500):
            kind = connection.type(key)
            if kind == b"string":
                values.append(connection.get(key) or b"")
            elif kind == b"hash":
                values.extend(connection.hgetall(key).values())
        assert values, "Redis holds the tabs' state: something must be there"
        blob = b"\n".join(values)
        for secret in ("INR 2,4", "ECG normal", "example.org/protocole"):
            assert secret.encode() not in blob, secret
    finally:
        connection.close()


def test_care_team_thread_two_browsers_one_worker(
    browser: Browser, base_url: str, app_engine: Engine
) -> None:
    run_two_browser_scenario(browser, base_url, app_engine)


def test_two_tabs_of_one_user_and_a_dropped_connection_both_keep_receiving(
    browser: Browser, base_url: str, app_engine: Engine
) -> None:
    """Each tab has its own listener; a tab whose connection drops catches up on reconnection
    (Reflex re-runs the page's load, which starts a new listener) and keeps receiving.

    The drop is real: the second tab's websocket goes through Playwright's router, which closes
    both ends and refuses new connections for a while (a network outage as the page lives it)."""
    thread_id, _ = care_team(app_engine, member_emails={DOCTOR[0]: "Médecin traitant"})
    coordinator_ctx, doctor_ctx = _context(browser, base_url), _context(browser, base_url)
    links: list[tuple[WebSocketRoute, WebSocketRoute]] = []
    outage = {"on": False}

    def through_router(ws: WebSocketRoute) -> None:
        if outage["on"]:
            ws.close(code=1001)
            return
        links.append((ws, ws.connect_to_server()))

    try:
        first = doctor_ctx.new_page()
        sign_in(first, *DOCTOR)
        second = doctor_ctx.new_page()
        second.route_web_socket(re.compile(r"/_event"), through_router)
        for tab in (first, second):
            tab.goto(f"/messagerie?fil={thread_id}")
            expect(tab.locator("#titre-fil")).to_be_visible()
        coordinator = coordinator_ctx.new_page()
        sign_in(coordinator, *COORDINATOR)
        coordinator.goto(f"/messagerie?fil={thread_id}")

        def post(text: str) -> None:
            coordinator.fill("#composer", text)
            coordinator.click("#envoyer")
            expect(coordinator.locator(".message", has_text=text)).to_have_count(1)

        post("Avant la coupure")
        for tab in (first, second):
            expect(tab.locator(".message", has_text="Avant la coupure")).to_have_count(1)
        assert len(links) == 1

        outage["on"] = True
        page_side, server_side = links[0]
        server_side.close(code=1001)
        page_side.close(code=1001)
        post("Pendant la coupure")
        expect(first.locator(".message", has_text="Pendant la coupure")).to_have_count(1)
        second.wait_for_timeout(1_000)
        expect(second.locator(".message", has_text="Pendant la coupure")).to_have_count(0)
        outage["on"] = False

        # Reconnected: the missed message shows, then the next one arrives live in both tabs.
        expect(second.locator(".message", has_text="Pendant la coupure")).to_have_count(1, timeout=45_000)
        assert len(links) >= 2, "the tab came back on a new websocket"
        post("Après la coupure")
        for tab in (first, second):
            expect(tab.locator(".message", has_text="Après la coupure")).to_have_count(1)
    finally:
        coordinator_ctx.close()
        doctor_ctx.close()


def test_bad_input_is_refused_in_french_and_nothing_is_stored(page: Page, app_engine: Engine) -> None:
    thread_id, _ = care_team(app_engine, member_emails={DOCTOR[0]: "Médecin traitant"})
    sign_in(page, *COORDINATOR)
    page.goto(f"/messagerie?fil={thread_id}")
    expect(page.locator("#titre-fil")).to_be_visible()

    page.click("#envoyer")
    expect(page.locator("#erreur-message")).to_contain_text("Le message est vide")

    page.fill("#composer", "Voir <script>alert('x')</script>")
    page.click("#envoyer")
    expect(page.locator("#erreur-message")).to_contain_text("HTML")
    expect(page.locator("#composer")).to_have_value("Voir <script>alert('x')</script>")  # nothing lost
    assert message_count(app_engine, thread_id) == 0

    upload = page.locator("#pj input[type=file]")
    upload.set_input_files(
        files=[
            {
                "name": "scanner.pdf",
                "mimeType": "application/pdf",
                "buffer": b"%PDF-1.4\n" + b"0" * (25 * 1024 * 1024),
            }
        ]
    )
    expect(page.locator("#erreur-message")).to_contain_text("taille maximale")
    upload.set_input_files(
        files=[
            {
                "name": "outil.exe",
                "mimeType": "application/octet-stream",
                "buffer": b"MZ\x90\x00" + b"\x00" * 200,
            }
        ]
    )
    expect(page.locator("#erreur-message")).to_contain_text("Type de fichier non accepté")
    expect(page.locator(".brouillon-piece-jointe")).to_have_count(0)

    upload.set_input_files(
        files=[{"name": "bilan sanguin.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    expect(page.locator(".brouillon-piece-jointe")).to_contain_text("bilan sanguin.pdf")
    page.fill("#composer", "Bilan joint.")
    page.click("#envoyer")
    link = page.locator(".message .piece-jointe", has_text="bilan sanguin.pdf")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href and href.startswith("/api/messagerie/pieces-jointes/")
    download = page.request.get(href)
    assert download.status == 200
    assert download.body() == PDF
    assert download.headers["x-content-type-options"] == "nosniff"
    assert message_count(app_engine, thread_id) == 1

    page.goto("/messagerie?fil=999999")
    expect(page.locator("#erreur-fil")).to_contain_text("n'existe pas")
