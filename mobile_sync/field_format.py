"""Text shown by the field pages: accent-free search keys, Paris times, slot hours, entries.

Why apart from the workspace: pure functions, used by the workspace and the pages alike.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


class EmptyEntry(ValueError):
    """An observation or note without text."""


def fold(text: str) -> str:
    """Accent- and case-insensitive form: « Élodie » and « elodie » compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def paris_label(ms: int) -> str:
    """« 12/03/2026 à 14:05 » in Europe/Paris; « jamais » for 0."""
    if not ms:
        return "jamais"
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def clean_text(value: Any, limit: int = 2000) -> str:
    return " ".join(str(value or "").split())[:limit] if not isinstance(value, bool) else ""


def entry(texte: Any, auteur: Any, hlc: str) -> dict[str, str]:
    text = str(texte or "").strip()
    if not text:
        raise EmptyEntry("Écrivez le texte avant d'enregistrer.")
    return {"id": uuid.uuid4().hex, "texte": text, "auteur": clean_text(auteur, 200), "hlc": hlc}


def slot_day(debut: str) -> str:
    try:
        moment = datetime.fromisoformat(debut)
    except (TypeError, ValueError):
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(PARIS)
    return moment.date().isoformat()


def slot_hours(debut: str, fin: str) -> str:
    def hm(text: str) -> str:
        try:
            moment = datetime.fromisoformat(text)
        except (TypeError, ValueError):
            return "?"
        return (moment.astimezone(PARIS) if moment.tzinfo else moment).strftime("%H:%M")

    return f"{hm(debut)} – {hm(fin)}"


def today_paris() -> str:
    return datetime.now(PARIS).date().isoformat()
