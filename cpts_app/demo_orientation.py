"""The demo's orientation activity: three months of referrals, played through the real services.

Why played and not inserted: the indicators page computes its figures from the timestamps each
step leaves (``received_at``, ``first_contact_at``, ``oriented_at``, the ``ReferralEvent`` rows,
the appointments); calling ``refer``, ``self_signal``, ``ingest_message``, ``qualify``,
``record_contact_attempt``, ``record_attending_doctor`` and ``close`` with ``now=`` the moment of
each step makes those figures true by construction (a first contact after 48 h is a real miss, a
médecin traitant found takes a real place of that GP's capacity). A few things are written
directly, with the same timestamps: appointments before ``now`` (the agenda only generates future
slots, so a past consultation is an ``Appointment`` row without slot, oriented by
``orient_to_appointment`` and then marked fulfilled or no-show; a consultation still to come is
booked on a real slot by ``book_for_referral``), the source of the referrals that emergency
doctors phone in (they are not in the CPTS directory, so ``refer`` records the coordinator's call
as « autre professionnel ») and the professionals' patients (``demo_orientation_people``).

About 130 referrals start before the last week and are mostly over (oriented and closed,
injoignable, refusée);
``OPEN_SCENARIOS`` then fills the coordinator's queue as it stands at ``now``: recent referrals,
some overdue, some « à qualifier » from e-mails kept encrypted. Deterministic for a given ``now``
(one seeded ``random.Random``, rows in a fixed order) and idempotent (nothing is done once any
referral exists).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import Session, col, select

from cpts_app.demo_orientation_mail import MailStyle, build_email
from cpts_app.demo_orientation_people import PeopleFactory, Person
from cpts_app.models import (
    Appointment,
    AppointmentStatus,
    Profession,
    Professional,
    Referral,
    ReferralReason,
    ReferralSource,
    ReferralStatus,
    Role,
    Slot,
    SlotKind,
    SlotStatus,
    Urgency,
    User,
)
from cpts_app.services.agenda.clock import PARIS, paris_at, paris_day
from cpts_app.services.orientation import email_intake, workflow
from cpts_app.services.orientation.attending_doctor import find_attending_doctors
from cpts_app.services.orientation.labels import REASON_LABELS, label
from cpts_app.services.orientation.referrals import ReferralForm, SelfSignalForm, refer, self_signal
from cpts_app.services.permissions import Actor

ORIENTATION_SEED = 20230106 + 11
"""Distinct from the directory's and the agenda's seeds: adding referrals reshuffles neither."""
HISTORY_COUNT = 130
HISTORY_DAYS = 91
RECENT_DAYS = 7
"""The history ends a week before ``now``; the last week belongs to ``OPEN_SCENARIOS``."""
COORDINATOR_EMAIL = "coordination@demo-cpts.fr"
PHARMACIST_EMAIL = "pharmacie@demo-cpts.fr"
GP_EMAIL = "medecin@demo-cpts.fr"

R = ReferralReason
U = Urgency


class Channel(StrEnum):
    """How a referral reaches the pôle (which service creates it, as whom)."""

    PHARMACIST_USER = "pharmacienne de la démo"
    """The demo pharmacist's own account (« mes demandes » shows them)."""
    PHARMACY_PHONE = "officine au téléphone"
    NURSE = "infirmier au téléphone"
    EMERGENCY = "urgentiste"
    GP_USER = "médecin de la démo"
    FORM = "formulaire"
    EMAIL = "courriel"


class Outcome(StrEnum):
    APPOINTMENT = "rendez-vous"
    DOCTOR = "médecin traitant"
    UNREACHABLE = "injoignable"
    REFUSED = "refusée"
    CLOSED = "clôturée"


class Stop(StrEnum):
    """Where an open scenario stands at ``now``."""

    RECEIVED = "reçue"
    QUALIFIED = "qualifiée"
    TRYING = "tentatives sans réponse"
    REACHED = "patient joint"
    BOOKED = "rendez-vous pris"


_CHANNEL_WEIGHTS: dict[Channel, int] = {
    Channel.PHARMACIST_USER: 14,
    Channel.PHARMACY_PHONE: 16,
    Channel.NURSE: 20,
    Channel.EMERGENCY: 14,
    Channel.GP_USER: 5,
    Channel.FORM: 18,
    Channel.EMAIL: 13,
}
_REASONS: dict[Channel, dict[ReferralReason, int]] = {
    Channel.PHARMACIST_USER: {R.TREATMENT_RENEWAL: 38, R.CHRONIC_ALD: 22, R.FIND_ATTENDING_DOCTOR: 25,
                              R.UNSCHEDULED_CARE: 15},
    Channel.PHARMACY_PHONE: {R.TREATMENT_RENEWAL: 38, R.CHRONIC_ALD: 22, R.FIND_ATTENDING_DOCTOR: 25,
                             R.UNSCHEDULED_CARE: 15},
    Channel.NURSE: {R.CHRONIC_ALD: 35, R.HOSPITAL_DISCHARGE: 35, R.TREATMENT_RENEWAL: 15,
                    R.FIND_ATTENDING_DOCTOR: 15},
    Channel.EMERGENCY: {R.FOLLOW_UP: 65, R.HOSPITAL_DISCHARGE: 10, R.UNSCHEDULED_CARE: 25},
    Channel.GP_USER: {R.FIND_ATTENDING_DOCTOR: 60, R.CHRONIC_ALD: 40},
    Channel.FORM: {R.FIND_ATTENDING_DOCTOR: 45, R.UNSCHEDULED_CARE: 20, R.TREATMENT_RENEWAL: 20,
                   R.CHRONIC_ALD: 15},
    Channel.EMAIL: {R.FIND_ATTENDING_DOCTOR: 55, R.CHRONIC_ALD: 15, R.TREATMENT_RENEWAL: 15,
                    R.HOSPITAL_DISCHARGE: 10, R.FOLLOW_UP: 5},
}  # fmt: skip
_GENERATION: dict[ReferralReason, str | None] = {
    R.CHRONIC_ALD: "older",
    R.HOSPITAL_DISCHARGE: "older",
}

_FREE_TEXTS: dict[ReferralReason, tuple[str, ...]] = {
    R.CHRONIC_ALD: (
        "Diabète de type 2 en ALD, plus de suivi depuis le départ de son médecin ; "
        "HbA1c non faite depuis un an.",
        "Insuffisance cardiaque en ALD, traitement à adapter ; ne conduit plus, habite seul(e).",
        "BPCO en ALD, oxygène à domicile ; cherche un médecin pour le suivi et les renouvellements.",
    ),
    R.HOSPITAL_DISCHARGE: (
        "Sortie du CHU de Nîmes après une pose de prothèse de hanche ; consultation à prévoir sous 15 jours.",
        "Retour à domicile après une décompensation cardiaque ; pas de médecin traitant.",
        "Sortie de clinique après une chute ; pansements à domicile, bilan sanguin à contrôler.",
    ),
    R.TREATMENT_RENEWAL: (
        "Ordonnance de traitement antihypertenseur terminée ; dépannage fait à l'officine pour trois jours.",
        "Renouvellement du traitement de la thyroïde, ordonnance expirée, médecin parti à la retraite.",
        "Traitement anticoagulant à renouveler, dernière ordonnance de plus d'un an.",
    ),
    R.FOLLOW_UP: (
        "Vu(e) aux urgences du CHU de Nîmes pour une entorse de cheville ; contrôle à J7 demandé.",
        "Passage à la maison médicale de garde pour une pneumopathie ; réévaluation à 48 h.",
        "Téléconsultation pour une infection urinaire ; contrôle demandé après l'antibiothérapie.",
    ),
    R.UNSCHEDULED_CARE: (
        "Fièvre et toux depuis trois jours, pas de médecin disponible ; besoin de consulter aujourd'hui.",
        "Plaie de la main à revoir aujourd'hui, pas de médecin traitant.",
        "Douleurs abdominales depuis hier soir, pas de médecin joignable.",
    ),
    R.FIND_ATTENDING_DOCTOR: (
        "Sans médecin traitant depuis le départ en retraite de son médecin ; "
        "aucun cabinet ne prend de patients.",
        "Arrivé(e) récemment sur la commune, n'a pas pu déclarer de médecin traitant.",
        "Médecin traitant décédé il y a six mois ; traitement en cours renouvelé par dépannage.",
    ),
}
_FORM_MESSAGES: dict[ReferralReason, str] = {
    R.FIND_ATTENDING_DOCTOR: "Bonjour, je cherche un médecin traitant, aucun cabinet ne prend de patients.",
    R.UNSCHEDULED_CARE: "Bonjour, j'ai besoin de voir un médecin aujourd'hui, je n'en trouve pas.",
    R.TREATMENT_RENEWAL: "Mon ordonnance se termine et je n'ai pas de médecin pour la renouveler.",
    R.CHRONIC_ALD: "Je suis en ALD et je n'ai plus de médecin pour mon suivi.",
    R.HOSPITAL_DISCHARGE: "Je sors de l'hôpital et je dois voir un médecin rapidement.",
    R.FOLLOW_UP: "On m'a dit aux urgences de voir un médecin pour le suivi.",
}
_EMERGENCY_DOCTORS = (
    "Dr Hélène Vasseur, urgences du CHU de Nîmes",
    "Dr Karim Benali, urgences du CHU de Nîmes",
    "Dr Paul Ferrand, maison médicale de garde de Beaucaire",
)
_CLOSING: dict[Outcome, tuple[str, ...]] = {
    Outcome.APPOINTMENT: (
        "Rendez-vous honoré : le patient est pris en charge.",
        "Consultation faite ; suivi organisé par le médecin.",
    ),
    Outcome.DOCTOR: ("Médecin traitant déclaré : la boucle est fermée.",),
    Outcome.UNREACHABLE: (
        "Trois tentatives sans réponse (appels et SMS).",
        "Numéro erroné et aucune autre coordonnée.",
    ),
    Outcome.REFUSED: (
        "Le patient a trouvé un médecin par ses propres moyens.",
        "Le patient ne souhaite pas être orienté pour le moment.",
        "Patient domicilié hors du territoire : orienté vers la CPTS voisine.",
    ),
    Outcome.CLOSED: (
        "Patient hospitalisé entre-temps : demande sans objet.",
        "Doublon d'une demande déjà traitée.",
    ),
}
_NO_SHOW = "Patient absent au rendez-vous ; informé par SMS qu'il peut refaire une demande."
_REACHED_NOTES = (
    "Patient joint, d'accord pour être orienté.",
    "Jointe, disponible en matinée.",
    "Joint, souhaite un cabinet proche de chez lui.",
    "",
)


@dataclass(frozen=True)
class OpenScenario:
    """One referral of the queue as it stands at ``now``."""

    hours_ago: float
    channel: Channel
    reason: ReferralReason
    urgency: Urgency
    stop: Stop
    generation: str = "adult"
    flags: tuple[str, ...] = ()
    """Patient traits forced on: ``ald``, ``css``, ``ame``, ``handicap``, ``sans_medecin``."""
    mail: MailStyle = MailStyle.PLAIN


OPEN_SCENARIOS: tuple[OpenScenario, ...] = (
    OpenScenario(3, Channel.PHARMACIST_USER, R.CHRONIC_ALD, U.SCHEDULED, Stop.RECEIVED, "older",
                 ("ald", "sans_medecin")),
    OpenScenario(56, Channel.NURSE, R.HOSPITAL_DISCHARGE, U.WITHIN_48H, Stop.RECEIVED, "older",
                 ("handicap", "sans_medecin")),
    OpenScenario(50, Channel.FORM, R.FIND_ATTENDING_DOCTOR, U.SCHEDULED, Stop.RECEIVED, "adult", ("css",)),
    OpenScenario(5, Channel.EMAIL, R.CHRONIC_ALD, U.SCHEDULED, Stop.RECEIVED, "older", ("ald",)),
    OpenScenario(20, Channel.EMAIL, R.FIND_ATTENDING_DOCTOR, U.SCHEDULED, Stop.RECEIVED,
                 mail=MailStyle.BROKEN),
    OpenScenario(30, Channel.EMAIL, R.HOSPITAL_DISCHARGE, U.SCHEDULED, Stop.RECEIVED, "older",
                 mail=MailStyle.FORWARDED),
    OpenScenario(2, Channel.EMERGENCY, R.FOLLOW_UP, U.HALF_DAY, Stop.RECEIVED),
    OpenScenario(96, Channel.PHARMACIST_USER, R.TREATMENT_RENEWAL, U.WITHIN_48H, Stop.TRYING, "older"),
    OpenScenario(72, Channel.NURSE, R.CHRONIC_ALD, U.SCHEDULED, Stop.REACHED, "older",
                 ("ald", "css", "sans_medecin")),
    OpenScenario(120, Channel.GP_USER, R.FIND_ATTENDING_DOCTOR, U.SCHEDULED, Stop.BOOKED, "adult",
                 ("handicap", "sans_medecin")),
    OpenScenario(26, Channel.EMERGENCY, R.FOLLOW_UP, U.WITHIN_48H, Stop.BOOKED, "young"),
    OpenScenario(60, Channel.PHARMACY_PHONE, R.FIND_ATTENDING_DOCTOR, U.SCHEDULED, Stop.RECEIVED, "adult",
                 ("ame", "sans_medecin")),
    OpenScenario(1.5, Channel.FORM, R.UNSCHEDULED_CARE, U.HALF_DAY, Stop.RECEIVED, "young"),
    OpenScenario(75, Channel.EMAIL, R.FIND_ATTENDING_DOCTOR, U.SCHEDULED, Stop.QUALIFIED, "adult",
                 mail=MailStyle.HTML),
)  # fmt: skip
"""The queue at ``now``: top priorities (ALD, age ≥ 70), overdue first contacts (> 48 h),
« à qualifier » e-mails (one unreadable), attempts without answer, appointments booked."""


@dataclass
class _Plan:
    """One referral's story, drawn before it is played."""

    channel: Channel
    reason: ReferralReason
    urgency: Urgency
    received: datetime
    person: Person
    qualify_after: float | None = None
    """Hours after receipt (self-signals and e-mails); None: still « à qualifier »."""
    contact_after: float | None = None
    """Hours after receipt of the first attempt; None: nobody called yet."""
    failed_attempts: int = 0
    outcome: Outcome | None = None
    """None: the story stops after the contact (still in the queue)."""
    book_future: bool = False
    mail: MailStyle = MailStyle.PLAIN
    patient_id: int | None = None
    """A professional's patient, recorded before the story is played (``_Story.record_patients``)."""
    actor: Actor | None = None
    """Who types a professional's referral (chosen with its patient)."""


@dataclass(frozen=True)
class _Cast:
    coordinator: Actor
    pharmacist: Actor | None
    gp: Actor | None
    nurses: list[int]
    pharmacists: list[int]


def load_demo_referrals(session: Session, *, now: datetime) -> int:
    """Play the demo's referrals up to ``now``; returns how many were created (0 if any existed).

    Needs the demo directory, its accounts and (for the bookings of the open queue) its agenda;
    flushes, does not commit. E-mails are sealed with the master key of ``settings.secrets_dir``.
    """
    if session.exec(select(Referral.id).limit(1)).first() is not None:
        return 0
    cast = _cast(session)
    if cast is None:
        return 0
    rng = random.Random(ORIENTATION_SEED)
    story = _Story(session, rng, now, cast, PeopleFactory(session, rng, paris_day(now)))
    plans = [_history_plan(rng, now, story.people) for _ in range(HISTORY_COUNT)]
    plans.sort(key=lambda plan: plan.received)
    plans += [_open_plan(rng, now, scenario, story.people) for scenario in OPEN_SCENARIOS]
    story.record_patients(plans)
    for plan in plans:
        story.play(plan)
    session.flush()
    return len(plans)


def referral_counts(session: Session) -> dict[str, int]:
    """Referrals per status value (for the CLI's summary)."""
    rows = session.exec(select(Referral.status, func.count(col(Referral.id))).group_by(Referral.status)).all()
    return {str(status): count for status, count in rows}


# --- the cast ------------------------------------------------------------------------------------


def _actor(user: User) -> Actor:
    assert user.id is not None
    return Actor(
        user_id=user.id,
        role=Role(user.role),
        display_name=user.display_name,
        professional_id=user.professional_id,
    )


def _cast(session: Session) -> _Cast | None:
    users = {u.email: u for u in session.exec(select(User).order_by(col(User.id)))}
    coordinator = users.get(COORDINATOR_EMAIL)
    if coordinator is None:
        return None
    pharmacist = users.get(PHARMACIST_EMAIL)

    def ids(profession: Profession) -> list[int]:
        query = select(Professional.id).where(col(Professional.profession) == profession.value)
        return [i for i in session.exec(query.order_by(col(Professional.id))) if i is not None]

    own_pharmacy = pharmacist.professional_id if pharmacist else None
    return _Cast(
        coordinator=_actor(coordinator),
        pharmacist=_actor(pharmacist) if pharmacist and pharmacist.professional_id else None,
        gp=_actor(users[GP_EMAIL]) if GP_EMAIL in users and users[GP_EMAIL].professional_id else None,
        nurses=ids(Profession.NURSE),
        pharmacists=[i for i in ids(Profession.PHARMACIST) if i != own_pharmacy],
    )


# --- drawing the plans (pure) --------------------------------------------------------------------


def _urgency(rng: random.Random, reason: ReferralReason) -> Urgency:
    if reason == R.UNSCHEDULED_CARE:
        return U.HALF_DAY
    weights = {
        R.FOLLOW_UP: (40, 50, 10),
        R.HOSPITAL_DISCHARGE: (0, 75, 25),
        R.TREATMENT_RENEWAL: (0, 50, 50),
        R.CHRONIC_ALD: (0, 25, 75),
        R.FIND_ATTENDING_DOCTOR: (0, 5, 95),
    }[reason]
    return rng.choices((U.HALF_DAY, U.WITHIN_48H, U.SCHEDULED), weights=weights)[0]


def _received_at(rng: random.Random, now: datetime, channel: Channel) -> datetime:
    """A moment of the history window when this channel writes (patients write at night too)."""
    today = paris_day(now)
    while True:
        day = today - timedelta(days=rng.randint(RECENT_DAYS, HISTORY_DAYS))
        weekday = day.weekday()
        if channel in (Channel.FORM, Channel.EMAIL):
            minute = rng.randint(7 * 60, 23 * 60 - 1)
            break
        if weekday == 6 or (
            weekday == 5 and channel not in (Channel.PHARMACIST_USER, Channel.PHARMACY_PHONE)
        ):
            continue
        minute = rng.randint(8 * 60 + 30, (12 if weekday == 5 else 19) * 60)
        break
    return paris_at(day, time(minute // 60, minute % 60))


def _is_half_day(reason: ReferralReason, urgency: Urgency) -> bool:
    return urgency == U.HALF_DAY or reason == R.UNSCHEDULED_CARE


def _outcome(rng: random.Random, reason: ReferralReason, urgency: Urgency, person: Person) -> Outcome:
    """A same-day need ends in a consultation (or nothing); a search for a doctor mostly in one."""
    if _is_half_day(reason, urgency):
        weights = (88, 0, 4, 5, 3)
    elif reason == R.FIND_ATTENDING_DOCTOR:
        weights = (14, 62, 10, 10, 4)
    elif person.without_attending_doctor:
        weights = (50, 30, 8, 7, 5)
    else:
        weights = (78, 0, 9, 7, 6)
    return rng.choices(list(Outcome), weights=weights)[0]


def _first_contact_hours(rng: random.Random, urgency: Urgency, reason: ReferralReason) -> float:
    """Hours to the first attempt: mostly the same day, and some misses of the 48 h commitment."""
    if _is_half_day(reason, urgency):
        return rng.uniform(0.2, 1.5) if rng.random() < 0.85 else rng.uniform(3, 10)
    band = rng.choices(((0.5, 8), (8, 30), (30, 46), (50, 110)), weights=(55, 25, 8, 12))[0]
    return rng.uniform(*band)


def _person_for(people: PeopleFactory, reason: ReferralReason) -> Person:
    """Older people for ALD and hospital discharges (most of the time), anyone otherwise."""
    return people.person(
        generation=_GENERATION.get(reason) if people.rng.random() < 0.6 else None,
        ald=True if reason == R.CHRONIC_ALD else None,
        without_attending_doctor=True if reason == R.FIND_ATTENDING_DOCTOR else None,
    )


def _history_plan(rng: random.Random, now: datetime, people: PeopleFactory) -> _Plan:
    channel = rng.choices(list(_CHANNEL_WEIGHTS), weights=list(_CHANNEL_WEIGHTS.values()))[0]
    reasons = _REASONS[channel]
    reason = rng.choices(list(reasons), weights=list(reasons.values()))[0]
    urgency = (
        U.HALF_DAY if channel == Channel.FORM and reason == R.UNSCHEDULED_CARE else _urgency(rng, reason)
    )
    if channel == Channel.FORM and reason != R.UNSCHEDULED_CARE:
        urgency = U.SCHEDULED  # what ``self_signal`` decides
    person = _person_for(people, reason)
    outcome = _outcome(rng, reason, urgency, person)
    qualify_after = rng.uniform(0.3, 16) if channel in (Channel.FORM, Channel.EMAIL) else None
    contact_after = _first_contact_hours(rng, urgency, reason)
    if qualify_after is not None:
        contact_after = max(contact_after, qualify_after + 0.1)
    if outcome == Outcome.UNREACHABLE:
        failed = 3 + rng.randint(0, 1)
    elif _is_half_day(reason, urgency):
        failed = rng.choices((0, 1), (80, 20))[0]
    else:
        failed = rng.choices((0, 1, 2), (65, 25, 10))[0]
    mail = (
        rng.choices(list(MailStyle), weights=(70, 15, 12, 3))[0]
        if channel == Channel.EMAIL
        else MailStyle.PLAIN
    )
    return _Plan(
        channel=channel,
        reason=reason,
        urgency=urgency,
        received=_received_at(rng, now, channel),
        person=person,
        qualify_after=qualify_after,
        contact_after=contact_after,
        failed_attempts=failed,
        outcome=outcome,
        mail=mail,
    )


def _open_plan(rng: random.Random, now: datetime, scenario: OpenScenario, people: PeopleFactory) -> _Plan:
    person = people.person(
        generation=scenario.generation,
        ald="ald" in scenario.flags or None,
        without_attending_doctor="sans_medecin" in scenario.flags
        or scenario.reason == R.FIND_ATTENDING_DOCTOR
        or None,
    )
    person = dataclasses.replace(
        person,
        css=person.css or "css" in scenario.flags,
        ame="ame" in scenario.flags,
        handicap=person.handicap or "handicap" in scenario.flags,
    )
    received = now - timedelta(hours=scenario.hours_ago)
    span = scenario.hours_ago
    stop = scenario.stop
    qualified = scenario.channel in (Channel.FORM, Channel.EMAIL) and stop != Stop.RECEIVED
    contacted = stop in (Stop.TRYING, Stop.REACHED, Stop.BOOKED)
    return _Plan(
        channel=scenario.channel,
        reason=scenario.reason,
        urgency=scenario.urgency,
        received=received,
        person=person,
        qualify_after=span * 0.2 if qualified else None,
        contact_after=span * 0.3 if contacted else None,
        failed_attempts={Stop.TRYING: 2}.get(stop, 0),
        outcome=None,
        book_future=stop == Stop.BOOKED,
        mail=scenario.mail,
    )


# --- playing a plan through the services ---------------------------------------------------------


class _Story:
    """Plays plans in order; every step is skipped once its moment would be after ``now``."""

    def __init__(
        self, session: Session, rng: random.Random, now: datetime, cast: _Cast, people: PeopleFactory
    ):
        self.session = session
        self.rng = rng
        self.now = now
        self.cast = cast
        self.people = people
        self.mails = 0
        self.signals = 0
        self.held: list[object] = []
        """Rows kept referenced: the session's identity map is weak, and the services reload each
        referral by id at every step (one SELECT each otherwise)."""

    # time

    def working(self, moment: datetime) -> datetime:
        """``moment``, or the next opening of the coordination (weekdays 8:30–19:00, Saturday morning)."""
        local = moment.astimezone(PARIS)
        weekday, clock = local.weekday(), local.time()
        closes = time(12, 30) if weekday == 5 else time(19, 0)
        if weekday < 6 and time(8, 30) <= clock < closes:
            return moment
        day = local.date() if weekday < 6 and clock < time(8, 30) else local.date() + timedelta(days=1)
        while day.weekday() == 6:
            day += timedelta(days=1)
        return paris_at(day, time(8, 30)) + timedelta(minutes=self.rng.randint(0, 75))

    def later(self, moment: datetime, hours: float) -> datetime:
        return self.working(moment + timedelta(hours=hours))

    def past(self, moment: datetime) -> bool:
        return moment < self.now

    # steps

    def _actor_for(self, channel: Channel) -> Actor:
        """Who types the referral: the demo accounts for their own, the coordinator for the calls."""
        cast = self.cast
        own = {Channel.PHARMACIST_USER: cast.pharmacist, Channel.GP_USER: cast.gp}.get(channel)
        if own is not None:
            return own
        phoned_by = {Channel.PHARMACY_PHONE: cast.pharmacists, Channel.NURSE: cast.nurses}.get(channel)
        # Emergency doctors are not in the CPTS directory: no professional to name.
        return dataclasses.replace(
            cast.coordinator, professional_id=self.rng.choice(phoned_by) if phoned_by else None
        )

    def record_patients(self, plans: list[_Plan]) -> None:
        """The professionals' patients, in one flush (they exist before their referral)."""
        rows = []
        for plan in plans:
            if plan.channel in (Channel.FORM, Channel.EMAIL):
                continue
            actor = self._actor_for(plan.channel)
            at = plan.received - timedelta(minutes=self.rng.randint(3, 15))
            patient = self.people.record(
                plan.person, created_by=actor.user_id, at=at, validated=self.rng.random() < 0.5
            )
            rows.append((plan, patient, actor))
        self.session.flush()
        for plan, patient, actor in rows:
            plan.patient_id, plan.actor = patient.id, actor

    def play(self, plan: _Plan) -> None:
        referral_id, patient_id = self._receive(plan)
        self.held.append(self.session.get(Referral, referral_id))
        t = plan.received
        if patient_id is None:
            if plan.qualify_after is None:
                return
            t = self.later(plan.received, plan.qualify_after)
            if not self.past(t):
                return
            patient_id = self.people.create_patient(self.cast.coordinator, plan.person, at=t, validated=False)
            workflow.qualify(self.session, self.cast.coordinator, referral_id, patient_id, now=t)
        if plan.contact_after is None:
            return
        step = timedelta(minutes=self.rng.randint(2, 20))
        floor = t + step  # never before the qualification
        t = max(floor, self.later(plan.received, plan.contact_after))
        if plan.outcome is None and not self.past(t):
            t = max(floor, plan.received + (self.now - plan.received) * 0.4)  # open: inside their span
        for attempt in range(plan.failed_attempts):
            if not self.past(t):
                return
            outcome = self.rng.choice(("pas_de_reponse", "message_laisse", "pas_de_reponse"))
            channel = "sms" if attempt % 2 else "appel"
            if plan.outcome == Outcome.UNREACHABLE and attempt == plan.failed_attempts - 1:
                outcome = self.rng.choice(("pas_de_reponse", "numero_errone"))
            self._attempt(referral_id, t, channel, outcome)
            retry = (0.3, 1.2) if _is_half_day(plan.reason, plan.urgency) else (3, 28)
            previous, t = t, self.later(t, self.rng.uniform(*retry))
            if plan.outcome is None:  # open: the next attempt still before ``now``
                t = max(previous + step, min(t, plan.received + (self.now - plan.received) * 0.8))
        if plan.outcome == Outcome.UNREACHABLE:
            self._close(referral_id, t, Outcome.UNREACHABLE)
            return
        if not self.past(t) or (plan.outcome is None and plan.failed_attempts and not plan.book_future):
            return
        self._attempt(referral_id, t, "appel", "joint", note=self.rng.choice(_REACHED_NOTES))
        if plan.book_future:
            self._book_future(referral_id, plan.person, t)
            return
        if plan.outcome is None:
            return
        if plan.outcome == Outcome.DOCTOR and self._doctor(referral_id, plan.person, t):
            return
        if plan.outcome in (Outcome.APPOINTMENT, Outcome.DOCTOR):
            self._appointment(referral_id, plan, patient_id, t)
            return
        self._close(referral_id, self.later(t, self.rng.uniform(0.1, 3)), plan.outcome)

    def _receive(self, plan: _Plan) -> tuple[int, int | None]:
        """Create the referral through its channel's service; (referral id, patient id or None)."""
        t = plan.received
        if plan.channel == Channel.FORM:
            return self._self_signal(plan), None
        if plan.channel == Channel.EMAIL:
            return self._email(plan), None
        cast = self.cast
        actor, patient_id = plan.actor, plan.patient_id
        assert actor is not None and patient_id is not None
        text = self.rng.choice(_FREE_TEXTS[plan.reason])
        if plan.channel == Channel.EMERGENCY:
            text = f"Appel du {self.rng.choice(_EMERGENCY_DOCTORS)}. {text}"
        elif actor is not cast.pharmacist and actor is not cast.gp:
            text = f"Signalement reçu par téléphone par la coordination. {text}"
        referral_id = refer(
            self.session,
            actor,
            ReferralForm(
                patient_id=str(patient_id),
                reason=plan.reason.value,
                urgency=plan.urgency.value,
                consent_to_contact=True,
                free_text=text,
            ),
            now=t,
        )
        if plan.channel == Channel.EMERGENCY:
            # Emergency doctors are not in the CPTS directory: the coordinator took their call.
            referral = self.session.get(Referral, referral_id)
            assert referral is not None
            referral.source = ReferralSource.EMERGENCY_DOCTOR
            self.session.add(referral)
        return referral_id, patient_id

    def _self_signal(self, plan: _Plan) -> int:
        self.signals += 1
        person = plan.person
        return self_signal(
            self.session,
            SelfSignalForm(
                birth_name=person.birth_name,
                first_names=person.first_names,
                birth_date=person.birth_date.isoformat(),
                phone=person.phone,
                commune_id=str(person.commune_id),
                reason=plan.reason.value,
                message=_FORM_MESSAGES[plan.reason],
                consent=True,
            ),
            client_key=f"demo-{self.signals}",
            now=plan.received,
        )

    def _email(self, plan: _Plan) -> int:
        self.mails += 1
        raw = build_email(
            plan.person,
            plan.reason,
            sent=plan.received - timedelta(minutes=self.rng.randint(1, 9)),
            index=self.mails,
            style=plan.mail,
            urgent=plan.urgency != U.SCHEDULED,
            relative_first_name=self.rng.choice(("Sophie", "Nathalie", "Karine", "Céline")),
        )
        referral_id = email_intake.ingest_message(
            self.session, raw, source=email_intake.SOURCE_IMAP, now=plan.received
        )
        assert referral_id is not None, "demo e-mails have unique Message-IDs"
        return referral_id

    def _attempt(self, referral_id: int, at: datetime, channel: str, outcome: str, note: str = "") -> None:
        workflow.record_contact_attempt(
            self.session,
            self.cast.coordinator,
            referral_id,
            channel=channel,
            outcome=outcome,
            note=note,
            now=at,
        )

    def _close(self, referral_id: int, at: datetime, outcome: Outcome, reason: str = "") -> None:
        if not self.past(at):
            return
        status = {
            Outcome.UNREACHABLE: ReferralStatus.UNREACHABLE,
            Outcome.REFUSED: ReferralStatus.REFUSED,
        }.get(outcome, ReferralStatus.CLOSED)
        workflow.close(
            self.session,
            self.cast.coordinator,
            referral_id,
            status.value,
            reason or self.rng.choice(_CLOSING[outcome]),
            now=at,
        )

    def _doctor(self, referral_id: int, person: Person, reached: datetime) -> bool:
        """A GP of the commune or a neighbour takes the patient a few days after the call."""
        at = self.later(reached, self.rng.uniform(4, 150))
        if not self.past(at):
            return True  # still looking: the referral stays « en cours de contact »
        options = find_attending_doctors(self.session, self.cast.coordinator, person.commune_id)
        if not options:
            return False
        chosen = options[0] if self.rng.random() < 0.6 else self.rng.choice(options[:3])
        workflow.record_attending_doctor(
            self.session, self.cast.coordinator, referral_id, chosen.professional_id, now=at
        )
        self._close(referral_id, self.later(at, self.rng.uniform(2, 72)), Outcome.DOCTOR)
        return True

    def _appointment_start(self, plan: _Plan, booked: datetime) -> datetime:
        if _is_half_day(plan.reason, plan.urgency):
            hours = self.rng.uniform(0.5, 2.5)
        elif plan.urgency == U.WITHIN_48H:
            hours = self.rng.uniform(4, 40)
        else:
            hours = self.rng.uniform(30, 24 * 9)
        start = self.working(booked + timedelta(hours=hours))
        return start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)

    def _appointment(self, referral_id: int, plan: _Plan, patient_id: int, booked: datetime) -> None:
        """A consultation booked during the call; past ones are written directly (no past slots)."""
        start = max(self._appointment_start(plan, booked), booked + timedelta(minutes=30))
        if not self.past(start):  # a consultation still to come holds a real slot of the agenda
            self._book_future(referral_id, plan.person, booked, not_before=start)
            return
        professional_id = self.rng.choice(self.people.local_gps(plan.person.commune_id))
        appointment = Appointment(
            professional_id=professional_id,
            patient_id=patient_id,
            start=start,
            end=start + timedelta(minutes=20),
            status=AppointmentStatus.BOOKED,
            reason=label(REASON_LABELS, plan.reason),
            booked_by_user_id=self.cast.coordinator.user_id,
            on_behalf_of=f"Orientation n° {referral_id}",
            created_at=booked,
            updated_at=booked,
        )
        self.session.add(appointment)
        self.session.flush()
        assert appointment.id is not None
        workflow.orient_to_appointment(
            self.session, self.cast.coordinator, referral_id, appointment.id, now=booked
        )
        seen = appointment.end + timedelta(minutes=10)
        if not self.past(seen):
            return
        no_show = self.rng.random() < 0.06
        appointment.status = AppointmentStatus.NOSHOW if no_show else AppointmentStatus.FULFILLED
        appointment.updated_at = seen
        self.session.add(appointment)
        self._close(
            referral_id,
            self.later(seen, self.rng.uniform(2, 60)),
            Outcome.APPOINTMENT,
            _NO_SHOW if no_show else "",
        )

    def _book_future(
        self, referral_id: int, person: Person, reached: datetime, *, not_before: datetime | None = None
    ) -> None:
        """A real free GP slot of the agenda, booked through ``book_for_referral`` at ``reached``.

        Without a free slot (an agenda not loaded) the referral stays « en cours de contact ».
        """
        earliest = max(not_before or self.now, self.now + timedelta(hours=20))
        area = self.people.local_gps(person.commune_id)
        slot_id = self.session.exec(
            select(Slot.id)
            .where(
                col(Slot.status) == SlotStatus.FREE,
                col(Slot.professional_id).in_(area),
                col(Slot.kind).in_([SlotKind.CONSULTATION.value, SlotKind.UNSCHEDULED.value]),
                col(Slot.start) > earliest,
                col(Slot.audience).contains("CPTS"),
            )
            .order_by(col(Slot.start), col(Slot.id))
            .limit(1)
        ).first()
        if slot_id is not None:
            workflow.book_for_referral(self.session, self.cast.coordinator, referral_id, slot_id, now=reached)
