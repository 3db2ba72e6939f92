"""The demo's messaging: two care teams, the médicobus channel and an announcement to the
pharmacists, written through the real services (sealed bodies, search index, audit events)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from cpts_app.models.access import User
from cpts_app.models.messaging import Message, MessageThread, ThreadMember
from cpts_app.models.orientation import Referral
from cpts_app.models.patient import Patient
from cpts_app.services.messaging import messages, threads
from cpts_app.services.permissions import Actor

COORDINATION = "coordination@demo-cpts.fr"
DOCTOR = "medecin@demo-cpts.fr"
PHARMACIST = "pharmacie@demo-cpts.fr"
MEDICOBUS = "medicobus@demo-cpts.fr"

_CARE_TEAM_MESSAGES = (
    (
        COORDINATION,
        "Sortie d'hospitalisation prévue jeudi. Points à suivre :\n"
        "- ordonnance de sortie à renouveler\n- passage infirmier à domicile pour le pansement\n"
        "- rendez-vous de contrôle sous 7 jours",
    ),
    (DOCTOR, "Je la vois en consultation lundi matin. Merci de m'envoyer le compte rendu d'hospitalisation."),
    (PHARMACIST, "Traitement délivré ce matin ; attention à l'interaction avec l'anticoagulant signalée."),
)
_CHANNEL_MESSAGES = (
    (MEDICOBUS, "Tournée de mardi : le bus sera à Vallabrègues de 9 h à 12 h puis à Comps l'après-midi."),
    (
        COORDINATION,
        "Merci ! Trois patients sans médecin traitant orientés vers la permanence de Vallabrègues.",
    ),
)
_ANNOUNCEMENT = (
    "Campagne de vaccination antigrippale : les bons de prise en charge arrivent en officine cette semaine.\n"
    "Protocole et affiche : https://www.ameli.fr"
)


def _actor(session: Session, email: str) -> Actor | None:
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None or user.id is None:
        return None
    return Actor(
        user_id=user.id, role=user.role, display_name=user.display_name, professional_id=user.professional_id
    )


def _backdate(session: Session, message_id: int, at: datetime) -> None:
    message = session.get(Message, message_id)
    if message is not None:
        message.created_at = at
        thread = session.get(MessageThread, message.thread_id)
        if thread is not None:
            thread.last_message_at = at


def _post_all(session: Session, thread_id: int, lines, actors: dict[str, Actor], start: datetime) -> None:
    for index, (email, text) in enumerate(lines):
        posted = messages.post_message(session, actors[email], thread_id, text)
        _backdate(session, posted.message_id, start + timedelta(minutes=37 * index))


def load_demo_messaging(session: Session, *, now: datetime) -> int:
    """Add the demo threads once (nothing if any thread exists); returns how many were created."""
    if session.exec(select(MessageThread.id).limit(1)).first() is not None:
        return 0
    emails = (COORDINATION, DOCTOR, PHARMACIST, MEDICOBUS)
    actors = {email: actor for email in emails if (actor := _actor(session, email)) is not None}
    if set(actors) != set(emails):
        return 0  # accounts renamed by an operator: no demo messaging rather than a partial one
    coordinator = actors[COORDINATION]
    created = 0
    oriented = session.exec(
        select(Patient.id).join(Referral, Referral.patient_id == Patient.id).order_by(Patient.id).limit(2)
    ).all()
    for offset, patient_id in enumerate(oriented):
        thread = threads.open_care_team(session, coordinator, patient_id)
        threads.add_member(session, coordinator, thread.id, actors[DOCTOR].user_id, "Médecin traitant")
        threads.add_member(session, coordinator, thread.id, actors[PHARMACIST].user_id, "Pharmacien(ne)")
        _post_all(session, thread.id, _CARE_TEAM_MESSAGES, actors, now - timedelta(days=2 + offset, hours=3))
        created += 1
    channel = threads.create_channel(
        session, coordinator, "Médicobus", [actors[MEDICOBUS].user_id, actors[DOCTOR].user_id]
    )
    _post_all(session, channel.id, _CHANNEL_MESSAGES, actors, now - timedelta(days=1, hours=5))
    created += 1
    thread, posted = threads.broadcast(
        session,
        coordinator,
        target_kind="profession",
        target_key="pharmacien",
        title="Vaccination antigrippale",
        text=_ANNOUNCEMENT,
    )
    _backdate(session, posted.message_id, now - timedelta(hours=20))
    created += 1
    # A demo from the past: everything already read, so that no digest goes out at start.
    for member in session.exec(select(ThreadMember)).all():
        last = session.get(MessageThread, member.thread_id)
        if last is not None and last.last_message_id:
            member.last_read_message_id = member.digest_through_message_id = last.last_message_id
    session.flush()
    return created
