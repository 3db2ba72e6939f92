"""Posts per second through ``services.messaging.messages.post_message`` (seal, mentions, blind
index, audit, one transaction each), from several threads at once, on a fresh database.

Usage: python -m benchmarks.message_post_rate [--database-url URL] [--posts 2000] [--threads 4]

Without ``--database-url``, a temporary SQLite file; with a PostgreSQL URL, that (empty) database is
migrated and used. Keys go to a temporary secrets folder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from sqlmodel import Session

from benchmarks.machine import describe, percentile
from cpts_app.db import make_engine, migrate, run_in_transaction
from cpts_app.models.access import Role, User
from cpts_app.services.messaging import messages, threads
from cpts_app.services.permissions import Actor
from cpts_app.settings import get_settings

TEXT = (
    "Bonjour @Membre 1, retour de l'hôpital prévu demain :\n- pansement à refaire J+2\n"
    "- INR à contrôler\nCompte rendu : https://example.org/cr"
)


def _prepare(url: str, members: int) -> tuple[int, list[Actor]]:
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        users = [
            User(
                email=f"rate-{i}@banc.invalid",
                password_hash="x",
                role=Role.COORDINATOR if i == 0 else Role.PROFESSIONAL,
                display_name=f"Membre {i}",
            )
            for i in range(members)
        ]
        s.add_all(users)
        s.flush()
        actors = [Actor(user_id=u.id, role=u.role, display_name=u.display_name) for u in users]
        channel = threads.create_channel(s, actors[0], "Banc de débit", [a.user_id for a in actors[1:]])
        s.commit()
        thread_id = channel.id
    engine.dispose()
    return thread_id, actors


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cpts-bench-rate-"))
    os.environ["CPTS_SECRETS_DIR"] = str(folder / "secrets")
    os.environ["CPTS_DATA_DIR"] = str(folder / "data")
    url = args.database_url or f"sqlite:///{folder / 'rate.db'}"
    os.environ["CPTS_DATABASE_URL"] = url
    get_settings.cache_clear()
    migrate(url)
    thread_id, actors = _prepare(url, 20)
    per_thread = args.posts // args.threads
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        actor = actors[index % len(actors)]
        mine = []
        for _ in range(per_thread):
            started = time.perf_counter()
            run_in_transaction(lambda s: messages.post_message(s, actor, thread_id, TEXT), url, write=True)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    print(f"machine: {describe()}")
    print(f"database: {url.split('://')[0]}, {len(latencies)} posts from {args.threads} threads")
    print(f"posts per second: {len(latencies) / elapsed:.0f}")
    p50, p95 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.95) * 1000
    print(f"one post ms: p50={p50:.1f} p95={p95:.1f}")


if __name__ == "__main__":
    main()
