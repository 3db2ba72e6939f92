"""The process's inbox bus, and how an event or the API announces a change of a thread.

Why per event loop: a Reflex worker runs one loop; the bus's mailboxes and its Redis subscription
belong to it (tests start and stop several loops in one process).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable

from cpts_app.services.inbox_bus import InboxBus

_bus: tuple[asyncio.AbstractEventLoop, InboxBus] | None = None


def inbox_bus() -> InboxBus:
    """This worker's bus: Redis-relayed when ``REFLEX_REDIS_URL`` is set (several workers)."""
    global _bus
    loop = asyncio.get_running_loop()
    if _bus is None or _bus[0] is not loop:
        _bus = (loop, InboxBus(os.environ.get("REFLEX_REDIS_URL") or None))
    return _bus[1]


async def announce(user_ids: Iterable[int], thread_id: int) -> None:
    """After the commit: the members' open tabs re-read ``thread_id`` (ids only travel)."""
    await inbox_bus().publish(user_ids, thread_id)
