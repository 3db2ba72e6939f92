"""The app's API against the test database, and an admin's enrolment code, for the sync tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session
from starlette.testclient import TestClient

from cpts_app import db, settings
from cpts_app.api.app import build_api
from cpts_app.models.access import Role
from cpts_app.services.sync import devices
from mobile_sync.client import SyncClient
from tests.mobile_sync.world import Laptop, Tour, enrolment_code, make_tour
from tests.services import factories


@pytest.fixture
def api(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CPTS_DATABASE_URL", database_url)
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    with TestClient(build_api(), base_url="https://localhost:3000") as test_client:
        yield test_client
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()


@pytest.fixture
def code(engine) -> str:
    """A one-time code for « Médicobus 1 » (a médicobus team account, 7-day lease)."""
    with Session(engine, expire_on_commit=False) as session:
        admin = factories.actor(session, Role.ADMIN)
        bus = factories.field_account(session, email="bus@example.fr")
        _, code = devices.create_enrolment(
            session, admin, label="Médicobus 1", user_id=bus.id, tour_id=None, lease_days=7
        )
        session.commit()
        return code


@pytest.fixture
def tour(engine) -> Tour:
    """A médicobus tour with tomorrow's slots (``world.make_tour``)."""
    return make_tour(engine)


@pytest.fixture
def laptops(tmp_path, api: TestClient, engine, tour):
    """``laptops("bus-a")``: a laptop enrolled on the tour through the API (closed at the end)."""
    made: list[Laptop] = []

    def make(label: str, client: SyncClient | None = None) -> Laptop:
        laptop = Laptop(tmp_path / label, client or SyncClient(api), enrolment_code(engine, tour, label))
        made.append(laptop)
        return laptop

    yield make
    for laptop in made:
        laptop.close()
