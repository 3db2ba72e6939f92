"""Earliest free slot for a profession around a commune (find_slots), p50 / p95, over ≥ 100 000 slots.

Usage: python -m benchmarks.earliest_slot [--database-url URL] [--runs 500] [--professionals 150] [--weeks 13]
Without --database-url, a temporary SQLite file is used. "now" is drawn on working days of the
agenda (08:00–17:00 Paris), alternating the windows "today" and "48h".
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session

from benchmarks.agenda_data import build_agenda, prepare_database
from benchmarks.machine import describe, percentile
from cpts_app.models.directory import Profession
from cpts_app.services.agenda import search
from cpts_app.services.agenda.clock import paris_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--professionals", type=int, default=150)
    parser.add_argument("--weeks", type=int, default=13)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = prepare_database(url)
        data = build_agenda(engine, professionals=args.professionals, weeks=args.weeks)
        rng = random.Random(11)
        professions = [
            Profession.GENERAL_PRACTITIONER.value,
            Profession.NURSE.value,
            Profession.PHYSIOTHERAPIST.value,
        ]
        timings: dict[str, list[float]] = {"today": [], "48h": []}
        found = 0
        with Session(engine) as session:
            for run in range(args.runs):
                window = "today" if run % 2 == 0 else "48h"
                day = data.first_day + timedelta(days=rng.randrange(data.weeks * 7 - 2))
                while day.weekday() >= 5:
                    day -= timedelta(days=1)
                now = paris_at(day) + timedelta(hours=8 + rng.random() * 9)
                query = search.SlotSearch(
                    profession=rng.choice(professions),
                    commune_id=rng.choice(data.commune_ids),
                    window=window,
                    limit=20,
                )
                start = time.perf_counter()
                offers = search.find_slots(session, data.coordinator, query, now=now)
                timings[window].append((time.perf_counter() - start) * 1000)
                found += bool(offers)
                session.rollback()
        engine.dispose()

    backend = url.split(":", 1)[0].split("+", 1)[0]
    print(f"machine: {describe()}")
    print(
        f"database: {backend}, professionals: {len(data.professional_ids)}, weeks: {data.weeks}, "
        f"slots: {data.slot_count}, searches: {args.runs} ({found} with results)"
    )
    for window, values in timings.items():
        print(
            f"earliest slot ({window}) latency ms: p50={percentile(values, 0.5):.2f} "
            f"p95={percentile(values, 0.95):.2f} max={max(values):.2f}"
        )


if __name__ == "__main__":
    main()
