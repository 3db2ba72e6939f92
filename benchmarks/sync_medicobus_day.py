"""Time, bytes and round trips of a médicobus day synchronised, and of a 50 000-record first sync.

Usage:
    python -m benchmarks.sync_medicobus_day --scenario day --link loopback|slow
    python -m benchmarks.sync_medicobus_day --scenario first50k --link loopback|slow [--records 50000]

What runs: a throwaway server (SQLite, migrated, its own keys) served by granian on 127.0.0.1; a
médicobus tour with slots; laptops enrolled through the real API, each with its encrypted store
(Argon2id at the default parameters) and the real engine (``mobile_sync.sync.synchronise``).
The link is ``benchmarks.sync_link.SlowLinkTransport`` over ``httpx.HTTPTransport`` (real TCP):
``loopback`` only counts, ``slow`` also sleeps 300 ms per round trip plus the bytes at 1 Mbit/s.

- ``day``: the laptop syncs in the morning (it receives the tour's agenda), writes the day's
  changes offline (``benchmarks.sync_dataset.medicobus_day``: about 4 000 writes on 180 records,
  note lists written whole as the field app does), then syncs: push then pull, each measured;
  then a second laptop of the same tour pulls the day (its first sync), as the replication
  comparison does.
- ``first50k``: the server already holds ``--records`` records of the tour (written straight into
  its sync tables beforehand, not measured); a new laptop enrols and pulls them all.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlmodel import Session, col, select

from benchmarks.machine import describe
from benchmarks.sync_dataset import Change, first_sync_records, medicobus_day
from benchmarks.sync_link import SLOW, LinkModel, SlowLinkTransport
from cpts_app.db import make_engine, migrate
from cpts_app.models.access import Role, User
from cpts_app.models.agenda import Slot, TourStop
from cpts_app.models.directory import (
    Commune,
    Profession,
    Professional,
    ProfessionalStructure,
    Structure,
    StructureKind,
)
from cpts_app.services.agenda import tours
from cpts_app.services.agenda.recurrence import to_paris
from cpts_app.services.permissions import Actor
from cpts_app.services.sync import devices, records
from cpts_app.services.sync.records import Scope
from cpts_app.settings import get_settings
from mobile_sync import field
from mobile_sync.client import SyncClient
from mobile_sync.merge import POLICIES, IncomingChange, merge
from mobile_sync.store import LocalStore
from mobile_sync.sync import SyncProgress, synchronise

PASSPHRASE = "banc d'essai du médicobus"


def _prepare(url: str, days: int) -> tuple[int, Actor, int, list[int]]:
    """Tour with ``days`` days of stops from tomorrow; returns tour, admin, team user, slot ids."""
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        commune = Commune(name="Comps", insee_code="30089", postcode="30300")
        s.add(commune)
        s.flush()
        bus = Structure(name="Médicobus des Costières", kind=StructureKind.MEDICOBUS, commune_id=commune.id)
        s.add(bus)
        s.flush()
        doctor = Professional(
            first_name="Claire",
            last_name="Vasseur",
            search_name="vasseur claire",
            profession=Profession.GENERAL_PRACTITIONER,
        )
        s.add(doctor)
        s.flush()
        s.add(ProfessionalStructure(professional_id=doctor.id, structure_id=bus.id))
        admin_user = User(
            email="admin@banc.invalid", password_hash="x", role=Role.ADMIN, display_name="Admin"
        )
        team_user = User(
            email="bus@banc.invalid", password_hash="x", role=Role.MEDICOBUS_TEAM, display_name="Équipe"
        )
        s.add_all([admin_user, team_user])
        s.flush()
        admin = Actor(user_id=admin_user.id, role=Role.ADMIN, display_name="Admin")
        team = Actor(user_id=team_user.id, role=Role.MEDICOBUS_TEAM, display_name="Équipe")
        tour_id = tours.create_tour(s, team, bus.id, "Tournée du banc")
        now = datetime.now(UTC)
        for offset in range(1, days + 1):
            day = to_paris(now).date() + timedelta(days=offset)
            for start, end in (("09:00", "12:00"), ("13:30", "16:30")):
                tours.add_stop(
                    s,
                    team,
                    tour_id,
                    day=day,
                    commune_id=commune.id,
                    place="Place de la Mairie",
                    start_time=start,
                    end_time=end,
                    now=now,
                )
        tours.generate_tour_slots(s, tour_id, now=now)
        slot_ids = sorted(
            slot.id
            for slot, stop in s.exec(
                select(Slot, TourStop).join(TourStop, col(Slot.tour_stop_id) == TourStop.id)
            )
            if stop.tour_id == tour_id
        )
        s.commit()
        team_id = team_user.id
    engine.dispose()
    return tour_id, admin, team_id, slot_ids


def _load_direct(url: str, tour_id: int, changes: list[Change]) -> None:
    """Put records on the server as a week of laptops' pushes would have left them (fast path)."""
    engine = make_engine(url)
    with Session(engine) as s:
        counter = records.lock_counter(s)
        for change in changes:
            stamp = records.server_stamp(counter).encode()
            result = merge(None, IncomingChange(0, change.fields, stamp, "chargeur"), POLICIES[change.table])
            records.store_state(
                s, counter, change.table, change.record_id, result.state, row=None, scope=Scope(tour_id, None)
            )
        s.commit()
    engine.dispose()


def _code(url: str, admin: Actor, team_id: int, tour_id: int, label: str) -> str:
    engine = make_engine(url)
    with Session(engine) as s:
        _, code = devices.create_enrolment(
            s, admin, label=label, user_id=team_id, tour_id=tour_id, lease_days=7
        )
        s.commit()
    engine.dispose()
    return code


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "cpts_app.api.app:build_api",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/sync/heure", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(
        "the API server did not start: " + (process.stderr.read().decode() if process.stderr else "")
    )


class Laptop:
    def __init__(self, folder: Path, base: str, code: str, model: LinkModel | None) -> None:
        self.transport = SlowLinkTransport(httpx.HTTPTransport(), model)
        self.client = SyncClient(httpx.Client(base_url=base, transport=self.transport, timeout=600))
        field.enrol(folder, PASSPHRASE, "http://localhost", code, self.client)
        self.store: LocalStore = field.unlock(folder, PASSPHRASE, for_sync=True)
        self.clock = field.clock_for(self.store)
        self.transport.reset()

    def write_all(self, changes: list[Change], slot_map: dict[str, str]) -> float:
        started = time.perf_counter()
        for change in changes:
            fields = dict(change.fields)
            if change.table == "slot_booking" and "creneau" in fields:
                fields["creneau"] = slot_map[fields["creneau"]]
            if change.delete:
                self.store.delete(change.table, change.record_id, self.clock.now().encode())
            else:
                self.store.write(change.table, change.record_id, fields, self.clock.now().encode())
        return time.perf_counter() - started

    def sync(self) -> dict[str, dict[str, float]]:
        """Push then pull, with time, bytes and round trips of each phase."""
        phases: dict[str, dict[str, float]] = {}
        marks = {"start": (time.perf_counter(), self.transport.snapshot())}

        def progress(step: SyncProgress) -> None:
            if step.phase == "reception" and "push" not in marks:
                marks["push"] = (time.perf_counter(), self.transport.snapshot())

        synchronise(self.store, self.client, progress=progress)
        marks["end"] = (time.perf_counter(), self.transport.snapshot())
        for name, (a, b) in {"push": ("start", "push"), "pull": ("push", "end")}.items():
            (t0, s0), (t1, s1) = marks[a], marks[b]
            phases[name] = {
                "seconds": t1 - t0,
                "bytes_up": s1["bytes_up"] - s0["bytes_up"],
                "bytes_down": s1["bytes_down"] - s0["bytes_down"],
                "round_trips": s1["round_trips"] - s0["round_trips"],
            }
        return phases


def _line(label: str, figures: dict[str, float]) -> str:
    return (
        f"{label:<28} {figures['seconds']:8.2f} s  up {figures['bytes_up'] / 1000:9.1f} kB  "
        f"down {figures['bytes_down'] / 1000:9.1f} kB  round trips {int(figures['round_trips'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=["day", "first50k"], default="day")
    parser.add_argument("--link", choices=["loopback", "slow"], default="loopback")
    parser.add_argument("--records", type=int, default=50_000)
    args = parser.parse_args()
    model = SLOW if args.link == "slow" else None
    folder = Path(tempfile.mkdtemp(prefix="cpts-bench-sync-"))
    url = f"sqlite:///{folder / 'server.db'}"
    env = {
        **os.environ,
        "CPTS_SECRETS_DIR": str(folder / "secrets"),
        "CPTS_DATA_DIR": str(folder / "data"),
        "CPTS_DATABASE_URL": url,
    }
    os.environ.update(env)
    get_settings.cache_clear()
    migrate(url)
    tour_id, admin, team_id, slot_ids = _prepare(url, days=6)
    server, base = _serve(env)
    try:
        print(f"machine: {describe()}")
        print(
            f"link: {args.link}"
            + (
                f" ({model.bandwidth_bps / 1e6:g} Mbit/s, {model.rtt_s * 1000:.0f} ms round trip)"
                if model
                else ""
            )
        )
        if args.scenario == "day":
            changes = medicobus_day(appends="whole")
            wanted = sorted(
                {c.fields["creneau"] for c in changes if c.table == "slot_booking" and "creneau" in c.fields}
            )
            slot_map = {name: f"slot-{slot_ids[i % len(slot_ids)]}" for i, name in enumerate(wanted)}
            laptop = Laptop(folder / "bus-1", base, _code(url, admin, team_id, tour_id, "Bus 1"), model)
            morning = laptop.sync()  # before leaving: the tour's agenda (its slots) comes down
            print(_line("morning sync (agenda)", morning["pull"]))
            written = laptop.write_all(changes, slot_map)
            print(
                f"day: {len(changes)} changes on {len({(c.table, c.record_id) for c in changes})} records; "
                f"written offline in {written:.2f} s ({written / len(changes) * 1000:.2f} ms each)"
            )
            first = laptop.sync()
            print(_line("push (laptop -> server)", first["push"]))
            print(_line("pull after push", first["pull"]))
            other = Laptop(folder / "bus-2", base, _code(url, admin, team_id, tour_id, "Bus 2"), model)
            pulled = other.sync()
            print(_line("second laptop pulls the day", pulled["pull"]))
        else:
            started = time.perf_counter()
            _load_direct(url, tour_id, first_sync_records(args.records))
            print(
                f"server loaded: {args.records} records, {time.perf_counter() - started:.0f} s (not measured)"
            )
            laptop = Laptop(folder / "new", base, _code(url, admin, team_id, tour_id, "Neuf"), model)
            figures = laptop.sync()
            count = sum(len(laptop.store.record_ids(t)) for t in ("patient", "consultation", "slot_booking"))
            print(_line(f"first sync of {count} records", figures["pull"]))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
