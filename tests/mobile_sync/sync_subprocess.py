"""Run one laptop sync in its own process, and SIGKILL itself at a chosen point.

    python tests/mobile_sync/sync_subprocess.py --dossier D --serveur URL --kill POINT --at N

(passphrase on stdin). Kill points, each at its N-th occurrence:

- ``push-acked``: the N-th batch was answered and acknowledged in the store;
- ``push-answered``: the server answered the N-th batch (so it committed it), the store has not
  acknowledged it yet — the nastiest moment;
- ``pull-saved``: the N-th page and its cursor were saved;
- ``pull-answered``: the server sent the N-th page, nothing of it saved yet;
- ``pull-mid-page``: inside the store transaction of the N-th page, after its first record was
  written and before COMMIT (SQLite must roll it back at the next open).

Before dying it prints ``KILL <point> <n>`` so the test knows the point was reached; without
``--kill`` it syncs to the end and prints ``OK pushed pulled``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mobile_sync import field
from mobile_sync.client import SyncClient
from mobile_sync.store import LocalStore
from mobile_sync.sync import SyncProgress, synchronise


def die(point: str, n: int) -> None:
    print(f"KILL {point} {n}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


class Killer:
    def __init__(self, point: str | None, at: int) -> None:
        self.point = point
        self.at = at
        self.seen: dict[str, int] = {}

    def hit(self, point: str) -> None:
        self.seen[point] = self.seen.get(point, 0) + 1
        if point == self.point and self.seen[point] == self.at:
            die(point, self.at)


class KillingClient(SyncClient):
    def __init__(self, inner: SyncClient, killer: Killer) -> None:
        self._inner = inner
        self._killer = killer

    def push(self, signed):
        answer = self._inner.push(signed)
        self._killer.hit("push-answered")
        return answer

    def pull(self, signed):
        page = self._inner.pull(signed)
        self._killer.hit("pull-answered")
        return page

    def close(self) -> None:
        self._inner.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossier", type=Path, required=True)
    parser.add_argument("--serveur", required=True)
    parser.add_argument("--kill", default=None)
    parser.add_argument("--at", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()
    killer = Killer(args.kill, args.at)

    if args.kill == "pull-mid-page":
        original_apply_one = LocalStore._apply_one
        pages = {"n": 0}
        original_apply_remote = LocalStore.apply_remote

        def apply_remote(self, records, cursor):
            pages["n"] += 1
            return original_apply_remote(self, records, cursor)

        def apply_one(self, db, rec, **options):
            original_apply_one(self, db, rec, **options)
            if pages["n"] == args.at:
                assert db.in_transaction
                die("pull-mid-page", args.at)

        LocalStore.apply_remote = apply_remote  # type: ignore[method-assign]
        LocalStore._apply_one = apply_one  # type: ignore[method-assign]

    def progress(step: SyncProgress) -> None:
        if step.phase == "envoi" and step.done > 0:
            killer.hit("push-acked")
        if step.phase == "reception" and step.done > 0:
            killer.hit("pull-saved")

    passphrase = sys.stdin.readline().rstrip("\n")
    store = field.unlock(args.dossier, passphrase, for_sync=True)
    client = KillingClient(SyncClient.connect(args.serveur), killer)
    try:
        report = synchronise(
            store, client, progress=progress, batch_size=args.batch_size, page_size=args.page_size
        )
    finally:
        client.close()
        if store.is_open:
            store.close()
    print(f"OK {report.pushed} {report.pulled}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
