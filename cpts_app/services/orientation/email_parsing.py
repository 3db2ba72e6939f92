"""Reading a patient's e-mail: sender, subject, text, attachments, and the identity traits in it.

Why so forgiving: this parser must never be the reason a message is lost. Every step falls back
(HTML → text, unknown charset → latin-1, broken MIME → the raw bytes as text) and nothing raises;
what cannot be extracted stays empty and the coordinator reads the text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

import phonenumbers

from cpts_app.models.types import utcnow

FORWARD_MARKERS = (
    re.compile(r"-{3,}\s*Message transf[ée]r[ée]\s*-{3,}", re.IGNORECASE),
    re.compile(r"-{3,}\s*Forwarded message\s*-{3,}", re.IGNORECASE),
    re.compile(r"-{3,}\s*Message d'origine\s*-{3,}", re.IGNORECASE),
    re.compile(r"-{3,}\s*Original Message\s*-{3,}", re.IGNORECASE),
    re.compile(r"D[ée]but du message r[ée]exp[ée]di[ée]\s*:", re.IGNORECASE),
)
_FORWARDED_FROM = re.compile(r"^\s*(?:De|From)\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_MONTHS = {
    "janvier": 1,
    "fevrier": 2,
    "février": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "aout": 8,
    "août": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "decembre": 12,
    "décembre": 12,
}
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})\b")
_WORDED_DATE = re.compile(r"\b(\d{1,2})(?:er)?\s+(" + "|".join(_MONTHS) + r")\s+(\d{4})\b", re.IGNORECASE)
_BIRTH_CONTEXT = re.compile(r"(n[ée]e?\b|naissance)", re.IGNORECASE)
_NAME_WORD = r"[A-Za-zÀ-ÖØ-öø-ÿ'’\-]+"
_LABELLED_BIRTH_NAME = re.compile(
    rf"^[ \t]*Nom(?:[ \t]+de[ \t]+naissance)?[ \t\xa0]*:[ \t\xa0]*({_NAME_WORD}(?:[ \t]+{_NAME_WORD})*)",
    re.IGNORECASE | re.MULTILINE,
)
_LABELLED_FIRST_NAMES = re.compile(
    rf"^[ \t]*Pr[ée]noms?[ \t\xa0]*:[ \t\xa0]*({_NAME_WORD}(?:[ \t]+{_NAME_WORD})*)",
    re.IGNORECASE | re.MULTILINE,
)
_CIVILITY = r"(?:madame|monsieur|mademoiselle|mme|mlle|m\.)"
_INTRODUCTION = re.compile(
    rf"\b(?:je m['’]appelle|je me nomme|je suis {_CIVILITY})\s+(?:{_CIVILITY}\s+)?"
    rf"({_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,3}})",
    re.IGNORECASE,
)
_CIVILITY_NAME = re.compile(
    r"\b(?:Madame|Monsieur|Mademoiselle|Mme|Mlle|M\.)\s+((?:[A-ZÀ-Ý][a-zà-ÿ'’\-]+\s+)*[A-ZÀ-Ý'’\-]{2,}\b)"
)
_STOP_WORDS = {"et", "je", "j", "née", "né", "nee", "ne", "de", "du", "sans", "à", "a", "le", "la", "votre"}
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "hr"}


@dataclass
class ParsedSignal:
    """What could be read from one message (empty strings / None when not found)."""

    sender: str = ""
    """The From address."""
    sender_name: str = ""
    subject: str = ""
    text: str = ""
    attachments: list[str] = field(default_factory=list)
    forwarded: bool = False
    forwarded_sender_name: str = ""
    phone: str | None = None
    """E.164."""
    birth_date: date | None = None
    birth_name: str = ""
    first_names: str = ""
    contact_name: str = ""
    """"NOM Prénoms" when the parts are known, else the name as written."""
    message_id: str = ""
    problems: list[str] = field(default_factory=list)
    """What went wrong while reading (for the coordinator and the ``parsed`` flag)."""

    @property
    def ok(self) -> bool:
        return not self.problems


class _TextExtractor(HTMLParser):
    """HTML to text: data kept, scripts and styles dropped, a line break per block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "head"}:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "head"}:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.chunks.append(data)


def printable(text: str) -> str:
    """``text`` with Unix line ends and without control characters (PostgreSQL refuses NUL)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (no dependency beyond the standard library)."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except Exception:  # noqa: S110 — a broken page still gives what was read so far
        pass
    lines = [" ".join(line.split()) for line in "".join(extractor.chunks).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _part_text(part: Message) -> str:
    """A text part decoded with its charset, or latin-1 / UTF-8 with replacement as a last resort."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except Exception:  # noqa: S110 — unknown charset or broken transfer encoding: decode by hand
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("latin-1")


def _body_text(message: EmailMessage, problems: list[str]) -> str:
    """The plain part, else the HTML part converted, else every text part found."""
    body = None
    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except Exception as exc:
        problems.append(f"structure MIME illisible ({type(exc).__name__})")
    if body is not None:
        text = _part_text(body)
        return html_to_text(text) if body.get_content_subtype() == "html" else text
    texts = []
    for part in message.walk():
        if part.get_content_maintype() == "text" and not part.get_filename():
            text = _part_text(part)
            texts.append(html_to_text(text) if part.get_content_subtype() == "html" else text)
    return "\n".join(t for t in texts if t.strip())


def _attachments_and_inner(message: EmailMessage) -> tuple[list[str], list[EmailMessage]]:
    names: list[str] = []
    inner: list[EmailMessage] = []
    for part in message.walk():
        if part is message:
            continue
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], EmailMessage):
                inner.append(payload[0])
            continue
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment":
            names.append(filename or part.get_content_type())
    return names, inner


def _header(message: Message, name: str) -> str:
    try:
        return " ".join(str(message.get(name, "") or "").split())
    except Exception:  # a malformed header must not stop the intake
        raw = message.get_all(name, failobj=[]) if hasattr(message, "get_all") else []
        return " ".join(str(raw[0]).split()) if raw else ""


def split_forward(text: str) -> tuple[str, str]:
    """(the forwarder's own words, the forwarded message) — the second empty when not forwarded."""
    for marker in FORWARD_MARKERS:
        match = marker.search(text)
        if match:
            return text[: match.start()], text[match.end() :]
    return text, ""


def find_phone(text: str) -> str | None:
    """The first valid French (or international) phone number in ``text``, as E.164."""
    for match in phonenumbers.PhoneNumberMatcher(text, "FR"):
        if phonenumbers.is_valid_number(match.number):
            return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _dates(text: str) -> list[tuple[int, date]]:
    found: list[tuple[int, date]] = []
    for match in _NUMERIC_DATE.finditer(text):
        day, month, year = (int(g) for g in match.groups())
        try:
            found.append((match.start(), date(year, month, day)))
        except ValueError:
            continue
    for match in _WORDED_DATE.finditer(text):
        day, year = int(match.group(1)), int(match.group(3))
        month = _MONTHS[match.group(2).lower()]
        try:
            found.append((match.start(), date(year, month, day)))
        except ValueError:
            continue
    return sorted(found, key=lambda item: item[0])


def find_birth_date(text: str) -> date | None:
    """A plausible birth date: one preceded by « né(e) » / « naissance », else the first past one."""
    today = utcnow().date()
    candidates = [(pos, d) for pos, d in _dates(text) if date(1900, 1, 1) <= d < today]
    for pos, born in candidates:
        if _BIRTH_CONTEXT.search(text[max(0, pos - 40) : pos]):
            return born
    older = [born for _, born in candidates if (today - born).days > 365]
    return older[0] if older else None


def _clean_words(raw: str) -> list[str]:
    words = []
    for word in raw.split():
        if word.lower().strip("'’") in _STOP_WORDS:
            break
        words.append(word)
    return words


def _split_name(words: list[str]) -> tuple[str, str]:
    """(birth name, first names): the upper-case words are the name, as the French write it."""
    upper = [w for w in words if w.isupper() and len(w) > 1]
    if upper and len(upper) < len(words):
        return " ".join(upper), " ".join(w for w in words if w not in upper)
    if len(words) >= 2:
        return words[-1].upper(), " ".join(words[:-1])
    return (words[0].upper(), "") if words else ("", "")


def find_name(text: str, display_names: list[str]) -> tuple[str, str, str]:
    """(birth name, first names, as written) from « Nom : » / « Prénom : », « Je m'appelle… »,
    « Mme Odette ROUSSEL », or the first usable display name (of the forwarded message's sender
    when forwarded: the forwarder is a pharmacy, not the patient)."""
    birth = _LABELLED_BIRTH_NAME.search(text)
    first = _LABELLED_FIRST_NAMES.search(text)
    if birth:
        birth_name = " ".join(birth.group(1).split()).upper()
        first_names = " ".join(first.group(1).split()) if first else ""
        return birth_name, first_names, f"{birth_name} {first_names}".strip()
    intro = _INTRODUCTION.search(text)
    if intro:
        words = _clean_words(intro.group(1))
        if words:
            birth_name, first_names = _split_name(words)
            return birth_name, first_names, " ".join(words)
    civility = _CIVILITY_NAME.search(text)
    if civility:
        words = civility.group(1).split()
        birth_name, first_names = _split_name(words)
        return birth_name, first_names, " ".join(words)
    for name in display_names:
        words = [w for w in name.replace(",", " ").split() if w]
        if words and not any(ch.isdigit() or ch == "@" for ch in name):
            birth_name, first_names = _split_name(words)
            return birth_name, first_names, " ".join(words)
    return "", "", ""


def parse_signal_email(raw: bytes) -> ParsedSignal:
    """Read one RFC 5322 message; never raises (problems are listed in ``ParsedSignal.problems``)."""
    result = ParsedSignal()
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:
        result.problems.append(f"message illisible ({type(exc).__name__})")
        result.text = printable(raw.decode("utf-8", errors="replace"))
        return result
    assert isinstance(message, EmailMessage)
    for defect in message.defects:
        result.problems.append(type(defect).__name__)
    from_header = _header(message, "From")
    sender_name, sender = parseaddr(from_header)
    result.sender_name, result.sender = printable(sender_name), printable(sender)
    result.subject = printable(_header(message, "Subject"))
    result.message_id = _header(message, "Message-ID")
    text = _body_text(message, result.problems)
    result.attachments, inner = _attachments_and_inner(message)
    for attached in inner:
        result.forwarded = True
        inner_from = parseaddr(_header(attached, "From"))[0]
        result.forwarded_sender_name = result.forwarded_sender_name or inner_from
        text += f"\n\n---------- Message transféré ----------\n{_body_text(attached, result.problems)}"
    if not text.strip() and not result.subject:
        result.problems.append("aucun texte lisible")
        text = raw.decode("utf-8", errors="replace")
    result.text = printable(text).strip()
    own_words, forwarded = split_forward(result.text)
    if forwarded:
        result.forwarded = True
        match = _FORWARDED_FROM.search(forwarded)
        if match and not result.forwarded_sender_name:
            result.forwarded_sender_name = getaddresses([match.group(1)])[0][0]
    # The patient speaks in the forwarded part when there is one; the forwarder's signature
    # (often a pharmacy's phone number) comes last.
    search_order = f"{forwarded}\n{own_words}" if forwarded else result.text
    result.phone = find_phone(search_order)
    result.birth_date = find_birth_date(search_order)
    display_names = [result.forwarded_sender_name] if result.forwarded else [result.sender_name]
    result.birth_name, result.first_names, written = find_name(search_order, [n for n in display_names if n])
    result.contact_name = f"{result.birth_name} {result.first_names}".strip() or written
    return result
