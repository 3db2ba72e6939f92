"""The field states: nothing secret reaches the browser, and the sync progress maps to the bar."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from cpts_app.state.field import FieldState, hlc_label, iso_label
from cpts_app.state.field_agenda import FieldAgendaState
from cpts_app.state.field_patients import FieldPatientsState, FieldPatientState
from cpts_app.state.field_sync import FieldSyncState, _Latest, _percent, _report_lines
from cpts_app.state.field_unlock import FieldUnlockState

FIELD_STATES: list[type[rx.State]] = [
    FieldState,
    FieldUnlockState,
    FieldPatientsState,
    FieldPatientState,
    FieldAgendaState,
    FieldSyncState,
]


def test_the_token_is_backend_only_and_no_var_holds_a_passphrase() -> None:
    assert "_token" in FieldState.get_fields() and "_token" not in FieldState.vars
    for cls in FIELD_STATES:
        public = set(cls.vars)
        assert "_token" not in public and "token" not in public
        assert not {name for name in public if "phrase" in name or "passphrase" in name}, cls


def test_helpers_are_not_callable_from_the_browser() -> None:
    for cls in FIELD_STATES:
        for name in cls.event_handlers:
            assert not name.startswith("_"), (cls, name)
    handlers = set(FieldSyncState.event_handlers) | set(FieldPatientState.event_handlers)
    for helper in ("_guard", "_workspace", "_show_status", "_lists", "_apply", "_reload", "_act", "_root"):
        assert helper not in handlers


@dataclass(frozen=True)
class _Step:
    phase: str
    done: int
    total: int | None
    message: str = ""


def test_progress_maps_sending_then_receiving_onto_one_bar() -> None:
    assert _percent(0, 10, "envoi") == 0
    assert _percent(10, 10, "envoi") == 50
    assert _percent(5, 10, "reception") == 75
    assert _percent(3, None, "reception") == 50  # unknown total: halfway, never « done »
    assert _percent(0, 0, "termine") == 100
    latest = _Latest()
    latest.put(_Step("envoi", 1, 4))
    latest.put(_Step("envoi", 2, 4))
    assert latest.take() == _Step("envoi", 2, 4) and latest.take() is None


def test_report_and_time_labels_are_french() -> None:
    @dataclass(frozen=True)
    class Report:
        pushed: int = 3
        rejected: int = 1
        conflicts: int = 0
        pulled: int = 12
        purged: int = 0
        server_time_ms: int = 0
        revoked: bool = False

    assert _report_lines(Report())[0] == "Modifications envoyées : 3"
    assert hlc_label("001773320400000-000000-abc") == "12/03/2026 à 14:00"
    assert hlc_label("pas un horodatage") == ""
    assert iso_label("2026-03-12T09:00:00+01:00") == "12/03/2026 à 09:00"
