"""Posting, reading, acknowledging and deleting messages; bodies sealed at rest.

Why the body is sealed after the row exists: its associated data names the message
(``message.body|thread-<t>/message-<m>``), so a body copied onto another message does not open,
and the id is only known once the row is flushed. Everything happens in the caller's transaction,
inside a SAVEPOINT: a refused attachment or index error leaves no half-posted message behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cpts_app.models.access import User
from cpts_app.models.messaging import Message, MessageMention, MessageThread, ThreadKind, ThreadMember
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.agenda.clock import PARIS
from cpts_app.services.crypto import open_text, seal_text
from cpts_app.services.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.messaging import attachments, formatting, search
from cpts_app.services.messaging.access import (
    is_active,
    is_coordinator,
    read_bound,
    require_thread_reader,
    require_thread_writer,
)
from cpts_app.services.messaging.views import Block, MessageView, PostedMessage, ThreadPage
from cpts_app.services.permissions import Actor

BODY_PURPOSE = "message.body"
MAX_TEXT = 10_000
PAGE_MAX = 200

EMPTY = "Le message est vide : écrivez un texte ou joignez un fichier."
TOO_LONG = f"Le message ne doit pas dépasser {MAX_TEXT:,} caractères.".replace(",", " ")
MARKUP = (
    "Le message contient du HTML ou du code (balises « < > », « javascript: ») : écrivez en texte "
    "simple ; les listes (« - ») et les liens (https://…) sont mis en forme automatiquement."
)
MESSAGE_NOT_FOUND = "Ce message n'existe pas."
ALREADY_DELETED = "Ce message a déjà été supprimé."
NOT_YOURS = "Vous ne pouvez supprimer que vos propres messages."


def body_record_id(thread_id: int, message_id: int) -> str:
    """The record half of a body's associated data: it binds the ciphertext to its message."""
    return f"thread-{thread_id}/message-{message_id}"


def clean_text(text: str, *, has_attachments: bool = False) -> str:
    """The text as stored (trimmed, ``\\n`` line ends), or ``ValidationFailed`` on field ``text``."""
    cleaned = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not cleaned and not has_attachments:
        raise ValidationFailed({"text": EMPTY})
    if len(cleaned) > MAX_TEXT:
        raise ValidationFailed({"text": TOO_LONG})
    if cleaned and formatting.contains_markup(cleaned):
        raise ValidationFailed({"text": MARKUP})
    return cleaned


def _active_members(session: Session, thread_id: int) -> list[tuple[int, str, int]]:
    """``(user id, display name, last read message id)`` of the thread's current members."""
    rows = session.exec(
        select(ThreadMember.user_id, User.display_name, ThreadMember.last_read_message_id)
        .join(User, col(User.id) == ThreadMember.user_id)
        .where(ThreadMember.thread_id == thread_id, col(ThreadMember.left_at).is_(None))
    ).all()
    return [(user_id, name, last_read) for user_id, name, last_read in rows]


def _recipients(member_ids: Iterable[int], author_id: int) -> tuple[int, ...]:
    return tuple(sorted({*member_ids, author_id}))


def _thread_detail(thread: MessageThread) -> dict[str, int]:
    """Audit detail naming the patient of a patient thread (whose data was touched)."""
    return {"thread_id": thread.id or 0, **({"patient_id": thread.patient_id} if thread.patient_id else {})}


def post_message(
    session: Session, actor: Actor, thread_id: int, text: str, attachment_ids: Sequence[int] = ()
) -> PostedMessage:
    """Post ``text`` (and the actor's draft attachments) in the thread; returns whom to notify."""
    thread, member = require_thread_writer(session, actor, thread_id)
    wanted = list(dict.fromkeys(attachment_ids))
    cleaned = clean_text(text, has_attachments=bool(wanted))
    members = _active_members(session, thread_id)
    now = utcnow()
    with session.begin_nested():
        message = Message(thread_id=thread_id, author_user_id=actor.user_id, created_at=now, body=None)
        session.add(message)
        session.flush()
        assert message.id is not None
        message.body = seal_text(
            cleaned, purpose=BODY_PURPOSE, record_id=body_record_id(thread_id, message.id)
        )
        mentioned = formatting.find_mentions(cleaned, {user_id: name for user_id, name, _ in members})
        for user_id in sorted(mentioned):
            session.add(MessageMention(message_id=message.id, user_id=user_id))
        if wanted:
            message.attachment_count = attachments.claim_drafts(session, actor, thread_id, message.id, wanted)
        if cleaned:
            search.index_message(session, message.id, thread_id, cleaned)
        session.add(message)
        # Conditional: of two posts committed concurrently, the later id stays the thread's last.
        session.execute(
            update(MessageThread)
            .where(
                col(MessageThread.id) == thread_id,
                or_(
                    col(MessageThread.last_message_id).is_(None),
                    col(MessageThread.last_message_id) < message.id,
                ),
            )
            .values(last_message_id=message.id, last_message_at=now)
        )
        if member is not None:
            member.last_read_message_id = max(member.last_read_message_id, message.id)
            member.last_read_at = now
            session.add(member)
        audit.record(
            session,
            "messaging.message.post",
            actor=actor,
            target_type="message",
            target_id=message.id,
            detail={
                **_thread_detail(thread),
                "attachment_count": message.attachment_count,
                "mention_count": len(mentioned),
            },
        )
        session.flush()
    return PostedMessage(
        message_id=message.id,
        thread_id=thread_id,
        recipient_user_ids=_recipients((user_id for user_id, _, _ in members), actor.user_id),
    )


def _paris(moment: datetime) -> str:
    local = moment.astimezone(PARIS)
    return f"{local:%d/%m/%Y} à {local:%H:%M}"


def tombstone_text(deleted_by: str, deleted_at: datetime) -> str:
    """« Message supprimé par Marie Lefèvre le 10/03/2026 à 09:00 » (Paris time)."""
    return f"Message supprimé par {deleted_by} le {_paris(deleted_at)}"


def _page_query(
    thread_id: int, after_id: int | None, before_id: int | None, bound: int | None
) -> SelectOfScalar[Message]:
    query = select(Message).where(Message.thread_id == thread_id)
    if after_id is not None:
        query = query.where(col(Message.id) > after_id)
    if before_id is not None:
        query = query.where(col(Message.id) < before_id)
    if bound is not None:
        query = query.where(col(Message.id) <= bound)
    return query


def load_messages(
    session: Session,
    actor: Actor,
    thread_id: int,
    *,
    after_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
    memo: dict[Any, Any] | None = None,
) -> ThreadPage:
    """A page of the thread, oldest first, decrypted and checked against the actor's rights.

    ``memo``: shared by the reads of one transaction for several members of the same thread (the
    tabs of a big channel woken by one post): what does not depend on the reader — the members,
    the authors' names, the files, the opened and rendered bodies — is read once.

    Without ``after_id``: the latest ``limit`` messages (before ``before_id`` if given), with
    ``has_older``. With ``after_id``: the messages that followed it (polling for new ones).
    A body that does not open (altered or moved) raises ``CryptoError``: never shown as empty.
    """
    thread, member = require_thread_reader(session, actor, thread_id, memo)
    bound = read_bound(member)
    limit = max(1, min(limit, PAGE_MAX))
    query = _page_query(thread_id, after_id, before_id, bound)
    has_older = False
    if after_id is not None and before_id is None:
        rows = _memo(
            {} if memo is None else memo,
            ("after", thread_id, after_id, bound, limit),
            lambda: list(session.exec(query.order_by(col(Message.id)).limit(limit)).all()),
        )
    else:
        newest_first = list(session.exec(query.order_by(col(Message.id).desc()).limit(limit + 1)).all())
        has_older = len(newest_first) > limit
        rows = newest_first[:limit][::-1]
    views = _views(session, actor, thread, rows, {} if memo is None else memo)
    if thread.kind == ThreadKind.PATIENT and (rows or after_id is None):
        # A poll that brought nothing new disclosed nothing: only pages that show something count.
        audit.record(
            session,
            "messaging.thread.read",
            actor=actor,
            target_type="message_thread",
            target_id=thread_id,
            detail={
                **_thread_detail(thread),
                "count": len(rows),
                "first_message_id": rows[0].id if rows else None,
                "last_message_id": rows[-1].id if rows else None,
                "as_coordinator": member is None,
            },
        )
        session.flush()
    return ThreadPage(thread_id=thread_id, messages=tuple(views), has_older=has_older)


def _memo(memo: dict[Any, Any], key: Any, compute: Callable[[], Any]) -> Any:
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def _views(
    session: Session, actor: Actor, thread: MessageThread, rows: list[Message], memo: dict[Any, Any]
) -> list[MessageView]:
    """Message views of ``rows`` with a constant number of queries (names, members, mentions, files)."""
    if not rows:
        return []
    assert thread.id is not None
    ids = [row.id for row in rows if row.id is not None]
    people = {row.author_user_id for row in rows} | {
        row.deleted_by_user_id for row in rows if row.deleted_by_user_id is not None
    }
    names = _memo(
        memo,
        ("names", frozenset(people)),
        lambda: dict(session.exec(select(User.id, User.display_name).where(col(User.id).in_(people))).all()),
    )
    members = _memo(
        memo,
        ("members", thread.id),
        lambda: session.exec(
            select(
                ThreadMember.user_id,
                User.display_name,
                ThreadMember.last_read_message_id,
                ThreadMember.left_at,
            )
            .join(User, col(User.id) == ThreadMember.user_id)
            .where(ThreadMember.thread_id == thread.id)
        ).all(),
    )
    # Former members' names too: a mention written while they belonged stays highlighted.
    member_names = [name for _, name, _, _ in members]
    readers = [(user_id, name, last) for user_id, name, last, left_at in members if left_at is None]
    mine = set(
        session.exec(
            select(MessageMention.message_id).where(
                MessageMention.user_id == actor.user_id, col(MessageMention.message_id).in_(ids)
            )
        ).all()
    )
    with_files = [
        row.id for row in rows if row.id is not None and row.deleted_at is None and row.attachment_count
    ]
    files = (
        _memo(memo, ("files", tuple(with_files)), lambda: attachments.attachment_views(session, with_files))
        if with_files
        else {}
    )
    coordinator = is_coordinator(actor)
    views: list[MessageView] = []
    for row in rows:
        assert row.id is not None
        author = names.get(row.author_user_id, "Utilisateur supprimé")
        read_by = tuple(
            sorted(
                name
                for user_id, name, last in readers
                if user_id not in (row.author_user_id, actor.user_id) and last >= row.id
            )
        )
        common = {
            "id": row.id,
            "thread_id": row.thread_id,
            "author_user_id": row.author_user_id,
            "author_name": author,
            "created_at": row.created_at,
            "is_mine": row.author_user_id == actor.user_id,
            "mentions_me": row.id in mine,
            "read_by": read_by,
        }
        if row.deleted_at is not None:
            deleter = names.get(row.deleted_by_user_id or 0, "un utilisateur")
            views.append(
                MessageView(
                    **common, blocks=(), deleted=True, tombstone=tombstone_text(deleter, row.deleted_at)
                )
            )
            continue
        blocks = _memo(memo, ("blocks", row.id), lambda row=row: _render(row, member_names))
        views.append(
            MessageView(
                **common,
                blocks=blocks,
                attachments=tuple(files.get(row.id, ())),
                can_delete=row.author_user_id == actor.user_id or coordinator,
            )
        )
    return views


def _render(row: Message, member_names: list[str]) -> tuple[Block, ...]:
    text = open_text(row.body or b"", purpose=BODY_PURPOSE, record_id=body_record_id(row.thread_id, row.id))
    return formatting.render_blocks(text, member_names)


def new_messages(
    session: Session,
    actor: Actor,
    thread_id: int,
    after_id: int,
    window_start: int,
    memo: dict[Any, Any] | None = None,
) -> tuple[ThreadPage, set[int]]:
    """What a tab showing the thread from ``window_start`` to ``after_id`` lacks: the messages
    that followed, and which messages of its window became tombstones meanwhile."""
    memo = {} if memo is None else memo
    page = load_messages(session, actor, thread_id, after_id=after_id, limit=PAGE_MAX, memo=memo)
    deleted = _memo(
        memo, ("deleted", thread_id, window_start), lambda: deleted_since(session, thread_id, window_start)
    )
    return page, deleted


def deleted_since(session: Session, thread_id: int, from_message_id: int) -> set[int]:
    """Ids of the thread's deleted messages from ``from_message_id`` on (no content: ids only).

    Why: a tab that appends new messages must still learn that one it shows became a tombstone.
    """
    rows = session.exec(
        select(Message.id).where(
            Message.thread_id == thread_id,
            col(Message.id) >= from_message_id,
            col(Message.deleted_at).is_not(None),
        )
    ).all()
    return {int(i) for i in rows if i is not None}


def mark_read(
    session: Session,
    actor: Actor,
    thread_id: int,
    up_to_message_id: int,
    *,
    receipts: bool = True,
    memo: dict[Any, Any] | None = None,
) -> tuple[int, ...]:
    """Move the actor's reading position forward to ``up_to_message_id`` (never back).

    Returns the current members to notify (their read receipts changed), empty when the position
    did not move or ``receipts`` is False (a big channel pushes no receipts live). Clamped to the
    thread's last message; a no-op for readers who are not current members (a coordinator reading
    a patient thread, a former member). Not audited: the load that showed the messages already was.
    ``memo``: shared by the positions saved in one transaction (see ``load_messages``).
    """
    thread, member = require_thread_reader(session, actor, thread_id, memo)
    if not is_active(member):
        return ()
    assert member is not None
    target = min(up_to_message_id, thread.last_message_id or 0)
    if target <= member.last_read_message_id:
        return ()
    # A conditional UPDATE keeps the position monotonic even when two tabs acknowledge at once.
    moved = session.execute(
        update(ThreadMember)
        .where(col(ThreadMember.id) == member.id, col(ThreadMember.last_read_message_id) < target)
        .values(last_read_message_id=target, last_read_at=utcnow())
    )
    session.flush()
    if not getattr(moved, "rowcount", 0) or not receipts:
        return ()
    return tuple(sorted(user_id for user_id, _, _ in _active_members(session, thread_id)))


def delete_message(session: Session, actor: Actor, message_id: int) -> PostedMessage:
    """Replace a message by a tombstone: its body, mentions, index entries and files are erased.

    The author or a coordinator may delete, provided they can read the message; the deletion (who,
    whose message, when it was written) goes to the audit trail, never the text.
    """
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(MESSAGE_NOT_FOUND)
    thread, member = require_thread_reader(session, actor, message.thread_id)
    bound = read_bound(member)
    if bound is not None and message_id > bound:
        raise NotFound(MESSAGE_NOT_FOUND)
    if message.author_user_id != actor.user_id and not is_coordinator(actor):
        raise PermissionDenied(NOT_YOURS)
    if message.deleted_at is not None:
        raise DomainError(ALREADY_DELETED)
    now = utcnow()
    with session.begin_nested():
        message.body = None
        message.deleted_at = now
        message.deleted_by_user_id = actor.user_id
        session.add(message)
        session.execute(delete(MessageMention).where(col(MessageMention.message_id) == message_id))
        search.forget_message(session, message_id)
        attachments.forget_message_attachments(session, message_id)
        audit.record(
            session,
            "messaging.message.delete",
            actor=actor,
            target_type="message",
            target_id=message_id,
            detail={
                **_thread_detail(thread),
                "author_user_id": message.author_user_id,
                "created_at": message.created_at.isoformat(),
                "deleted_by_user_id": actor.user_id,
                "attachment_count": message.attachment_count,
            },
        )
        session.flush()
    members = _active_members(session, message.thread_id)
    return PostedMessage(
        message_id=message_id,
        thread_id=message.thread_id,
        recipient_user_ids=_recipients((user_id for user_id, _, _ in members), actor.user_id),
    )
