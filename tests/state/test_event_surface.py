"""What the browser can call: every public method of a state is an event handler (REFLEX_NOTES).

Why this test: the listener and the quick path call helpers with an ``Actor`` or service views;
were one of them public, a browser could call it with forged arguments. Internal helpers start
with ``_``; this walks every state of the app and fails on a public one taking such arguments.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import reflex as rx

import cpts_app.state

SERVER_ONLY_TYPES = ("Actor", "ThreadPage", "Session", "frozenset")


def _states() -> list[type[rx.State]]:
    for module in pkgutil.iter_modules(cpts_app.state.__path__):
        importlib.import_module(f"cpts_app.state.{module.name}")
    found, todo = [], [rx.State]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("cpts_app."):
                found.append(sub)
            todo.append(sub)
    return found


def test_the_app_states_are_found() -> None:
    names = {cls.__name__ for cls in _states()}
    assert {"MessagingState", "InboxListenerState", "MessagingNavState", "SessionState"} <= names


def test_no_event_handler_takes_server_only_arguments() -> None:
    offenders = []
    for cls in _states():
        for name, handler in cls.event_handlers.items():
            hints = inspect.signature(handler.fn).parameters.values()
            text = " ".join(str(p.annotation) for p in hints)
            if any(kind in text for kind in SERVER_ONLY_TYPES):
                offenders.append(f"{cls.__name__}.{name}")
    assert offenders == []


def test_listener_helpers_are_not_callable_from_the_browser() -> None:
    from cpts_app.state.messaging import MessagingState
    from cpts_app.state.messaging_nav import MessagingNavState

    handlers = set(MessagingState.event_handlers) | set(MessagingNavState.event_handlers)
    for helper in ("_threads_changed", "_quick_plan", "_append_rows", "_show_refusal", "_reload", "_recount"):
        assert helper not in handlers
    assert "load" in MessagingState.event_handlers  # the walk does see real handlers
