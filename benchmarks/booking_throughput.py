"""Bookings per second on distinct slots, with 1 and 4 threads (each booking one write transaction).

Usage: python -m benchmarks.booking_throughput [--database-url URL] [--bookings 400]
Without --database-url, a temporary SQLite file is used (150 professionals, 13 weeks of slots).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from benchmarks.agenda_data import build_agenda, prepare_database
from benchmarks.machine import describe
from cpts_app import db
from cpts_app.models.agenda import Slot, SlotStatus
from cpts_app.models.types import utcnow
from cpts_app.services.agenda import access, booking


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--bookings", type=int, default=400)
    args = parser.parse_args()
    thread_counts = (1, 4)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = prepare_database(url)
        data = build_agenda(engine)
        with Session(engine) as session:
            slot_ids = list(
                session.exec(
                    select(Slot.id)
                    .where(
                        col(Slot.status) == SlotStatus.FREE,
                        col(Slot.start) > utcnow() + timedelta(hours=1),
                        access.bookable_condition(data.coordinator),
                    )
                    .order_by(col(Slot.id))
                    .limit(args.bookings * len(thread_counts))
                ).all()
            )
        engine.dispose()
        db.get_engine.cache_clear()
        rates: dict[int, float] = {}
        for index, threads in enumerate(thread_counts):
            batch = slot_ids[index * args.bookings : (index + 1) * args.bookings]

            def book_one(position: int, batch: list[int] = batch) -> int:
                patient = data.patient_ids[position % len(data.patient_ids)]
                return db.run_in_transaction(
                    lambda s: booking.book(s, data.coordinator, batch[position], patient), url, write=True
                )

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=threads) as pool:
                booked = list(pool.map(book_one, range(len(batch))))
            rates[threads] = len(booked) / (time.perf_counter() - started)
        db.get_engine(url).dispose()
        db.get_engine.cache_clear()

    backend = url.split(":", 1)[0].split("+", 1)[0]
    print(f"machine: {describe()}")
    print(f"database: {backend}, slots: {data.slot_count}, bookings per run: {args.bookings}")
    for threads, rate in rates.items():
        print(f"booking throughput, {threads} thread(s): {rate:.0f} bookings/s")


if __name__ == "__main__":
    main()
