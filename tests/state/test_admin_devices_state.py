"""The devices page state: the device being re-scoped stays on the server, helpers stay private."""

from __future__ import annotations

from cpts_app.state.admin_devices import PERMANENCE, AdminDevicesState


def test_the_scoped_device_id_is_backend_only() -> None:
    assert "_scope_device_id" in AdminDevicesState.get_fields()
    assert "_scope_device_id" not in AdminDevicesState.vars
    assert {"scope_open", "scope_label", "scope_current", "scope_error"} <= set(AdminDevicesState.vars)


def test_scope_helpers_are_not_callable_from_the_browser() -> None:
    handlers = set(AdminDevicesState.event_handlers)
    assert {"open_scope", "set_scope_open", "confirm_scope"} <= handlers
    for helper in ("_close_scope", "_scope_name", "_refresh", "_admin", "_forget"):
        assert helper not in handlers


def test_scope_name_matches_the_table_cell() -> None:
    state = AdminDevicesState(_reflex_internal_init=True)  # type: ignore[call-arg]
    state.tour_options = [["4", "Tournée des Costières"], ["7", "Tournée du Vidourle"]]
    assert state._scope_name(None) == PERMANENCE
    assert state._scope_name(7) == "Tournée du Vidourle"
    assert state._scope_name(99) == ""
