"""The inbox bus: members' mailboxes wake, others do not; Redis relays between two processes' buses."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpts_app.services.inbox_bus import InboxBus, Mailbox, _decode

ROOT = Path(__file__).resolve().parents[2]


async def test_a_post_wakes_the_members_tabs_only_and_coalesces() -> None:
    bus = InboxBus()
    async with bus.subscribe(1) as alice, bus.subscribe(1) as alice_tab2, bus.subscribe(2) as bob:
        assert bus.listeners == 3
        await bus.publish([1, 3], 10)
        await bus.publish([1], 11)
        assert await alice.take(1) == {10, 11}
        assert await alice_tab2.take(1) == {10, 11}
        assert await bob.take(0.05) == frozenset()
        assert await alice.take(0.05) == frozenset()  # taken: nothing left
    assert bus.listeners == 0
    await bus.publish([1], 12)  # nobody listens: nothing kept, nothing raised


async def test_an_empty_recipient_list_publishes_nothing() -> None:
    bus = InboxBus()
    async with bus.subscribe(1) as box:
        await bus.publish([], 5)
        assert await box.take(0.05) == frozenset()


async def test_a_mailbox_waits_without_spinning() -> None:
    box = Mailbox()

    async def later() -> None:
        await asyncio.sleep(0.05)
        box.post(7)

    task = asyncio.create_task(later())
    assert await box.take(2) == {7}
    await task


def test_relayed_notices_are_checked() -> None:
    assert _decode(b'{"u": [1, 2], "t": 9}') == ([1, 2], 9)
    for raw in (b"", b"{", b"[]", b'{"u": 1, "t": 2}', b'{"u": ["1"], "t": 2}', b'{"u": [true], "t": 2}'):
        assert _decode(raw) is None


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A throwaway password-protected Redis from the project's own script, stopped afterwards."""
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "with_redis.sh"), "bash", "-c", 'echo "$REFLEX_REDIS_URL"; exec sleep 600'],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("redis://"), "with_redis.sh did not start Redis"
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


async def test_redis_relays_between_workers_and_carries_ids_only(redis_url: str) -> None:
    """Two buses stand for two workers: a post committed on one wakes a tab held by the other."""
    import redis.asyncio as aioredis

    worker_a, worker_b = InboxBus(redis_url), InboxBus(redis_url)
    spy = aioredis.from_url(redis_url).pubsub()
    await spy.subscribe("cpts:messagerie:changements")
    try:
        async with worker_b.subscribe(42) as tab_on_b, worker_a.subscribe(7) as tab_on_a:
            await worker_a.publish([42], 3)
            assert await tab_on_b.take(5) == {3}
            assert await tab_on_a.take(0.2) == frozenset()
            await worker_b.publish([7, 42], 4)
            assert await tab_on_a.take(5) == {4}
            assert await tab_on_b.take(5) == {4}
        seen = []
        for _ in range(20):  # the subscription's confirmation comes first, then the notices
            message = await spy.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message is not None:
                seen.append(message["data"])
        assert seen == [b'{"u": [42], "t": 3}', b'{"u": [7, 42], "t": 4}']
    finally:
        await spy.aclose()
        await worker_a.close()
        await worker_b.close()


async def test_a_lost_redis_link_wakes_every_tab_to_reread(redis_url: str) -> None:
    """If the subscription breaks, tabs may have missed notices: they are all told to re-read."""
    import redis.asyncio as aioredis

    bus = InboxBus(redis_url)
    admin = aioredis.from_url(redis_url)
    try:
        async with bus.subscribe(5) as box:
            await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            assert 0 in await box.take(5)
            await asyncio.sleep(1.5)  # the relay re-subscribes
            await bus.publish([5], 8)
            assert 8 in await box.take(5)
    finally:
        await admin.aclose()
        await bus.close()
