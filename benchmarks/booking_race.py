"""100 concurrent attempts to book the same slot, with threads and with processes: exactly one wins.

Usage: python -m benchmarks.booking_race [--database-url URL] [--rounds 10] [--attempts 100]
       [--processes 20]
Threads: ``attempts`` threads of one process (one engine). Processes: ``processes`` forked processes,
each with its own engine, sharing the attempts (attempts / processes threads each), released
together by a barrier. Every attempt is ``run_in_transaction(book, write=True)``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, col, func, select

from benchmarks.agenda_data import build_agenda, prepare_database
from benchmarks.machine import describe
from cpts_app import db
from cpts_app.models.agenda import Appointment, Slot, SlotStatus
from cpts_app.models.types import utcnow
from cpts_app.services.agenda import access, booking
from cpts_app.services.permissions import Actor


def _attempt(url: str, actor: Actor, slot_id: int, patient_id: int) -> str:
    try:
        db.run_in_transaction(lambda s: booking.book(s, actor, slot_id, patient_id), url, write=True)
    except booking.SlotTaken:
        return "taken"
    except Exception as exc:  # reported in the summary, never hidden
        return f"error: {type(exc).__name__}: {exc}"[:200]
    return "booked"


def _threads(url: str, actor: Actor, slot_id: int, patients: list[int], attempts: int) -> list[str]:
    with ThreadPoolExecutor(max_workers=attempts) as pool:
        return list(
            pool.map(lambda i: _attempt(url, actor, slot_id, patients[i % len(patients)]), range(attempts))
        )


def _process_worker(args: tuple[str, Actor, int, list[int], int]) -> list[str]:
    url, actor, slot_id, patients, attempts = args
    db.get_engine.cache_clear()  # this process's own engine, never the parent's connections
    _BARRIER.wait()
    try:
        return _threads(url, actor, slot_id, patients, attempts)
    finally:
        db.get_engine(url).dispose()


_BARRIER: multiprocessing.synchronize.Barrier  # set in each round before forking


def _processes(
    url: str, actor: Actor, slot_id: int, patients: list[int], attempts: int, processes: int
) -> list[str]:
    global _BARRIER
    context = multiprocessing.get_context("fork")
    _BARRIER = context.Barrier(processes)
    share = [attempts // processes + (1 if i < attempts % processes else 0) for i in range(processes)]
    with context.Pool(processes) as pool:
        results = pool.map(_process_worker, [(url, actor, slot_id, patients, n) for n in share])
    return [outcome for chunk in results for outcome in chunk]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--attempts", type=int, default=100)
    parser.add_argument("--processes", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = prepare_database(url)
        data = build_agenda(engine, professionals=10, weeks=2, patients=100)
        with Session(engine) as session:
            slot_ids = session.exec(
                select(Slot.id)
                .where(
                    col(Slot.status) == SlotStatus.FREE,
                    col(Slot.start) > utcnow() + timedelta(hours=1),
                    access.bookable_condition(data.coordinator),
                )
                .order_by(col(Slot.start))
                .limit(2 * args.rounds)
            ).all()
        engine.dispose()
        results: dict[str, tuple[int, float, list[str]]] = {}
        for mode_index, mode in enumerate(("threads", "processes")):
            exact = 0
            errors: list[str] = []
            started = time.perf_counter()
            for round_index in range(args.rounds):
                slot_id = slot_ids[mode_index * args.rounds + round_index]
                db.get_engine.cache_clear()
                if mode == "threads":
                    outcomes = _threads(url, data.coordinator, slot_id, data.patient_ids, args.attempts)
                else:
                    outcomes = _processes(
                        url, data.coordinator, slot_id, data.patient_ids, args.attempts, args.processes
                    )
                db.get_engine(url).dispose()
                db.get_engine.cache_clear()
                errors += [o for o in outcomes if o.startswith("error")]
                check = db.make_engine(url)
                with Session(check) as session:
                    stored = session.exec(
                        select(func.count())
                        .select_from(Appointment)
                        .where(col(Appointment.slot_id) == slot_id)
                    ).one()
                check.dispose()
                if (
                    outcomes.count("booked") == 1
                    and outcomes.count("taken") == args.attempts - 1
                    and stored == 1
                ):
                    exact += 1
            results[mode] = (exact, time.perf_counter() - started, errors)

    backend = url.split(":", 1)[0].split("+", 1)[0]
    print(f"machine: {describe()}")
    print(f"database: {backend}, attempts per round: {args.attempts}, processes: {args.processes}")
    for mode, (exact, seconds, errors) in results.items():
        print(
            f"{mode}: exactly one appointment in {exact}/{args.rounds} rounds "
            f"({seconds / args.rounds * 1000:.0f} ms per round of {args.attempts} attempts)"
        )
        for error in sorted(set(errors))[:5]:
            print(f"  {error}")


if __name__ == "__main__":
    main()
