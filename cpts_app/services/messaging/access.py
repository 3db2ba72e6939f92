"""Who may read and who may write in a thread: the one place these rules are stated.

Why membership rows decide: a care team is its thread's membership (see ``models.messaging``), so
reading a thread is belonging to it; coordinators (``COORDINATE_MESSAGING``) additionally read
every patient thread and team channel, because coordinating care means following every team.
A former member keeps read access to what was posted while they belonged, and nothing after.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from cpts_app.models.messaging import MessageThread, ThreadKind, ThreadMember
from cpts_app.services.errors import NotFound, PermissionDenied
from cpts_app.services.permissions import Actor, Permission, has_permission, require

THREAD_NOT_FOUND = "Cette conversation n'existe pas."
NOT_A_MEMBER = "Accès refusé : vous ne faites pas partie de cette conversation."
HAS_LEFT = "Vous avez quitté cette équipe : vous ne pouvez plus y écrire."
READ_ONLY_BROADCAST = "Cette annonce est en lecture seule."
READ_ONLY = "Vous ne pouvez pas écrire dans cette conversation."

COORDINATOR_READS = frozenset({ThreadKind.PATIENT, ThreadKind.CHANNEL})
"""Kinds of thread a coordinator reads without belonging to them (never direct conversations)."""
COORDINATOR_WRITES = frozenset({ThreadKind.PATIENT, ThreadKind.CHANNEL, ThreadKind.BROADCAST})
"""Kinds of thread a coordinator may write in whenever they can read them."""


def is_coordinator(actor: Actor) -> bool:
    return has_permission(actor, Permission.COORDINATE_MESSAGING)


def load_thread(session: Session, thread_id: int) -> MessageThread:
    """The thread, or ``NotFound`` in French."""
    thread = session.get(MessageThread, thread_id)
    if thread is None:
        raise NotFound(THREAD_NOT_FOUND)
    return thread


def membership(session: Session, thread_id: int, user_id: int) -> ThreadMember | None:
    """The user's membership row of the thread, current or former."""
    return session.exec(
        select(ThreadMember).where(ThreadMember.thread_id == thread_id, ThreadMember.user_id == user_id)
    ).first()


def is_active(member: ThreadMember | None) -> bool:
    return member is not None and member.left_at is None


def _memberships(session: Session, thread_id: int) -> dict[int, ThreadMember]:
    rows = session.exec(select(ThreadMember).where(ThreadMember.thread_id == thread_id)).all()
    return {row.user_id: row for row in rows}


def require_thread_reader(
    session: Session, actor: Actor, thread_id: int, memo: dict[Any, Any] | None = None
) -> tuple[MessageThread, ThreadMember | None]:
    """The thread and the membership that bounds the actor's reading.

    The membership is ``None`` when a coordinator reads as a coordinator (a patient thread or a
    channel, whether or not they once left it): nothing bounds them then. A former member gets
    their row back, and ``read_bound`` says where their reading stops.
    """
    require(actor, Permission.USE_MESSAGING)
    if memo is None:
        thread = load_thread(session, thread_id)
        member = membership(session, thread_id, actor.user_id)
    else:
        # The readers of one batch (one transaction): the thread and all its memberships, once.
        if ("thread", thread_id) not in memo:
            memo[("thread", thread_id)] = load_thread(session, thread_id)
            memo[("memberships", thread_id)] = _memberships(session, thread_id)
        thread = memo[("thread", thread_id)]
        member = memo[("memberships", thread_id)].get(actor.user_id)
    coordinator_reads = is_coordinator(actor) and ThreadKind(thread.kind) in COORDINATOR_READS
    if is_active(member):
        return thread, member
    if coordinator_reads:
        return thread, None
    if member is not None:
        return thread, member
    raise PermissionDenied(NOT_A_MEMBER)


def read_bound(member: ThreadMember | None) -> int | None:
    """The highest message id a former member may read; ``None`` when nothing bounds the reader."""
    if member is None or member.left_at is None:
        return None
    return member.access_until_message_id or 0


def post_refusal(thread: MessageThread, member: ThreadMember | None, coordinator: bool) -> str | None:
    """Why the reader described by ``member``/``coordinator`` may not post, or ``None`` if they may."""
    if coordinator and ThreadKind(thread.kind) in COORDINATOR_WRITES:
        return None
    if member is None:
        return NOT_A_MEMBER
    if member.left_at is not None:
        return HAS_LEFT
    if not member.can_post:
        return READ_ONLY_BROADCAST if thread.kind == ThreadKind.BROADCAST else READ_ONLY
    return None


def require_thread_writer(
    session: Session, actor: Actor, thread_id: int
) -> tuple[MessageThread, ThreadMember | None]:
    """The thread and the actor's active membership (``None`` for a coordinator who is not one).

    Writing needs reading first: a coordinator may post in a patient thread or a channel they
    read as coordinators, and in a broadcast they belong to (even as one of its recipients).
    """
    thread, member = require_thread_reader(session, actor, thread_id)
    refusal = post_refusal(thread, member, is_coordinator(actor))
    if refusal is not None:
        raise PermissionDenied(refusal)
    return thread, member


def readable_threads(session: Session, actor: Actor) -> dict[int, int | None]:
    """Every thread id the actor may read, with its ``read_bound`` (used by search)."""
    require(actor, Permission.USE_MESSAGING)
    rows = session.exec(
        select(ThreadMember.thread_id, ThreadMember.left_at, ThreadMember.access_until_message_id).where(
            ThreadMember.user_id == actor.user_id
        )
    ).all()
    readable: dict[int, int | None] = {
        thread_id: None if left_at is None else (until or 0) for thread_id, left_at, until in rows
    }
    if is_coordinator(actor):
        kinds = [kind.value for kind in COORDINATOR_READS]
        for thread_id in session.exec(
            select(MessageThread.id).where(col(MessageThread.kind).in_(kinds))
        ).all():
            if thread_id is not None:
                readable[thread_id] = None
    return readable
