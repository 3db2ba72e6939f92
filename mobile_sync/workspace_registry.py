"""Open laptops by token: the pages hold a token, never the passphrase nor the store.

Why a registry: one store per laptop folder, shared by the tabs that unlocked it; « Verrouiller »
or 15 idle minutes close it and drop the key from memory for every tab.
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

from mobile_sync.workspace import FieldWorkspace, WorkspaceLocked

IDLE_LOCK_SECONDS = 15 * 60
SWEEP_SECONDS = 30.0


class _Registry:
    """Token → open workspace; one workspace per laptop folder; idle ones are locked."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._by_folder: dict[Path, FieldWorkspace] = {}
        self._tokens: dict[str, Path] = {}
        self._last_active: dict[Path, float] = {}
        self._sweeper: threading.Thread | None = None

    def open(self, folder: Path, passphrase: str, *, sync_only: bool = False) -> str:
        folder = Path(folder).expanduser().resolve()
        with self._lock:
            workspace = self._by_folder.get(folder)
            if workspace is not None and workspace.closed:
                workspace = None
            if workspace is not None and workspace.sync_only != sync_only:
                self._close_folder(folder)
                workspace = None
            if workspace is None:
                workspace = FieldWorkspace.open(folder, passphrase, sync_only=sync_only)
                workspace._on_close = self._closed
                self._by_folder[folder] = workspace
            else:
                workspace.verify(passphrase)
            token = secrets.token_urlsafe(32)
            self._tokens[token] = folder
            self._last_active[folder] = time.monotonic()
        self._start_sweeper()
        return token

    def get(self, token: str, *, touch: bool = True) -> FieldWorkspace:
        with self._lock:
            folder = self._tokens.get(token) if isinstance(token, str) and token else None
            workspace = self._by_folder.get(folder) if folder is not None else None
            if workspace is None or workspace.closed:
                if folder is not None:
                    # Revoked during a sync, or closed elsewhere: finish closing here, outside its thread.
                    self._close_folder(folder)
                raise WorkspaceLocked()
            if touch:
                self._last_active[folder] = time.monotonic()
            return workspace

    def lock(self, token: str) -> None:
        """« Verrouiller »: the laptop's store is closed for every tab."""
        with self._lock:
            folder = self._tokens.pop(token, None) if isinstance(token, str) else None
            if folder is not None:
                self._close_folder(folder)

    def lock_all(self) -> None:
        with self._lock:
            for folder in list(self._by_folder):
                self._close_folder(folder)

    def sweep(self, now: float | None = None) -> int:
        """Lock the workspaces idle for ``IDLE_LOCK_SECONDS``; returns how many were locked."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            idle = [f for f, seen in self._last_active.items() if moment - seen >= IDLE_LOCK_SECONDS]
            for folder in idle:
                self._close_folder(folder)
        return len(idle)

    def _close_folder(self, folder: Path) -> None:
        workspace = self._by_folder.get(folder)
        if workspace is not None:
            workspace.close()
        self._forget(folder)

    def _closed(self, workspace: FieldWorkspace) -> None:
        with self._lock:
            if self._by_folder.get(workspace.folder) is workspace:
                self._forget(workspace.folder)

    def _forget(self, folder: Path) -> None:
        self._by_folder.pop(folder, None)
        self._last_active.pop(folder, None)
        for token in [t for t, f in self._tokens.items() if f == folder]:
            del self._tokens[token]

    def _start_sweeper(self) -> None:
        with self._lock:
            if self._sweeper is not None and self._sweeper.is_alive():
                return
            self._sweeper = threading.Thread(
                target=self._sweep_forever, name="cpts-terrain-veille", daemon=True
            )
            self._sweeper.start()

    def _sweep_forever(self) -> None:
        while True:
            time.sleep(SWEEP_SECONDS)
            self.sweep()


_registry = _Registry()


def open_workspace(folder: Path, passphrase: str, *, sync_only: bool = False) -> str:
    """Unlock the laptop in ``folder``; returns the token that pages keep (backend-only)."""
    return _registry.open(folder, passphrase, sync_only=sync_only)


def get(token: str, *, touch: bool = True) -> FieldWorkspace:
    """The workspace of ``token``; ``touch=False`` for checks that are not the user's activity."""
    return _registry.get(token, touch=touch)


def lock(token: str) -> None:
    _registry.lock(token)


def lock_all() -> None:
    _registry.lock_all()


def sweep_idle(now: float | None = None) -> int:
    return _registry.sweep(now)
