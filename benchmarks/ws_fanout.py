"""How long a live agenda change takes to reach N open agenda pages (``AgendaChannel`` fan-out).

Usage: python -m benchmarks.ws_fanout --url http://localhost:3000 [--database-url URL]
       [--clients 200] [--bumps 10] [--path /agenda/trouver] [--react] [--redis-url URL]

Against a running instance (one worker, or several with Redis: same command). ``N`` signed-in
coordinator tabs (``benchmarks.reflex_clients``) open ``--path``, which links them to the
channel; one more tab books a fresh slot ``--bumps`` times through the booking dialog's events
(the real path: commit, then ``announce_agenda_change``). Latency = arrival of the
``AgendaChannel.version`` delta at each tab − the moment the booking event left the booking tab.
``--react`` also does what the page does on each change (its hidden box re-mounts and runs
``FindSlotState.refresh`` after one search per tab) and times the refreshed results.

The instance's database (``--database-url``, default the ``CPTS_*`` settings) receives the
sessions (revoked at the end), one patient « BANC-FANOUT » and one booked slot per bump: run it
on a demo or test instance, never on real data. Clients and server share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from benchmarks.machine import describe, percentile
from benchmarks.reflex_clients import (
    Delta,
    MemorySampler,
    ReflexClient,
    ReflexClientError,
    ReflexClients,
    app_processes,
    create_sessions,
    revoke_sessions,
    tree_memory,
)
from cpts_app.db import make_engine
from cpts_app.models.agenda import Schedule, Slot, SlotKind, SlotStatus
from cpts_app.models.directory import Professional
from cpts_app.models.patient import Patient, Sex
from cpts_app.models.types import utcnow
from cpts_app.services.identifiers import search_key
from cpts_app.settings import get_settings
from cpts_app.state.agenda_channel import AgendaChannel
from cpts_app.state.booking import BookingState
from cpts_app.state.find_slot import FindSlotState
from cpts_app.state.patient_picker import PatientPickerState

MIB = 1024 * 1024


def _prepare(database_url: str, bumps: int) -> tuple[int, list[int]]:
    """A benchmark patient and ``bumps`` free slots a coordinator may book, 30+ days ahead."""
    from datetime import date

    engine = make_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            patient = s.exec(select(Patient).where(Patient.birth_name == "BANC-FANOUT")).first()
            if patient is None:
                patient = Patient(
                    birth_name="BANC-FANOUT",
                    first_names="Test",
                    birth_date=date(1950, 1, 1),
                    sex=Sex.FEMALE,
                    search_name=search_key("BANC-FANOUT Test"),
                    phone="+33612345678",
                )
                s.add(patient)
                s.flush()
            schedule = s.exec(select(Schedule).order_by(col(Schedule.id))).first()
            if schedule is None:
                raise SystemExit("no schedule in this database: load the demo first (cpts demo)")
            professional = s.get(Professional, schedule.professional_id)
            assert professional is not None and patient.id is not None
            taken = set(
                s.exec(select(Slot.start).where(Slot.schedule_id == schedule.id, Slot.start > utcnow())).all()
            )
            start = (utcnow() + timedelta(days=30)).replace(second=0, microsecond=0)
            start += timedelta(minutes=(3 - start.minute % 5) % 5)  # generated slots start on multiples of 5
            slots: list[Slot] = []
            while len(slots) < bumps:
                if start not in taken:
                    slots.append(
                        Slot(
                            schedule_id=schedule.id,
                            professional_id=professional.id,
                            profession=str(professional.profession),
                            commune_id=schedule.commune_id,
                            structure_id=schedule.structure_id,
                            start=start,
                            end=start + timedelta(minutes=5),
                            kind=SlotKind.UNSCHEDULED,
                            audience="SNP,CPTS,PRO",
                            status=SlotStatus.FREE,
                        )
                    )
                start += timedelta(minutes=5)
            s.add_all(slots)
            s.commit()
            return patient.id, [slot.id for slot in slots if slot.id is not None]
    finally:
        engine.dispose()


def _workers_of(redis_url: str, clients: list[ReflexClient]) -> dict[str, int]:
    """How many tabs each worker holds: Reflex records the owner of every tab's socket in Redis."""
    import redis

    connection = redis.Redis.from_url(redis_url)
    counts: dict[str, int] = {}
    try:
        for client in clients:
            raw = connection.get(f"token_manager_socket_record_{client.token}")
            owner = pickle.loads(raw).instance_id[:8] if raw else "?"  # noqa: S301 (our own Redis)
            counts[owner] = counts.get(owner, 0) + 1
    finally:
        connection.close()
    return counts


async def _wait_for_new_version(
    clients: ReflexClients, indexes: range, before: dict[int, Any], timeout: float, after: float
) -> list[Delta | None]:
    """Per tab, the first delta carrying a version other than the one it had (None: too late).

    Why not any delta carrying the channel: the pushes that follow other tabs' events carry it too,
    unchanged."""

    async def one(i: int) -> Delta | None:
        def changed(d: Delta) -> bool:
            return d.get(AgendaChannel, "version", before[i]) != before[i]

        try:
            return await clients.wait_for(i, changed, timeout, after=after)
        except (TimeoutError, ReflexClientError):
            return None

    return list(await asyncio.gather(*(one(i) for i in indexes)))


def _redis_memory(redis_url: str) -> str:
    import redis

    connection = redis.Redis.from_url(redis_url)
    try:
        info = connection.info("memory")
        return f"{info['used_memory_human']} used, {connection.dbsize()} keys"
    finally:
        connection.close()


def _ms(values: list[float]) -> str:
    if not values:
        return "no value"
    return (
        f"p50={percentile(values, 0.5) * 1000:.0f} p95={percentile(values, 0.95) * 1000:.0f} "
        f"max={max(values) * 1000:.0f}"
    )


async def _run(args: argparse.Namespace) -> None:
    database_url = args.database_url or get_settings().effective_database_url
    patient_id, slot_ids = _prepare(database_url, args.bumps)
    tokens = create_sessions(database_url, args.email, args.clients + 1)
    port = urlsplit(args.url).port or 80
    try:
        processes = app_processes(port)
    except LookupError:
        processes = []  # not on this machine: no memory figures

    seen: dict[int, Any] = {}

    def react(client: ReflexClient, delta: Delta):
        """As the page: re-mount (and refresh) only when the value changes; every event of a
        linked tab re-sends the unchanged channel to all the others (Reflex 0.10.1)."""
        version = delta.get(AgendaChannel, "version")
        if client.index == 0 or version is None or seen.get(client.index) == version:
            return None
        first = client.index not in seen
        seen[client.index] = version
        return None if first else client.send(FindSlotState.refresh)

    print(f"machine: {describe()}")
    print(f"instance: {args.url}, page {args.path}, {args.clients} tabs + 1 booking tab, {args.bumps} bumps")
    before = tree_memory(processes, uss=True) if processes else None
    receivers = range(1, args.clients + 1)
    clients = ReflexClients(
        args.url,
        tokens,
        args.path,
        on_mount=[FindSlotState.refresh],
        reaction=react if args.react else None,
        concurrency=args.concurrency,
        connect_timeout=args.connect_timeout,
    )
    try:
        async with clients, MemorySampler(processes, interval=0.5) as sampler:
            hydration = [
                c.hydrated_at - c.started_at for c in clients.clients if c.hydrated_at and c.started_at
            ]
            print(
                f"connected and hydrated {len(clients)} tabs ({args.concurrency} at a time) in "
                f"{clients.connect_seconds:.1f} s; page hydrated after ms: {_ms(hydration)}"
            )
            storm = await clients.settle(timeout=args.settle_timeout, processes=processes)
            print(
                f"settled {storm:.1f} s after the last hydration: no delta for 1 s"
                f"{' and the app idle' if processes else ''} ({clients.received} deltas received in all)"
            )
            if args.react:
                await asyncio.gather(
                    *(
                        clients.send(
                            i, FindSlotState.search, {"form_data": {"fenetre": "48h", "voisines": "on"}}
                        )
                        for i in receivers
                    )
                )
                await clients.wait_all(lambda d: d.has(FindSlotState, "results"), 60, indexes=receivers)
                await clients.settle(timeout=args.settle_timeout, processes=processes)
            redis_url = args.redis_url or os.environ.get("REFLEX_REDIS_URL")
            if redis_url:
                print(f"tabs per worker (Redis socket records): {_workers_of(redis_url, clients.clients)}")
            connected = tree_memory(processes, uss=True) if processes else None
            if redis_url:
                print(f"Redis memory with the tabs: {_redis_memory(redis_url)}")
            delivery: list[float] = []
            refreshed: list[float] = []
            own: list[float] = []
            missing = 0
            for slot_id in slot_ids:
                await clients.send(0, BookingState.open_for, {"slot_id": slot_id, "summary": "banc d'essai"})
                chosen = await clients.send(
                    0, PatientPickerState.choose, {"patient_id": str(patient_id), "label": "X"}
                )
                await clients.wait_for(
                    0,
                    lambda d: d.get(PatientPickerState, "patient_id") == patient_id,
                    args.timeout,
                    after=chosen,
                )
                # The booking tab's own events fan out to every linked tab too: let that pass.
                await clients.settle(quiet=0.5, timeout=args.settle_timeout, processes=processes)
                versions = {i: clients[i].value(AgendaChannel, "version") for i in receivers}
                sent = await clients.send(
                    0, BookingState.confirm, {"form_data": {"motif": "banc d'essai", "pour_le_compte_de": ""}}
                )
                arrivals = await _wait_for_new_version(clients, receivers, versions, args.timeout, sent)
                delivery += [d.at - sent for d in arrivals if d is not None]
                missing += sum(d is None for d in arrivals)
                mine = await clients.wait_for(
                    0, lambda d: d.has(BookingState, "confirmation"), args.timeout, after=sent
                )
                own.append(mine.at - sent)
                if args.react:
                    results = await clients.wait_all(
                        lambda d: d.has(FindSlotState, "results"), args.timeout, after=sent, indexes=receivers
                    )
                    refreshed += [d.at - sent for d in results if d is not None]
                await asyncio.sleep(args.pause)
        print(f"booking tab, its own confirmation ms: {_ms(own)}")
        print(f"version delta at the {args.clients} other tabs ms: {_ms(delivery)} (missing: {missing})")
        if args.react:
            print(f"refreshed results at the other tabs ms: {_ms(refreshed)}")
        if before is not None and connected is not None:
            idle, busy = (before.uss or 0), (connected.uss or 0)
            per_tab_kib = (busy - idle) / max(1, len(clients)) / 1024
            print(
                f"app memory ({before.processes} processes): USS {idle / MIB:.0f} MiB idle, "
                f"{busy / MIB:.0f} MiB with the tabs ({per_tab_kib:.0f} KiB per tab); "
                f"RSS peak {sampler.peak_rss / MIB:.0f} MiB"
            )
    finally:
        revoke_sessions(database_url, tokens)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://localhost:3000")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--email", default="coordination@demo-cpts.fr")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--bumps", type=int, default=10)
    parser.add_argument("--path", default="/agenda/trouver")
    parser.add_argument("--react", action="store_true")
    parser.add_argument("--concurrency", type=int, default=20, help="tabs connecting at the same time")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--connect-timeout", type=float, default=600.0, help="per tab, until hydrated")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between bumps")
    parser.add_argument("--settle-timeout", type=float, default=1800.0)
    parser.add_argument(
        "--redis-url", default="", help="to report tabs per worker (default REFLEX_REDIS_URL)"
    )
    started = time.monotonic()
    asyncio.run(_run(parser.parse_args()))
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
