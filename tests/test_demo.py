"""The demo territory: real communes, exact head counts, valid identifiers, idempotent and deterministic;
its agenda, and three months of referrals played through the orientation services."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import phonenumbers
import pytest
from sqlmodel import Session, SQLModel, func, select
from stdnum import luhn

from cpts_app.db import make_engine, migrate
from cpts_app.demo import DEMO_CREDENTIALS, PROFESSION_COUNTS, is_empty, load_demo
from cpts_app.demo_orientation import OPEN_SCENARIOS
from cpts_app.demo_territory import MEDICOBUS_COMMUNES, TERRITORY_NAME
from cpts_app.models import (
    Appointment,
    AppointmentStatus,
    Commune,
    CommuneNeighbour,
    ContactAttempt,
    InboundMessage,
    Patient,
    Profession,
    Professional,
    ProfessionalCommune,
    ProfessionalStructure,
    Referral,
    ReferralEvent,
    ReferralReason,
    ReferralSource,
    ReferralStatus,
    Role,
    Schedule,
    Slot,
    SlotKind,
    SlotStatus,
    Structure,
    StructureKind,
    Territory,
    TourStop,
    Urgency,
    User,
)
from cpts_app.services import crypto
from cpts_app.services.agenda.recurrence import PARIS, to_paris
from cpts_app.services.identifiers import search_key
from cpts_app.services.orientation.email_intake import RAW_PURPOSE
from cpts_app.services.orientation.indicators import indicators
from cpts_app.services.orientation.labels import OPEN_STATUSES, TERMINAL_STATUSES
from cpts_app.services.orientation.queue import coordinator_queue
from cpts_app.services.passwords import verify_password
from cpts_app.services.permissions import Actor
from cpts_app.settings import get_settings

AGENDA_NOW = datetime(2026, 3, 18, 8, 0, tzinfo=UTC)
"""Wednesday 18 March 2026, 09:00 Paris: the eight weeks cross the March clock change, Easter
Monday (6 April), 1 and 8 May and Ascension (14 May)."""
AGENDA_MONDAY = date(2026, 3, 16)
AGENDA_END = datetime(2026, 5, 11, 0, 0, tzinfo=PARIS)  # the Monday after the eight weeks

EXPECTED_COMMUNES = {
    ("30034", "30127", "Bellegarde"),
    ("30032", "30300", "Beaucaire"),
    ("30047", "30230", "Bouillargues"),
    ("30060", "30132", "Caissargues"),
    ("30089", "30300", "Comps"),
    ("30117", "30300", "Fourques"),
    ("30125", "30128", "Garons"),
    ("30135", "30300", "Jonquières-Saint-Vincent"),
    ("30155", "30129", "Manduel"),
    ("30211", "30129", "Redessan"),
    ("30356", "30230", "Rodilhan"),
    ("30258", "30800", "Saint-Gilles"),
    ("30336", "30300", "Vallabrègues"),
}


@pytest.fixture(scope="module", autouse=True)
def _secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The demo seals its e-mails: master keys go to a temporary folder, never the repository's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CPTS_SECRETS_DIR", str(tmp_path_factory.mktemp("demo-secrets") / "secrets"))
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture
def demo(session: Session) -> Session:
    """The test database with the demo directory loaded and committed (the agenda has its own tests)."""
    load_demo(session, agenda=False)
    session.commit()
    return session


def _staff(session: Session, structure: Structure) -> list[Professional]:
    return list(
        session.exec(
            select(Professional)
            .join(ProfessionalStructure, ProfessionalStructure.professional_id == Professional.id)
            .where(ProfessionalStructure.structure_id == structure.id)
        )
    )


def _one_structure(session: Session, kind: StructureKind) -> Structure:
    structures = session.exec(select(Structure).where(Structure.kind == kind)).all()
    assert len(structures) == 1
    return structures[0]


def test_is_empty_before_and_not_after(session: Session) -> None:
    assert is_empty(session)
    load_demo(session, agenda=False)
    session.commit()
    assert not is_empty(session)


def test_the_thirteen_communes_with_their_insee_codes(demo: Session) -> None:
    territory = demo.exec(select(Territory).where(Territory.name == TERRITORY_NAME)).one()
    communes = demo.exec(select(Commune)).all()
    assert {(c.insee_code, c.postcode, c.name) for c in communes} == EXPECTED_COMMUNES
    assert all(c.territory_id == territory.id for c in communes)
    for commune in communes:
        assert commune.latitude is not None and 43.6 < commune.latitude < 43.9
        assert commune.longitude is not None and 4.3 < commune.longitude < 4.7


def test_neighbourhood_is_symmetric_and_nobody_is_isolated(demo: Session) -> None:
    pairs = {(n.commune_id, n.neighbour_id) for n in demo.exec(select(CommuneNeighbour))}
    assert pairs
    assert all((b, a) in pairs for a, b in pairs)
    assert all(a != b for a, b in pairs)
    ids = {c.id for c in demo.exec(select(Commune))}
    assert {a for a, _ in pairs} == ids


def test_exact_head_counts_per_profession(demo: Session) -> None:
    counts = Counter(p.profession for p in demo.exec(select(Professional)))
    for profession, expected in PROFESSION_COUNTS.items():
        assert counts[profession] == expected, profession
    assert counts[Profession.GENERAL_PRACTITIONER] == 44
    assert counts[Profession.NURSE] == 52
    assert counts[Profession.PHARMACIST] == 27
    assert counts[Profession.PHYSIOTHERAPIST] == 16
    assert counts[Profession.PODIATRIST] == 2
    assert counts[Profession.SPECIALIST] == 7
    assert counts[Profession.SPEECH_THERAPIST] == 4


def test_specialists_have_a_specialty(demo: Session) -> None:
    specialists = demo.exec(
        select(Professional).where(Professional.profession == Profession.SPECIALIST)
    ).all()
    specialties = Counter(p.specialty for p in specialists)
    assert None not in specialties
    assert specialties["Diabétologie"] >= 1 and specialties["Néphrologie"] >= 1


def test_two_laboratories_each_with_one_biologist(demo: Session) -> None:
    labs = demo.exec(select(Structure).where(Structure.kind == StructureKind.LABORATORY)).all()
    assert len(labs) == 2
    for lab in labs:
        assert [p.profession for p in _staff(demo, lab)] == [Profession.BIOLOGIST]


def test_every_pharmacist_works_in_an_officine(demo: Session) -> None:
    officines = demo.exec(select(Structure).where(Structure.kind == StructureKind.PHARMACY)).all()
    pharmacists = [p for o in officines for p in _staff(demo, o)]
    assert len(pharmacists) == 27
    assert all(p.profession == Profession.PHARMACIST for p in pharmacists)
    per_commune = Counter(o.commune_id for o in officines)
    beaucaire = demo.exec(select(Commune).where(Commune.name == "Beaucaire")).one()
    assert per_commune[beaucaire.id] == max(per_commune.values())


def test_permanence_team(demo: Session) -> None:
    permanence = _one_structure(demo, StructureKind.PERMANENCE)
    assert permanence.name == "Permanence de Fourques"
    assert sorted(p.profession for p in _staff(demo, permanence)) == sorted(
        [
            Profession.GENERAL_PRACTITIONER,
            Profession.ADVANCED_PRACTICE_NURSE,
            Profession.MEDICAL_ASSISTANT,
            Profession.MEDICAL_SECRETARY,
        ]
    )


def test_medicobus_and_pole(demo: Session) -> None:
    medicobus = _one_structure(demo, StructureKind.MEDICOBUS)
    team = _staff(demo, medicobus)
    assert sorted(p.profession for p in team) == sorted(
        [Profession.GENERAL_PRACTITIONER, Profession.MEDICAL_ASSISTANT]
    )
    served = demo.exec(
        select(ProfessionalCommune.commune_id).where(ProfessionalCommune.professional_id == team[0].id)
    ).all()
    assert len(served) >= 4
    pole = _one_structure(demo, StructureKind.POLE)
    assert pole.finess is not None
    assert len(demo.exec(select(Structure).where(Structure.kind == StructureKind.MSP)).all()) >= 3


def test_rpps_numbers_are_valid_and_unique(demo: Session) -> None:
    numbers = [p.rpps for p in demo.exec(select(Professional)) if p.rpps is not None]
    assert len(numbers) >= sum(PROFESSION_COUNTS.values())
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert len(number) == 11 and number.isdigit()
        assert luhn.is_valid(number)


def test_finess_numbers_are_valid(demo: Session) -> None:
    structures = demo.exec(select(Structure)).all()
    needs_finess = {StructureKind.PHARMACY, StructureKind.LABORATORY, StructureKind.MSP, StructureKind.POLE}
    for structure in structures:
        if structure.kind in needs_finess:
            assert structure.finess is not None, structure.name
        if structure.finess is not None:
            assert len(structure.finess) == 9 and structure.finess.startswith("30")
            assert luhn.is_valid(structure.finess)


def test_phone_numbers_are_valid_e164(demo: Session) -> None:
    phones = [p.phone for p in demo.exec(select(Professional))] + [
        s.phone for s in demo.exec(select(Structure))
    ]
    for phone in phones:
        assert phone is not None and phone.startswith("+33")
        parsed = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(parsed), phone
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == phone


def test_search_names_and_emails(demo: Session) -> None:
    professionals = demo.exec(select(Professional)).all()
    for p in professionals:
        assert p.search_name == search_key(f"{p.last_name} {p.first_name}")
        assert p.email is not None and p.email.endswith("@demo-cpts.fr")
    assert len({p.email for p in professionals}) == len(professionals)
    assert any(p.last_name != search_key(p.last_name).title() for p in professionals)  # some accents


def test_about_a_third_of_gps_accept_new_patients(demo: Session) -> None:
    gps = demo.exec(
        select(Professional).where(Professional.profession == Profession.GENERAL_PRACTITIONER)
    ).all()
    open_gps = [p for p in gps if p.accepts_new_patients]
    assert 10 <= len(open_gps) <= 20
    assert all(5 <= p.new_patient_capacity <= 60 for p in open_gps)
    assert all(p.new_patient_capacity == 0 for p in gps if not p.accepts_new_patients)


def test_everyone_works_somewhere_and_serves_their_commune(demo: Session) -> None:
    professionals = demo.exec(select(Professional)).all()
    links = demo.exec(select(ProfessionalStructure)).all()
    assert {link.professional_id for link in links} == {p.id for p in professionals}
    structure_commune = {s.id: s.commune_id for s in demo.exec(select(Structure))}
    served = {(pc.professional_id, pc.commune_id) for pc in demo.exec(select(ProfessionalCommune))}
    medicobus = _one_structure(demo, StructureKind.MEDICOBUS)
    for link in links:
        if link.structure_id != medicobus.id:
            assert (link.professional_id, structure_commune[link.structure_id]) in served


def test_demo_users_sign_in_with_the_published_passwords(demo: Session) -> None:
    users = {u.email: u for u in demo.exec(select(User))}
    assert {c.email for c in DEMO_CREDENTIALS} <= set(users)
    assert {c.role for c in DEMO_CREDENTIALS} == set(Role)
    for credential in DEMO_CREDENTIALS:
        user = users[credential.email]
        assert len(credential.password) >= 12
        assert verify_password(credential.password, user.password_hash)
        assert user.role == credential.role
        assert user.display_name == credential.display_name
        if credential.role is Role.PROFESSIONAL:
            assert user.professional_id is not None
            professional = demo.get(Professional, user.professional_id)
            assert professional is not None
            assert professional.last_name in credential.display_name


def _row_counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.exec(select(func.count()).select_from(table)).one()
        for table in SQLModel.metadata.sorted_tables
    }


def test_loading_twice_changes_nothing(session: Session) -> None:
    first = load_demo(session, now=AGENDA_NOW)
    session.commit()
    before = _row_counts(session)
    second = load_demo(session, now=AGENDA_NOW + timedelta(days=1))
    session.commit()
    assert first.created and not second.created
    assert _row_counts(session) == before
    assert (first.communes, first.structures, first.professionals, first.users) == (
        second.communes,
        second.structures,
        second.professionals,
        second.users,
    )
    assert first.communes == 13
    assert first.professionals["medecin_generaliste"] == 44
    assert (first.schedules, first.slots, first.appointments, first.patients) == (
        second.schedules,
        second.slots,
        second.appointments,
        second.patients,
    )
    assert first.slots > 50_000 and first.appointments > 1_000
    assert first.referrals == second.referrals and 120 <= first.referrals <= 180


def test_an_agenda_is_added_to_a_territory_loaded_without_one(session: Session) -> None:
    load_demo(session, agenda=False)
    session.commit()
    assert session.exec(select(func.count()).select_from(Slot)).one() == 0
    summary = load_demo(session, now=AGENDA_NOW)
    assert not summary.created and summary.slots > 50_000 and summary.schedules > 100


def _people(session: Session) -> list[tuple[str, str, str, str | None, str | None]]:
    rows = session.exec(select(Professional).order_by(Professional.id)).all()
    return [(p.first_name, p.last_name, p.profession, p.rpps, p.phone) for p in rows]


def test_two_fresh_databases_hold_identical_rows(session: Session, tmp_path: Path) -> None:
    load_demo(session, now=AGENDA_NOW)
    session.commit()
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    migrate(other_url)
    engine = make_engine(other_url)
    try:
        with Session(engine) as other:
            load_demo(other, now=AGENDA_NOW)
            other.commit()
            assert _people(other) == _people(session)
            structures = [(s.name, s.finess) for s in other.exec(select(Structure).order_by(Structure.id))]
            assert structures == [
                (s.name, s.finess) for s in session.exec(select(Structure).order_by(Structure.id))
            ]
            assert _agenda_rows(other) == _agenda_rows(session)
    finally:
        engine.dispose()


def test_an_existing_admin_is_kept(session: Session) -> None:
    """An administrator created before the demo keeps their password; the other accounts are added."""
    session.add(User(email="admin@demo-cpts.fr", password_hash="x", role=Role.ADMIN, display_name="Moi"))
    session.commit()
    load_demo(session, agenda=False)
    session.commit()
    admin = session.exec(select(User).where(User.email == "admin@demo-cpts.fr")).one()
    assert admin.display_name == "Moi"
    assert len(session.exec(select(User)).all()) == len(DEMO_CREDENTIALS)


def _agenda_rows(session: Session) -> list[tuple[object, ...]]:
    slots = session.exec(select(Slot).order_by(Slot.id)).all()
    appointments = session.exec(select(Appointment).order_by(Appointment.id)).all()
    patients = session.exec(select(Patient).order_by(Patient.id)).all()
    referrals = session.exec(select(Referral).order_by(Referral.id)).all()
    events = session.exec(select(ReferralEvent).order_by(ReferralEvent.id)).all()
    return (
        [(s.professional_id, s.start, s.end, s.kind, s.audience, s.status, s.commune_id) for s in slots]
        + [(a.slot_id, a.patient_id, a.reason, a.on_behalf_of, a.start, a.status) for a in appointments]
        + [(p.birth_name, p.first_names, p.birth_date, p.phone, p.commune_id, p.ald) for p in patients]
        + [
            (
                r.patient_id,
                r.source,
                r.reason,
                r.urgency,
                r.status,
                r.received_at,
                r.first_contact_at,
                r.oriented_at,
                r.closed_at,
                r.new_attending_doctor_id,
                r.appointment_id,
                r.contact_name,
            )
            for r in referrals
        ]
        + [(e.referral_id, e.at, e.from_status, e.to_status, e.reason) for e in events]
    )


@pytest.fixture(scope="module")
def agenda(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """The demo with its agenda, as loaded on Wednesday 18 March 2026 at 09:00 Paris.

    Loaded once for the read-only checks below, in a SQLite file of its own (loading it twice
    on PostgreSQL is covered by the idempotence and determinism tests above).
    """
    url = f"sqlite:///{tmp_path_factory.mktemp('demo-agenda') / 'demo.db'}"
    migrate(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        load_demo(session, now=AGENDA_NOW)
        session.commit()
        yield session
    engine.dispose()


def _slots_of_kind(session: Session, kind: SlotKind) -> list[Slot]:
    return list(session.exec(select(Slot).where(Slot.kind == kind)))


def test_agenda_covers_eight_weeks_from_now_and_never_the_past(agenda: Session) -> None:
    slots = agenda.exec(select(Slot)).all()
    assert len(slots) > 50_000
    assert all(AGENDA_NOW < s.start < AGENDA_END for s in slots)
    weeks = {(to_paris(s.start).date() - AGENDA_MONDAY).days // 7 for s in slots}
    assert weeks == set(range(8))
    days = {to_paris(s.start).date() for s in slots}
    assert date(2026, 4, 6) not in days and date(2026, 5, 1) not in days  # jours fériés
    # Morning consultations start at 08:30 Paris on both sides of the clock change.
    lefevre = agenda.exec(select(Professional).where(Professional.last_name == "Lefèvre")).first()
    assert lefevre is not None
    own = [s for s in slots if s.professional_id == lefevre.id and s.kind == SlotKind.CONSULTATION]
    firsts = {
        to_paris(min(x.start for x in own if to_paris(x.start).date() == d)).strftime("%H:%M")
        for d in {date(2026, 3, 23), date(2026, 3, 30)}
    }
    assert firsts == {"08:30"}


def test_every_gp_has_an_agenda_with_snp_slots(agenda: Session) -> None:
    gps = agenda.exec(
        select(Professional).where(Professional.profession == Profession.GENERAL_PRACTITIONER)
    ).all()
    with_schedule = set(agenda.exec(select(Schedule.professional_id)).all())
    assert {gp.id for gp in gps} <= with_schedule
    snp = _slots_of_kind(agenda, SlotKind.UNSCHEDULED)
    assert len(snp) > 2_000
    assert all("SNP" in s.audience.split(",") for s in snp)
    assert len({s.commune_id for s in snp}) >= 6
    assert any(to_paris(s.start).strftime("%H:%M") == "12:00" for s in snp)
    assert _slots_of_kind(agenda, SlotKind.TELECONSULTATION)
    visits = _slots_of_kind(agenda, SlotKind.HOME_VISIT)
    assert visits and {s.profession for s in visits} == {Profession.NURSE.value}


def test_medicobus_tours_the_small_communes(agenda: Session) -> None:
    bus = _one_structure(agenda, StructureKind.MEDICOBUS)
    slots = _slots_of_kind(agenda, SlotKind.MEDICOBUS)
    assert slots and all(s.structure_id == bus.id and s.tour_stop_id is not None for s in slots)
    small = set(agenda.exec(select(Commune.id).where(Commune.insee_code.in_(MEDICOBUS_COMMUNES))).all())
    assert {s.commune_id for s in slots} == small
    stops = agenda.exec(select(TourStop)).all()
    assert all(stop.day.weekday() < 5 for stop in stops)
    assert {(stop.start_time, stop.end_time) for stop in stops} == {("09:00", "12:00"), ("13:30", "16:30")}
    per_day = Counter(stop.day for stop in stops)
    assert set(per_day.values()) == {2}


def test_permanence_de_fourques_two_days_a_week(agenda: Session) -> None:
    permanence = _one_structure(agenda, StructureKind.PERMANENCE)
    slots = _slots_of_kind(agenda, SlotKind.PERMANENCE)
    assert slots and all(s.structure_id == permanence.id for s in slots)
    assert {s.profession for s in slots} == {
        Profession.GENERAL_PRACTITIONER.value,
        Profession.ADVANCED_PRACTICE_NURSE.value,
    }
    assert {to_paris(s.start).weekday() for s in slots} == {1, 3}
    fourques = agenda.exec(select(Commune).where(Commune.name == "Fourques")).one()
    assert {s.commune_id for s in slots} == {fourques.id}


def test_some_slots_of_the_first_two_weeks_are_booked(agenda: Session) -> None:
    two_weeks = datetime(2026, 3, 30, 0, 0, tzinfo=PARIS)
    early = agenda.exec(select(Slot).where(Slot.start < two_weeks)).all()
    booked = [s for s in early if s.status == SlotStatus.BUSY]
    assert 0.10 < len(booked) / len(early) < 0.20
    assert not agenda.exec(select(Slot).where(Slot.start >= two_weeks, Slot.status != SlotStatus.FREE)).all()
    # The past consultations of the referrals hold no slot (the agenda has no past slots).
    appointments = agenda.exec(select(Appointment).where(Appointment.slot_id.is_not(None))).all()
    assert {a.active_slot_id for a in appointments} == {s.id for s in booked}
    assert all(a.status == AppointmentStatus.BOOKED and a.slot_id == a.active_slot_id for a in appointments)
    coordinator = agenda.exec(select(User).where(User.email == "coordination@demo-cpts.fr")).one()
    assert {a.booked_by_user_id for a in appointments} == {coordinator.id}
    by_slot = {s.id: s for s in booked}
    assert all(
        (a.start, a.end, a.professional_id)
        == (by_slot[a.slot_id].start, by_slot[a.slot_id].end, by_slot[a.slot_id].professional_id)
        for a in appointments
    )


def test_demo_patients(agenda: Session) -> None:
    patients = agenda.exec(select(Patient)).all()
    assert 150 <= len(patients) <= 230  # thirty of the agenda, one or so per referral
    for p in patients:
        assert p.search_name == search_key(f"{p.birth_name} {p.first_names}")
        assert p.phone is not None and phonenumbers.is_valid_number(phonenumbers.parse(p.phone))
        assert p.commune_id is not None
        assert date(1920, 1, 1) < p.birth_date < date(2026, 1, 1)
        assert not (p.without_attending_doctor and p.attending_doctor_id is not None)
    assert any(p.ald for p in patients) and any(p.css for p in patients)
    assert any(p.without_attending_doctor for p in patients)


# --- the orientation: referrals of the last three months, and the queue at AGENDA_NOW ------------

HISTORY_START = AGENDA_NOW - timedelta(days=95)


def _coordinator(session: Session) -> Actor:
    user = session.exec(select(User).where(User.email == "coordination@demo-cpts.fr")).one()
    assert user.id is not None
    return Actor(user_id=user.id, role=Role(user.role), display_name=user.display_name)


def test_demo_referrals_mix_sources_reasons_and_outcomes(agenda: Session) -> None:
    referrals = agenda.exec(select(Referral)).all()
    assert 120 <= len(referrals) <= 180
    assert all(HISTORY_START <= r.received_at <= AGENDA_NOW for r in referrals)
    sources = Counter(ReferralSource(r.source) for r in referrals)
    assert {
        ReferralSource.PHARMACIST,
        ReferralSource.NURSE,
        ReferralSource.EMERGENCY_DOCTOR,
        ReferralSource.PATIENT_FORM,
        ReferralSource.PATIENT_EMAIL,
    } <= {source for source, count in sources.items() if count >= 5}
    assert set(Counter(r.reason for r in referrals)) == set(ReferralReason)
    assert set(Counter(r.urgency for r in referrals)) == set(Urgency)
    statuses = Counter(ReferralStatus(r.status) for r in referrals)
    assert statuses[ReferralStatus.CLOSED] > len(referrals) // 2
    assert statuses[ReferralStatus.UNREACHABLE] >= 3 and statuses[ReferralStatus.REFUSED] >= 3
    for referral in referrals:
        if referral.status in TERMINAL_STATUSES:
            assert referral.status_reason and referral.closed_at is not None
    # The demo pharmacist's own account made some of them (her « mes demandes »).
    pharmacist = agenda.exec(select(User).where(User.email == "pharmacie@demo-cpts.fr")).one()
    assert sum(1 for r in referrals if r.referrer_user_id == pharmacist.id) >= 10


def test_every_referral_has_its_steps_in_order(agenda: Session) -> None:
    events: dict[int, list[ReferralEvent]] = {}
    for event in agenda.exec(select(ReferralEvent).order_by(ReferralEvent.id)):
        events.setdefault(event.referral_id, []).append(event)
    attempts = Counter(a.referral_id for a in agenda.exec(select(ContactAttempt)))
    for referral in agenda.exec(select(Referral)):
        steps = events[referral.id]  # type: ignore[index]
        assert steps[0].at == referral.received_at
        assert steps[0].to_status in {ReferralStatus.RECEIVED.value, ReferralStatus.TO_QUALIFY.value}
        assert [e.at for e in steps] == sorted(e.at for e in steps)
        assert all(later.from_status == earlier.to_status for earlier, later in pairwise(steps))
        assert steps[-1].to_status == referral.status and steps[-1].at <= AGENDA_NOW
        moments = [referral.received_at, referral.qualified_at, referral.first_contact_at]
        moments += [referral.oriented_at, referral.closed_at]
        known = [m for m in moments if m is not None]
        assert known == sorted(known)
        if referral.first_contact_at is not None and referral.appointment_id is None:
            assert attempts[referral.id] >= 1
        if referral.source in {ReferralSource.PATIENT_FORM, ReferralSource.PATIENT_EMAIL}:
            assert steps[0].to_status == ReferralStatus.TO_QUALIFY.value
            assert (referral.patient_id is None) == (referral.status == ReferralStatus.TO_QUALIFY)


def test_oriented_referrals_lead_to_consultations_or_a_medecin_traitant(agenda: Session) -> None:
    referrals = agenda.exec(select(Referral).where(Referral.oriented_at.is_not(None))).all()
    with_doctor = [r for r in referrals if r.new_attending_doctor_id is not None]
    with_appointment = [r for r in referrals if r.appointment_id is not None]
    assert len(with_doctor) >= 10 and len(with_appointment) >= 30
    for referral in with_doctor:
        patient = agenda.get(Patient, referral.patient_id)
        doctor = agenda.get(Professional, referral.new_attending_doctor_id)
        assert patient is not None and doctor is not None
        assert patient.attending_doctor_id == doctor.id and not patient.without_attending_doctor
        assert doctor.profession == Profession.GENERAL_PRACTITIONER and doctor.accepts_new_patients
        assert doctor.new_patient_capacity >= 0
    for referral in with_appointment:
        appointment = agenda.get(Appointment, referral.appointment_id)
        assert appointment is not None and appointment.patient_id == referral.patient_id
        assert referral.oriented_at is not None and appointment.start > referral.oriented_at
        if appointment.start < AGENDA_NOW:
            assert appointment.slot_id is None
            assert appointment.status in {AppointmentStatus.FULFILLED, AppointmentStatus.NOSHOW}
        else:  # booked on a real slot of the agenda for the open queue
            slot = agenda.get(Slot, appointment.slot_id)
            assert slot is not None and slot.status == SlotStatus.BUSY
            assert appointment.status == AppointmentStatus.BOOKED


def test_referral_patients_are_varied(agenda: Session) -> None:
    ids = {r.patient_id for r in agenda.exec(select(Referral)) if r.patient_id is not None}
    patients = [agenda.get(Patient, i) for i in ids]
    found_doctor = {r.patient_id for r in agenda.exec(select(Referral)) if r.new_attending_doctor_id}
    without = [p for p in patients if p and (p.without_attending_doctor or p.id in found_doctor)]
    assert 0.35 <= len(without) / len(patients) <= 0.75  # about half came without a médecin traitant
    assert sum(1 for p in patients if p and p.ald) >= 20
    assert all(any(getattr(p, flag) for p in patients if p) for flag in ("css", "ame", "handicap"))
    older = [p for p in patients if p and (AGENDA_NOW.date() - p.birth_date).days >= 70 * 365.25]
    assert len(older) >= 20


def test_the_queue_at_now_holds_recent_and_overdue_referrals(agenda: Session) -> None:
    try:
        items, total = coordinator_queue(agenda, _coordinator(agenda), now=AGENDA_NOW, page_size=100)
    finally:
        agenda.rollback()  # the read's audit event is not kept in this shared session
    assert len(OPEN_SCENARIOS) <= total <= 25
    assert {item.status for item in items} >= {s.value for s in OPEN_STATUSES}
    assert sum(1 for item in items if item.overdue) >= 3
    assert sum(1 for item in items if item.status == ReferralStatus.TO_QUALIFY.value) >= 4
    top = items[0]
    assert any(part.startswith(("ALD", "70 ans")) for part in top.priority_parts)


def test_emailed_referrals_keep_their_message_encrypted(agenda: Session) -> None:
    referrals = agenda.exec(select(Referral).where(Referral.source == ReferralSource.PATIENT_EMAIL)).all()
    assert len(referrals) >= 5
    messages = {m.id: m for m in agenda.exec(select(InboundMessage))}
    assert {r.inbound_message_id for r in referrals} == set(messages)
    assert any(not m.parsed for m in messages.values())  # one unreadable message still landed
    for message in messages.values():
        assert b"Message-ID" not in message.sealed_raw
        raw = crypto.open_sealed(message.sealed_raw, purpose=RAW_PURPOSE, record_id=str(message.id))
        assert b"Message-ID: <demo-orientation-" in raw


def test_indicators_are_computed_from_the_demo_events(agenda: Session) -> None:
    today = AGENDA_NOW.astimezone(PARIS).date()
    try:
        figures = indicators(
            agenda, _coordinator(agenda), date_from=today - timedelta(days=92), date_to=today
        )
    finally:
        agenda.rollback()
    assert figures.received == len(agenda.exec(select(Referral)).all())
    assert figures.first_contact_median_hours is not None and 1 < figures.first_contact_median_hours < 48
    assert figures.first_contact_within_48h_share is not None
    assert 0.6 < figures.first_contact_within_48h_share < 1  # some misses of the 48 h commitment
    assert figures.appointment_median_hours is not None and figures.appointment_median_hours > 0
    assert figures.half_day_needs > 0 and 0 < figures.half_day_served < figures.half_day_needs
    assert figures.attending_doctor_found >= 10
    assert figures.capacity_use_share is not None and 0 < figures.capacity_use_share < 1
    assert all(count > 0 for _, count in figures.by_reason)
    assert sum(received for _, received, _ in figures.by_week) == figures.received
