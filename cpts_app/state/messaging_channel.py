"""Real-time delivery of messages: one shared counter, bumped after each change of a thread.

Why a counter and not the message: shared states are pushed to the browsers (and, with several
workers, pickled into Redis), so it carries no text and no id, only "something changed". Each
open tab, seeing it move, re-counts its own unread messages and reloads the thread it shows,
through the services and with its own permissions; a tab outside the thread finds nothing new.
Nobody polls the database.

Why one counter for every tab rather than one per member: the event's own link is fanned out to
the linked tabs when the event ends, by every state manager (memory or Redis) — the path the live
agenda uses. Bumping several tokens from one event (relinking the same shared state class in turn)
did not reach the tabs reliably, and modifying a shared token from outside an event (the API's
path) reached them with the memory manager only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import reflex as rx
from reflex.istate.manager.token import BaseStateToken

_log = logging.getLogger(__name__)

CHANNEL_NAME = "messagerie"
"""The shared token of the messaging counter (shared tokens may not contain ``_``)."""


class InboxChannel(rx.SharedState):
    """Bumped whenever a thread changes (new message, deletion, membership, reading position)."""

    version: int = 0


async def link_inbox(state: rx.State, user_id: int) -> None:
    """Subscribe the browser of ``state`` to the messaging counter (idempotent)."""
    del user_id  # every tab re-checks its own rights when the counter moves
    channel = await state.get_state(InboxChannel)
    await channel._link_to(CHANNEL_NAME)


async def announce_to_members(state: rx.State, user_ids: Iterable[int], own_user_id: int) -> None:
    """From an event handler, after the commit: bump the counter (members' tabs reload)."""
    del user_ids, own_user_id
    channel = await state.get_state(InboxChannel)
    channel = await channel._link_to(CHANNEL_NAME)
    channel.version += 1


async def bump_inboxes(app: rx.App, user_ids: Iterable[int]) -> None:
    """Outside an event (a post through the API): bump the counter through the state manager.

    Reaches the tabs with the memory state manager (one worker); with Redis the tabs learn of it
    at their next change (a known limit, see docs/architecture.md).
    """
    if not tuple(user_ids):
        return
    try:
        async with app.modify_state(BaseStateToken(ident=CHANNEL_NAME, cls=InboxChannel)) as root:
            channel = await root.get_state(InboxChannel)
            channel.version += 1
    except Exception as error:  # a notification must never undo a committed post
        _log.warning("Notification de messagerie non délivrée : %r", error)


def on_inbox_change(handler: rx.event.EventHandler) -> rx.Component:
    """An invisible element re-mounted at each bump, whose mount runs ``handler``.

    Same construction as ``agenda_channel.on_agenda_change``: the key on the outer box re-mounts
    the inner one, whose ``on_mount`` then fires again.
    """
    return rx.box(
        rx.box(on_mount=handler, display="none"),
        key=InboxChannel.version.to_string(),
        display="none",
    )
