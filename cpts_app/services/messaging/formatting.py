"""Message text → blocks of spans (light Markdown), mentions, and a guard against pasted markup.

Why blocks of spans rather than HTML: the screens render each span as a text component, so a
message can never inject markup into a colleague's browser, whatever it contains. markdown-it-py
parses (CommonMark, raw HTML off) and this module keeps only what a message needs: paragraphs,
list items, bold, italic, inline code, safe links (http, https, mailto) and « @Name » mentions.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

from cpts_app.services.messaging.views import Block, Span

__all__ = ["contains_markup", "find_mentions", "fold", "render_blocks"]

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>")
"""An HTML tag: ``<`` then a letter (``<3``, ``< 14/9``, ``<= 3`` and ``INR<2`` are not tags)."""
_OPEN_DANGEROUS_TAG = re.compile(
    r"<\s*/?\s*(?:script|iframe|img|svg|object|embed|style|link|meta|form|input|body|html|math|base|"
    r"frame|frameset|video|audio|source)\b",
    re.IGNORECASE,
)
"""Tags that act even left unclosed (``<img src=x onerror=…``)."""
_SPECIAL_MARKUP = re.compile(r"<!--|<!\[CDATA\[|<![A-Za-z]|<\?[A-Za-z]")
_SCRIPT_SCHEME = re.compile(r"(?:javascript|vbscript|livescript):", re.IGNORECASE)
_DATA_URL = re.compile(r"(?<![A-Za-z0-9])data:\s*(?:[A-Za-z-]+/[A-Za-z0-9.+-]+|[;,])", re.IGNORECASE)
_INVISIBLE = re.compile(r"[\x00-\x20\u00ad\u200b-\u200f\u2060\ufeff]+")


def contains_markup(text: str) -> bool:
    """Whether ``text`` holds HTML tags or script/data links (pasted or typed to attack a reader).

    Entities are decoded first (``&lt;script&gt;``) and invisible characters removed from scheme
    checks (``java\\tscript:``), as browsers do. Clinical comparisons (« TA < 14/9 », « INR<2 »,
    « <3 », « 5 < 6 > 4 ») are not markup.
    """
    decoded = html.unescape(text or "")
    if _TAG.search(decoded) or _OPEN_DANGEROUS_TAG.search(decoded) or _SPECIAL_MARKUP.search(decoded):
        return True
    compact = _INVISIBLE.sub("", decoded)
    return bool(_SCRIPT_SCHEME.search(compact) or _DATA_URL.search(decoded))


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char.translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def fold(text: str) -> tuple[str, list[int]]:
    """``text`` without accents nor case, and for each folded character its index in ``text``.

    Why the index map: matches are found in the folded text (« @helene » finds « @Hélène ») but
    the spans and excerpts cut the original text.
    """
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        piece = _fold_char(char)
        folded.append(piece)
        origin.extend([index] * len(piece))
    origin.append(len(text))
    return "".join(folded), origin


@lru_cache(maxsize=8192)
def _fold_name(name: str) -> str:
    """Cached: a channel of 200 members folds the same 200 names for every message shown."""
    return " ".join(fold(name)[0].split())


def _mention_matches(text: str, names: Iterable[str]) -> list[tuple[int, int, str]]:
    """``(start, end, folded name)`` in ``text`` for each « @Name », the longest name winning."""
    if "@" not in text:
        return []
    wanted = sorted({n for n in (_fold_name(name) for name in names) if n}, key=len, reverse=True)
    if not wanted:
        return []
    folded, origin = fold(text)
    matches: list[tuple[int, int, str]] = []
    position = folded.find("@")
    while position != -1:
        after_word = position > 0 and folded[position - 1].isalnum()  # an e-mail address, not a mention
        found = None if after_word else _name_at(folded, position + 1, wanted)
        if found is None:
            position = folded.find("@", position + 1)
            continue
        end = position + 1 + len(found)
        matches.append((origin[position], origin[end], found))
        position = folded.find("@", end)
    return matches


def _name_at(folded: str, start: int, wanted: Sequence[str]) -> str | None:
    for name in wanted:
        end = start + len(name)
        if folded.startswith(name, start) and (end == len(folded) or not folded[end].isalnum()):
            return name
    return None


def find_mentions(text: str, candidates: Mapping[int, str]) -> set[int]:
    """Ids of the users whose display name follows an « @ » (accents and case ignored)."""
    by_name: dict[str, set[int]] = {}
    for user_id, name in candidates.items():
        by_name.setdefault(_fold_name(name), set()).add(user_id)
    found: set[int] = set()
    for _start, _end, name in _mention_matches(text or "", candidates.values()):
        found |= by_name.get(name, set())
    return found


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    options = {"html": False, "linkify": True, "typographer": False}
    return MarkdownIt("commonmark", options).enable("linkify")


def _safe_href(href: str) -> str:
    """``href`` if it is an http(s) or mailto address, else ``""`` (shown as plain text)."""
    try:
        scheme = urlsplit(href).scheme.lower()
    except ValueError:
        return ""
    return href if scheme in SAFE_SCHEMES else ""


def _inline_spans(children: Sequence[Token], mention_names: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    strong = em = 0
    link_href: str | None = None
    link_text: list[str] = []
    for token in children:
        kind = token.type
        if kind == "link_open":
            link_href, link_text = _safe_href(str(token.attrs.get("href", ""))), []
        elif kind == "link_close":
            label = "".join(link_text)
            if link_href:
                spans.append(Span("link", label, link_href))
            elif label:
                spans.append(Span("strong" if strong else "em" if em else "text", label))
            link_href = None
        elif link_href is not None:
            if kind in ("softbreak", "hardbreak"):
                link_text.append(" ")
            else:
                link_text.append(token.content)
        elif kind in ("strong_open", "strong_close"):
            strong += 1 if kind == "strong_open" else -1
        elif kind in ("em_open", "em_close"):
            em += 1 if kind == "em_open" else -1
        elif kind in ("softbreak", "hardbreak"):
            spans.append(Span("break", "\n"))
        elif kind == "code_inline":
            spans.append(Span("code", token.content))
        elif token.content:  # text, text_special, image (its alt text)
            style = "strong" if strong else "em" if em else "text"
            spans.extend(_split_mentions(token.content, style, mention_names))
    return _merge(spans)


def _split_mentions(text: str, style: str, mention_names: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    cursor = 0
    for start, end, _name in _mention_matches(text, mention_names):
        if start > cursor:
            spans.append(Span(style, text[cursor:start]))
        spans.append(Span("mention", text[start:end]))
        cursor = end
    if cursor < len(text):
        spans.append(Span(style, text[cursor:]))
    return spans


def _merge(spans: list[Span]) -> list[Span]:
    """Adjacent runs of the same style joined (escapes and entities arrive as separate tokens)."""
    merged: list[Span] = []
    for span in spans:
        previous = merged[-1] if merged else None
        if previous and span.kind == previous.kind and span.kind in ("text", "strong", "em", "code"):
            merged[-1] = Span(span.kind, previous.text + span.text)
        else:
            merged.append(span)
    return merged


def _plain_spans(content: str) -> list[Span]:
    spans: list[Span] = []
    for index, line in enumerate(content.rstrip("\n").split("\n")):
        if index:
            spans.append(Span("break", "\n"))
        if line:
            spans.append(Span("text", line))
    return spans


def render_blocks(text: str, mention_names: Sequence[str] = ()) -> tuple[Block, ...]:
    """Paragraphs and list items of ``text`` (nested lists flattened); never any HTML.

    Headings and quotes become paragraphs, code blocks paragraphs of plain text; a link whose
    address is not http(s) or mailto keeps only its label, as text.
    """
    blocks: list[Block] = []
    lists: list[tuple[str, list[int]]] = []
    """Open lists, innermost last: kind and, for ordered ones, the next number (as HTML counts)."""
    item: tuple[str, int] | None = None
    item_used = False
    for token in _parser().parse(text or ""):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            start = int(token.attrs.get("start", 1) or 1)
            lists.append(("bullet" if token.type == "bullet_list_open" else "ordered", [start]))
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            item, item_used = None, False
        elif token.type == "list_item_open":
            kind, counter = lists[-1]
            item, item_used = (kind, counter[0]), False
            counter[0] += 1
        elif token.type == "list_item_close":
            item, item_used = None, False
        elif token.type in ("inline", "fence", "code_block"):
            if token.type == "inline":
                spans = _inline_spans(token.children or [], mention_names)
            else:
                spans = _plain_spans(token.content)
            if not spans:
                continue
            if item is not None and not item_used:
                kind, number = item
                blocks.append(Block(kind, tuple(spans), number if kind == "ordered" else 0))
                item_used = True
            else:
                blocks.append(Block("paragraph", tuple(spans)))
    return tuple(blocks)
