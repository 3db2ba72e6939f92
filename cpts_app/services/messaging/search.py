"""Search in sealed messages through a blind index: keyed hashes of words and word prefixes.

Why a blind index: bodies are sealed, so the database cannot search them, and decrypting every
message at each search would not scale. Each word (and each prefix of 3 to 20 letters) is stored
as HMAC-SHA256 under a search key kept with the master keys, never in the database: a dump shows
which messages share a word, not which word. The key is separate from the master keys because a
key rotation must not force re-indexing every message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from sqlalchemy import and_, delete, func, insert, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from cpts_app.models.access import User
from cpts_app.models.messaging import Message, MessageSearchToken, MessageThread, ThreadKind
from cpts_app.models.patient import Patient
from cpts_app.services import audit
from cpts_app.services.crypto import CryptoError, open_text
from cpts_app.services.errors import ValidationFailed
from cpts_app.services.identifiers import search_key
from cpts_app.services.keyring import secrets_folder
from cpts_app.services.messaging import access
from cpts_app.services.messaging.formatting import fold
from cpts_app.services.messaging.views import SearchHit
from cpts_app.services.permissions import Actor, Permission, require
from cpts_app.settings import Settings

__all__ = ["excerpt", "forget_message", "index_message", "search_key_path", "search_messages", "tokens_for"]

KEY_FILE = "search-index.key"
KEY_BYTES = 32
TOKEN_HEX = 32
MIN_PREFIX = 3
MAX_PREFIX = 20
MAX_TOKENS = 400
"""Per message: bounds the index of a long message (its distinct words are kept first)."""
MIN_QUERY_WORD = 3
MAX_QUERY_WORDS = 8
EXCERPT_CHARS = 160
THREAD_CHUNK = 500
"""Readable threads per query (an ``IN`` list that both SQLite and PostgreSQL take comfortably)."""
BODY_PURPOSE = "message.body"

QUERY_TOO_SHORT = "Tapez au moins 3 lettres."


def search_key_path(settings: Settings | None = None) -> Path:
    """Where the search key lives: the secrets folder (refused beside the data)."""
    return secrets_folder(settings) / KEY_FILE


def _publish_key(path: Path) -> None:
    """Create the key file complete or not at all (0600); a concurrent first key wins the link."""
    temporary = path.with_name(f".{KEY_FILE}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process created it a moment earlier: use that one
    finally:
        temporary.unlink()


KEY_UNREADABLE = "La clé de l'index de recherche (search-index.key) est illisible."
KEY_MISSING = (
    "La clé de l'index de recherche (search-index.key) est absente du dossier des clés alors que "
    "la base contient un index : restaurez ce fichier avec les clés maîtresses."
)


@lru_cache(maxsize=8)
def _load_key(path: Path) -> bytes:
    if not path.exists():
        _publish_key(path)
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (OSError, binascii.Error) as exc:
        raise CryptoError(KEY_UNREADABLE) from exc
    if len(key) != KEY_BYTES:
        raise CryptoError(KEY_UNREADABLE)
    return key


def _key(settings: Settings | None, session: Session | None = None) -> bytes:
    """The search key; a first one is made unless ``session`` shows an index made under another.

    Why the check: a database restored without its key file would otherwise get a fresh key and
    every search would silently find nothing.
    """
    path = search_key_path(settings)
    if session is not None and not path.exists():
        indexed = session.exec(select(MessageSearchToken.id).limit(1)).first()
        if indexed is not None:
            raise CryptoError(KEY_MISSING)
    return _load_key(path)


def _hash(key: bytes, word: str) -> str:
    return hmac.new(key, word.encode("utf-8"), hashlib.sha256).hexdigest()[:TOKEN_HEX]


def _words(text: str) -> list[str]:
    """Accent- and case-free words of at least two letters or digits, in order of appearance."""
    return [word for word in search_key(text).split() if len(word) >= 2]


def tokens_for(text: str, settings: Settings | None = None, *, key: bytes | None = None) -> set[str]:
    """The blind-index tokens of ``text``: each word and its prefixes of 3 to 20 letters, hashed.

    At most ``MAX_TOKENS``: every distinct word (cut at 20 letters, which a query of that word
    matches) comes first, then the shorter prefixes, so that a long message stays findable by each
    of its words even when its prefixes no longer fit.
    """
    key = key if key is not None else _key(settings)
    words = list(dict.fromkeys(_words(text)))
    ordered: dict[str, None] = {}
    for word in words:
        ordered[word[:MAX_PREFIX]] = None
    for word in words:
        ordered[word] = None
        for length in range(MIN_PREFIX, min(len(word), MAX_PREFIX) + 1):
            ordered[word[:length]] = None
    return {_hash(key, piece) for piece in list(ordered)[:MAX_TOKENS]}


def index_message(session: Session, message_id: int, thread_id: int, text: str) -> None:
    """(Re)write the index entries of a message, in the caller's transaction."""
    key = _key(None, session)
    forget_message(session, message_id)
    rows = [
        {"message_id": message_id, "thread_id": thread_id, "token": token}
        for token in sorted(tokens_for(text, key=key))
    ]
    if rows:
        session.execute(insert(MessageSearchToken), rows)


def forget_message(session: Session, message_id: int) -> None:
    """Remove a message from the index (deleted messages are no longer found)."""
    session.execute(delete(MessageSearchToken).where(col(MessageSearchToken.message_id) == message_id))


def _query_words(query: str) -> list[str]:
    words = list(dict.fromkeys(search_key(query).split()))
    if not words or any(len(word) < MIN_QUERY_WORD for word in words):
        raise ValidationFailed({"query": QUERY_TOO_SHORT})
    return words[:MAX_QUERY_WORDS]


def _thread_filter(chunk: Sequence[tuple[int, int | None]]) -> ColumnElement[bool]:
    """Messages of the chunk's threads, each former membership cut at its bound."""
    unbounded = [thread_id for thread_id, bound in chunk if bound is None]
    conditions: list[ColumnElement[bool]] = []
    if unbounded:
        conditions.append(col(Message.thread_id).in_(unbounded))
    conditions += [
        and_(col(Message.thread_id) == thread_id, col(Message.id) <= bound)
        for thread_id, bound in chunk
        if bound is not None
    ]
    return or_(*conditions)


def _candidates(
    session: Session, tokens: list[str], readable: dict[int, int | None], limit: int
) -> list[Message]:
    """The newest ``limit`` readable, not deleted messages holding every token."""
    found: list[Message] = []
    items = sorted(readable.items())
    for start in range(0, len(items), THREAD_CHUNK):
        chunk = items[start : start + THREAD_CHUNK]
        matching = (
            select(MessageSearchToken.message_id)
            .where(
                col(MessageSearchToken.token).in_(tokens),
                col(MessageSearchToken.thread_id).in_([thread_id for thread_id, _ in chunk]),
            )
            .group_by(col(MessageSearchToken.message_id))
            .having(func.count(func.distinct(MessageSearchToken.token)) == len(tokens))
        )
        found += session.exec(
            select(Message)
            .where(
                col(Message.id).in_(matching),
                col(Message.deleted_at).is_(None),
                _thread_filter(chunk),
            )
            .order_by(col(Message.id).desc())
            .limit(limit)
        ).all()
    found.sort(key=lambda message: message.id or 0, reverse=True)
    return found[:limit]


def _first_hit(folded: str, words: Iterable[str]) -> int | None:
    """Where the first word starting with one of ``words`` begins in ``folded``."""
    first: int | None = None
    for word in words:
        position = folded.find(word)
        while position > 0 and folded[position - 1].isalnum():
            position = folded.find(word, position + 1)
        if position != -1 and (first is None or position < first):
            first = position
    return first


def excerpt(text: str, words: Iterable[str], width: int = EXCERPT_CHARS) -> str:
    """About ``width`` characters of ``text`` around the first match, cut between words, with « … »."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    folded, origin = fold(flat)
    hit = _first_hit(folded, words)
    center = origin[hit] if hit is not None else 0
    start = max(0, min(center - width // 3, len(flat) - width))
    end = start + width
    if start > 0:
        space = flat.find(" ", start, center)
        start = space + 1 if space != -1 else start
    if end < len(flat):
        space = flat.rfind(" ", max(start, center), end)
        end = space if space != -1 else end
    return ("…" if start > 0 else "") + flat[start:end].strip() + ("…" if end < len(flat) else "")


def _threads(session: Session, thread_ids: set[int]) -> dict[int, MessageThread]:
    threads = session.exec(select(MessageThread).where(col(MessageThread.id).in_(thread_ids))).all()
    return {thread.id: thread for thread in threads if thread.id is not None}


def _titles(session: Session, actor: Actor, threads: Iterable[MessageThread]) -> dict[int, str]:
    """As the thread list names them: « NOM Prénom », the other person, or the title."""
    # Imported here: threads imports messages, which imports this module.
    from cpts_app.services.messaging.threads import patient_title

    threads = list(threads)
    patient_ids = {t.patient_id for t in threads if t.kind == ThreadKind.PATIENT and t.patient_id}
    patients = {p.id: p for p in session.exec(select(Patient).where(col(Patient.id).in_(patient_ids))).all()}
    others = {t.id: _other_user(t.direct_key, actor.user_id) for t in threads if t.kind == ThreadKind.DIRECT}
    people = dict(
        session.exec(
            select(User.id, User.display_name).where(col(User.id).in_({u for u in others.values() if u}))
        ).all()
    )
    titles: dict[int, str] = {}
    for thread in threads:
        assert thread.id is not None
        if thread.kind == ThreadKind.PATIENT:
            titles[thread.id] = patient_title(patients.get(thread.patient_id))
        elif thread.kind == ThreadKind.DIRECT:
            titles[thread.id] = people.get(others.get(thread.id) or 0, "Conversation privée")
        elif thread.kind == ThreadKind.CHANNEL:
            titles[thread.id] = thread.title or "Canal"
        else:
            titles[thread.id] = thread.title or "Annonce"
    return titles


def _other_user(direct_key: str | None, user_id: int) -> int | None:
    """The other person of a direct conversation, from its ``"<a>:<b>"`` key."""
    try:
        first, second = (int(part) for part in (direct_key or "").split(":"))
    except ValueError:
        return None
    return second if first == user_id else first


def search_messages(session: Session, actor: Actor, query: str, *, limit: int = 30) -> list[SearchHit]:
    """Messages the actor may read that contain every word of ``query`` (as word starts), newest first.

    The query itself is never stored nor audited: a search for a diagnosis would otherwise sit in
    the audit trail in clear. The audit says how many hits, and which patient threads they were in.
    """
    require(actor, Permission.USE_MESSAGING)
    words = _query_words(query)
    key = _key(None, session)
    tokens = sorted({_hash(key, word[:MAX_PREFIX]) for word in words})
    readable = access.readable_threads(session, actor)
    limit = max(1, min(limit, 100))
    messages = _candidates(session, tokens, readable, limit) if readable else []
    threads = _threads(session, {m.thread_id for m in messages})
    titles = _titles(session, actor, threads.values())
    authors = dict(
        session.exec(
            select(User.id, User.display_name).where(col(User.id).in_({m.author_user_id for m in messages}))
        ).all()
    )
    hits: list[SearchHit] = []
    for message in messages:
        assert message.id is not None
        text = open_text(
            message.body or b"",
            purpose=BODY_PURPOSE,
            record_id=f"thread-{message.thread_id}/message-{message.id}",
        )
        hits.append(
            SearchHit(
                thread_id=message.thread_id,
                thread_title=titles.get(message.thread_id, ""),
                message_id=message.id,
                author_name=authors.get(message.author_user_id, "Utilisateur supprimé"),
                created_at=message.created_at,
                excerpt=excerpt(text, words),
            )
        )
    patient_threads = sorted({t.id for t in threads.values() if t.kind == ThreadKind.PATIENT and t.id})
    audit.record(
        session,
        "messaging.search",
        actor=actor,
        detail={
            "hits": len(hits),
            "patient_thread_ids": patient_threads,
            "patient_ids": sorted({t.patient_id for t in threads.values() if t.patient_id}),
        },
    )
    session.flush()
    return hits
