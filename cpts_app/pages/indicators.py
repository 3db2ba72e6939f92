"""/indicateurs — activity figures for the ARS and the Assurance Maladie, charts and CSV export."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.layout import page_frame
from cpts_app.state.indicators import IndicatorsState as I


def _bar_chart(data, x_key: str, bars: list[tuple[str, str]], title: str, chart_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="3"),
            rx.recharts.bar_chart(
                *[rx.recharts.bar(data_key=key, fill=rx.color(color, 9)) for key, color in bars],
                rx.recharts.x_axis(data_key=x_key, tick={"fontSize": 11}),
                rx.recharts.y_axis(allow_decimals=False),
                rx.recharts.graphing_tooltip(),
                rx.recharts.legend(),
                data=data,
                width="100%",
                height=260,
            ),
            width="100%",
            id=chart_id,
        ),
        width="100%",
    )


def indicators_page() -> rx.Component:
    return page_frame(
        rx.vstack(
            rx.el.form(
                rx.hstack(
                    rx.el.label(
                        "Du ",
                        rx.el.input(
                            type="date", name="du", default_value=I.date_from, class_name="native-select"
                        ),
                    ),
                    rx.el.label(
                        "au ",
                        rx.el.input(
                            type="date", name="au", default_value=I.date_to, class_name="native-select"
                        ),
                    ),
                    rx.button("Calculer", type="submit", variant="soft"),
                    rx.spacer(),
                    rx.button(
                        rx.icon("download", size=16),
                        "Export CSV (ARS / Assurance Maladie)",
                        on_click=I.export_csv,
                        type="button",
                        id="export-csv",
                    ),
                    align="center",
                    spacing="3",
                    width="100%",
                    wrap="wrap",
                ),
                on_submit=I.set_period,
                reset_on_submit=False,
            ),
            rx.cond(
                I.error != "", rx.callout(I.error, icon="triangle-alert", color_scheme="red", role="alert")
            ),
            rx.grid(
                rx.foreach(
                    I.cards,
                    lambda c: rx.card(
                        rx.vstack(
                            rx.text(c["label"], size="2", color_scheme="gray"),
                            rx.heading(c["value"], size="6"),
                            spacing="1",
                        ),
                        class_name="indicateur",
                    ),
                ),
                columns=rx.breakpoints(initial="1", sm="2", lg="4"),
                spacing="3",
                width="100%",
                id="cartes-indicateurs",
            ),
            _bar_chart(
                I.by_week,
                "semaine",
                [("reçues", "blue"), ("orientées", "green")],
                "Demandes par semaine",
                "graphique-semaines",
            ),
            rx.grid(
                _bar_chart(I.by_source, "name", [("demandes", "teal")], "Par origine", "graphique-origines"),
                _bar_chart(I.by_reason, "name", [("demandes", "orange")], "Par motif", "graphique-motifs"),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="3",
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        title="Indicateurs d'orientation",
    )
