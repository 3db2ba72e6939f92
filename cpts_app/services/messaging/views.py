"""What the messaging services hand to the screens and the API: plain frozen dataclasses.

Why not ORM rows: a view carries only what the screen shows (already decrypted, already checked
against the reader's rights) and can be serialised for the browser without lazy loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Span:
    """A run of text inside a block: plain, bold, italic, code, a link or a mention."""

    kind: str
    """``text`` | ``strong`` | ``em`` | ``code`` | ``link`` | ``mention`` | ``break``."""
    text: str
    href: str = ""
    """For ``link`` only: an ``http(s)://`` or ``mailto:`` address, never anything else."""


@dataclass(frozen=True)
class Block:
    """A paragraph or a list item (``bullet`` / ``ordered`` with its ``number``)."""

    kind: str
    """``paragraph`` | ``bullet`` | ``ordered``."""
    spans: tuple[Span, ...]
    number: int = 0


@dataclass(frozen=True)
class AttachmentView:
    id: int
    name: str
    content_type: str
    size_bytes: int


@dataclass(frozen=True)
class MessageView:
    id: int
    thread_id: int
    author_user_id: int
    author_name: str
    created_at: datetime
    blocks: tuple[Block, ...]
    """Empty for a tombstone."""
    attachments: tuple[AttachmentView, ...] = ()
    deleted: bool = False
    tombstone: str = ""
    """« Message supprimé par … le … » for a deleted message."""
    is_mine: bool = False
    can_delete: bool = False
    mentions_me: bool = False
    read_by: tuple[str, ...] = ()
    """Names of the other current members whose reading position reached this message."""


@dataclass(frozen=True)
class ThreadPage:
    thread_id: int
    messages: tuple[MessageView, ...]
    """Oldest first."""
    has_older: bool = False


@dataclass(frozen=True)
class ThreadSummary:
    id: int
    kind: str
    title: str
    """Patient name (patient threads), the other person (direct), or the channel/broadcast title."""
    subtitle: str = ""
    """E.g. « Équipe de soins · 4 membres », « Annonce à : Infirmiers de Beaucaire »."""
    last_message_at: datetime | None = None
    unread: int = 0
    mentions_unread: int = 0
    is_member: bool = True
    can_post: bool = True
    left: bool = False
    """A former member: read-only, up to the day they left."""


@dataclass(frozen=True)
class UnreadSummary:
    total: int = 0
    mentions: int = 0
    by_thread: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberView:
    user_id: int
    name: str
    role_label: str
    profession: str = ""
    joined_at: datetime | None = None
    left_at: datetime | None = None
    can_post: bool = True


@dataclass(frozen=True)
class UserChoice:
    """Someone who can be added to a team, mentioned, or written to."""

    user_id: int
    name: str
    detail: str = ""
    """Profession and commune, to tell namesakes apart."""


@dataclass(frozen=True)
class PostedMessage:
    """What the state layer needs after a post: whom to notify (ids only, never text)."""

    message_id: int
    thread_id: int
    recipient_user_ids: tuple[int, ...]
    """Every current member, the author included (their other tabs update too)."""


@dataclass(frozen=True)
class SearchHit:
    thread_id: int
    thread_title: str
    message_id: int
    author_name: str
    created_at: datetime
    excerpt: str
