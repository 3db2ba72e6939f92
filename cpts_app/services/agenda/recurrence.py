"""Weekly availability rules expanded into UTC slots, in Europe/Paris wall time (pure, no database).

Why wall time: a professional who works "le lundi de 8 h à 12 h" starts at 08:00 on Paris clocks
in winter (07:00 UTC) and in summer (06:00 UTC); storing the rule in Paris time and each slot in
UTC keeps both true across the March and October clock changes.

Clock-change choices (night slots only; no practice works at 02:00, but the rules must be total):

- a slot whose wall start does not exist (02:00–02:59 on the last Sunday of March) is skipped;
- an ambiguous wall start (02:00–02:59 on the last Sunday of October) is its first occurrence
  (``fold=0``, summer time); the repeated hour's second pass gets no slot;
- every slot lasts exactly ``slot_minutes`` of real time, ends no later than the rule's end, and
  never overlaps the previous slot of the same day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

PARIS = ZoneInfo("Europe/Paris")
HALF_DAY_SPLIT = time(13, 0)
"""Matin: 00:00–13:00; après-midi: 13:00–24:00 (Paris). 13:00 rather than noon because morning
consultations and the 12:00–13:00 soins non programmés block belong to the morning's answer."""

INVALID_TIME = "Heure invalide (format HH:MM attendu)."


def parse_hhmm(value: str) -> time:
    """ "08:30" → time(8, 30); "8:30" is accepted; anything else raises ``ValueError`` (French)."""
    text = (value or "").strip()
    hours, sep, minutes = text.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2 or len(hours) > 2:
        raise ValueError(INVALID_TIME)
    h, m = int(hours), int(minutes)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError(INVALID_TIME)
    return time(h, m)


def to_paris(dt: datetime) -> datetime:
    """An aware instant on Paris clocks (naive values are refused: they have no meaning here)."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime refused: timestamps must be timezone-aware")
    return dt.astimezone(PARIS)


def paris_to_utc(day: date, at: time) -> datetime | None:
    """The UTC instant of ``day`` at ``at`` on Paris clocks; None when that wall time does not
    exist (spring gap); the first occurrence when it is ambiguous (autumn)."""
    local = datetime.combine(day, at, tzinfo=PARIS)  # fold=0: the first occurrence
    instant = local.astimezone(UTC)
    back = instant.astimezone(PARIS)
    if (back.date(), back.time()) != (day, at):
        return None
    return instant


def _wall_to_utc_lenient(day: date, at: time) -> datetime:
    """Like ``paris_to_utc`` but a wall time in the spring gap maps to the jump (03:00 CEST)."""
    local = datetime.combine(day, at, tzinfo=PARIS)
    instant = local.astimezone(UTC)
    back = instant.astimezone(PARIS)
    if (back.date(), back.time()) == (day, at):
        return instant
    # In the gap: the instant of the jump is the first valid instant after that wall time.
    return _gap_end(day)


def _gap_end(day: date) -> datetime:
    """The instant the clocks jumped forward on ``day`` (the first valid instant after the gap)."""
    probe = datetime.combine(day, time(0, 0), tzinfo=PARIS).astimezone(UTC)
    offset = probe.astimezone(PARIS).utcoffset()
    for hour in range(1, 25):
        candidate = probe + timedelta(hours=hour)
        if candidate.astimezone(PARIS).utcoffset() != offset:
            return candidate
    raise AssertionError("no clock change on this day")


def paris_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[00:00 of ``day``, 00:00 of the next day) in Paris, as UTC (23 or 25 hours on change days)."""
    start = datetime.combine(day, time(0, 0), tzinfo=PARIS).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=PARIS).astimezone(UTC)
    return start, end


def half_day_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """The UTC bounds of the Paris half-day containing ``moment``: 00:00–13:00 (matin) or
    13:00–24:00 (après-midi); see ``HALF_DAY_SPLIT`` for why 13:00."""
    local = to_paris(moment)
    day_start, day_end = paris_day_bounds(local.date())
    split = datetime.combine(local.date(), HALF_DAY_SPLIT, tzinfo=PARIS).astimezone(UTC)
    return (day_start, split) if local.time() < HALF_DAY_SPLIT else (split, day_end)


@lru_cache(maxsize=64)
def _french_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.France(years=year).keys())


def is_public_holiday(day: date) -> bool:
    """Whether ``day`` is a French public holiday (jour férié, metropolitan France)."""
    return day in _french_holidays(day.year)


def _overlaps(start: datetime, end: datetime, closed: Sequence[tuple[datetime, datetime]]) -> bool:
    return any(start < c_end and end > c_start for c_start, c_end in closed)


def _has_clock_change(day: date) -> bool:
    """Whether Paris changes its UTC offset during ``day`` (last Sundays of March and October)."""
    start, end = paris_day_bounds(day)
    return end - start != timedelta(days=1)


def _cut_change_day(
    day: date,
    first_minute: int,
    last_minute: int,
    slot_minutes: int,
    last_time: time,
    closed: Sequence[tuple[datetime, datetime]],
) -> list[tuple[datetime, datetime]]:
    """The slots of a clock-change day, with the rules of the module docstring."""
    step = timedelta(minutes=slot_minutes)
    rule_end = _wall_to_utc_lenient(day, last_time)
    slots: list[tuple[datetime, datetime]] = []
    previous_end: datetime | None = None
    minute = first_minute
    while minute + slot_minutes <= last_minute:
        start = paris_to_utc(day, time(minute // 60, minute % 60))
        minute += slot_minutes
        if start is None:
            continue
        end = start + step
        if end > rule_end or (previous_end is not None and start < previous_end):
            continue
        previous_end = end
        if not _overlaps(start, end, closed):
            slots.append((start, end))
    return slots


def expand_rule(
    weekday: int,
    start_time: str,
    end_time: str,
    slot_minutes: int,
    valid_from: date,
    valid_until: date | None,
    window_start: date,
    window_end: date,
    *,
    skip_public_holidays: bool = True,
    closed: Iterable[tuple[datetime, datetime]] = (),
) -> list[tuple[datetime, datetime]]:
    """The UTC (start, end) of every slot of a weekly rule on the days of
    [window_start, window_end] ∩ [valid_from, valid_until] (both inclusive).

    Slots are cut every ``slot_minutes`` from ``start_time`` (a last partial slot is dropped);
    public holidays are skipped when asked; slots overlapping a ``closed`` UTC interval are skipped.
    """
    if slot_minutes <= 0:
        raise ValueError("slot_minutes must be positive")
    first_time, last_time = parse_hhmm(start_time), parse_hhmm(end_time)
    first_day = max(window_start, valid_from)
    last_day = window_end if valid_until is None else min(window_end, valid_until)
    if first_day > last_day:
        return []
    closed_list = list(closed)
    step = timedelta(minutes=slot_minutes)
    first_minute = first_time.hour * 60 + first_time.minute
    last_minute = last_time.hour * 60 + last_time.minute
    # First matching weekday on or after first_day.
    day = first_day + timedelta(days=(weekday - first_day.weekday()) % 7)
    slots: list[tuple[datetime, datetime]] = []
    while day <= last_day:
        if not (skip_public_holidays and is_public_holiday(day)):
            if _has_clock_change(day):
                slots.extend(
                    _cut_change_day(day, first_minute, last_minute, slot_minutes, last_time, closed_list)
                )
            else:
                # One offset all day: plain arithmetic, no per-slot round trip through zoneinfo.
                midnight = datetime.combine(day, time(0, 0), tzinfo=PARIS).astimezone(UTC)
                minute = first_minute
                while minute + slot_minutes <= last_minute:
                    start = midnight + timedelta(minutes=minute)
                    end = start + step
                    minute += slot_minutes
                    if not closed_list or not _overlaps(start, end, closed_list):
                        slots.append((start, end))
        day += timedelta(days=7)
    return slots
