"""A médicobus tour with slots, laptops enrolled on it, and helpers to edit and sync them.

Why a module: the sync, fault and convergence tests all need the same small world — a tour
tomorrow with free slots, a team account, and laptops that really enrolled through the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cpts_app.models.access import Role
from cpts_app.models.agenda import Slot, TourStop
from cpts_app.models.directory import StructureKind
from cpts_app.services.agenda import tours
from cpts_app.services.agenda.recurrence import to_paris
from cpts_app.services.permissions import Actor
from cpts_app.services.sync import devices
from mobile_sync import field
from mobile_sync.client import SyncClient
from mobile_sync.envelope import FAST_TEST_KDF
from mobile_sync.hlc import HybridClock
from mobile_sync.store import LocalStore
from mobile_sync.sync import SyncReport, synchronise
from tests.services import factories

PASSPHRASE = "tournée du mardi à Beaucaire"
SERVER_URL = "https://localhost:3000"


@dataclass
class Tour:
    tour_id: int
    structure_id: int
    admin: Actor
    team: Actor
    coordinator: Actor
    slot_ids: list[int]
    commune_insee: str


def make_tour(engine: Engine, suffix: str = "") -> Tour:
    """A tour with two stops tomorrow (Paris) and their médicobus slots, and the people around it.

    ``suffix`` (one digit) makes a second, independent tour (communes, bus, team) in the same database.
    """
    with Session(engine, expire_on_commit=False) as session:
        home = factories.commune(session, f"Jonquières{suffix}", f"3013{suffix or 5}", "30300")
        comps = factories.commune(session, f"Comps{suffix}", f"3008{suffix or 9}", "30300")
        bus = factories.structure(session, f"Médicobus des Costières{suffix}", home, StructureKind.MEDICOBUS)
        doctor = factories.professional(session, "Pierre", f"Roche{suffix}", structures=[bus])
        team_user = factories.user(
            session, email=f"bus{suffix}@example.fr", role=Role.MEDICOBUS_TEAM, display_name="Équipe bus"
        )
        team = Actor(user_id=team_user.id, role=Role.MEDICOBUS_TEAM, display_name="Équipe bus")
        admin = factories.actor(session, Role.ADMIN)
        coordinator = factories.actor(session, Role.COORDINATOR)
        tour_id = tours.create_tour(session, team, bus.id, "Tournée des Costières")
        now = datetime.now(UTC)
        tomorrow = to_paris(now).date() + timedelta(days=1)
        for start, end in (("09:00", "12:00"), ("13:30", "16:30")):
            tours.add_stop(
                session,
                team,
                tour_id,
                day=tomorrow,
                commune_id=comps.id,
                place="Place de la Mairie",
                start_time=start,
                end_time=end,
                now=now,
            )
        tours.generate_tour_slots(session, tour_id, now=now)
        slot_ids = [
            s.id
            for s, stop in session.exec(
                select(Slot, TourStop).join(TourStop, col(Slot.tour_stop_id) == TourStop.id)
            )
            if stop.tour_id == tour_id
        ]
        slot_ids.sort()
        session.commit()
        assert doctor.id and slot_ids
        return Tour(tour_id, bus.id, admin, team, coordinator, slot_ids, comps.insee_code)


def enrolment_code(engine: Engine, tour: Tour, label: str) -> str:
    with Session(engine) as session:
        _, code = devices.create_enrolment(
            session, tour.admin, label=label, user_id=tour.team.user_id, tour_id=tour.tour_id, lease_days=7
        )
        session.commit()
    return code


class Laptop:
    """One enrolled laptop folder; ``open()`` gives its store, ``sync()`` runs the real engine."""

    def __init__(self, folder: Path, client: SyncClient, code: str) -> None:
        self.folder = folder
        self.client = client
        self.status = field.enrol(folder, PASSPHRASE, SERVER_URL, code, client, params=FAST_TEST_KDF)
        self.device_id = self.status.device_id
        self.store: LocalStore | None = field.unlock(folder, PASSPHRASE, for_sync=True)
        self.clock: HybridClock = field.clock_for(self.store)

    @property
    def db(self) -> LocalStore:
        assert self.store is not None
        return self.store

    def close(self) -> None:
        if self.store is not None and self.store.is_open:
            field.remember_clock(self.store, self.clock)
            self.store.close()
        self.store = None

    def reopen(self) -> None:
        self.close()
        self.store = field.unlock(self.folder, PASSPHRASE, for_sync=True)
        self.clock = field.clock_for(self.store)

    def write(self, table: str, record_id: str, fields: dict[str, Any]) -> str:
        return self.db.write(table, record_id, fields, self.clock.now().encode())

    def new_patient(self, **overrides: Any) -> str:
        rid = uuid.uuid4().hex
        fields = {
            "nom": "DURAND",
            "prenoms": "Jeanne",
            "date_naissance": "1948-05-02",
            "sexe": "F",
            "telephone": "06 12 34 56 78",
            "commune_insee": "30089",
            "adresse": "3 rue des Écoles",
            "sans_medecin_traitant": True,
            "observations": [],
            **overrides,
        }
        self.write("patient", rid, fields)
        return rid

    def note(self, texte: str) -> dict[str, str]:
        return {
            "id": uuid.uuid4().hex,
            "texte": texte,
            "auteur": "Dr Roche",
            "hlc": self.clock.now().encode(),
        }

    def sync(self, **kwargs: Any) -> SyncReport:
        return synchronise(self.db, self.client, clock=self.clock, **kwargs)


def set_clock(laptop: Laptop, shift_ms: int) -> None:
    """The laptop's own clock set ``shift_ms`` off by hand; its offset stays what the last sync learnt."""
    laptop.clock = HybridClock(
        laptop.device_id,
        physical_ms=lambda: field.now_ms() + shift_ms,
        offset_ms=laptop.clock.offset_ms,
        last=laptop.clock.last(),
    )
