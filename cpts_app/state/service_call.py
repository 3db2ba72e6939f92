"""Run a synchronous service off the event loop, in one transaction.

Why: Reflex runs event handlers on the event loop; a blocking query there stalls every user of
the worker (REFLEX_NOTES). Each call is one transaction: committed, or rolled back on error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlmodel import Session

from cpts_app.db import run_in_transaction

T = TypeVar("T")


async def run_service(work: Callable[[Session], T], *, write: bool = False) -> T:
    """Run ``work(session)`` in a worker thread, as one transaction, and return its result.

    ``write=True`` for actions that save something (see ``db.session_scope``).
    """
    return await asyncio.to_thread(lambda: run_in_transaction(work, write=write))
