"""The Starlette application mounted in front of Reflex's backend (``api_transformer``)."""

from __future__ import annotations

from starlette.applications import Starlette

from cpts_app.api import auth, fhir, health, ical


def build_api() -> Starlette:
    """All machine and cookie routes; Reflex mounts its own app under this one."""
    return Starlette(routes=[*auth.routes, *health.routes, *fhir.routes, *ical.routes])
