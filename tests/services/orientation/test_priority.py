"""The priority score: each criterion with its documented weight, explained part by part."""

from __future__ import annotations

from datetime import date, timedelta

from cpts_app.models.orientation import Referral, ReferralReason, ReferralSource, Urgency
from cpts_app.models.patient import Patient, Sex
from cpts_app.services.orientation.priority import score_referral
from tests.services.orientation.factories import NOW


def _referral(
    reason=ReferralReason.FIND_ATTENDING_DOCTOR, urgency=Urgency.SCHEDULED, received_at=NOW
) -> Referral:  # type: ignore[no-untyped-def]
    return Referral(source=ReferralSource.PHARMACIST, reason=reason, urgency=urgency, received_at=received_at)


def _patient(born: date = date(1980, 1, 1), **flags: bool) -> Patient:
    return Patient(birth_name="X", first_names="Y", birth_date=born, sex=Sex.FEMALE, **flags)


def test_nothing_special_scores_zero() -> None:
    result = score_referral(_referral(), _patient(), now=NOW)
    assert result.score == 0
    assert result.parts == []


def test_every_criterion_with_its_weight() -> None:
    patient = _patient(date(1950, 1, 1), ald=True, css=True, handicap=True)
    referral = _referral(ReferralReason.HOSPITAL_DISCHARGE, Urgency.HALF_DAY)
    result = score_referral(referral, patient, now=NOW)
    assert result.parts == [
        ("Dans la demi-journée", 50),
        ("ALD", 30),
        ("70 ans ou plus", 20),
        ("Sortie d'hospitalisation", 25),
        ("CSS / AME", 15),
        ("Handicap", 15),
    ]
    assert result.score == 155


def test_ame_counts_like_css_and_48h_less_than_half_day() -> None:
    result = score_referral(_referral(urgency=Urgency.WITHIN_48H), _patient(ame=True), now=NOW)
    assert result.parts == [("Sous 48 h", 25), ("CSS / AME", 15)]


def test_age_70_counts_from_the_birthday_on() -> None:
    born = date(NOW.year - 70, NOW.month, NOW.day + 1)
    assert score_referral(_referral(), _patient(born), now=NOW).score == 0
    tomorrow = NOW + timedelta(days=1)
    assert score_referral(_referral(received_at=tomorrow), _patient(born), now=tomorrow).score == 20


def test_reason_ald_counts_without_a_patient() -> None:
    result = score_referral(_referral(ReferralReason.CHRONIC_ALD), None, now=NOW)
    assert result.parts == [("ALD", 30)]


def test_waiting_time_two_points_a_day_capped_at_30() -> None:
    referral = _referral()
    assert score_referral(referral, None, now=NOW + timedelta(hours=23)).score == 0
    assert score_referral(referral, None, now=NOW + timedelta(days=3, hours=2)).parts == [("Attente 3 j", 6)]
    assert score_referral(referral, None, now=NOW + timedelta(days=40)).score == 30
