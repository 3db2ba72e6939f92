"""Threads and their members: care teams, channels, direct conversations, broadcasts; the list
of one's conversations with unread counts.

Why get-or-create under a SAVEPOINT: a patient has one care team and a pair of users one direct
conversation (unique columns); two coordinators opening the same team at once must both land
in it, so the loser of the race catches the unique violation and reads the winner's row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import Select

from cpts_app.models.access import User
from cpts_app.models.directory import (
    Commune,
    Profession,
    Professional,
    ProfessionalCommune,
    ProfessionalStructure,
    Structure,
)
from cpts_app.models.messaging import Message, MessageMention, MessageThread, ThreadKind, ThreadMember
from cpts_app.models.patient import Patient
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.identifiers import search_key
from cpts_app.services.labels import PROFESSION_LABELS
from cpts_app.services.messaging import messages
from cpts_app.services.messaging.access import (
    is_active,
    is_coordinator,
    load_thread,
    membership,
    post_refusal,
    require_thread_reader,
)
from cpts_app.services.messaging.care_team import (
    COORDINATION,
    role_rank,
    suggested_role_label,
    validate_role_label,
)
from cpts_app.services.messaging.views import (
    MemberView,
    PostedMessage,
    ThreadSummary,
    UnreadSummary,
    UserChoice,
)
from cpts_app.services.permissions import Actor, Permission, require

PATIENT_NOT_FOUND = "Ce patient n'existe pas."
USER_UNAVAILABLE = "Cette personne n'existe pas ou son compte est désactivé."
NOT_IN_TEAM = "Cette personne ne fait pas partie de cette conversation."
NO_MEMBERS_HERE = "On ne peut pas ajouter de membre à une conversation privée ou à une annonce."
NOT_WITH_ONESELF = "Vous ne pouvez pas ouvrir une conversation avec vous-même."
TITLE_MIN, TITLE_MAX = 3, 120
BAD_TITLE = f"Le titre doit comporter entre {TITLE_MIN} et {TITLE_MAX} caractères."
BAD_TARGET_KIND = "Choisissez à qui s'adresse l'annonce : une profession, une commune ou une structure."
BAD_TARGET = "Cette cible n'existe pas."
NO_RECIPIENT = "Personne ne correspond à cette cible : aucun compte actif ne recevrait l'annonce."
Row = TypeVar("Row", bound=SQLModel)

MEMBER_KINDS = frozenset({ThreadKind.PATIENT, ThreadKind.CHANNEL})
"""Kinds of thread whose membership a coordinator manages."""

AUDIENCE_PROFESSION_LABELS: dict[Profession, str] = {
    Profession.GENERAL_PRACTITIONER: "Médecins généralistes",
    Profession.SPECIALIST: "Médecins spécialistes",
    Profession.NURSE: "Infirmiers",
    Profession.ADVANCED_PRACTICE_NURSE: "Infirmiers en pratique avancée",
    Profession.PHARMACIST: "Pharmaciens",
    Profession.PHYSIOTHERAPIST: "Masseurs-kinésithérapeutes",
    Profession.PODIATRIST: "Podologues",
    Profession.SPEECH_THERAPIST: "Orthophonistes",
    Profession.MIDWIFE: "Sages-femmes",
    Profession.BIOLOGIST: "Biologistes",
    Profession.MEDICAL_ASSISTANT: "Assistants médicaux",
    Profession.MEDICAL_SECRETARY: "Secrétaires médicales",
    Profession.CARE_COORDINATOR: "Coordinateurs de parcours",
    Profession.SOCIAL_WORKER: "Référents sociaux",
}
"""How a broadcast names its audience (« Annonce · Infirmiers »)."""


def _require_coordinator(actor: Actor) -> Actor:
    return require(actor, Permission.COORDINATE_MESSAGING)


def _get_or_create(session: Session, row: Row, find: Callable[[], Row | None]) -> tuple[Row, bool]:
    """``find()`` if it exists, else ``row`` inserted; on a concurrent insert, the winner's row."""
    existing = find()
    if existing is not None:
        return existing, False
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        existing = find()
        if existing is None:
            raise
        return existing, False
    return row, True


def _active_user(session: Session, user_id: int, field: str = "user_id") -> User:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise ValidationFailed({field: USER_UNAVAILABLE})
    return user


def _join(
    session: Session,
    actor: Actor,
    thread: MessageThread,
    user_id: int,
    role_label: str,
    *,
    can_post: bool = True,
) -> tuple[ThreadMember, bool]:
    """Make ``user_id`` a current member (reopening a former membership); ``True`` if it changed."""
    assert thread.id is not None
    thread_id = thread.id
    now = utcnow()
    fresh = ThreadMember(
        thread_id=thread_id,
        user_id=user_id,
        role_label=role_label,
        can_post=can_post,
        joined_at=now,
        added_by_user_id=actor.user_id,
    )
    member, created = _get_or_create(session, fresh, lambda: membership(session, thread_id, user_id))
    if created:
        return member, True
    changed = member.left_at is not None or member.role_label != role_label or member.can_post != can_post
    if member.left_at is not None:
        member.left_at = None
        member.access_until_message_id = None
        member.joined_at = now
        member.added_by_user_id = actor.user_id
    member.role_label = role_label
    member.can_post = can_post
    session.add(member)
    session.flush()
    return member, changed


def open_care_team(session: Session, actor: Actor, patient_id: int) -> MessageThread:
    """The patient's care-team thread, created on first use; the coordinator joins it."""
    _require_coordinator(actor)
    if session.get(Patient, patient_id) is None:
        raise NotFound(PATIENT_NOT_FOUND)
    fresh = MessageThread(kind=ThreadKind.PATIENT, patient_id=patient_id, created_by_user_id=actor.user_id)
    thread, created = _get_or_create(
        session,
        fresh,
        lambda: session.exec(select(MessageThread).where(MessageThread.patient_id == patient_id)).first(),
    )
    assert thread.id is not None
    current = membership(session, thread.id, actor.user_id)
    joined = False
    if not is_active(current):
        _, joined = _join(session, actor, thread, actor.user_id, COORDINATION)
    if created:
        audit.record(
            session,
            "messaging.care_team.create",
            actor=actor,
            target_type="message_thread",
            target_id=thread.id,
            detail={"patient_id": patient_id},
        )
    elif joined:
        _audit_member(session, actor, "messaging.member.add", thread, actor.user_id, COORDINATION)
    session.flush()
    return thread


def _audit_member(
    session: Session, actor: Actor, action: str, thread: MessageThread, user_id: int, role_label: str = ""
) -> None:
    detail: dict[str, Any] = {"user_id": user_id, "kind": str(thread.kind)}
    if role_label:
        detail["role_label"] = role_label
    if thread.patient_id is not None:
        detail["patient_id"] = thread.patient_id
    audit.record(
        session, action, actor=actor, target_type="message_thread", target_id=thread.id, detail=detail
    )


def add_member(
    session: Session, actor: Actor, thread_id: int, user_id: int, role_label: str = ""
) -> ThreadMember:
    """Add (or bring back) an active user to a care team or a channel, with a role from the
    vocabulary; an empty ``role_label`` takes the one suggested by their profession."""
    _require_coordinator(actor)
    thread = load_thread(session, thread_id)
    if ThreadKind(thread.kind) not in MEMBER_KINDS:
        raise DomainError(NO_MEMBERS_HERE)
    _active_user(session, user_id)
    label = (role_label or "").strip() or suggested_role_label(session, user_id, patient_id=thread.patient_id)
    label = validate_role_label(label)
    member, _ = _join(session, actor, thread, user_id, label)
    _audit_member(session, actor, "messaging.member.add", thread, user_id, label)
    session.flush()
    return member


def remove_member(session: Session, actor: Actor, thread_id: int, user_id: int) -> None:
    """A coordinator removes someone from a care team or channel, or a member leaves a thread.

    The row stays: ``access_until_message_id`` keeps the former member's history readable up to
    the last message posted while they belonged, and nothing after.
    """
    require(actor, Permission.USE_MESSAGING)
    thread = load_thread(session, thread_id)
    leaving = user_id == actor.user_id
    if not leaving:
        _require_coordinator(actor)
        if ThreadKind(thread.kind) not in MEMBER_KINDS:
            raise PermissionDenied()
    member = membership(session, thread_id, user_id)
    if not is_active(member):
        raise DomainError(NOT_IN_TEAM)
    assert member is not None
    member.left_at = utcnow()
    member.access_until_message_id = thread.last_message_id or 0
    session.add(member)
    session.flush()
    _audit_member(session, actor, "messaging.member.remove", thread, user_id)
    session.flush()


def _clean_title(title: str) -> str:
    cleaned = " ".join((title or "").split())
    if not TITLE_MIN <= len(cleaned) <= TITLE_MAX:
        raise ValidationFailed({"title": BAD_TITLE})
    return cleaned


def create_channel(
    session: Session, actor: Actor, title: str, member_user_ids: Sequence[int], role_label: str = ""
) -> MessageThread:
    """A team channel with its members (``role_label`` for all of them, else each one's suggested
    role); the coordinator who creates it belongs to it."""
    _require_coordinator(actor)
    cleaned = _clean_title(title)
    label = validate_role_label(role_label) if (role_label or "").strip() else ""
    others = [uid for uid in dict.fromkeys(member_user_ids) if uid != actor.user_id]
    for uid in others:
        _active_user(session, uid, "member_user_ids")
    thread = MessageThread(kind=ThreadKind.CHANNEL, title=cleaned, created_by_user_id=actor.user_id)
    session.add(thread)
    session.flush()
    _join(session, actor, thread, actor.user_id, COORDINATION)
    for uid in others:
        _join(session, actor, thread, uid, label or suggested_role_label(session, uid))
    audit.record(
        session,
        "messaging.channel.create",
        actor=actor,
        target_type="message_thread",
        target_id=thread.id,
        detail={"member_count": len(others) + 1},
    )
    session.flush()
    return thread


def open_direct(session: Session, actor: Actor, other_user_id: int) -> MessageThread:
    """The actor's private conversation with another active user, created on first use."""
    require(actor, Permission.USE_MESSAGING)
    if other_user_id == actor.user_id:
        raise ValidationFailed({"user_id": NOT_WITH_ONESELF})
    _active_user(session, other_user_id)
    low, high = sorted((actor.user_id, other_user_id))
    key = f"{low}:{high}"
    fresh = MessageThread(kind=ThreadKind.DIRECT, direct_key=key, created_by_user_id=actor.user_id)
    thread, created = _get_or_create(
        session,
        fresh,
        lambda: session.exec(select(MessageThread).where(MessageThread.direct_key == key)).first(),
    )
    changed = False
    for uid in (actor.user_id, other_user_id):
        current = membership(session, thread.id or 0, uid)
        if not is_active(current):
            _, joined = _join(session, actor, thread, uid, "")
            changed = changed or joined
    if created or changed:
        audit.record(
            session,
            "messaging.direct.open",
            actor=actor,
            target_type="message_thread",
            target_id=thread.id,
            detail={"other_user_id": other_user_id, "created": created},
        )
    session.flush()
    return thread


def _record_id(target: int | str) -> int:
    """A commune or structure id, as given by the API (int) or by a form (``"12"``)."""
    try:
        return int(str(target).strip())
    except ValueError as exc:
        raise ValidationFailed({"target_id": BAD_TARGET}) from exc


def _audience(session: Session, target_kind: str, target: int | str) -> tuple[str, Any, list[int]]:
    """Label, stored id and recipient user ids of a broadcast target (active users only)."""
    recipients = (
        select(User.id)
        .join(Professional, col(Professional.id) == User.professional_id)
        .where(col(User.active).is_(True), col(Professional.active).is_(True))
    )
    if target_kind == "profession":
        if str(target) not in {p.value for p in Profession}:
            raise ValidationFailed({"target_id": BAD_TARGET})
        profession = Profession(str(target))
        label = AUDIENCE_PROFESSION_LABELS[profession]
        query = recipients.where(Professional.profession == profession.value)
        stored: Any = profession.value
    elif target_kind == "commune":
        commune = session.get(Commune, _record_id(target))
        if commune is None:
            raise ValidationFailed({"target_id": BAD_TARGET})
        label, stored = commune.name, commune.id
        query = recipients.join(
            ProfessionalCommune, col(ProfessionalCommune.professional_id) == Professional.id
        ).where(ProfessionalCommune.commune_id == commune.id)
    elif target_kind == "structure":
        structure = session.get(Structure, _record_id(target))
        if structure is None:
            raise ValidationFailed({"target_id": BAD_TARGET})
        label, stored = structure.name, structure.id
        query = recipients.join(
            ProfessionalStructure, col(ProfessionalStructure.professional_id) == Professional.id
        ).where(ProfessionalStructure.structure_id == structure.id)
    else:
        raise ValidationFailed({"target_kind": BAD_TARGET_KIND})
    user_ids = sorted({uid for uid in session.exec(query).all() if uid is not None})
    return label, stored, user_ids


def broadcast(
    session: Session,
    actor: Actor,
    *,
    target_kind: str,
    target_id: int | str | None = None,
    target_key: str = "",
    title: str,
    text: str,
) -> tuple[MessageThread, PostedMessage]:
    """A read-only announcement to a profession, a commune or a structure, posted as its first message.

    The target is ``target_id`` (a commune or structure id, or a profession code such as
    ``"infirmier"``) or, as a form sends it, ``target_key`` (the same as text: ``"12"``, ``"infirmier"``).
    """
    _require_coordinator(actor)
    cleaned = _clean_title(title)
    messages.clean_text(text)
    target = target_key.strip() if target_key and target_key.strip() else target_id
    if target is None:
        raise ValidationFailed({"target_id": BAD_TARGET})
    label, stored, user_ids = _audience(session, target_kind, target)
    recipients = [uid for uid in user_ids if uid != actor.user_id]
    if not recipients:
        raise ValidationFailed({"target_id": NO_RECIPIENT})
    audience = json.dumps({"kind": target_kind, "id": stored, "label": label}, ensure_ascii=False)
    thread = MessageThread(
        kind=ThreadKind.BROADCAST, title=cleaned, audience=audience, created_by_user_id=actor.user_id
    )
    session.add(thread)
    session.flush()
    _join(session, actor, thread, actor.user_id, COORDINATION)
    session.add_all(
        ThreadMember(
            thread_id=thread.id,
            user_id=uid,
            can_post=False,
            joined_at=thread.created_at,
            added_by_user_id=actor.user_id,
        )
        for uid in recipients
    )
    session.flush()
    audit.record(
        session,
        "messaging.broadcast",
        actor=actor,
        target_type="message_thread",
        target_id=thread.id,
        detail={"target_kind": target_kind, "target_id": stored, "recipient_count": len(recipients)},
    )
    assert thread.id is not None
    posted = messages.post_message(session, actor, thread.id, text)
    return thread, posted


def audience_label(thread: MessageThread) -> str:
    """The broadcast's audience as stored at sending (« Infirmiers », « Beaucaire »…)."""
    try:
        return str(json.loads(thread.audience or "{}").get("label", ""))
    except (ValueError, AttributeError):
        return ""


def patient_title(patient: Patient | None) -> str:
    """« DURAND Marie »: the name in use (else birth name) in capitals, then the first first name."""
    if patient is None:
        return "Patient"
    first = (patient.first_names or "").split()
    return " ".join([(patient.used_name or patient.birth_name).upper(), *first[:1]])


def _members_label(count: int) -> str:
    return f"{count} membre" if count == 1 else f"{count} membres"


def _unread_query(actor: Actor, thread_ids: Iterable[int] | None = None) -> Select[tuple[int, int]]:
    """Grouped unread counts over the actor's active memberships (one query for any number)."""
    query = (
        select(Message.thread_id, func.count(col(Message.id)))
        .join(
            ThreadMember,
            and_(
                col(ThreadMember.thread_id) == Message.thread_id,
                col(ThreadMember.user_id) == actor.user_id,
                col(ThreadMember.left_at).is_(None),
            ),
        )
        .where(
            col(Message.id) > ThreadMember.last_read_message_id,
            col(Message.author_user_id) != actor.user_id,
            col(Message.deleted_at).is_(None),
        )
        .group_by(col(Message.thread_id))
    )
    if thread_ids is not None:
        query = query.where(col(Message.thread_id).in_(list(thread_ids)))
    return query


def _mention_query(actor: Actor, thread_ids: Iterable[int] | None = None) -> Select[tuple[int, int]]:
    """The unread messages that mention the actor, grouped per thread."""
    return _unread_query(actor, thread_ids).join(
        MessageMention,
        and_(col(MessageMention.message_id) == Message.id, col(MessageMention.user_id) == actor.user_id),
    )


def list_threads(
    session: Session,
    actor: Actor,
    *,
    kind: str | None = None,
    include_all_patient_threads: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[ThreadSummary]:
    """The actor's conversations (current and former), latest activity first, with unread counts.

    ``include_all_patient_threads`` (coordinators) adds the patient threads they do not belong to.
    A constant number of queries whatever the number of threads.
    """
    require(actor, Permission.USE_MESSAGING)
    if include_all_patient_threads and not is_coordinator(actor):
        raise PermissionDenied()
    joined = and_(col(ThreadMember.thread_id) == MessageThread.id, col(ThreadMember.user_id) == actor.user_id)
    visible = col(ThreadMember.id).is_not(None)
    if include_all_patient_threads:
        visible = or_(visible, col(MessageThread.kind) == ThreadKind.PATIENT.value)
    activity = func.coalesce(col(MessageThread.last_message_at), col(MessageThread.created_at))
    query = select(MessageThread, ThreadMember).outerjoin(ThreadMember, joined).where(visible)
    if kind:
        query = query.where(col(MessageThread.kind) == kind)
    rows = session.exec(
        query.order_by(activity.desc(), col(MessageThread.id).desc())
        .offset(max(0, offset))
        .limit(max(1, limit))
    ).all()
    return _summaries(session, actor, list(rows))


def thread_summary(session: Session, actor: Actor, thread_id: int) -> ThreadSummary:
    """One thread as the list shows it (title, subtitle, unread, rights), for its reader."""
    thread, _ = require_thread_reader(session, actor, thread_id)
    # The row itself, not the reading bound: a coordinator who left still shows as « left ».
    return _summaries(session, actor, [(thread, membership(session, thread_id, actor.user_id))])[0]


def _summaries(
    session: Session, actor: Actor, rows: list[tuple[MessageThread, ThreadMember | None]]
) -> list[ThreadSummary]:
    """Summaries of ``rows`` (thread, the actor's membership) with a constant number of queries."""
    if not rows:
        return []
    coordinator = is_coordinator(actor)
    ids = [thread.id for thread, _ in rows if thread.id is not None]
    counts = dict(
        session.exec(
            select(ThreadMember.thread_id, func.count(col(ThreadMember.id)))
            .where(col(ThreadMember.thread_id).in_(ids), col(ThreadMember.left_at).is_(None))
            .group_by(col(ThreadMember.thread_id))
        ).all()
    )
    patient_ids = [thread.patient_id for thread, _ in rows if thread.patient_id is not None]
    patients = (
        {p.id: p for p in session.exec(select(Patient).where(col(Patient.id).in_(patient_ids))).all()}
        if patient_ids
        else {}
    )
    direct_ids = [thread.id for thread, _ in rows if thread.kind == ThreadKind.DIRECT]
    others = (
        dict(
            session.exec(
                select(ThreadMember.thread_id, User.display_name)
                .join(User, col(User.id) == ThreadMember.user_id)
                .where(col(ThreadMember.thread_id).in_(direct_ids), ThreadMember.user_id != actor.user_id)
            ).all()
        )
        if direct_ids
        else {}
    )
    unread = dict(session.exec(_unread_query(actor, ids)).all())
    mentions = dict(session.exec(_mention_query(actor, ids)).all())
    summaries: list[ThreadSummary] = []
    for thread, member in rows:
        assert thread.id is not None
        kind_ = ThreadKind(thread.kind)
        n = counts.get(thread.id, 0)
        if kind_ == ThreadKind.PATIENT:
            title, subtitle = (
                patient_title(patients.get(thread.patient_id)),
                f"Équipe de soins · {_members_label(n)}",
            )
        elif kind_ == ThreadKind.DIRECT:
            title, subtitle = others.get(thread.id, "Conversation privée"), "Conversation privée"
        elif kind_ == ThreadKind.CHANNEL:
            title, subtitle = thread.title or "Canal", f"Canal d'équipe · {_members_label(n)}"
        else:
            title, subtitle = thread.title or "Annonce", f"Annonce · {audience_label(thread)}"
        summaries.append(
            ThreadSummary(
                id=thread.id,
                kind=kind_.value,
                title=title,
                subtitle=subtitle,
                last_message_at=thread.last_message_at,
                unread=unread.get(thread.id, 0),
                mentions_unread=mentions.get(thread.id, 0),
                is_member=is_active(member),
                can_post=post_refusal(thread, member, coordinator) is None,
                left=member is not None and member.left_at is not None,
            )
        )
    return summaries


def unread_counts(session: Session, actor: Actor) -> UnreadSummary:
    """Unread messages and unread mentions over the actor's current memberships (two queries)."""
    require(actor, Permission.USE_MESSAGING)
    by_thread = {thread_id: n for thread_id, n in session.exec(_unread_query(actor)).all() if n}
    mentions = sum(n for _, n in session.exec(_mention_query(actor)).all())
    return UnreadSummary(total=sum(by_thread.values()), mentions=mentions, by_thread=by_thread)


def care_team(session: Session, actor: Actor, thread_id: int) -> list[MemberView]:
    """The thread's members, current ones first (by role, then name), then former ones."""
    require_thread_reader(session, actor, thread_id)
    rows = session.exec(
        select(ThreadMember, User.display_name, Professional.profession)
        .join(User, col(User.id) == ThreadMember.user_id)
        .outerjoin(Professional, col(Professional.id) == User.professional_id)
        .where(ThreadMember.thread_id == thread_id)
    ).all()
    views = [
        MemberView(
            user_id=member.user_id,
            name=name,
            role_label=member.role_label,
            profession=PROFESSION_LABELS.get(Profession(profession), "") if profession else "",
            joined_at=member.joined_at,
            left_at=member.left_at,
            can_post=member.can_post,
        )
        for member, name, profession in rows
    ]
    return sorted(views, key=lambda v: (v.left_at is not None, role_rank(v.role_label), search_key(v.name)))


def candidate_users(session: Session, actor: Actor, query: str, limit: int = 20) -> list[UserChoice]:
    """Active users whose name contains every word of ``query`` (accents and case ignored).

    Why in Python: display names have no stored search key, and a territory's accounts (a few
    thousand at most) fit in one narrow query; the result is the same on SQLite and PostgreSQL.
    """
    require(actor, Permission.USE_MESSAGING)
    words = search_key(query).split()
    rows = session.exec(
        select(User.id, User.display_name, Professional.id, Professional.profession, Professional.search_name)
        .outerjoin(Professional, col(Professional.id) == User.professional_id)
        .where(col(User.active).is_(True), User.id != actor.user_id)
    ).all()
    matches = [
        (search_key(name), user_id, name, professional_id, profession)
        for user_id, name, professional_id, profession, professional_key in rows
        if user_id is not None and all(w in f"{search_key(name)} {professional_key or ''}" for w in words)
    ]
    matches.sort(key=lambda m: (m[0], m[1]))
    matches = matches[: max(1, limit)]
    professional_ids = [m[3] for m in matches if m[3] is not None]
    communes: dict[int, str] = {}
    if professional_ids:
        for professional_id, name in session.exec(
            select(ProfessionalCommune.professional_id, Commune.name)
            .join(Commune, col(Commune.id) == ProfessionalCommune.commune_id)
            .where(col(ProfessionalCommune.professional_id).in_(professional_ids))
            .order_by(col(Commune.name))
        ).all():
            communes.setdefault(professional_id, name)
    choices: list[UserChoice] = []
    for _, user_id, name, professional_id, profession in matches:
        parts = [PROFESSION_LABELS.get(Profession(profession), "")] if profession else []
        if professional_id in communes:
            parts.append(communes[professional_id])
        choices.append(UserChoice(user_id=user_id, name=name, detail=" · ".join(p for p in parts if p)))
    return choices
