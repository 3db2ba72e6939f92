"""A plain HTML form that the browser submits itself (no Reflex submit handler).

Why: sign-in and sign-out must reach an HTTP route that sets or clears an HttpOnly cookie;
Reflex's own form always calls ``preventDefault`` and sends the data over the websocket.
"""

from __future__ import annotations

from reflex_base.components.component import field
from reflex_base.vars.base import Var
from reflex_components_core.el.elements.base import BaseHTML


class NativeForm(BaseHTML):
    """``<form action=… method=post>`` rendered as is."""

    tag = "form"

    action: Var[str] = field(doc="URL the browser posts the form to")
    method: Var[str] = field(doc="HTTP method of the submission")


native_form = NativeForm.create
