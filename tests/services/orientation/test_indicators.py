"""Indicators from known timestamps: medians, p90, half-day share, doctors found, capacity; CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from cpts_app.models.agenda import Appointment
from cpts_app.models.orientation import ReferralReason, ReferralSource, ReferralStatus, Urgency
from cpts_app.services.errors import PermissionDenied, ValidationFailed
from cpts_app.services.orientation.capacity import monthly_capacity_gauge, set_monthly_capacity
from cpts_app.services.orientation.indicators import indicators, indicators_csv, percentile
from tests.services.orientation.factories import build_world, make_patient, make_referral

MONDAY = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # 09:00 Paris, week 11


def _data(session: Session):  # type: ignore[no-untyped-def]
    world = build_world(session)
    # Five referrals contacted after 2, 4, 6, 10 and 60 hours.
    for i, hours in enumerate([2, 4, 6, 10, 60]):
        make_referral(
            session,
            make_patient(session, f"Contact{i}", "A"),
            received_at=MONDAY + timedelta(hours=i),
            first_contact_at=MONDAY + timedelta(hours=i + hours),
            status=ReferralStatus.CONTACTING,
            source=ReferralSource.NURSE if i == 0 else ReferralSource.PHARMACIST,
        )
    # Two SNP needs received at 09:00: one oriented at 11:00 (served), one at 15:00 (late).
    for i, oriented_hours in enumerate([2, 6]):
        patient = make_patient(session, f"Snp{i}", "B")
        appointment = Appointment(
            professional_id=world.t.gp.id,
            patient_id=patient.id,
            start=MONDAY + timedelta(hours=oriented_hours + 1),
            end=MONDAY + timedelta(hours=oriented_hours + 1, minutes=15),
            booked_by_user_id=world.coordinator.user_id,
        )
        session.add(appointment)
        session.flush()
        make_referral(
            session,
            patient,
            received_at=MONDAY,
            reason=ReferralReason.UNSCHEDULED_CARE,
            urgency=Urgency.HALF_DAY,
            status=ReferralStatus.ORIENTED,
            first_contact_at=MONDAY + timedelta(hours=1),
            oriented_at=MONDAY + timedelta(hours=oriented_hours),
            appointment_id=appointment.id,
        )
    # One patient found a médecin traitant on Tuesday of the next week.
    make_referral(
        session,
        make_patient(session, "Mt", "C"),
        received_at=MONDAY,
        status=ReferralStatus.ORIENTED,
        first_contact_at=MONDAY + timedelta(hours=1),
        oriented_at=MONDAY + timedelta(days=8),
        new_attending_doctor_id=world.t.gp.id,
    )
    # Outside the period: ignored.
    make_referral(session, make_patient(session, "Avant", "D"), received_at=MONDAY - timedelta(days=30))
    session.commit()
    return world


def test_known_timestamps_give_known_figures(session: Session) -> None:
    world = _data(session)
    result = indicators(session, world.coordinator, date_from=date(2026, 3, 9), date_to=date(2026, 3, 22))
    assert result.received == 8
    # Delays: 2, 4, 6, 10, 60 (contacts) + 1, 1, 1 (SNP ×2 and MT) → sorted 1 1 1 2 4 6 10 60.
    assert result.first_contact_median_hours == 3.0
    assert result.first_contact_p90_hours == 60.0
    assert result.first_contact_within_48h_share == pytest.approx(7 / 8, abs=1e-4)
    assert result.appointment_median_hours == 5.0  # appointments at +3 h and +7 h
    assert (result.half_day_needs, result.half_day_served, result.half_day_served_share) == (2, 1, 0.5)
    assert result.attending_doctor_found == 1
    assert result.oriented_patients == 3
    assert (result.monthly_capacity, result.period_capacity) == (150, 150)
    assert result.capacity_use_share == pytest.approx(3 / 150, abs=1e-4)
    assert dict(result.by_source)["Pharmacien·ne"] == 7
    assert dict(result.by_source)["Infirmier·ère"] == 1
    assert dict(result.by_reason)["Soins non programmés"] == 2
    assert result.by_week == [("S11 2026", 8, 2), ("S12 2026", 0, 1)]


def test_csv_for_french_excel(session: Session) -> None:
    world = _data(session)
    text = indicators_csv(session, world.coordinator, date_from=date(2026, 3, 9), date_to=date(2026, 3, 22))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert rows[0] == ["Indicateur", "Valeur", "Unité", "Début de période", "Fin de période", "Définition"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["Délai médian avant premier contact"][1:5] == ["3,0", "heures", "09/03/2026", "22/03/2026"]
    assert by_name["Soins non programmés servis dans la demi-journée"][1] == "50,0"
    assert by_name["Patients ayant trouvé un médecin traitant"][1] == "1"
    assert by_name["Demandes — origine : Pharmacien·ne"][1] == "7"
    assert all(row[5] for row in rows[1:])  # every figure carries its definition


def test_period_checks_and_permission(session: Session) -> None:
    world = build_world(session)
    with pytest.raises(ValidationFailed):
        indicators(session, world.coordinator, date_from=date(2026, 3, 9), date_to=date(2026, 3, 1))
    with pytest.raises(PermissionDenied):
        indicators(session, world.pharmacist_actor, date_from=date(2026, 3, 1), date_to=date(2026, 3, 9))
    assert percentile([], 0.9) is None


def test_monthly_capacity_gauge(session: Session) -> None:
    world = _data(session)
    now = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
    assert monthly_capacity_gauge(session, world.coordinator, now=now) == (3, 150)
    set_monthly_capacity(session, world.coordinator, 120)
    assert monthly_capacity_gauge(session, world.coordinator, now=now) == (3, 120)
    assert monthly_capacity_gauge(session, world.coordinator, now=now + timedelta(days=10)) == (0, 120)
    with pytest.raises(ValidationFailed):
        set_monthly_capacity(session, world.coordinator, -1)
    with pytest.raises(PermissionDenied):
        set_monthly_capacity(session, world.t.secretariat, 10)
