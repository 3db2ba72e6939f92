"""SAS FHIR slot search latency: 25 (and 1) practitioners over 72 hours on ≥ 100 000 slots.

Usage: python -m benchmarks.fhir_slot_search [--database-url URL] [--runs 200] [--http-runs 20]
Without --database-url, a temporary SQLite file is used (a PostgreSQL URL is wiped first).
Builds 150 professionals × 13 weeks of slots (weekdays 08:00–12:00 and 14:00–18:00 Paris, 20 min:
234 000 slots, a third booked, 40 % open to SNP/CPTS) with bulk inserts, then times
``search_sas_slots`` (parse, queries, Bundle, audit row, commit) and a few calls of ``GET /fhir/Slot``.
The ANS test kit asks for under 1 s for one practitioner; the target here is p95 < 50 ms for 25.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from stdnum import luhn

import cpts_app.models  # noqa: F401
from benchmarks.machine import describe, percentile
from cpts_app.db import make_engine, migrate
from cpts_app.models.agenda import Schedule, Slot, SlotKind, SlotStatus
from cpts_app.models.directory import Commune, Profession, Professional, Structure, StructureKind, Territory
from cpts_app.services.agenda.clock import PARIS, paris_at
from cpts_app.services.fhir_sas import parse_slot_search, search_sas_slots
from cpts_app.services.fhir_sas_codes import IDNPS_SYSTEM

PROFESSIONALS = 150
WEEKS = 13
SLOT_MINUTES = 20
FIRST_DAY = date(2027, 1, 4)
"""A Monday; the "now" of the searches is the Sunday before, so every slot is in the future."""
BASE_URL = "https://cpts.example.fr"
TOKEN = "jeton-benchmark-sas"
KINDS = (
    [SlotKind.CONSULTATION] * 5
    + [SlotKind.UNSCHEDULED] * 3
    + [SlotKind.HOME_VISIT, SlotKind.TELECONSULTATION]
)
AUDIENCES = ["PUBLIC", "PUBLIC,PRO", "PRO", "PUBLIC,PRO,SNP", "SNP", "PRO,CPTS", "SNP,CPTS"]
AUDIENCE_WEIGHTS = [3, 2, 1, 2, 1, 1, 1]


def _rpps(seed: int) -> str:
    body = f"2{seed:09d}"
    return body + luhn.calc_check_digit(body)


def build(engine: Engine, rng: random.Random) -> tuple[list[str], int]:
    """The territory and its slots; returns the prefixed RPPS numbers and the slot count."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        territory = Territory(name="CPTS du banc d'essai", finess="950047225")
        session.add(territory)
        session.flush()
        communes = [
            Commune(name=f"Commune {i}", insee_code=f"95{i:03d}", postcode="95000", territory_id=territory.id)
            for i in range(12)
        ]
        session.add_all(communes)
        session.flush()
        structures = [
            Structure(
                name=f"MSP {i}", kind=StructureKind.MSP, commune_id=communes[i % 12].id, address=f"{i} rue"
            )
            for i in range(20)
        ]
        session.add_all(structures)
        session.flush()
        professionals = [
            Professional(
                first_name=f"Prénom{i}",
                last_name=f"Nom{i:03d}",
                search_name=f"nom{i:03d} prenom{i}",
                profession=Profession.GENERAL_PRACTITIONER if i % 3 else Profession.NURSE,
                rpps=_rpps(i),
            )
            for i in range(PROFESSIONALS)
        ]
        session.add_all(professionals)
        session.flush()
        schedules = []
        for i, pro in enumerate(professionals):
            structure = structures[i % 20]
            schedules.append(
                Schedule(professional_id=pro.id, structure_id=structure.id, commune_id=structure.commune_id)
            )
        session.add_all(schedules)
        session.flush()
        rows = []
        for pro, schedule in zip(professionals, schedules, strict=True):
            for day_index in range(WEEKS * 7):
                day = FIRST_DAY + timedelta(days=day_index)
                if day.weekday() >= 5:
                    continue
                for start_hour, end_hour in ((8, 12), (14, 18)):
                    moment = paris_at(day, clock_time(start_hour))
                    end_of_range = paris_at(day, clock_time(end_hour))
                    while moment < end_of_range:
                        rows.append(
                            {
                                "schedule_id": schedule.id,
                                "professional_id": pro.id,
                                "profession": pro.profession.value,
                                "commune_id": schedule.commune_id,
                                "structure_id": schedule.structure_id,
                                "start": moment,
                                "end": moment + timedelta(minutes=SLOT_MINUTES),
                                "kind": rng.choice(KINDS).value,
                                "audience": rng.choices(AUDIENCES, AUDIENCE_WEIGHTS)[0],
                                "status": (SlotStatus.BUSY if rng.random() < 0.33 else SlotStatus.FREE).value,
                                "created_at": now,
                            }
                        )
                        moment += timedelta(minutes=SLOT_MINUTES)
        for index in range(0, len(rows), 20_000):
            session.execute(insert(Slot), rows[index : index + 20_000])
        session.commit()
        numbers = ["8" + p.rpps for p in professionals if p.rpps]
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return numbers, len(rows)


def _params(numbers: list[str], start: datetime) -> list[tuple[str, str]]:
    end = start + timedelta(hours=72)
    return [
        ("_include", "Slot:schedule"),
        ("_include:iterate", "Schedule:actor"),
        ("_include", "Slot:service-type-reference"),
        ("_include:iterate", "HealthcareService:organization"),
        ("start", "ge" + start.astimezone(PARIS).isoformat()),
        ("start", "le" + end.astimezone(PARIS).isoformat()),
        ("schedule.actor:Practitioner.identifier", ",".join(f"{IDNPS_SYSTEM}|{n}" for n in numbers)),
        ("status", "free"),
    ]


def _window_start(rng: random.Random) -> datetime:
    day = FIRST_DAY + timedelta(days=rng.randrange(WEEKS * 7 - 3))
    return paris_at(day, clock_time(rng.choice((0, 8, 13))))


def time_service(
    engine: Engine, numbers: list[str], size: int, runs: int, rng: random.Random
) -> tuple[list[float], list[float], float]:
    now = paris_at(FIRST_DAY - timedelta(days=1))
    timings, cpu, slots = [], [], 0
    for _ in range(runs):
        params = _params(rng.sample(numbers, size), _window_start(rng))
        started, started_cpu = time.perf_counter(), time.process_time()
        with Session(engine, expire_on_commit=False) as session:
            bundle = search_sas_slots(session, parse_slot_search(params), base_url=BASE_URL, now=now)
            session.commit()
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        slots += bundle["total"]
    return timings, cpu, slots / runs


def time_http(url: str, numbers: list[str], runs: int, rng: random.Random) -> list[float]:
    from starlette.testclient import TestClient

    from cpts_app import db, settings
    from cpts_app.api.app import build_api

    os.environ["CPTS_DATABASE_URL"] = url
    os.environ["CPTS_SAS_API_TOKEN"] = TOKEN
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    timings = []
    with TestClient(build_api()) as client:
        for _ in range(runs):
            params = _params(rng.sample(numbers, 25), _window_start(rng))
            started = time.perf_counter()
            response = client.get("/fhir/Slot", params=params, headers={"Authorization": f"Bearer {TOKEN}"})
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    db.get_engine.cache_clear()
    return timings


def _line(label: str, timings: list[float]) -> str:
    return (
        f"{label}: p50 {percentile(timings, 0.5):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms, "
        f"max {max(timings):.1f} ms ({len(timings)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--http-runs", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        if not url.startswith("sqlite"):
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        migrate(url)
        rng = random.Random(2026)
        started = time.perf_counter()
        numbers, count = build(engine, rng)
        print(f"machine: {describe()}; load average {os.getloadavg()[0]:.1f}")
        print(
            f"database: {engine.dialect.name}; {PROFESSIONALS} professionals, "
            f"{count} slots over {WEEKS} weeks"
        )
        print(f"build: {time.perf_counter() - started:.1f} s")
        time_service(engine, numbers, 25, 10, rng)  # warm-up: caches, statement preparation
        for size in (25, 1):
            timings, cpu, mean = time_service(engine, numbers, size, args.runs, rng)
            print(
                _line(f"search_sas_slots, {size} practitioner(s) × 72 h", timings)
                + f", {mean:.1f} slots per Bundle; client CPU p50 {percentile(cpu, 0.5):.1f} ms"
                + f", p95 {percentile(cpu, 0.95):.1f} ms"
            )
        if args.http_runs:
            print(
                _line(
                    "GET /fhir/Slot (TestClient), 25 practitioners × 72 h",
                    time_http(url, numbers, args.http_runs, rng),
                )
            )
        engine.dispose()


if __name__ == "__main__":
    main()
