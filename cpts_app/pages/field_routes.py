"""The pages of field mode (``CPTS_MODE=field``): the laptop serves only these, on localhost."""

from __future__ import annotations

import reflex as rx

from cpts_app.pages.field_agenda import field_agenda_page
from cpts_app.pages.field_patient import field_patient_page
from cpts_app.pages.field_patients import field_patients_page
from cpts_app.pages.field_sync import field_sync_page
from cpts_app.pages.field_unlock import field_unlock_page
from cpts_app.state.field import FieldState
from cpts_app.state.field_agenda import FieldAgendaState
from cpts_app.state.field_patients import FieldPatientsState, FieldPatientState
from cpts_app.state.field_sync import FieldSyncState
from cpts_app.state.field_unlock import FieldUnlockState


class FieldHomeState(FieldState):
    @rx.event
    def go(self):
        return rx.redirect("/terrain")


def _home() -> rx.Component:
    return rx.center(rx.spinner(), min_height="100vh")


WORK_PAGES = (
    (field_patients_page, "/terrain/patients", "Patients", FieldPatientsState.load),
    (field_patient_page, "/terrain/patients/[rid]", "Dossier patient", FieldPatientState.load),
    (field_agenda_page, "/terrain/agenda", "Agenda", FieldAgendaState.load),
    (field_sync_page, "/terrain/synchronisation", "Synchronisation", FieldSyncState.load),
)


def register_field_pages(app: rx.App) -> None:
    """Each page but the unlock one also starts the header's watcher (online, pending, last sync)."""
    app.add_page(_home, route="/", title="CPTS — Terrain", on_load=FieldHomeState.go)
    app.add_page(
        field_unlock_page,
        route="/terrain",
        title="Déverrouiller — CPTS Terrain",
        on_load=FieldUnlockState.load,
    )
    for page, route, title, load in WORK_PAGES:
        app.add_page(page, route=route, title=f"{title} — CPTS Terrain", on_load=[load, FieldState.watch])
