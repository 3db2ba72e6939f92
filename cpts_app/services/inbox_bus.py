"""Who must look again: from « thread T changed for users U » to the open tabs of those users.

Why a bus of its own rather than a Reflex shared state: a shared state linked by every tab sends a
delta to every linked tab after every event of any of them (Reflex 0.10.1, upstream #6746), so the
tabs' own reloads multiplied into N² deltas — 8 s for 200 tabs. Here a post wakes only the
listeners of the thread's members, each reloads its own tab once: the work grows with N.

Why Redis pub/sub with several workers: the worker that commits a post is rarely the one holding
every member's websocket. Each process keeps ONE subscription and relays to its local mailboxes;
without Redis (one worker) delivery is in-process.

What travels: user ids and a thread id. Never a text, never a name; each tab re-reads through the
services with its own rights.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable

_log = logging.getLogger(__name__)

CHANNEL = "cpts:messagerie:changements"
RECONNECT_DELAY = 1.0


class Mailbox:
    """One tab's pending changes: thread ids, coalesced until the tab takes them."""

    def __init__(self) -> None:
        self._pending: set[int] = set()
        self._ready = asyncio.Event()

    def post(self, thread_id: int) -> None:
        self._pending.add(thread_id)
        self._ready.set()

    async def take(self, timeout: float | None = None) -> frozenset[int]:
        """The thread ids changed since the last take; empty if ``timeout`` passed first."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return frozenset()
        self._ready.clear()
        taken, self._pending = frozenset(self._pending), set()
        return taken


def _decode(raw: bytes | str) -> tuple[list[int], int] | None:
    """A relayed notice, or None when it is not one of ours (never trust the wire)."""
    try:
        data = json.loads(raw)
        users, thread = data["u"], data["t"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(thread, int) or not isinstance(users, list):
        return None
    if not all(isinstance(u, int) and not isinstance(u, bool) for u in users):
        return None
    return users, thread


class InboxBus:
    """A per-process switchboard; ``redis_url`` relays between the workers of one deployment."""

    def __init__(self, redis_url: str | None = None) -> None:
        self._redis_url = redis_url or None
        self._mailboxes: dict[int, set[Mailbox]] = defaultdict(set)
        self._client = None
        self._relay: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def listeners(self) -> int:
        """Open mailboxes in this process (for tests and the operations page)."""
        return sum(len(boxes) for boxes in self._mailboxes.values())

    async def publish(self, user_ids: Iterable[int], thread_id: int) -> None:
        """Tell the members' tabs that ``thread_id`` changed. Never raises: a notification lost
        must not undo a committed post (the tab sees it at its next reload)."""
        users = sorted({int(u) for u in user_ids})
        if not users:
            return
        if self._redis_url is None:
            self._deliver(users, int(thread_id))
            return
        try:
            await self._redis().publish(CHANNEL, json.dumps({"u": users, "t": int(thread_id)}))
        except Exception as error:
            _log.warning("Notification de messagerie non relayée par Redis : %r", error)

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: int) -> AsyncIterator[Mailbox]:
        """A mailbox receiving the user's changes while the block runs."""
        mailbox = Mailbox()
        self._mailboxes[user_id].add(mailbox)
        try:
            if self._redis_url is not None:
                await self._ensure_relay()
            yield mailbox
        finally:
            boxes = self._mailboxes.get(user_id)
            if boxes is not None:
                boxes.discard(mailbox)
                if not boxes:
                    del self._mailboxes[user_id]

    async def close(self) -> None:
        if self._relay is not None:
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._relay
            self._relay = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None

    # --- internals -------------------------------------------------------------------------

    def _deliver(self, users: Iterable[int], thread_id: int) -> None:
        for user in users:
            for mailbox in tuple(self._mailboxes.get(user, ())):
                mailbox.post(thread_id)

    def _redis(self):
        if self._client is None:
            import redis.asyncio as aioredis

            self._client = aioredis.from_url(self._redis_url)
        return self._client

    async def _ensure_relay(self) -> None:
        """Start the process's single subscription and wait until Redis has confirmed it, so that
        a post committed after ``subscribe`` returns cannot be missed."""
        if self._relay is None or self._relay.done():
            self._subscribed.clear()
            self._relay = asyncio.create_task(self._run_relay(), name="cpts-inbox-relay")
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def _run_relay(self) -> None:
        while True:
            pubsub = self._redis().pubsub(ignore_subscribe_messages=False)
            try:
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    kind = message.get("type")
                    if kind == "subscribe":
                        self._subscribed.set()
                    elif kind == "message":
                        notice = _decode(message.get("data", b""))
                        if notice is not None:
                            self._deliver(*notice)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                _log.warning("Abonnement Redis de la messagerie interrompu : %r", error)
                # Tabs may have missed notices meanwhile: wake them all to re-read.
                self._wake_everyone()
                await asyncio.sleep(RECONNECT_DELAY)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _wake_everyone(self) -> None:
        for boxes in self._mailboxes.values():
            for mailbox in boxes:
                mailbox.post(0)
