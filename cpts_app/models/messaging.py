"""Secure messaging: threads (a patient's care team, team channels, direct conversations,
broadcasts), their members, messages sealed at rest, attachments and the blind search index
(data only).

Why the care team is the patient thread's membership: the équipe de soins exists to share about
that one patient; one membership list then decides who reads the thread, who is mentioned and who
gets read receipts, without two lists to keep in step.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from cpts_app.models.types import UTCDateTime, utcnow


class ThreadKind(StrEnum):
    PATIENT = "patient"
    """The care team's thread about one patient (visible to its members and the coordinators)."""
    CHANNEL = "channel"
    """A team channel, e.g. « IDE de Beaucaire », « Médicobus »."""
    DIRECT = "direct"
    """A conversation between two users."""
    BROADCAST = "broadcast"
    """A coordinator's announcement to a profession, a commune or a structure (read-only for them)."""


class MessageThread(SQLModel, table=True):
    __tablename__ = "message_thread"

    id: int | None = Field(default=None, primary_key=True)
    kind: ThreadKind = Field(sa_column=Column(String(12), nullable=False, index=True))
    title: str | None = Field(default=None, max_length=120)
    """Channel or broadcast title; ``None`` for patient threads (named after the patient on screen)
    and direct conversations (named after the other person)."""
    patient_id: int | None = Field(default=None, foreign_key="patient.id", unique=True)
    """Set for ``PATIENT`` threads only: one care team per patient."""
    direct_key: str | None = Field(default=None, max_length=40, unique=True)
    """``"<smaller user id>:<larger user id>"`` for ``DIRECT`` threads: one conversation per pair."""
    audience: str | None = Field(default=None, max_length=300)
    """For ``BROADCAST``: JSON of the target (profession, commune or structure) and its label."""
    created_by_user_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_message_id: int | None = Field(default=None)
    last_message_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class ThreadMember(SQLModel, table=True):
    """A user's membership of a thread, with their role (care team) and reading position.

    Leaving keeps the row: ``left_at`` and ``access_until_message_id`` bound what the former member
    may still read (what was posted while they belonged), and nothing that follows.
    """

    __tablename__ = "message_thread_member"
    __table_args__ = (UniqueConstraint("thread_id", "user_id", name="uq_thread_member"),)

    id: int | None = Field(default=None, primary_key=True)
    thread_id: int = Field(foreign_key="message_thread.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    role_label: str = Field(default="", max_length=60)
    """In a care team: « Médecin traitant », « Infirmier(e) »… (see services.messaging.care_team)."""
    can_post: bool = True
    """False for the recipients of a broadcast."""
    joined_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    added_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    left_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    access_until_message_id: int | None = Field(default=None)
    """Set on leaving: the last message id the former member may still read."""
    last_read_message_id: int = 0
    last_read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    digest_through_message_id: int = 0
    """The last message already counted in an e-mail digest (each unread message is announced once)."""


class Message(SQLModel, table=True):
    """A message; its body is sealed (AES-GCM, AAD ``message.body|thread-<t>/message-<m>``).

    A deleted message stays as a tombstone: ``body`` emptied, ``deleted_at`` and
    ``deleted_by_user_id`` set, and the deletion in the audit trail.
    """

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_thread_id_id", "thread_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    thread_id: int = Field(foreign_key="message_thread.id")
    author_user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    attachment_count: int = 0
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_by_user_id: int | None = Field(default=None, foreign_key="user.id")


class MessageMention(SQLModel, table=True):
    """A member named with « @ » in a message."""

    __tablename__ = "message_mention"
    __table_args__ = (UniqueConstraint("message_id", "user_id", name="uq_message_mention"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)


class MessageAttachment(SQLModel, table=True):
    """An attachment's metadata; its name is sealed too (a file name can say a diagnosis)."""

    __tablename__ = "message_attachment"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    """``None`` while the file is a draft waiting for its message to be sent."""
    thread_id: int = Field(foreign_key="message_thread.id", index=True)
    uploaded_by_user_id: int = Field(foreign_key="user.id", index=True)
    sealed_name: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    content_type: str = Field(max_length=60)
    """Checked from the file's own bytes, not from what the browser claims."""
    size_bytes: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MessageAttachmentBlob(SQLModel, table=True):
    """The sealed bytes of an attachment, apart so that listing attachments never loads them."""

    __tablename__ = "message_attachment_blob"

    attachment_id: int = Field(foreign_key="message_attachment.id", primary_key=True)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class MessageSearchToken(SQLModel, table=True):
    """Blind index: a keyed hash of each word (and word prefix) of a message body.

    Why: bodies are sealed, so the database cannot search them; an HMAC under a key kept with the
    master keys lets a search find messages without the text ever being stored in clear.
    """

    __tablename__ = "message_search_token"
    __table_args__ = (Index("ix_message_search_token_token_thread", "token", "thread_id"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    thread_id: int = Field(foreign_key="message_thread.id")
    token: str = Field(max_length=32)
