"""/terrain — unlock the laptop with its passphrase (never kept: a form value used once).

Why a lease over still opens: the only way to renew the offline lease is to synchronise, so the
same passphrase opens the workspace for synchronisation only and the page goes there.
"""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from cpts_app.state.field import HOME_PAGE, FieldState, terrain_folder
from mobile_sync import field
from mobile_sync import workspace_registry as workspace
from mobile_sync.envelope import EnvelopeError
from mobile_sync.store import StoreError

SYNC_PAGE = "/terrain/synchronisation"


class FieldUnlockState(FieldState):
    enrolled: bool = True
    folder: str = ""
    error: str = ""
    form_key: int = 0

    @rx.event
    async def load(self):
        folder = terrain_folder()
        self.folder = str(folder)
        self.enrolled = field.store_path(folder).exists()
        self.error = ""
        if await self._workspace() is not None:
            return rx.redirect(HOME_PAGE)
        return None

    @rx.event
    async def unlock(self, form_data: dict[str, Any]):
        passphrase = form_data.get("phrase") if isinstance(form_data, dict) else None
        author = (
            " ".join(str(form_data.get("auteur") or "").split())[:120] if isinstance(form_data, dict) else ""
        )
        self.form_key += 1  # a fresh, empty password input
        if not isinstance(passphrase, str) or not passphrase:
            self.error = "Saisissez la phrase de passe du portable."
            return None
        folder = terrain_folder()
        target = HOME_PAGE
        try:
            try:
                token = await asyncio.to_thread(workspace.open_workspace, folder, passphrase)
            except field.LeaseExpired:
                token = await asyncio.to_thread(workspace.open_workspace, folder, passphrase, sync_only=True)
                target = SYNC_PAGE
        except (EnvelopeError, StoreError, field.FieldError) as error:
            self.error = error.message
            self.enrolled = field.store_path(folder).exists()
            return None
        finally:
            passphrase = ""
        root = await self._root()
        root._token = token
        root.notice = ""
        self.error = ""
        ws = await self._workspace()
        if ws is None:
            self.error = "Portable verrouillé entre-temps : recommencez."
            return None
        await self._show_status(ws)
        root.author = author or root.device_label
        return rx.redirect(target)
