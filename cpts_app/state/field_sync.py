"""/terrain/synchronisation — send the outbox, receive the server's changes, show what bounced.

Why a background event: a sync over a slow link takes seconds to minutes; the engine runs in the
store's own thread (off the event loop) and this task copies its latest progress into the state
a few times a second, so the progress bar moves and the tab stays responsive.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import reflex as rx

from cpts_app.state.field import REVOKED_NOTICE, UNLOCK_PAGE, FieldState, on_store
from mobile_sync.client import SyncRefused
from mobile_sync.field_format import paris_label
from mobile_sync.workspace import WorkspaceError

PROGRESS_TICK_S = 0.2
PHASES = {"envoi": "Envoi des modifications", "reception": "Réception des mises à jour", "termine": "Terminé"}


class _Latest:
    """The engine's last progress report, handed from the store's thread to the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: Any = None

    def put(self, value: Any) -> None:
        with self._lock:
            self._value = value

    def take(self) -> Any:
        with self._lock:
            value, self._value = self._value, None
            return value


def _percent(done: int, total: int | None, phase: str) -> int:
    if phase == "termine":
        return 100
    if not total:
        return 50 if phase == "reception" else 5
    share = max(0, min(100, round(100 * done / total)))
    # Sending is the first half of the bar, receiving the second.
    return share // 2 if phase == "envoi" else 50 + share // 2


def _report_lines(report: Any) -> list[str]:
    return [
        f"Modifications envoyées : {report.pushed}",
        f"Refusées par le serveur : {report.rejected}",
        f"Conflits arbitrés : {report.conflicts}",
        f"Mises à jour reçues : {report.pulled}",
        f"Dossiers retirés du portable : {report.purged}",
    ]


class FieldSyncState(FieldState):
    running: bool = False
    percent: int = 0
    phase: str = ""
    progress_message: str = ""
    error: str = ""
    report: list[str] = []
    rejections: list[dict[str, str]] = []
    conflicts: list[dict[str, str]] = []

    @rx.event
    async def load(self):
        ws, redirect = await self._guard()
        if ws is None:
            return redirect
        if not self.running:
            self.error = ""
        await self._show_status(ws)
        await self._lists(ws)
        return None

    async def _lists(self, ws) -> None:  # type: ignore[no-untyped-def]
        rejected = await on_store(ws, ws.rejections)
        self.rejections = [
            {
                "op_id": str(r.get("op_id", "")),
                "table": str(r.get("table", "")),
                "raison": str(r.get("raison", "")),
                "quand": paris_label(int(r.get("quand_ms") or 0)),
                "agenda": "oui" if r.get("table") == "slot_booking" else "",
            }
            for r in rejected
        ]
        found = await on_store(ws, ws.conflicts)
        self.conflicts = [
            {
                "table": str(c.get("table", "")),
                "champ": str(c.get("champ", "")),
                "gardee": _short(c.get("valeur_gardee")),
                "ecartee": _short(c.get("valeur_ecartee")),
                "raison": str(c.get("raison", "")),
            }
            for c in found
        ]

    @rx.event
    async def dismiss(self, op_id: str):
        ws, redirect = await self._guard()
        if ws is None:
            return redirect
        if isinstance(op_id, str) and op_id in {r["op_id"] for r in self.rejections}:
            await on_store(ws, ws.dismiss_rejection, op_id)
            await self._lists(ws)
        return None

    @rx.event(background=True)
    async def synchronise(self):
        async with self:
            if self.running:
                return
            ws, redirect = await self._guard()
            if ws is None:
                yield redirect
                return
            self.running, self.percent, self.phase, self.error, self.report = True, 0, "envoi", "", []
            self.progress_message = "Connexion au serveur…"
        latest = _Latest()
        future = ws.call(ws.synchronise, latest.put)
        while not future.done():
            await asyncio.sleep(PROGRESS_TICK_S)
            step = latest.take()
            if step is not None:
                async with self:
                    self._apply(step)
        step = latest.take()
        try:
            report = future.result()
        except SyncRefused as refused:
            async with self:
                self.running = False
                if refused.revoked:
                    root = await self._root()
                    root._token, root.notice, root.pending = "", REVOKED_NOTICE, 0
                    yield rx.redirect(UNLOCK_PAGE)
                    return
                self.error = refused.message
            return
        except (WorkspaceError, ImportError) as error:
            async with self:
                self.running = False
                self.error = getattr(error, "message", "Synchronisation indisponible sur ce portable.")
            return
        async with self:
            if step is not None:
                self._apply(step)
            self.running = False
            if getattr(report, "revoked", False):
                root = await self._root()
                root._token, root.notice, root.pending = "", REVOKED_NOTICE, 0
                yield rx.redirect(UNLOCK_PAGE)
                return
            self.percent, self.phase = 100, "termine"
            self.progress_message = "Synchronisation terminée."
            self.report = _report_lines(report)
            await self._show_status(ws)
            await self._lists(ws)

    def _apply(self, step: Any) -> None:
        phase = str(getattr(step, "phase", ""))
        self.phase = phase
        self.percent = _percent(int(getattr(step, "done", 0) or 0), getattr(step, "total", None), phase)
        self.progress_message = str(getattr(step, "message", "") or PHASES.get(phase, ""))


def _short(value: Any) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:119] + "…"
