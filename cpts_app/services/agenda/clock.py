"""Paris wall time for the agenda: "today", half-days and the French day and time labels.

Why one place: times are stored in UTC, but a CPTS thinks in Paris days and half-days (matin until
13:00, après-midi after), and every list must word dates the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
HALF_DAY_SPLIT = time(13, 0)
MORNING = "matin"
AFTERNOON = "après-midi"

_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def paris_at(day: date, at: time = time(0, 0)) -> datetime:
    """The UTC instant of ``day`` at ``at`` on Paris clocks (daylight saving handled by zoneinfo)."""
    return datetime.combine(day, at, tzinfo=PARIS).astimezone(UTC)


def paris_day(moment: datetime) -> date:
    """The Paris calendar day of an aware instant."""
    return moment.astimezone(PARIS).date()


def day_bounds(day: date, days: int = 1) -> tuple[datetime, datetime]:
    """[00:00 of ``day``, 00:00 of ``day + days``) in Paris, as UTC instants (23 or 25 h days included)."""
    return paris_at(day), paris_at(day + timedelta(days=days))


def half_day_end(now: datetime) -> datetime:
    """The end of the Paris half-day containing ``now``: 13:00, or midnight for the afternoon."""
    local = now.astimezone(PARIS)
    if local.time() < HALF_DAY_SPLIT:
        return paris_at(local.date(), HALF_DAY_SPLIT)
    return paris_at(local.date() + timedelta(days=1))


def half_day_of(moment: datetime) -> str:
    """ "matin" before 13:00 Paris, "après-midi" from 13:00."""
    return MORNING if moment.astimezone(PARIS).time() < HALF_DAY_SPLIT else AFTERNOON


def day_label(moment: datetime) -> str:
    """ "lundi 23 novembre" (Paris)."""
    local = moment.astimezone(PARIS)
    return f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}"


def time_label(start: datetime, end: datetime) -> str:
    """ "14:30–14:45" (Paris)."""
    return f"{start.astimezone(PARIS):%H:%M}–{end.astimezone(PARIS):%H:%M}"


def moment_label(moment: datetime) -> str:
    """ "23/11/2026 14:30" (Paris), for lists and audit-free displays."""
    return f"{moment.astimezone(PARIS):%d/%m/%Y %H:%M}"
