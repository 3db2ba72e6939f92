"""Delivery latency of a message to N members' open messaging pages, and memory per connected tab.

Usage: python -m benchmarks.message_delivery --url http://localhost:3000 [--database-url URL]
       [--clients 200] [--posts 10] [--redis-url URL]

Against a running instance (one worker, or several with Redis: same command). ``N`` members of one
team channel (created here: « Banc de messagerie », ``N`` accounts banc-msg-<i>@banc.invalid) each
open ``/messagerie?fil=<channel>`` as one signed-in tab (``benchmarks.reflex_clients``); the
coordinator's tab posts ``--posts`` messages through the composer's event (the real path: seal,
commit, then one notice per member on the inbox bus). Each member tab's inbox listener (started
by the page's ``on_load``, as in a browser) wakes, re-reads the thread and the server pushes the
delta: the tabs send nothing. Latency = the arrival of the thread delta holding the new message at
that tab − the moment the post left the poster's tab: « post → visible in the other members'
state ». Memory: the app's processes (USS) before and
after the tabs connected, divided by the number of tabs.

Writes accounts, a channel and messages into the instance's database: demo or test instances only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from urllib.parse import urlsplit

from sqlmodel import Session, select

from benchmarks.machine import describe, percentile
from benchmarks.reflex_clients import (
    Delta,
    MemorySampler,
    ReflexClients,
    app_processes,
    create_sessions,
    revoke_sessions,
    tree_memory,
)
from benchmarks.ws_fanout import _workers_of
from cpts_app.db import make_engine
from cpts_app.models.access import Role, User
from cpts_app.models.messaging import MessageThread, ThreadKind
from cpts_app.services.passwords import hash_password
from cpts_app.services.permissions import Actor
from cpts_app.settings import get_settings
from cpts_app.state.messaging import MessagingState

MIB = 1024 * 1024
CHANNEL = "Banc de messagerie"


def _prepare(database_url: str, clients: int, coordinator_email: str) -> tuple[int, list[str]]:
    """``clients`` member accounts and the channel they share (with the coordinator)."""
    from cpts_app.services.messaging import threads

    engine = make_engine(database_url)
    emails = [f"banc-msg-{i}@banc.invalid" for i in range(clients)]
    try:
        with Session(engine, expire_on_commit=False) as s:
            coordinator = s.exec(select(User).where(User.email == coordinator_email)).one()
            actor = Actor(
                user_id=coordinator.id, role=coordinator.role, display_name=coordinator.display_name
            )
            existing = {u.email: u for u in s.exec(select(User).where(User.email.in_(emails))).all()}
            password = hash_password("banc-non-utilise-" + os.urandom(8).hex())
            for i, email in enumerate(emails):
                if email not in existing:
                    existing[email] = User(
                        email=email,
                        password_hash=password,
                        role=Role.PROFESSIONAL,
                        display_name=f"Membre {i}",
                    )
                    s.add(existing[email])
            s.flush()
            channel = s.exec(
                select(MessageThread).where(
                    MessageThread.kind == ThreadKind.CHANNEL, MessageThread.title == CHANNEL
                )
            ).first()
            if channel is None:
                channel = threads.create_channel(s, actor, CHANNEL, [])
            for email in emails:
                threads.add_member(s, actor, channel.id, existing[email].id, "Autre")
            s.commit()
            return channel.id, emails
    finally:
        engine.dispose()


def _ms(values: list[float]) -> str:
    if not values:
        return "no value"
    return (
        f"p50={percentile(values, 0.5) * 1000:.0f} p95={percentile(values, 0.95) * 1000:.0f} "
        f"max={max(values) * 1000:.0f} (n={len(values)})"
    )


def _shows(marker: str):
    def predicate(delta: Delta) -> bool:
        # Live messages arrive in ``fresh``; a reload of the window in ``rows``.
        for name in ("fresh", "rows"):
            rows = delta.get(MessagingState, name)
            if rows and any(
                marker in span.get("text", "") for block in rows[-1]["blocks"] for span in block["spans"]
            ):
                return True
        return False

    return predicate


async def _run(args: argparse.Namespace) -> None:
    database_url = args.database_url or get_settings().effective_database_url
    channel_id, emails = _prepare(database_url, args.clients, args.email)
    poster_tokens = create_sessions(database_url, args.email, 1)
    member_tokens = [create_sessions(database_url, email, 1)[0] for email in emails]
    tokens = poster_tokens + member_tokens
    port = urlsplit(args.url).port or 80
    try:
        processes = app_processes(port)
    except LookupError:
        processes = []

    print(f"machine: {describe()}")
    print(f"instance: {args.url}, {args.clients} member tabs + 1 poster tab, {args.posts} posts")
    before = tree_memory(processes, uss=True) if processes else None
    clients = ReflexClients(
        args.url,
        tokens,
        f"/messagerie?fil={channel_id}",
        concurrency=args.concurrency,
    )
    receivers = range(1, len(tokens))
    try:
        async with clients, MemorySampler(processes, interval=0.5) as sampler:
            print(f"connected and hydrated {len(clients)} tabs in {clients.connect_seconds:.1f} s")
            await clients.settle(timeout=args.settle_timeout)
            redis_url = args.redis_url or os.environ.get("REFLEX_REDIS_URL")
            if redis_url:
                print(f"tabs per worker (Redis socket records): {_workers_of(redis_url, clients.clients)}")
            connected = tree_memory(processes, uss=True) if processes else None
            delivery: list[float] = []
            own: list[float] = []
            missing = 0
            for k in range(args.posts):
                marker = f"banc-{os.urandom(4).hex()}"
                sent = await clients.send(
                    0, MessagingState.send, {"form_data": {"texte": f"Message {k} {marker}"}}
                )
                mine = await clients.wait_for(0, _shows(marker), args.timeout, after=sent)
                own.append(mine.at - sent)
                arrivals = await clients.wait_all(_shows(marker), args.timeout, after=sent, indexes=receivers)
                delivery += [d.at - sent for d in arrivals if d is not None]
                missing += sum(d is None for d in arrivals)
                await clients.settle(quiet=args.pause, timeout=args.settle_timeout)
        print(f"poster tab, its own message shown ms: {_ms(own)}")
        print(
            f"message visible in the {args.clients} members' state ms: {_ms(delivery)} (missing: {missing})"
        )
        if before is not None and connected is not None:
            idle, busy = (before.uss or 0), (connected.uss or 0)
            per_tab_kib = (busy - idle) / max(1, len(clients)) / 1024
            print(
                f"app memory ({before.processes} processes): USS {idle / MIB:.0f} MiB idle, "
                f"{busy / MIB:.0f} MiB with the tabs ({per_tab_kib:.0f} KiB per connected tab); "
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
    parser.add_argument("--posts", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=20, help="tabs connecting at the same time")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--pause", type=float, default=1.0, help="quiet seconds between posts")
    parser.add_argument("--settle-timeout", type=float, default=600.0)
    parser.add_argument(
        "--redis-url", default="", help="to report tabs per worker (default REFLEX_REDIS_URL)"
    )
    started = time.monotonic()
    asyncio.run(_run(parser.parse_args()))
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
