"""One worker thread that owns a laptop store's SQLite connection.

Why: ``sqlite3`` connections stay in the thread that opened them (``check_same_thread``) and
``LocalStore`` is not thread-safe, while Reflex handlers run in many threads. Every call is queued
to this one thread, so calls are serialised and the connection never leaves it.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


class ThreadStopped(RuntimeError):
    """The thread was shut down (the workspace was locked meanwhile)."""


class StoreThread:
    """One worker thread owning the sqlite connection; re-entrant calls run inline."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="cpts-terrain")
        self._ident = self._executor.submit(threading.get_ident).result()

    def submit(self, fn: Callable[..., R], *args: Any) -> concurrent.futures.Future[R]:
        if threading.get_ident() == self._ident:
            future: concurrent.futures.Future[R] = concurrent.futures.Future()
            try:
                future.set_result(fn(*args))
            except BaseException as error:  # handed to the caller through the future
                future.set_exception(error)
            return future
        try:
            return self._executor.submit(fn, *args)
        except RuntimeError:  # shut down: the workspace was locked meanwhile
            raise ThreadStopped() from None

    def run(self, fn: Callable[..., R], *args: Any) -> R:
        return self.submit(fn, *args).result()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False)
