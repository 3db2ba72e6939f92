"""The identity traits given by a patient before qualification, kept in the referral's free text.

Why in the text: ``Referral`` has ``contact_name`` and ``contact_phone`` but no column for the
birth name, first names and birth date a self-signal or an e-mail gives. They are written as the
first lines of ``free_text`` (readable as is by the coordinator) and read back here to look for
probable duplicates. Proposed model change: ``contact_birth_name``, ``contact_first_names``,
``contact_birth_date`` columns, after which this module disappears.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

BIRTH_NAME = "Nom de naissance"
FIRST_NAMES = "Prénoms"
BIRTH_DATE = "Date de naissance"
_LINE = re.compile(rf"^({BIRTH_NAME}|{FIRST_NAMES}|{BIRTH_DATE}) : (.*)$", re.MULTILINE)
_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")


@dataclass(frozen=True)
class ContactTraits:
    birth_name: str = ""
    first_names: str = ""
    birth_date: date | None = None

    @property
    def complete(self) -> bool:
        return bool(self.birth_name and self.first_names and self.birth_date)


def format_traits(traits: ContactTraits) -> str:
    """The header lines (only the known traits), ending with a blank line when not empty."""
    lines = []
    if traits.birth_name:
        lines.append(f"{BIRTH_NAME} : {traits.birth_name}")
    if traits.first_names:
        lines.append(f"{FIRST_NAMES} : {traits.first_names}")
    if traits.birth_date is not None:
        lines.append(f"{BIRTH_DATE} : {traits.birth_date:%d/%m/%Y}")
    return "\n".join(lines) + "\n\n" if lines else ""


def parse_traits(free_text: str) -> ContactTraits:
    """The traits written by ``format_traits`` at the top of ``free_text`` (empty when absent)."""
    found: dict[str, str] = {}
    for key, value in _LINE.findall(free_text or ""):
        found.setdefault(key, value.strip())
    born: date | None = None
    match = _DATE.match(found.get(BIRTH_DATE, ""))
    if match:
        day, month, year = (int(part) for part in match.groups())
        try:
            born = date(year, month, day)
        except ValueError:
            born = None
    return ContactTraits(found.get(BIRTH_NAME, ""), found.get(FIRST_NAMES, ""), born)
