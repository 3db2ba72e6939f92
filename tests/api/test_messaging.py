"""The messaging HTTP routes: session cookie required, members only, French 4xx reasons, and
attachments served only to readers with safe headers; a post through the API notifies members."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import pytest
from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from cpts_app import db, settings
from cpts_app.api.app import build_api
from cpts_app.models.messaging import Message
from cpts_app.services import authentication
from cpts_app.services.messaging import attachments
from cpts_app.services.session_token import SESSION_COOKIE
from tests.services.messaging.factories import World, build_world, care_team, png_bytes

ORIGIN = "https://localhost:3000"


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture
def notified() -> list[tuple[tuple[int, ...], int]]:
    return []


@pytest.fixture
def client(
    database_url: str, engine, monkeypatch: pytest.MonkeyPatch, notified: list[tuple[tuple[int, ...], int]]
) -> Iterator[TestClient]:
    monkeypatch.setenv("CPTS_DATABASE_URL", database_url)
    monkeypatch.setenv("CPTS_PUBLIC_URL", ORIGIN)
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()

    async def notify(user_ids: Sequence[int], thread_id: int) -> None:
        notified.append((tuple(sorted(user_ids)), thread_id))

    with TestClient(build_api(notify), base_url=ORIGIN) as test_client:
        yield test_client
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()


def _cookie(session: Session, email_of_user_id: int) -> dict[str, str]:
    from cpts_app.models.access import User

    user = session.get(User, email_of_user_id)
    assert user is not None
    outcome = authentication.sign_in(
        session, email=user.email, password="correct horse battery staple", ip="127.0.0.1", user_agent="test"
    )
    session.commit()
    assert outcome.token
    return {"cookie": f"{SESSION_COOKIE}={outcome.token}"}


def test_without_a_session_the_api_answers_401_in_french(client: TestClient, world: World) -> None:
    response = client.get("/api/messagerie/fils")
    assert response.status_code == 401
    assert "reconnectez-vous" in response.json()["detail"]


def test_members_read_outsiders_get_403_and_unknown_threads_404(
    client: TestClient, session: Session, world: World
) -> None:
    thread_id = care_team(session, world, world.doctor)
    doctor, outsider = _cookie(session, world.doctor.user_id), _cookie(session, world.outsider.user_id)

    listed = client.get("/api/messagerie/fils", headers=doctor)
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["fils"]] == [thread_id]
    assert client.get(f"/api/messagerie/fils/{thread_id}/messages", headers=doctor).status_code == 200

    refused = client.get(f"/api/messagerie/fils/{thread_id}/messages", headers=outsider)
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("Accès refusé")
    assert client.get("/api/messagerie/fils", headers=outsider).json()["fils"] == []

    missing = client.get("/api/messagerie/fils/987654/messages", headers=doctor)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Cette conversation n'existe pas."
    bad_cursor = client.get(f"/api/messagerie/fils/{thread_id}/messages?apres=abc", headers=doctor)
    assert bad_cursor.status_code == 422


def test_post_validates_in_french_stores_nothing_on_refusal_and_notifies_members(
    client: TestClient, session: Session, engine, world: World, notified: list[tuple[tuple[int, ...], int]]
) -> None:
    thread_id = care_team(session, world, world.doctor)
    doctor = _cookie(session, world.doctor.user_id) | {"origin": ORIGIN, "content-type": "application/json"}
    url = f"/api/messagerie/fils/{thread_id}/messages"

    def count() -> int:
        with Session(engine) as s:
            return s.exec(select(func.count()).select_from(Message)).one()

    html = client.post(url, content=json.dumps({"texte": "<img src=x onerror=alert(1)>"}), headers=doctor)
    assert html.status_code == 422 and "HTML" in html.json()["detail"] + json.dumps(html.json()["erreurs"])
    empty = client.post(url, content=json.dumps({"texte": "   "}), headers=doctor)
    assert empty.status_code == 422 and "vide" in empty.json()["erreurs"]["text"]
    assert client.post(url, content=b"{pas du json", headers=doctor).status_code == 400
    assert client.post(url, content=json.dumps({"texte": 3}), headers=doctor).status_code == 400
    foreign = client.post(
        url, content=json.dumps({"texte": "ok"}), headers=doctor | {"origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    huge = client.post(url, content=json.dumps({"texte": "x" * 70_000}), headers=doctor)
    assert huge.status_code == 413
    assert count() == 0 and notified == []

    posted = client.post(url, content=json.dumps({"texte": "Tension 13/8, RAS."}), headers=doctor)
    assert posted.status_code == 201
    assert count() == 1
    assert notified == [(tuple(sorted((world.doctor.user_id, world.coordinator.user_id))), thread_id)]
    page = client.get(url, headers=doctor).json()
    assert page["messages"][0]["blocks"][0]["spans"][0]["text"] == "Tension 13/8, RAS."


def test_attachment_is_served_to_members_only_with_safe_headers(
    client: TestClient, session: Session, world: World
) -> None:
    from cpts_app.services.messaging import messages

    thread_id = care_team(session, world, world.doctor)
    image = png_bytes()
    draft = attachments.stage_attachment(session, world.coordinator, thread_id, "plaie J3.png", image)
    messages.post_message(session, world.coordinator, thread_id, "Photo de la plaie", [draft.id])
    session.commit()
    url = f"/api/messagerie/pieces-jointes/{draft.id}"

    served = client.get(url, headers=_cookie(session, world.doctor.user_id))
    assert served.status_code == 200
    assert served.content == image
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    assert served.headers["cache-control"].startswith("private, no-store")
    assert served.headers["content-disposition"].startswith("inline")

    refused = client.get(url, headers=_cookie(session, world.outsider.user_id))
    assert refused.status_code == 403
    assert client.get(url).status_code == 401
    assert (
        client.get(
            "/api/messagerie/pieces-jointes/424242", headers=_cookie(session, world.doctor.user_id)
        ).status_code
        == 404
    )
