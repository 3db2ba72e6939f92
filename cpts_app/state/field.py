"""Field mode (a médicobus laptop offline): the unlocked workspace and the header of every page.

Why the state is thin: the rules live in ``mobile_sync.workspace`` (no Reflex). This state keeps
only an opaque token (backend-only ``_token``) naming the unlocked workspace; the passphrase
arrives as a form value, is used once and is never a var. Header figures (online, pending
changes, last sync) are refreshed by one watcher per tab while a field page is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import reflex as rx

from mobile_sync import workspace_registry as workspace
from mobile_sync.field_format import PARIS, paris_label
from mobile_sync.hlc import Timestamp
from mobile_sync.probe import server_reachable
from mobile_sync.workspace import FieldWorkspace, WorkspaceLocked, WorkspaceStatus

_log = logging.getLogger(__name__)

UNLOCK_PAGE = "/terrain"
HOME_PAGE = "/terrain/patients"
POLL_SECONDS = 10.0
LOCKED_NOTICE = "Portable verrouillé : saisissez la phrase de passe pour continuer."
REVOKED_NOTICE = "Appareil révoqué : données effacées."

_watchers: dict[str, asyncio.Task] = {}
"""Client token → the task refreshing that tab's header."""


def terrain_folder() -> Path:
    """``CPTS_TERRAIN_DIR``, else ``~/.cpts-terrain`` (the same default as ``python -m mobile_sync``)."""
    return Path(os.environ.get("CPTS_TERRAIN_DIR") or Path.home() / ".cpts-terrain").expanduser()


def _connected_here(token: str) -> bool:
    from reflex.utils.prerequisites import get_and_validate_app

    namespace = get_and_validate_app().app.event_namespace
    return namespace is not None and token in namespace.token_to_sid


async def on_store(ws: FieldWorkspace, fn: Any, *args: Any) -> Any:
    """Await a workspace call without blocking the event loop (it runs in the store's thread)."""
    return await asyncio.wrap_future(ws.call(fn, *args))


def hlc_label(hlc: str) -> str:
    """When an entry was written, from its HLC stamp (wall time), in Europe/Paris."""
    try:
        return paris_label(Timestamp.parse(hlc).wall_ms)
    except ValueError:
        return ""


def iso_label(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso
    return (moment.astimezone(PARIS) if moment.tzinfo else moment).strftime("%d/%m/%Y à %H:%M")


class FieldState(rx.State):
    """The header of the field pages; its substates are the pages."""

    device_label: str = ""
    online: bool = False
    pending: int = 0
    last_sync: str = ""
    lease_end: str = ""
    sync_only: bool = False
    notice: str = ""
    """Why the unlock page is shown (locked after inactivity, device revoked)."""
    author: str = ""
    """The name that signs observations and notes (asked at unlock; not a secret)."""
    _token: str = ""

    # --- helpers (not callable from the browser) ---------------------------------------------

    async def _root(self) -> FieldState:
        return self if type(self) is FieldState else await self.get_state(FieldState)

    async def _workspace(self, *, touch: bool = True) -> FieldWorkspace | None:
        root = await self._root()
        try:
            return workspace.get(root._token, touch=touch)
        except WorkspaceLocked:
            root._token = ""
            return None

    async def _guard(self) -> tuple[FieldWorkspace | None, Any]:
        """The workspace, or the redirect to the unlock page (its notice set)."""
        ws = await self._workspace()
        if ws is not None:
            return ws, None
        root = await self._root()
        if not root.notice:
            root.notice = LOCKED_NOTICE
        return None, rx.redirect(UNLOCK_PAGE)

    async def _show_status(self, ws: FieldWorkspace) -> None:
        status: WorkspaceStatus = await on_store(ws, ws.status)
        _apply(await self._root(), status)

    # --- events ---------------------------------------------------------------------------------

    @rx.event
    async def lock(self):
        """« Verrouiller »: the store is closed for every tab and the key leaves memory."""
        root = await self._root()
        token, root._token = root._token, ""
        if token:
            await asyncio.to_thread(workspace.lock, token)
        root.notice = "Portable verrouillé."
        root.pending, root.online, root.last_sync = 0, False, ""
        return rx.redirect(UNLOCK_PAGE)

    @rx.event(background=True)
    async def watch(self):
        """Every ~10 s while this tab is connected: online?, pending changes, last sync."""
        async with self:
            tab = self.router.session.client_token
        if not tab:
            return
        me = asyncio.current_task()
        previous = _watchers.get(tab)
        if previous is not None and previous is not me and not previous.done():
            previous.cancel()
        _watchers[tab] = me
        try:
            while _connected_here(tab):
                async with self:
                    token = (await self._root())._token
                    on_unlock_page = self.router.url.path.rstrip("/") == UNLOCK_PAGE
                try:
                    ws = workspace.get(token, touch=False)
                except WorkspaceLocked:
                    async with self:
                        _, redirect = await self._guard()
                    if not on_unlock_page:
                        yield redirect
                    return
                online = await server_reachable(ws.server_url)
                status = None
                if not ws.syncing:  # a running sync holds the store's thread: keep the last figures
                    with contextlib.suppress(WorkspaceLocked):
                        status = await on_store(ws, ws.status)
                async with self:
                    root = await self._root()
                    root.online = online
                    if status is not None:
                        _apply(root, status)
                await asyncio.sleep(POLL_SECONDS)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("Suivi de l'en-tête terrain interrompu")
        finally:
            if _watchers.get(tab) is me:
                del _watchers[tab]


def _apply(root: FieldState, status: WorkspaceStatus) -> None:
    root.device_label = status.label
    root.pending = status.pending
    root.last_sync = paris_label(status.last_sync_ms)
    root.lease_end = paris_label(status.lease_ends_ms)
    root.sync_only = status.sync_only
