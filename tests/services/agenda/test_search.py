"""« Trouver un créneau »: windows, area, kind, audience, limit and order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from cpts_app.models.agenda import SlotKind, SlotStatus
from cpts_app.models.directory import Profession
from cpts_app.services.agenda import search
from cpts_app.services.agenda.search import SlotSearch
from cpts_app.services.errors import ValidationFailed
from tests.services import factories
from tests.services.agenda import factories as af
from tests.services.agenda.factories import NOW, Territory

GP = Profession.GENERAL_PRACTITIONER.value


@pytest.fixture
def territory(session: Session) -> Territory:
    return af.build_territory(session)


def _paris(day: int, hour: int, minute: int = 0) -> datetime:
    """March 2026 (UTC+1 until the 29th): Paris wall time → UTC."""
    return datetime(2026, 3, day, hour - 1, minute, tzinfo=UTC)


def _ids(offers: list[search.SlotOffer]) -> list[int]:
    return [offer.slot_id for offer in offers]


def test_windows_half_day_today_48h_dates(session: Session, territory: Territory) -> None:
    sched = af.schedule(session, territory.gp, territory.bordeaux, territory.msp)
    past = af.slot(session, sched, _paris(10, 8, 45))
    morning = af.slot(session, sched, _paris(10, 12, 45))
    afternoon = af.slot(session, sched, _paris(10, 13, 0))
    tomorrow = af.slot(session, sched, _paris(11, 10))
    in_two_days = af.slot(session, sched, _paris(12, 8, 30))
    beyond = af.slot(session, sched, _paris(12, 9, 15))
    session.commit()
    coordinator = territory.coordinator

    def found(**kwargs) -> list[int]:  # type: ignore[no-untyped-def]
        return _ids(search.find_slots(session, coordinator, SlotSearch(profession=GP, **kwargs), now=NOW))

    assert found(window="half_day") == [morning.id]
    assert found(window="today") == [morning.id, afternoon.id]
    assert found(window="48h") == [morning.id, afternoon.id, tomorrow.id, in_two_days.id]
    assert found(window="dates", date_from=date(2026, 3, 11), date_to=date(2026, 3, 12)) == [
        tomorrow.id,
        in_two_days.id,
        beyond.id,
    ]
    # Just before 13:00 the half-day ends at 13:00 (exclusive); from 13:00 it runs to midnight.
    half_day = SlotSearch(window="half_day")
    assert _ids(search.find_slots(session, coordinator, half_day, now=_paris(10, 12, 59))) == []
    offers = search.find_slots(session, coordinator, half_day, now=_paris(10, 13, 0))
    assert _ids(offers) == [afternoon.id]
    late = af.slot(session, sched, _paris(10, 23, 45))
    session.commit()
    assert _ids(search.find_slots(session, coordinator, half_day, now=_paris(10, 13, 0))) == [
        afternoon.id,
        late.id,
    ]
    assert past.id not in found(window="dates", date_from=date(2026, 3, 10), date_to=date(2026, 3, 10))
    assert offers[0].day_label == "mardi 10 mars" and offers[0].time_label == "13:00–13:15"
    assert offers[0].professional_name == "Marie LEFÈVRE" and offers[0].structure_name == "MSP des Capucins"
    assert offers[0].commune_name == "Bordeaux" and offers[0].kind_label == "Consultation"


def test_bad_dates(session: Session, territory: Territory) -> None:
    actor = territory.coordinator
    with pytest.raises(ValidationFailed) as caught:
        search.find_slots(session, actor, SlotSearch(window="dates"), now=NOW)
    assert set(caught.value.errors) == {"date_from", "date_to"}
    with pytest.raises(ValidationFailed) as caught:
        search.find_slots(
            session,
            actor,
            SlotSearch(window="dates", date_from=date(2026, 3, 12), date_to=date(2026, 3, 11)),
            now=NOW,
        )
    assert "date_to" in caught.value.errors
    with pytest.raises(ValidationFailed):
        search.find_slots(session, actor, SlotSearch(window="week"), now=NOW)


def test_neighbours_kind_and_order(session: Session, territory: Territory) -> None:
    here = af.schedule(session, territory.gp, territory.bordeaux, territory.msp)
    next_door = af.schedule(session, territory.colleague, territory.begles)
    far = af.schedule(session, factories.professional(session, "Léa", "Roux"), territory.far)
    tie_neighbour = af.slot(session, next_door, NOW + timedelta(hours=1))
    tie_here = af.slot(session, here, NOW + timedelta(hours=1))
    later_snp = af.slot(session, here, NOW + timedelta(hours=2), kind=SlotKind.UNSCHEDULED)
    af.slot(session, far, NOW + timedelta(minutes=30))
    session.commit()
    actor = territory.coordinator
    around = SlotSearch(profession=GP, commune_id=territory.bordeaux.id, window="today")
    offers = search.find_slots(session, actor, around, now=NOW)
    assert _ids(offers) == [tie_here.id, tie_neighbour.id, later_snp.id]
    assert [offer.in_neighbour_commune for offer in offers] == [False, True, False]
    alone = SlotSearch(
        profession=GP, commune_id=territory.bordeaux.id, include_neighbours=False, window="today"
    )
    assert _ids(search.find_slots(session, actor, alone, now=NOW)) == [tie_here.id, later_snp.id]
    snp = SlotSearch(
        profession=GP, commune_id=territory.bordeaux.id, kind=SlotKind.UNSCHEDULED.value, window="today"
    )
    assert _ids(search.find_slots(session, actor, snp, now=NOW)) == [later_snp.id]
    nurses = SlotSearch(profession=Profession.NURSE.value, window="today")
    assert search.find_slots(session, actor, nurses, now=NOW) == []


def test_audience_limit_and_status(session: Session, territory: Territory) -> None:
    colleague = af.schedule(session, territory.colleague, territory.bordeaux)
    own = af.schedule(session, territory.gp, territory.bordeaux)
    public = af.slot(session, colleague, NOW + timedelta(minutes=10), audience="PUBLIC")
    snp = af.slot(session, colleague, NOW + timedelta(minutes=20), audience="SNP")
    pro = af.slot(session, colleague, NOW + timedelta(minutes=30), audience="PUBLIC,PRO")
    own_public = af.slot(session, own, NOW + timedelta(minutes=40), audience="PUBLIC")
    af.slot(session, colleague, NOW + timedelta(minutes=50), audience="PRO", status=SlotStatus.BUSY)
    session.commit()
    today = SlotSearch(window="today")
    assert _ids(search.find_slots(session, territory.gp_actor, today, now=NOW)) == [pro.id, own_public.id]
    assert _ids(search.find_slots(session, territory.secretariat, today, now=NOW)) == [snp.id, pro.id]
    assert public.id not in _ids(search.find_slots(session, territory.coordinator, today, now=NOW))
    limited = SlotSearch(window="today", limit=1)
    assert _ids(search.find_slots(session, territory.secretariat, limited, now=NOW)) == [snp.id]
