"""Files joined to messages: checked from their bytes, sealed at rest, served after a read check.

Why drafts: a file is uploaded before its message exists (the user attaches, then writes), so it
is stored as the uploader's draft, sealed under a draft address (``thread-<t>/draft-<a>``), and
re-sealed under its final address (``thread-<t>/message-<m>/attachment-<a>``) when the message is
sent: a blob copied onto another message, thread or draft does not open there. Drafts nobody
sent are purged after 24 hours.

Why ``filetype``: the type is read from the file's own bytes; a name or a browser's claim can lie
(an ``.exe`` renamed ``.pdf``), and only PDF and common images are accepted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import PurePosixPath

import filetype
from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from cpts_app.models.messaging import Message, MessageAttachment, MessageAttachmentBlob, MessageThread
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.crypto import open_sealed, open_text, seal, seal_text
from cpts_app.services.errors import DomainError, NotFound, ValidationFailed
from cpts_app.services.messaging.access import read_bound, require_thread_reader, require_thread_writer
from cpts_app.services.messaging.views import AttachmentView
from cpts_app.services.permissions import Actor
from cpts_app.settings import Settings, get_settings

__all__ = [
    "ALLOWED",
    "attachment_views",
    "check_attachment",
    "claim_drafts",
    "clean_filename",
    "discard_draft",
    "draft_views",
    "forget_message_attachments",
    "max_bytes",
    "read_attachment",
    "stage_attachment",
    "too_large_message",
]

ALLOWED: dict[str, str] = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WebP",
}
"""Accepted content types (as detected from the bytes) and how users call them."""
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/webp": (".webp",),
}
CONTENT_PURPOSE = "message.attachment"
DRAFT_PURPOSE = "message.attachment.draft"
NAME_PURPOSE = "message.attachment.name"
MAX_NAME = 120
DEFAULT_NAME = "piece-jointe"
MAX_DRAFTS = 5
DRAFT_LIFETIME = timedelta(hours=24)

EMPTY_FILE = "Le fichier est vide."
REFUSED_TYPE = "Type de fichier non accepté : seuls les PDF et les images (PNG, JPEG, WebP) sont acceptés."
TOO_MANY_DRAFTS = f"Vous avez déjà joint {MAX_DRAFTS} fichiers à ce message : c'est le maximum."
NOT_FOUND = "Pièce jointe introuvable."
NOT_A_DRAFT = "Pièce jointe introuvable ou déjà envoyée."
_SEPARATORS = re.compile(r"[\\/]")


def draft_record_id(thread_id: int, attachment_id: int) -> str:
    return f"thread-{thread_id}/draft-{attachment_id}"


def content_record_id(thread_id: int, message_id: int, attachment_id: int) -> str:
    """Binds a sent file to its thread and its message."""
    return f"thread-{thread_id}/message-{message_id}/attachment-{attachment_id}"


def name_record_id(thread_id: int, attachment_id: int) -> str:
    return f"thread-{thread_id}/attachment-{attachment_id}"


def _megabytes(size: int) -> str:
    """« 10 », « 2,5 »: the limit as French users read it."""
    value = size / (1024 * 1024)
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}".replace(".", ",")


def max_bytes(settings: Settings | None = None) -> int:
    """The largest file accepted (``CPTS_ATTACHMENT_MAX_BYTES``): uploads stop reading beyond it."""
    return (settings or get_settings()).attachment_max_bytes


def too_large_message(settings: Settings | None = None) -> str:
    return f"Le fichier dépasse la taille maximale de {_megabytes(max_bytes(settings))} Mo."


def check_attachment(filename: str, data: bytes, settings: Settings | None = None) -> str:
    """The file's content type, detected from its bytes, or ``ValidationFailed`` on field ``file``.

    ``filename`` is not trusted for the type: it is only cleaned (``clean_filename``) for display.
    """
    settings = settings or get_settings()
    if not data:
        raise ValidationFailed({"file": EMPTY_FILE})
    if len(data) > max_bytes(settings):
        raise ValidationFailed({"file": too_large_message(settings)})
    kind = filetype.guess(data)
    if kind is None or kind.mime not in ALLOWED:
        raise ValidationFailed({"file": REFUSED_TYPE})
    return str(kind.mime)


def clean_filename(filename: str) -> str:
    """The file's own name (no folder), without control or invisible characters, ≤ 120 characters.

    Why invisible characters too: a right-to-left override makes « facture‮fdp.exe » read as
    « facture.exe.pdf ».
    """
    name = _SEPARATORS.split(unicodedata.normalize("NFC", filename or ""))[-1]
    name = "".join(char for char in name if not unicodedata.category(char).startswith("C"))
    name = " ".join(name.split()).strip(" .")
    return _shorten(name) or DEFAULT_NAME


def _shorten(name: str) -> str:
    if len(name) <= MAX_NAME:
        return name
    suffix = PurePosixPath(name).suffix
    suffix = suffix if len(suffix) <= 10 else ""
    return name[: MAX_NAME - len(suffix)].rstrip(" .") + suffix


def with_extension(name: str, content_type: str) -> str:
    """``name`` ending as its real type (« scan.pdf » holding a PNG becomes « scan.png »)."""
    suffix = PurePosixPath(name).suffix.lower()
    wanted = EXTENSIONS[content_type]
    if suffix in wanted:
        return name
    known = {extension for extensions in EXTENSIONS.values() for extension in extensions}
    stem = name[: -len(suffix)] if suffix in known else name
    return _shorten(stem + wanted[0])


def _view(row: MessageAttachment, name: str) -> AttachmentView:
    assert row.id is not None
    return AttachmentView(id=row.id, name=name, content_type=row.content_type, size_bytes=row.size_bytes)


def _open_name(row: MessageAttachment) -> str:
    assert row.id is not None
    return open_text(row.sealed_name, purpose=NAME_PURPOSE, record_id=name_record_id(row.thread_id, row.id))


def _erase(session: Session, attachment_ids: Sequence[int]) -> None:
    """Delete drafts and their blobs outright (never sent: nothing to keep)."""
    if attachment_ids:
        session.execute(
            delete(MessageAttachmentBlob).where(col(MessageAttachmentBlob.attachment_id).in_(attachment_ids))
        )
        session.execute(delete(MessageAttachment).where(col(MessageAttachment.id).in_(attachment_ids)))


def _purge_stale_drafts(session: Session, user_id: int, now: datetime) -> None:
    stale = session.exec(
        select(MessageAttachment.id).where(
            MessageAttachment.uploaded_by_user_id == user_id,
            col(MessageAttachment.message_id).is_(None),
            col(MessageAttachment.created_at) < now - DRAFT_LIFETIME,
        )
    ).all()
    _erase(session, [attachment_id for attachment_id in stale if attachment_id is not None])


def stage_attachment(
    session: Session, actor: Actor, thread_id: int, filename: str, data: bytes
) -> AttachmentView:
    """Store a file as the actor's draft in the thread (sealed), ready to go with their next message."""
    thread, _member = require_thread_writer(session, actor, thread_id)
    content_type = check_attachment(filename, data)
    name = with_extension(clean_filename(filename), content_type)
    now = utcnow()
    _purge_stale_drafts(session, actor.user_id, now)
    drafts = session.exec(
        select(func.count())
        .select_from(MessageAttachment)
        .where(
            MessageAttachment.uploaded_by_user_id == actor.user_id,
            MessageAttachment.thread_id == thread_id,
            col(MessageAttachment.message_id).is_(None),
        )
    ).one()
    if drafts >= MAX_DRAFTS:
        raise ValidationFailed({"file": TOO_MANY_DRAFTS})
    with session.begin_nested():
        row = MessageAttachment(
            thread_id=thread_id,
            uploaded_by_user_id=actor.user_id,
            sealed_name=b"",
            content_type=content_type,
            size_bytes=len(data),
            created_at=now,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        row.sealed_name = seal_text(name, purpose=NAME_PURPOSE, record_id=name_record_id(thread_id, row.id))
        session.add(row)
        sealed = seal(data, purpose=DRAFT_PURPOSE, record_id=draft_record_id(thread_id, row.id))
        session.add(MessageAttachmentBlob(attachment_id=row.id, content=sealed))
        audit.record(
            session,
            "messaging.attachment.stage",
            actor=actor,
            target_type="message_attachment",
            target_id=row.id,
            detail={**_thread_detail(thread), "content_type": content_type, "size_bytes": len(data)},
        )
        session.flush()
    return _view(row, name)


def _own_draft(session: Session, actor: Actor, attachment_id: int) -> MessageAttachment | None:
    row = session.get(MessageAttachment, attachment_id)
    if row is None or row.message_id is not None or row.uploaded_by_user_id != actor.user_id:
        return None
    return row


def discard_draft(session: Session, actor: Actor, attachment_id: int) -> None:
    """Remove one of the actor's own drafts (never someone else's, never a sent file)."""
    row = _own_draft(session, actor, attachment_id)
    if row is None:
        raise NotFound(NOT_A_DRAFT)
    _erase(session, [attachment_id])
    session.flush()


def claim_drafts(
    session: Session, actor: Actor, thread_id: int, message_id: int, attachment_ids: Sequence[int]
) -> int:
    """Attach the actor's drafts to their new message, re-sealed under the message's address.

    Each id must be a draft the actor uploaded in this thread, else ``DomainError`` (the caller's
    SAVEPOINT then drops the half-posted message). Returns how many files the message carries.
    """
    message = session.get(Message, message_id)
    if message is None or message.thread_id != thread_id:
        raise ValueError("claim_drafts: the message does not belong to the thread.")
    wanted = list(dict.fromkeys(attachment_ids))
    for attachment_id in wanted:
        row = _own_draft(session, actor, attachment_id)
        if row is None or row.thread_id != thread_id or row.deleted_at is not None:
            raise DomainError(NOT_A_DRAFT)
        blob = session.get(MessageAttachmentBlob, attachment_id)
        if blob is None:
            raise DomainError(NOT_A_DRAFT)
        data = open_sealed(
            blob.content, purpose=DRAFT_PURPOSE, record_id=draft_record_id(thread_id, attachment_id)
        )
        blob.content = seal(
            data, purpose=CONTENT_PURPOSE, record_id=content_record_id(thread_id, message_id, attachment_id)
        )
        row.message_id = message_id
        session.add_all([blob, row])
    session.flush()
    return len(wanted)


def attachment_views(session: Session, message_ids: Sequence[int]) -> dict[int, list[AttachmentView]]:
    """The files of each message (names decrypted), in upload order; deleted ones left out."""
    views: dict[int, list[AttachmentView]] = {}
    if not message_ids:
        return views
    rows = session.exec(
        select(MessageAttachment)
        .where(
            col(MessageAttachment.message_id).in_(list(message_ids)),
            col(MessageAttachment.deleted_at).is_(None),
        )
        .order_by(col(MessageAttachment.id))
    ).all()
    for row in rows:
        assert row.message_id is not None
        views.setdefault(row.message_id, []).append(_view(row, _open_name(row)))
    return views


def draft_views(session: Session, actor: Actor, thread_id: int) -> list[AttachmentView]:
    """The actor's drafts waiting in the thread's composer (the last 24 hours')."""
    rows = session.exec(
        select(MessageAttachment)
        .where(
            MessageAttachment.uploaded_by_user_id == actor.user_id,
            MessageAttachment.thread_id == thread_id,
            col(MessageAttachment.message_id).is_(None),
            col(MessageAttachment.created_at) >= utcnow() - DRAFT_LIFETIME,
        )
        .order_by(col(MessageAttachment.id))
    ).all()
    return [_view(row, _open_name(row)) for row in rows]


def _thread_detail(thread: MessageThread) -> dict[str, int]:
    """Audit detail naming the patient of a patient thread (whose data was touched)."""
    return {"thread_id": thread.id or 0, **({"patient_id": thread.patient_id} if thread.patient_id else {})}


def read_attachment(session: Session, actor: Actor, attachment_id: int) -> tuple[AttachmentView, bytes]:
    """A file and its bytes, for a reader of its message (or the uploader of a draft); audited."""
    row = session.get(MessageAttachment, attachment_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(NOT_FOUND)
    if row.message_id is None and row.uploaded_by_user_id != actor.user_id:
        raise NotFound(NOT_FOUND)
    thread, member = require_thread_reader(session, actor, row.thread_id)
    if row.message_id is not None:
        bound = read_bound(member)
        message = session.get(Message, row.message_id)
        if (
            message is None
            or message.deleted_at is not None
            or (bound is not None and row.message_id > bound)
        ):
            raise NotFound(NOT_FOUND)
    blob = session.get(MessageAttachmentBlob, attachment_id)
    if blob is None:
        raise NotFound(NOT_FOUND)
    if row.message_id is None:
        data = open_sealed(
            blob.content, purpose=DRAFT_PURPOSE, record_id=draft_record_id(row.thread_id, attachment_id)
        )
    else:
        record_id = content_record_id(row.thread_id, row.message_id, attachment_id)
        data = open_sealed(blob.content, purpose=CONTENT_PURPOSE, record_id=record_id)
    view = _view(row, _open_name(row))
    audit.record(
        session,
        "messaging.attachment.read",
        actor=actor,
        target_type="message_attachment",
        target_id=attachment_id,
        detail={**_thread_detail(thread), "message_id": row.message_id, "as_coordinator": member is None},
    )
    session.flush()
    return view, data


def forget_message_attachments(session: Session, message_id: int) -> None:
    """Erase a deleted message's files: blobs removed, names emptied, rows kept as ``deleted_at``."""
    ids = [
        attachment_id
        for attachment_id in session.exec(
            select(MessageAttachment.id).where(MessageAttachment.message_id == message_id)
        ).all()
        if attachment_id is not None
    ]
    if not ids:
        return
    session.execute(delete(MessageAttachmentBlob).where(col(MessageAttachmentBlob.attachment_id).in_(ids)))
    session.execute(
        update(MessageAttachment)
        .where(col(MessageAttachment.id).in_(ids), col(MessageAttachment.deleted_at).is_(None))
        .values(deleted_at=utcnow(), sealed_name=b"")
    )
    session.flush()
