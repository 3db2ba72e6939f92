"""/synchronisation/conflits — coordinators keep or restore the values that lost a merge.

Why the rows are blanked when pickled: they hold patient names and field values (health data),
and a pickled state sits in clear in Redis with several workers (REFLEX_NOTES). ``__getstate__``
saves them blank; a handler that needs them again reloads them from the service. The rows are
also wiped when the page is left. The conflict a confirmation is about is a backend-only var:
the browser never says which conflict « Confirmer » applies to, nor whether it restores.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from cpts_app.services.errors import DomainError
from cpts_app.services.permissions import Actor, Permission, has_permission
from cpts_app.services.sync import conflicts
from cpts_app.services.sync.conflicts import ConflictView
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

PAGE_SIZE = 50
DENIED = (
    "Accès refusé : seuls les coordinateurs et les administrateurs arbitrent les conflits de synchronisation."
)
EPHEMERAL = ("rows", "confirm_text", "confirm_kept", "confirm_discarded")
"""Vars holding patient names or field values: never pickled (see the module docstring)."""


def _conflict_id(raw: Any) -> int | None:
    text = str(raw if isinstance(raw, int | str) and not isinstance(raw, bool) else "").strip()
    return int(text) if text.isdigit() and len(text) <= 12 else None


def _row(view: ConflictView) -> dict[str, str]:
    return {
        "id": str(view.id),
        "table": view.table_label,
        "concerns": view.concerns,
        "field": view.field_label,
        "kept": view.kept,
        "discarded": view.discarded,
        "reason": view.reason,
        "device": view.device_label,
        "created": view.created_label,
        "open": "oui" if not view.resolution else "",
        "restorable": "oui" if view.can_restore and not view.resolution else "",
        "resolution": view.resolution_label,
        "resolved_by": view.resolved_by,
    }


class SyncConflictsNavState(SessionState):
    """The navigation link and its badge: a permission flag and a count, nothing else."""

    can_review_conflicts: bool = False
    open_conflicts: int = 0

    @rx.event
    async def load_conflicts_badge(self):
        """Mount of the header: show the link (with its count) to reviewers only."""
        actor = await self._actor(touch=False)
        if actor is None:
            return None
        await self._recount(actor)
        return None

    async def _recount(self, actor: Actor) -> None:
        self.can_review_conflicts = has_permission(actor, Permission.REVIEW_SYNC_CONFLICTS)
        self.open_conflicts = (
            await run_service(lambda s: conflicts.count_open(s, actor)) if self.can_review_conflicts else 0
        )


class SyncConflictsState(SessionState):
    rows: list[dict[str, str]] = []
    show_resolved: bool = False
    open_count: int = 0
    offset: int = 0
    has_more: bool = False
    denied: str = ""
    loaded: bool = False
    confirm_open: bool = False
    confirm_restore: bool = False
    confirm_text: str = ""
    confirm_kept: str = ""
    confirm_discarded: str = ""
    confirm_error: str = ""
    _pending_id: int = 0
    _pending_restore: bool = False
    _open_ids: list[int] = []
    _restorable_ids: list[int] = []

    def __getstate__(self):
        fields = dict(super().__getstate__())
        for name in EPHEMERAL:
            if name in fields:
                fields[name] = [] if name == "rows" else ""
        return fields

    # --- access ----------------------------------------------------------------------------

    async def _reviewer(self) -> tuple[Actor | None, Any]:
        actor = await self._actor()
        if actor is None:
            self._forget()
            return None, sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        if not has_permission(actor, Permission.REVIEW_SYNC_CONFLICTS):
            self._forget()
            self.denied = DENIED
            return None, None
        self.denied = ""
        return actor, None

    def _forget(self) -> None:
        self.rows, self._open_ids, self._restorable_ids = [], [], []
        self.open_count, self.has_more = 0, False
        self._close_confirm()

    def _close_confirm(self) -> None:
        self.confirm_open, self.confirm_restore = False, False
        self.confirm_text = self.confirm_kept = self.confirm_discarded = self.confirm_error = ""
        self._pending_id, self._pending_restore = 0, False

    # --- loading ---------------------------------------------------------------------------

    @rx.event
    async def load(self):
        self.loaded = False
        self.offset = 0
        self._close_confirm()
        actor, redirect = await self._reviewer()
        if actor is None:
            return redirect
        await self._refresh(actor)
        self.loaded = True
        return None

    async def _refresh(self, actor: Actor) -> None:
        open_only = not self.show_resolved
        offset = self.offset

        def work(session):  # type: ignore[no-untyped-def]
            views = conflicts.list_conflicts(
                session, actor, open_only=open_only, offset=offset, limit=PAGE_SIZE + 1
            )
            return views, conflicts.count_open(session, actor)

        views, self.open_count = await run_service(work, write=True)
        self.has_more = len(views) > PAGE_SIZE
        views = views[:PAGE_SIZE]
        self.rows = [_row(v) for v in views]
        self._open_ids = [v.id for v in views if not v.resolution]
        self._restorable_ids = [v.id for v in views if v.can_restore and not v.resolution]
        nav = await self.get_state(SyncConflictsNavState)
        nav.can_review_conflicts, nav.open_conflicts = True, self.open_count

    @rx.event
    async def set_show_resolved(self, value: bool):
        if not isinstance(value, bool):
            return None
        actor, redirect = await self._reviewer()
        if actor is None:
            return redirect
        self.show_resolved, self.offset = value, 0
        self._close_confirm()
        await self._refresh(actor)
        return None

    @rx.event
    async def next_page(self):
        actor, redirect = await self._reviewer()
        if actor is None:
            return redirect
        if self.has_more:
            self.offset += PAGE_SIZE
        await self._refresh(actor)
        return None

    @rx.event
    async def previous_page(self):
        actor, redirect = await self._reviewer()
        if actor is None:
            return redirect
        self.offset = max(0, self.offset - PAGE_SIZE)
        await self._refresh(actor)
        return None

    @rx.event
    def forget(self):
        """The page is left: names and values do not stay in the state."""
        self.rows, self.loaded = [], False
        self._close_confirm()

    # --- deciding --------------------------------------------------------------------------

    @rx.event
    async def ask(self, conflict_id: str, restore: bool):
        """« Garder » or « Rétablir l'autre valeur »: open the confirmation for a listed conflict."""
        actor, redirect = await self._reviewer()
        if actor is None:
            return redirect
        target = _conflict_id(conflict_id)
        restore = restore is True
        allowed = self._restorable_ids if restore else self._open_ids
        if target is None or target not in allowed:
            return rx.toast.error(conflicts.CONFLICT_NOT_FOUND)
        row = next((r for r in self.rows if r["id"] == str(target)), None)
        if row is None:  # blanked when the state was saved: read again
            await self._refresh(actor)
            row = next((r for r in self.rows if r["id"] == str(target)), None)
            if row is None:
                return rx.toast.error(conflicts.CONFLICT_NOT_FOUND)
        self._pending_id, self._pending_restore = target, restore
        self.confirm_restore = restore
        self.confirm_text = f"{row['table']} — {row['concerns']} — {row['field']}"
        self.confirm_kept, self.confirm_discarded = row["kept"], row["discarded"]
        self.confirm_error, self.confirm_open = "", True
        return None

    @rx.event
    def set_confirm_open(self, value: bool):
        if not value:
            self._close_confirm()

    @rx.event
    async def confirm(self):
        actor, redirect = await self._reviewer()
        if actor is None:
            return redirect
        target, restore = self._pending_id, self._pending_restore
        if not target:
            self._close_confirm()
            return None
        try:
            await run_service(lambda s: conflicts.resolve(s, actor, target, restore=restore), write=True)
        except DomainError as error:
            self.confirm_error = error.message
            await self._refresh(actor)
            return None
        self._close_confirm()
        await self._refresh(actor)
        if restore:
            return rx.toast.success(
                "L'autre valeur est rétablie : les portables la recevront à leur prochaine synchronisation."
            )
        return rx.toast.info("Valeur gardée : le conflit est clos.")
