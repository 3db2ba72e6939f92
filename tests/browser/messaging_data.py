"""Care teams and accounts put into the running app's database for the messaging tests."""

from __future__ import annotations

import secrets

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from cpts_app.models.access import Role, User
from cpts_app.models.directory import Profession, Professional
from cpts_app.models.messaging import Message
from cpts_app.models.patient import Patient
from cpts_app.services import authentication
from cpts_app.services.messaging import threads
from cpts_app.services.permissions import Actor


def actor_of(session: Session, email: str) -> Actor:
    user = session.exec(select(User).where(User.email == email)).one()
    return Actor(
        user_id=user.id, role=user.role, display_name=user.display_name, professional_id=user.professional_id
    )


def user_id_of(engine: Engine, email: str) -> int:
    with Session(engine) as s:
        return s.exec(select(User.id).where(User.email == email)).one()


def physiotherapist_account(engine: Engine) -> tuple[str, str]:
    """A kinésithérapeute of the directory with an account, outside every care team."""
    email, password = f"kine-{secrets.token_hex(3)}@demo-cpts.fr", "Test-Kine-2026!"
    with Session(engine) as s:
        pro = s.exec(
            select(Professional)
            .where(Professional.profession == Profession.PHYSIOTHERAPIST)
            .order_by(Professional.id)
        ).first()
        assert pro is not None
        authentication.create_user(
            s,
            email=email,
            password=password,
            role=Role.PROFESSIONAL,
            display_name=f"{pro.first_name} {pro.last_name}",
            professional_id=pro.id,
        )
        s.commit()
    return email, password


def care_team(engine: Engine, *, member_emails: dict[str, str]) -> tuple[int, str]:
    """A new patient's care team opened by the coordinator, with the given members and roles.

    Returns the thread id and the patient's name as the thread shows it.
    """
    with Session(engine) as s:
        coordinator = actor_of(s, "coordination@demo-cpts.fr")
        patient = s.exec(
            select(Patient).where(~Patient.id.in_(select_patient_threads())).order_by(Patient.id)
        ).first()
        assert patient is not None
        thread = threads.open_care_team(s, coordinator, patient.id)
        for email, role in member_emails.items():
            threads.add_member(s, coordinator, thread.id, user_id_of(engine, email), role)
        s.commit()
        return thread.id, patient.birth_name.upper()


def select_patient_threads():
    from cpts_app.models.messaging import MessageThread

    return select(MessageThread.patient_id).where(MessageThread.patient_id.is_not(None))


def message_count(engine: Engine, thread_id: int) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(Message).where(Message.thread_id == thread_id)).one()
