"""Hybrid logical clock: the one order of events shared by laptops and the server.

Why not wall time alone: a médicobus laptop may run for days with a clock that drifts or was set
a day off by hand. An HLC timestamp is (wall milliseconds, counter, node): it never goes
backwards, it moves past every timestamp it observes, and it stays close to physical time. The
laptop's physical time is corrected by the offset to the server measured at its last sync, and the
server refuses to let a timestamp from the future order anything (``Timestamp.clamped``), so a
clock a day off cannot make a stale edit win.

The text form ``{wall_ms:015d}-{counter:06d}-{node}`` sorts like the timestamps themselves.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

PATTERN = re.compile(r"^([0-9]{15})-([0-9]{6})-([A-Za-z0-9_.:-]{1,64})\Z")
MAX_COUNTER = 999_999
MAX_DRIFT_MS = 5 * 60 * 1000
"""How far ahead of the server's time a received timestamp may be before it is clamped."""


class ClockDrift(ValueError):
    """A timestamp too far from physical time to be trusted (French message for the screen)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, order=True, slots=True)
class Timestamp:
    """One HLC reading; compares by (wall_ms, counter, node), a total deterministic order."""

    wall_ms: int
    counter: int
    node: str

    def encode(self) -> str:
        return f"{self.wall_ms:015d}-{self.counter:06d}-{self.node}"

    @classmethod
    def parse(cls, text: str) -> Timestamp:
        match = PATTERN.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError("Horodatage de synchronisation invalide.")
        return cls(int(match.group(1)), int(match.group(2)), match.group(3))

    def clamped(self, limit_ms: int) -> Timestamp:
        """The same event, its wall time capped at ``limit_ms`` (a clock ahead gains nothing)."""
        if self.wall_ms <= limit_ms:
            return self
        return Timestamp(limit_ms, MAX_COUNTER, self.node)


def order_key(text: str, received_ms: int | None = None) -> Timestamp:
    """Parse ``text`` for ordering; when ``received_ms`` is given, clamp to it plus the drift."""
    stamp = Timestamp.parse(text)
    if received_ms is None:
        return stamp
    return stamp.clamped(received_ms + MAX_DRIFT_MS)


class HybridClock:
    """Issues increasing timestamps for one node; thread-safe.

    ``offset_ms`` is added to the physical clock: the laptop sets it from the server time carried
    by every sync response, so its timestamps track the server's time even if its own clock is off.
    """

    def __init__(
        self,
        node: str,
        *,
        physical_ms: Callable[[], int] | None = None,
        offset_ms: int = 0,
        last: Timestamp | None = None,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", node):
            raise ValueError("Nom de nœud d'horloge invalide.")
        self.node = node
        self._physical = physical_ms or (lambda: time.time_ns() // 1_000_000)
        self.offset_ms = offset_ms
        self._wall = last.wall_ms if last else 0
        self._counter = last.counter if last else 0
        self._lock = threading.Lock()

    def physical_ms(self) -> int:
        return self._physical() + self.offset_ms

    def last(self) -> Timestamp:
        with self._lock:
            return Timestamp(self._wall, self._counter, self.node)

    def _advance(self, wall: int, counter: int) -> Timestamp:
        if counter > MAX_COUNTER:
            wall, counter = wall + 1, 0
        self._wall, self._counter = wall, counter
        return Timestamp(wall, counter, self.node)

    def now(self) -> Timestamp:
        """A timestamp after every one issued or observed so far."""
        with self._lock:
            physical = self.physical_ms()
            if physical > self._wall:
                return self._advance(physical, 0)
            return self._advance(self._wall, self._counter + 1)

    def observe(self, remote: str | Timestamp, *, max_ahead_ms: int | None = MAX_DRIFT_MS) -> Timestamp:
        """Move past a received timestamp; refuse one too far in our future (``ClockDrift``)."""
        stamp = Timestamp.parse(remote) if isinstance(remote, str) else remote
        with self._lock:
            physical = self.physical_ms()
            if max_ahead_ms is not None and stamp.wall_ms > physical + max_ahead_ms:
                raise ClockDrift("Horloge distante trop en avance : l'horodatage reçu est refusé.")
            wall = max(self._wall, stamp.wall_ms, physical)
            if wall == self._wall and wall == stamp.wall_ms:
                counter = max(self._counter, stamp.counter) + 1
            elif wall == self._wall:
                counter = self._counter + 1
            elif wall == stamp.wall_ms:
                counter = stamp.counter + 1
            else:
                counter = 0
            return self._advance(wall, counter)

    def set_offset(self, server_ms: int, local_ms: int | None = None) -> int:
        """Adopt the offset that makes our physical time read ``server_ms`` now; returns it."""
        local = self._physical() if local_ms is None else local_ms
        with self._lock:
            self.offset_ms = server_ms - local
            return self.offset_ms
