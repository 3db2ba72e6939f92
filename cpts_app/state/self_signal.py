"""The public self-signal page: a patient without an account asks to be called back.

Public on purpose (not a ``SessionState``). The service validates, rate-limits per client
address and never keeps more than the form; the state forgets the identity once sent.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from cpts_app.services import directory
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.services.orientation import self_signal
from cpts_app.services.orientation.labels import REASON_LABELS
from cpts_app.state.agenda_channel import announce_orientation_change
from cpts_app.state.service_call import run_service
from cpts_app.state.session import client_ip

FIELDS = ["birth_name", "first_names", "birth_date", "phone", "commune_id", "reason", "message", "consent"]


class SelfSignalState(rx.State):
    errors: dict[str, str] = dict.fromkeys([*FIELDS, "form"], "")
    sent: bool = False
    commune_options: list[list[str]] = []
    reason_options: list[list[str]] = [[k.value, v] for k, v in REASON_LABELS.items()]

    @rx.event
    async def load(self):
        self.sent = False
        self.errors = dict.fromkeys([*FIELDS, "form"], "")
        communes = await run_service(directory.commune_options)
        self.commune_options = [[str(c.id), c.name] for c in communes]

    @rx.event
    async def send(self, form_data: dict[str, Any]):
        form = self_signal.SelfSignalForm(
            **{name: str(form_data.get(name) or "").strip()[:1000] for name in FIELDS if name != "consent"},
            consent=str(form_data.get("consent") or "") in ("on", "true"),
        )
        client = client_ip(self.router.headers) or "inconnu"
        try:
            await run_service(lambda s: self_signal.self_signal(s, form, client_key=client), write=True)
        except ValidationFailed as failure:
            self.errors = dict.fromkeys([*FIELDS, "form"], "") | failure.errors | {"form": failure.message}
            return None
        except DomainError as error:
            self.errors = dict.fromkeys([*FIELDS, "form"], "") | {"form": error.message}
            return None
        self.errors = dict.fromkeys([*FIELDS, "form"], "")
        self.sent = True
        await announce_orientation_change(self)
        return None
