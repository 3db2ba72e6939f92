"""One transaction for the tabs woken by the same post: session checks and new messages, batched.

Why: a post in a channel of 200 members wakes 200 listeners at once. Read one by one, each pays a
thread hop, a transaction and the same reads (members, names, the opened and rendered body).
Gathered in the loop tick where they arrive, they share one transaction and a memo of what does
not depend on the reader; each reader's rights, session and mentions are still checked apart.
The reading positions they move are saved the same way, after the deltas left.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from cpts_app.services import authentication
from cpts_app.services.errors import DomainError
from cpts_app.services.messaging import messages
from cpts_app.services.messaging.views import ThreadPage
from cpts_app.services.permissions import Actor
from cpts_app.state.service_call import run_service

_log = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 30.0
"""A listener holds its tab's lock while it waits: never forever."""


@dataclass(frozen=True)
class QuickRead:
    """One tab's request: its session token and what it shows of the thread."""

    token: str
    ip: str | None
    thread_id: int
    after_id: int
    window_start: int
    audited: bool
    """A patient thread: the read writes its audit event (the batch is then a write)."""


Outcome = tuple[Actor, tuple[ThreadPage, set[int]] | str] | None
"""None: the session ended; else the actor and the new messages, or a French refusal."""


def _read_one(session: Session, request: QuickRead, memo: dict[Any, Any]) -> Outcome:
    actor = authentication.resolve_session(session, request.token, ip=request.ip, touch=False)
    if actor is None:
        return None
    try:
        if request.audited:
            with session.begin_nested():  # a refusal must not undo the others' audit events
                found = messages.new_messages(
                    session, actor, request.thread_id, request.after_id, request.window_start, memo
                )
        else:  # nothing written: no savepoint to pay for each of 200 readers
            found = messages.new_messages(
                session, actor, request.thread_id, request.after_id, request.window_start, memo
            )
    except DomainError as error:
        return actor, error.message
    return actor, found


class _Batcher:
    """Requests arriving in the same loop tick go in one ``run_service`` call."""

    def __init__(self) -> None:
        self._reads: list[tuple[QuickRead, asyncio.Future[Outcome]]] = []
        self._marks: list[tuple[Actor, int, int]] = []
        self._reads_task: asyncio.Task[None] | None = None
        self._marks_task: asyncio.Task[None] | None = None

    async def read(self, request: QuickRead) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._reads.append((request, future))
        if self._reads_task is None or self._reads_task.done():
            self._reads_task = asyncio.create_task(self._flush_reads())
        return await asyncio.wait_for(future, READ_TIMEOUT_SECONDS)

    def mark_read(self, actor: Actor, thread_id: int, last: int) -> None:
        self._marks.append((actor, thread_id, last))
        if self._marks_task is None or self._marks_task.done():
            self._marks_task = asyncio.create_task(self._flush_marks())

    async def _flush_reads(self) -> None:
        """Until no request is left: one arriving while a batch runs goes in the next one."""
        await asyncio.sleep(0)  # let the other listeners woken by the same notice join
        while self._reads:
            batch, self._reads = self._reads, []
            await self._read_batch(batch)

    async def _read_batch(self, batch: list[tuple[QuickRead, asyncio.Future[Outcome]]]) -> None:
        def work(session: Session) -> list[Outcome]:
            memo: dict[Any, Any] = {}
            return [_read_one(session, request, memo) for request, _ in batch]

        try:
            outcomes = await run_service(work, write=any(request.audited for request, _ in batch))
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _flush_marks(self) -> None:
        await asyncio.sleep(0)  # the other tabs woken by the same post join this transaction
        while self._marks:
            batch, self._marks = self._marks, []
            try:
                await self._mark_batch(batch)
            except Exception:
                _log.exception("Positions de lecture non enregistrées")

    async def _mark_batch(self, batch: list[tuple[Actor, int, int]]) -> None:
        def work(session: Session) -> None:
            memo: dict[Any, Any] = {}
            for actor, thread_id, last in batch:
                try:
                    with session.begin_nested():
                        messages.mark_read(session, actor, thread_id, last, receipts=False, memo=memo)
                except DomainError:
                    continue  # access lost meanwhile: nothing to record

        await run_service(work, write=True)


_batchers: dict[asyncio.AbstractEventLoop, _Batcher] = {}


def batcher() -> _Batcher:
    loop = asyncio.get_running_loop()
    if loop not in _batchers:
        _batchers.clear()  # one loop per worker; a test's previous loop is gone
        _batchers[loop] = _Batcher()
    return _batchers[loop]
