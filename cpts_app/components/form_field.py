"""A labelled form field with its French error message right below it."""

from __future__ import annotations

import reflex as rx
from reflex.vars import Var


def field_error(message: Var, name: str) -> rx.Component:
    """The message for field ``name`` (``id="erreur-<name>"``, tied to the input by aria-describedby)."""
    return rx.cond(
        message != "",
        rx.text(
            message, color_scheme="red", size="2", role="alert", class_name="field-error", id=f"erreur-{name}"
        ),
    )


def text_field(
    label: str,
    name: str,
    default_value: Var | str,
    error: Var,
    *,
    required: bool = False,
    placeholder: str = "",
    input_type: str = "text",
) -> rx.Component:
    """An uncontrolled input (no event per keystroke); the form's submit carries its value."""
    return rx.vstack(
        rx.el.label(label + (" *" if required else ""), html_for=f"champ-{name}", class_name="field-label"),
        rx.input(
            name=name,
            id=f"champ-{name}",
            default_value=default_value,
            placeholder=placeholder,
            type=input_type,
            width="100%",
            color_scheme=rx.cond(error != "", "red", "gray"),
            aria_invalid=rx.cond(error != "", "true", "false"),
            aria_describedby=f"erreur-{name}",
        ),
        field_error(error, name),
        spacing="1",
        width="100%",
        align="start",
    )


def select_field(
    label: str,
    name: str,
    options: Var | list,
    default_value: Var | str,
    error: Var,
    *,
    required: bool = False,
    empty_label: str = "— Choisir —",
) -> rx.Component:
    """A native select: its value is submitted with the form, and it is easy to drive in tests.

    ``options`` is a list of ``[value, label]`` pairs.
    """
    return rx.vstack(
        rx.el.label(label + (" *" if required else ""), html_for=f"champ-{name}", class_name="field-label"),
        rx.el.select(
            rx.el.option(empty_label, value=""),
            rx.foreach(options, lambda opt: rx.el.option(opt[1], value=opt[0])),
            name=name,
            id=f"champ-{name}",
            default_value=default_value,
            class_name="native-select",
            aria_describedby=f"erreur-{name}",
        ),
        field_error(error, name),
        spacing="1",
        width="100%",
        align="start",
    )
