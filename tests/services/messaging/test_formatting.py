"""Message formatting: blocks of spans from light Markdown, mentions, and the markup guard."""

from __future__ import annotations

import pytest

from cpts_app.services.messaging.formatting import contains_markup, find_mentions, fold, render_blocks
from cpts_app.services.messaging.views import Block, Span


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "voir <img src=x onerror=alert(1)>",
        "<img src=x onerror=alert(1)",
        "fin</b>",
        "<!-- caché -->",
        '<a href="https://ex.fr">ici</a>',
        "<br/>",
        "[clic](javascript:alert(1))",
        "javascript:alert(document.cookie)",
        "JaVa\tScRiPt:alert(1)",
        "vbscript:msgbox(1)",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "data:image/svg+xml,<svg/onload=alert(1)>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "java&#115;cript:alert(1)",
    ],
)
def test_markup_is_flagged(text: str) -> None:
    assert contains_markup(text)


@pytest.mark.parametrize(
    "text",
    [
        "TA < 14/9 ce matin",
        "Merci <3",
        "INR<2 : augmenter la dose",
        "5 < 6 > 4",
        "Glycémie → 1,2 g/L",
        "créatinine <= 3 mg/L",
        "HbA1c <7% et >6%",
        "Les data: 3 patients vus hier",
        "Rappel : **important** et [le protocole](https://has-sante.fr/p)",
        "",
    ],
)
def test_clinical_text_is_not_markup(text: str) -> None:
    assert not contains_markup(text)


def test_paragraphs_lists_and_inline_styles() -> None:
    text = (
        "# Compte rendu\n"
        "Pansement **refait** ce *matin*, voir `J+3`.\n"
        "Rappeler  \n"
        "demain\n\n"
        "- pansement\n"
        "  - compresse\n"
        "- douche\n\n"
        "3. matin\n"
        "1. midi\n\n"
        "> citation\n\n"
        "```\nligne 1\nligne 2\n```\n"
    )
    assert render_blocks(text) == (
        Block("paragraph", (Span("text", "Compte rendu"),)),
        Block(
            "paragraph",
            (
                Span("text", "Pansement "),
                Span("strong", "refait"),
                Span("text", " ce "),
                Span("em", "matin"),
                Span("text", ", voir "),
                Span("code", "J+3"),
                Span("text", "."),
                Span("break", "\n"),
                Span("text", "Rappeler"),
                Span("break", "\n"),
                Span("text", "demain"),
            ),
        ),
        Block("bullet", (Span("text", "pansement"),)),
        Block("bullet", (Span("text", "compresse"),)),
        Block("bullet", (Span("text", "douche"),)),
        Block("ordered", (Span("text", "matin"),), 3),
        Block("ordered", (Span("text", "midi"),), 4),
        Block("paragraph", (Span("text", "citation"),)),
        Block("paragraph", (Span("text", "ligne 1"), Span("break", "\n"), Span("text", "ligne 2"))),
    )


def test_only_web_and_mail_links_become_links() -> None:
    (block,) = render_blocks(
        "Voir [le protocole](https://ex.fr/p), www.ex.fr, ide@ex.fr, [x](javascript:alert(1)), "
        "[y](data:image/png;base64,AAAA), [z](ftp://ex.fr/f) et [m](mailto:a@ex.fr)"
    )
    links = [(s.text, s.href) for s in block.spans if s.kind == "link"]
    assert links == [
        ("le protocole", "https://ex.fr/p"),
        ("www.ex.fr", "http://www.ex.fr"),
        ("ide@ex.fr", "mailto:ide@ex.fr"),
        ("m", "mailto:a@ex.fr"),
    ]
    plain = "".join(s.text for s in block.spans if s.kind == "text")
    assert "[x](javascript:alert(1))" in plain  # never parsed as a link: shown as typed
    assert " y, z et " in plain  # a data: or ftp: link keeps only its label
    assert all(s.href.startswith(("http://", "https://", "mailto:")) for s in block.spans if s.href)


def test_html_is_never_produced() -> None:
    (block,) = render_blocks("<b>gras</b> <script>alert(1)</script>")
    assert block.spans == (Span("text", "<b>gras</b> <script>alert(1)</script>"),)


def test_mentions_longest_name_first_and_case_insensitive() -> None:
    names = ["Marie Dupont", "Marie Dupont-Roy", "Hélène Petit"]
    (block,) = render_blocks("Merci @marie dupont-roy et **@HELENE PETIT**, écrire à x@marie.fr", names)
    assert [s for s in block.spans if s.kind == "mention"] == [
        Span("mention", "@marie dupont-roy"),
        Span("mention", "@HELENE PETIT"),
    ]
    (block,) = render_blocks("@Marie Dupont, vu", names)
    assert block.spans[0] == Span("mention", "@Marie Dupont")
    (block,) = render_blocks("@Marie Duponteau", names)
    assert [s.kind for s in block.spans] == ["text"]


def test_find_mentions() -> None:
    candidates = {1: "Marie Dupont", 2: "Marie Dupont-Roy", 3: "Hélène Petit", 4: "Paul Roux"}
    assert find_mentions("@marie dupont-roy et @helene petit", candidates) == {2, 3}
    assert find_mentions("@Marie Dupont: vu", candidates) == {1}
    assert find_mentions("Paul Roux sans arobase, paul@roux.fr", candidates) == set()
    assert find_mentions("", candidates) == set()
    assert find_mentions("@Paul  Roux", {4: "Paul Roux"}) == set()  # two spaces: not the name


def test_fold_maps_back_to_the_original() -> None:
    folded, origin = fold("Œdème à l'É")
    assert folded == "oedeme a l'e"
    assert origin[folded.index("a")] == 6 and origin[-1] == len("Œdème à l'É")
