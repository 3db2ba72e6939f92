"""The e-mail digest of unread messages: « you have 3 new messages », never what they say.

Why no content: an e-mail leaves the platform's protection (mail servers, phones, shared
mailboxes), so the digest names no patient and quotes no text; care-team threads are all called
« Équipe de soins d'un patient ». Each unread message is announced once
(``ThreadMember.digest_through_message_id``), and not before it has waited ``QUIET_DELAY``: the
recipient is probably reading it in the app right now.

Why one transaction per recipient after sending: a mail refused for one person must not mark
their messages as announced, and a crash right after a send repeats at most that one digest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import and_, func, update
from sqlmodel import Session, col, select

from cpts_app.db import run_in_transaction
from cpts_app.models.access import User
from cpts_app.models.messaging import Message, MessageThread, ThreadKind, ThreadMember
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.mailer import MailError, MailServerUnavailable, send_mail
from cpts_app.settings import Settings

__all__ = ["QUIET_DELAY", "Digest", "collect_digests", "render_digest", "send_digests"]

QUIET_DELAY = timedelta(minutes=15)
PATIENT_LABEL = "Équipe de soins d'un patient"
BROADCAST_LABEL = "Annonce de la coordination"
CHANNEL_FALLBACK = "Canal d'équipe"
_log = logging.getLogger(__name__)

Sender = Callable[[Settings, str, str, str], None]


@dataclass(frozen=True)
class Digest:
    """What one person is told: a label and a count per conversation, and what that marks as told."""

    user_id: int
    email: str
    display_name: str
    items: tuple[tuple[str, int], ...]
    """``(label, unread count)``, most recent conversation first; labels carry no health data."""
    marks: dict[int, int] = field(default_factory=dict)
    """Membership id → the highest message id counted, stored once the e-mail has gone."""

    @property
    def total(self) -> int:
        return sum(count for _, count in self.items)


def _label(thread: MessageThread, other_name: str | None) -> str:
    if thread.kind == ThreadKind.PATIENT:
        return PATIENT_LABEL
    if thread.kind == ThreadKind.DIRECT:
        return f"Message de {other_name}" if other_name else "Conversation privée"
    if thread.kind == ThreadKind.BROADCAST:
        return BROADCAST_LABEL
    return thread.title or CHANNEL_FALLBACK


def _other_user_id(direct_key: str | None, user_id: int) -> int | None:
    try:
        first, second = (int(part) for part in (direct_key or "").split(":"))
    except ValueError:
        return None
    return second if first == user_id else first


def collect_digests(
    session: Session, *, now: datetime | None = None, quiet: timedelta = QUIET_DELAY
) -> list[Digest]:
    """One digest per active user with an e-mail who has messages to announce.

    A message is announced to a current member when it is neither read nor already announced,
    was written by someone else, is not deleted, and is older than ``quiet``.
    """
    cutoff = (now or utcnow()) - quiet
    rows = session.exec(
        select(
            ThreadMember.id,
            ThreadMember.user_id,
            ThreadMember.thread_id,
            func.count(col(Message.id)),
            func.max(col(Message.id)),
        )
        .join(User, col(User.id) == ThreadMember.user_id)
        .join(
            Message,
            and_(
                col(Message.thread_id) == ThreadMember.thread_id,
                col(Message.id) > ThreadMember.digest_through_message_id,
                col(Message.id) > ThreadMember.last_read_message_id,
            ),
        )
        .where(
            col(User.active).is_(True),
            col(User.email) != "",
            col(ThreadMember.left_at).is_(None),
            col(Message.created_at) <= cutoff,
            col(Message.author_user_id) != ThreadMember.user_id,
            col(Message.deleted_at).is_(None),
        )
        .group_by(col(ThreadMember.id), col(ThreadMember.user_id), col(ThreadMember.thread_id))
    ).all()
    if not rows:
        return []
    threads = {
        thread.id: thread
        for thread in session.exec(
            select(MessageThread).where(col(MessageThread.id).in_({row[2] for row in rows}))
        ).all()
    }
    others = {
        (user_id, thread_id): _other_user_id(threads[thread_id].direct_key, user_id)
        for _, user_id, thread_id, _, _ in rows
        if threads[thread_id].kind == ThreadKind.DIRECT
    }
    wanted = {row[1] for row in rows} | {other for other in others.values() if other is not None}
    users = {user.id: user for user in session.exec(select(User).where(col(User.id).in_(wanted))).all()}
    per_user: dict[int, list[tuple[int, int, str, int]]] = {}
    for member_id, user_id, thread_id, count, last_id in rows:
        other = users.get(others.get((user_id, thread_id)) or 0)
        label = _label(threads[thread_id], other.display_name if other else None)
        per_user.setdefault(user_id, []).append((last_id, member_id, label, count))
    digests: list[Digest] = []
    for user_id, entries in sorted(per_user.items()):
        user = users[user_id]
        entries.sort(reverse=True)
        digests.append(
            Digest(
                user_id=user_id,
                email=user.email,
                display_name=user.display_name,
                items=tuple((label, count) for _, _, label, count in entries),
                marks={member_id: last_id for last_id, member_id, _, _ in entries},
            )
        )
    return digests


def _messages(count: int) -> str:
    return "1 nouveau message" if count == 1 else f"{count} nouveaux messages"


def render_digest(digest: Digest, public_url: str) -> tuple[str, str]:
    """The e-mail's subject and plain text, in French, with the link to the messaging page."""
    total = digest.total
    unread = "non lu" if total == 1 else "non lus"
    subject = f"Messagerie de la CPTS : {_messages(total)} {unread}"
    lines = [f"  - {label} : {count} message{'s' if count > 1 else ''}" for label, count in digest.items]
    text = "\n".join(
        [
            f"Bonjour {digest.display_name},",
            "",
            f"Vous avez {_messages(total)} {unread} sur la messagerie sécurisée de la CPTS :",
            "",
            *lines,
            "",
            f"Pour les lire, connectez-vous : {public_url.rstrip('/')}/messagerie",
            "",
            "Par confidentialité, ce courriel ne contient ni le texte des messages ni le nom des patients.",
            "Chaque message non lu n'est signalé qu'une seule fois.",
            "",
            "-- ",
            "Courriel automatique de la plateforme de coordination : merci de ne pas y répondre.",
            "",
        ]
    )
    return subject, text


def _mark(session: Session, digest: Digest) -> None:
    """Record what was announced (never moving a position back) and audit the sending."""
    for member_id, last_id in digest.marks.items():
        session.execute(
            update(ThreadMember)
            .where(col(ThreadMember.id) == member_id, col(ThreadMember.digest_through_message_id) < last_id)
            .values(digest_through_message_id=last_id)
        )
    audit.record(
        session,
        "messaging.digest.send",
        actor_user_id=None,
        target_type="user",
        target_id=digest.user_id,
        detail={"messages": digest.total, "threads": len(digest.items)},
    )


def send_digests(
    url: str | None,
    settings: Settings,
    *,
    now: datetime | None = None,
    quiet: timedelta = QUIET_DELAY,
    sender: Sender = send_mail,
) -> int:
    """E-mail every pending digest on the database at ``url`` (default: the settings'); how many went.

    A refused recipient is logged and skipped (announced again next time); an unusable server
    stops the run with ``MailServerUnavailable``, after marking what was already sent.
    """
    digests = run_in_transaction(lambda session: collect_digests(session, now=now, quiet=quiet), url)
    sent = 0
    for digest in digests:
        subject, text = render_digest(digest, settings.public_url)
        try:
            sender(settings, digest.email, subject, text)
        except MailServerUnavailable as exc:
            raise MailServerUnavailable(
                f"{exc.message} Résumés envoyés avant l'interruption : {sent}."
            ) from exc
        except MailError as exc:
            _log.warning("Résumé non envoyé à l'utilisateur n° %s : %s", digest.user_id, exc.message)
            continue
        run_in_transaction(partial(_mark, digest=digest), url, write=True)
        sent += 1
    return sent
