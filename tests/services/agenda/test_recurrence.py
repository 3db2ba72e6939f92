"""Weekly rules expanded in Paris wall time, stored in UTC: clock changes, holidays, closures."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest

from cpts_app.services.agenda.recurrence import (
    PARIS,
    expand_rule,
    half_day_bounds,
    paris_day_bounds,
    parse_hhmm,
    to_paris,
)

MONDAY, SUNDAY = 0, 6


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_parse_hhmm() -> None:
    assert parse_hhmm("08:30") == time(8, 30)
    assert parse_hhmm(" 8:05 ") == time(8, 5)
    for bad in ("", "8h30", "24:00", "12:60", "12:5", "ab:cd", "123:00"):
        with pytest.raises(ValueError, match="Heure invalide"):
            parse_hhmm(bad)


def test_plain_week_cuts_slots_and_drops_the_last_partial_one() -> None:
    slots = expand_rule(
        MONDAY, "08:00", "09:10", 15, date(2026, 1, 1), None, date(2026, 1, 12), date(2026, 1, 18)
    )
    assert [s for s, _ in slots] == [utc(2026, 1, 12, 7, m) for m in (0, 15, 30, 45)]
    assert all(e - s == timedelta(minutes=15) for s, e in slots)
    assert slots[-1][1] == utc(2026, 1, 12, 8, 0)  # 09:00 Paris: 09:00–09:15 would pass 09:10


def test_morning_rule_keeps_its_wall_time_across_the_march_change() -> None:
    """08:00–12:00 Paris is 07:00 UTC before 29 March 2026 and 06:00 UTC after."""
    slots = expand_rule(
        MONDAY, "08:00", "12:00", 30, date(2026, 3, 1), None, date(2026, 3, 23), date(2026, 3, 31)
    )
    before = [s for s, _ in slots if s.date() == date(2026, 3, 23)]
    after = [s for s, _ in slots if s.date() == date(2026, 3, 30)]
    assert before[0] == utc(2026, 3, 23, 7, 0) and len(before) == 8
    assert after[0] == utc(2026, 3, 30, 6, 0) and len(after) == 8
    assert {to_paris(s).time() for s in before} == {to_paris(s).time() for s in after}


@pytest.mark.parametrize(
    ("day", "utc_hour_of_8am"),
    [
        (date(2026, 3, 23), 7),  # the Monday before the March change: CET
        (date(2026, 3, 30), 6),  # the Monday after: CEST
        (date(2026, 10, 19), 6),  # the Monday before the October change: CEST
        (date(2026, 10, 26), 7),  # the Monday after: CET
    ],
)
def test_half_day_slots_across_both_changes(day: date, utc_hour_of_8am: int) -> None:
    """One 4-hour slot per half-day keeps 08:00–12:00 and 14:00–18:00 Paris all year."""
    morning = expand_rule(MONDAY, "08:00", "12:00", 240, date(2026, 1, 1), None, day, day)
    afternoon = expand_rule(MONDAY, "14:00", "18:00", 240, date(2026, 1, 1), None, day, day)
    h = utc_hour_of_8am
    assert morning == [(utc(day.year, day.month, day.day, h), utc(day.year, day.month, day.day, h + 4))]
    assert afternoon == [
        (utc(day.year, day.month, day.day, h + 6), utc(day.year, day.month, day.day, h + 10))
    ]
    assert [to_paris(s).strftime("%H:%M") for s, _ in morning + afternoon] == ["08:00", "14:00"]


def test_nonexistent_hour_of_the_march_change_is_skipped() -> None:
    """On Sunday 29 March 2026 clocks jump from 02:00 to 03:00: no slot starts at 02:00 or 02:30."""
    slots = expand_rule(
        SUNDAY, "01:00", "04:00", 30, date(2026, 3, 1), None, date(2026, 3, 29), date(2026, 3, 29)
    )
    wall = [to_paris(s).strftime("%H:%M") for s, _ in slots]
    assert wall == ["01:00", "01:30", "03:00", "03:30"]
    assert [s for s, _ in slots] == [
        utc(2026, 3, 29, 0, 0),
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 29, 1, 30),
    ]


def test_ambiguous_hour_of_the_october_change_uses_its_first_occurrence() -> None:
    """On Sunday 25 October 2026 02:00–03:00 happens twice; 02:30 means 02:30 CEST (00:30 UTC)."""
    slots = expand_rule(
        SUNDAY, "02:00", "04:00", 30, date(2026, 1, 1), None, date(2026, 10, 25), date(2026, 10, 25)
    )
    starts = [s for s, _ in slots]
    assert utc(2026, 10, 25, 0, 30) in starts  # 02:30 CEST, fold=0
    assert utc(2026, 10, 25, 1, 30) not in starts  # not the second 02:30 (CET)
    assert starts == [
        utc(2026, 10, 25, 0, 0),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 2, 0),
        utc(2026, 10, 25, 2, 30),
    ]
    ends = [e for _, e in slots]
    assert all(b >= a for a, b in zip(ends, starts[1:], strict=False))  # no overlap


def test_slots_never_overlap_on_the_march_change_with_odd_durations() -> None:
    slots = expand_rule(
        SUNDAY, "01:30", "05:00", 45, date(2026, 3, 1), None, date(2026, 3, 29), date(2026, 3, 29)
    )
    for (_, end), (start, _) in pairwise(slots):
        assert start >= end
    assert all(e - s == timedelta(minutes=45) for s, e in slots)
    assert slots[-1][1] <= utc(2026, 3, 29, 3, 0)  # 05:00 CEST


def test_day_bounds_are_23_and_25_hours_on_change_days() -> None:
    start, end = paris_day_bounds(date(2026, 3, 29))
    assert (start, end - start) == (utc(2026, 3, 28, 23), timedelta(hours=23))
    start, end = paris_day_bounds(date(2026, 10, 25))
    assert (start, end - start) == (utc(2026, 10, 24, 22), timedelta(hours=25))
    start, end = paris_day_bounds(date(2026, 1, 5))
    assert end - start == timedelta(hours=24)


def test_half_day_bounds() -> None:
    morning = half_day_bounds(utc(2026, 7, 1, 9, 0))  # 11:00 CEST
    assert morning == (utc(2026, 6, 30, 22, 0), utc(2026, 7, 1, 11, 0))
    afternoon = half_day_bounds(utc(2026, 7, 1, 11, 0))  # 13:00 CEST: the afternoon starts
    assert afternoon == (utc(2026, 7, 1, 11, 0), utc(2026, 7, 1, 22, 0))
    winter = half_day_bounds(datetime(2026, 12, 1, 12, 59, tzinfo=PARIS))
    assert winter == (utc(2026, 11, 30, 23, 0), utc(2026, 12, 1, 12, 0))
    # The afternoon of the October change day lasts until midnight CET (25 h day).
    assert half_day_bounds(utc(2026, 10, 25, 20, 0)) == (utc(2026, 10, 25, 12, 0), utc(2026, 10, 25, 23, 0))


@pytest.mark.parametrize(
    ("weekday", "holiday"),
    [
        (1, date(2026, 7, 14)),  # Fête nationale, a Tuesday
        (4, date(2026, 5, 1)),  # Fête du travail, a Friday
        (0, date(2026, 4, 6)),  # Lundi de Pâques
    ],
)
def test_public_holidays_are_skipped_when_asked(weekday: int, holiday: date) -> None:
    window = (holiday - timedelta(days=7), holiday)
    kept = expand_rule(weekday, "09:00", "10:00", 30, date(2026, 1, 1), None, *window)
    days = {to_paris(s).date() for s, _ in kept}
    assert holiday not in days
    assert days == {holiday - timedelta(days=7)}
    worked = expand_rule(
        weekday, "09:00", "10:00", 30, date(2026, 1, 1), None, *window, skip_public_holidays=False
    )
    assert holiday in {to_paris(s).date() for s, _ in worked}


def test_validity_period_and_window_intersect() -> None:
    slots = expand_rule(
        MONDAY, "09:00", "10:00", 60, date(2026, 2, 9), date(2026, 2, 16), date(2026, 2, 1), date(2026, 3, 1)
    )
    assert [to_paris(s).date() for s, _ in slots] == [date(2026, 2, 9), date(2026, 2, 16)]
    assert (
        expand_rule(MONDAY, "09:00", "10:00", 60, date(2026, 3, 2), None, date(2026, 2, 1), date(2026, 2, 28))
        == []
    )


def test_closed_periods_are_skipped() -> None:
    closed = [(utc(2026, 2, 9, 8, 30), utc(2026, 2, 9, 9, 0))]  # 09:30–10:00 Paris
    slots = expand_rule(
        MONDAY,
        "09:00",
        "11:00",
        30,
        date(2026, 1, 1),
        None,
        date(2026, 2, 9),
        date(2026, 2, 9),
        closed=closed,
    )
    assert [to_paris(s).strftime("%H:%M") for s, _ in slots] == ["09:00", "10:00", "10:30"]
