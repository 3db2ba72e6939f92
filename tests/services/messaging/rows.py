"""Messaging rows built directly with the models (threads, members, sealed messages) for the tests
of search, attachments and digests, independent of the posting service."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from cpts_app.models.access import Role
from cpts_app.models.messaging import Message, MessageThread, ThreadKind, ThreadMember
from cpts_app.models.patient import Patient, Sex
from cpts_app.models.types import utcnow
from cpts_app.services import crypto
from cpts_app.services.identifiers import search_key
from cpts_app.services.messaging import search
from cpts_app.services.permissions import Actor
from tests.services import factories


def person(session: Session, name: str, role: Role = Role.PROFESSIONAL, email: str | None = None) -> Actor:
    """A signed-in user named ``name`` (e-mail derived from the name unless given)."""
    address = email or search_key(name).replace(" ", ".") + "@example.fr"
    row = factories.user(session, email=address, role=role, display_name=name)
    assert row.id is not None
    return Actor(user_id=row.id, role=role, display_name=name, ip="203.0.113.9")


def patient(session: Session, birth_name: str = "Rouvière", first_names: str = "Odette") -> Patient:
    row = Patient(
        birth_name=birth_name,
        first_names=first_names,
        birth_date=date(1941, 2, 3),
        sex=Sex.FEMALE,
        search_name=search_key(f"{birth_name} {first_names}"),
    )
    session.add(row)
    session.flush()
    return row


def thread(
    session: Session,
    kind: ThreadKind,
    creator: Actor,
    *,
    title: str | None = None,
    patient_row: Patient | None = None,
    direct_pair: tuple[int, int] | None = None,
) -> MessageThread:
    row = MessageThread(
        kind=kind,
        title=title,
        patient_id=patient_row.id if patient_row else None,
        direct_key=f"{min(direct_pair)}:{max(direct_pair)}" if direct_pair else None,
        created_by_user_id=creator.user_id,
    )
    session.add(row)
    session.flush()
    return row


def member(session: Session, thread_row: MessageThread, who: Actor, *, can_post: bool = True) -> ThreadMember:
    assert thread_row.id is not None
    row = ThreadMember(thread_id=thread_row.id, user_id=who.user_id, can_post=can_post)
    session.add(row)
    session.flush()
    return row


def leave(session: Session, member_row: ThreadMember, last_readable_message_id: int) -> None:
    """The member leaves; they keep reading up to ``last_readable_message_id``."""
    member_row.left_at = utcnow()
    member_row.access_until_message_id = last_readable_message_id
    session.add(member_row)
    session.flush()


def body_record_id(thread_id: int, message_id: int) -> str:
    return f"thread-{thread_id}/message-{message_id}"


def message(
    session: Session,
    thread_row: MessageThread,
    author: Actor,
    text: str,
    *,
    created_at: datetime | None = None,
    indexed: bool = True,
) -> Message:
    """A message sealed like the posting service seals it, and indexed for search."""
    assert thread_row.id is not None
    row = Message(thread_id=thread_row.id, author_user_id=author.user_id, created_at=created_at or utcnow())
    session.add(row)
    session.flush()
    assert row.id is not None
    row.body = crypto.seal_text(text, purpose="message.body", record_id=body_record_id(thread_row.id, row.id))
    thread_row.last_message_id = row.id
    thread_row.last_message_at = row.created_at
    session.add_all([row, thread_row])
    if indexed:
        search.index_message(session, row.id, thread_row.id, text)
    session.flush()
    return row
