"""Live agenda updates: one shared counter that every open agenda view is linked to.

Why a counter and not the slots themselves: the shared state is pushed to every linked browser
(across workers through Redis), so it must hold no patient data; each view, seeing the counter
move, reloads what it shows through the services, with its own permissions.
"""

from __future__ import annotations

import reflex as rx

CHANNEL_NAME = "agenda"


class AgendaChannel(rx.SharedState):
    """Bumped after every booking, cancellation or change of availability."""

    version: int = 0


async def link_agenda_channel(state: rx.State) -> None:
    """Subscribe the browser of ``state`` to agenda changes (idempotent)."""
    channel = await state.get_state(AgendaChannel)
    await channel._link_to(CHANNEL_NAME)


async def announce_agenda_change(state: rx.State) -> None:
    """Tell every linked browser that slots changed (call after the transaction committed)."""
    channel = await state.get_state(AgendaChannel)
    await channel._link_to(CHANNEL_NAME)
    channel.version += 1


def on_agenda_change(handler: rx.event.EventHandler) -> rx.Component:
    """An invisible element re-mounted at each change, whose mount runs ``handler``.

    The key sits on the outer box so that React re-mounts the inner one, whose ``on_mount``
    effect lives in its own memoised component (a key on the same element would not re-run it).
    """
    return rx.box(
        rx.box(on_mount=handler, display="none"),
        key=AgendaChannel.version.to_string(),
        display="none",
    )


class OrientationChannel(rx.SharedState):
    """Bumped after every change of a referral (creation, contact, orientation, closing)."""

    version: int = 0


ORIENTATION_CHANNEL = "orientation"


async def link_orientation_channel(state: rx.State) -> None:
    channel = await state.get_state(OrientationChannel)
    await channel._link_to(ORIENTATION_CHANNEL)


async def announce_orientation_change(state: rx.State) -> None:
    channel = await state.get_state(OrientationChannel)
    await channel._link_to(ORIENTATION_CHANNEL)
    channel.version += 1


def on_orientation_change(handler: rx.event.EventHandler) -> rx.Component:
    """Like ``on_agenda_change``, for the referral screens."""
    return rx.box(
        rx.box(on_mount=handler, display="none"),
        key=OrientationChannel.version.to_string(),
        display="none",
    )
