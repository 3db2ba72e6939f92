"""The Starlette application mounted in front of Reflex's backend (``api_transformer``)."""

from __future__ import annotations

from starlette.applications import Starlette

from cpts_app.api import auth, fhir, health, ical, messaging
from mobile_sync import server as sync_server


def build_api(notify: messaging.Notifier | None = None) -> Starlette:
    """All machine and cookie routes; Reflex mounts its own app under this one.

    ``notify`` (given by the Reflex app) tells members' open browsers about a message posted
    through the API; the API itself knows nothing of Reflex.
    """
    return Starlette(
        routes=[
            *auth.routes,
            *health.routes,
            *fhir.routes,
            *ical.routes,
            *messaging.build_routes(notify),
            *sync_server.routes,
        ]
    )
