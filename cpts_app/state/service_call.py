"""Run a synchronous service off the event loop, in one transaction.

Why: Reflex runs event handlers on the event loop; a blocking query there stalls every user of
the worker (REFLEX_NOTES). Each call is one transaction: committed, or rolled back on error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlmodel import Session

from cpts_app.db import session_scope

T = TypeVar("T")


def _run(work: Callable[[Session], T]) -> T:
    with session_scope() as session:
        return work(session)


async def run_service(work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in a worker thread and return its result."""
    return await asyncio.to_thread(_run, work)
