"""The e-mails of the demo: what patients (or their relatives) write to the pôle de santé.

Why real RFC 5322 messages built in code: the demo's « à qualifier » referrals must go through the
real intake (``email_intake.ingest_message``: parsing, sealing, dedup), so that the coordinator
opens the same kind of encrypted original as in production. The styles mirror the test fixtures:
plain text, HTML only, a message forwarded by a daughter, and one broken message that can only be
kept as text. Addresses use the ``example.fr`` / ``example.com`` domains: nobody real is named.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum

import phonenumbers

from cpts_app.demo_orientation_people import Person
from cpts_app.models import ReferralReason, Sex
from cpts_app.services.agenda.clock import PARIS
from cpts_app.services.identifiers import search_key

POLE_ADDRESS = Address("Pôle de santé des Costières", "orientation", "demo-cpts.fr")
MAIL_DOMAINS = ("example.fr", "example.com", "example.net")


class MailStyle(StrEnum):
    PLAIN = "texte"
    HTML = "html"
    FORWARDED = "transfere"
    BROKEN = "illisible"


_SUBJECTS: dict[ReferralReason, str] = {
    ReferralReason.FIND_ATTENDING_DOCTOR: "Recherche d'un médecin traitant",
    ReferralReason.CHRONIC_ALD: "Suivi de ma maladie chronique",
    ReferralReason.TREATMENT_RENEWAL: "Renouvellement d'ordonnance",
    ReferralReason.HOSPITAL_DISCHARGE: "Retour à domicile après hospitalisation",
    ReferralReason.FOLLOW_UP: "Suivi après un passage aux urgences",
    ReferralReason.UNSCHEDULED_CARE: "Besoin d'une consultation",
}

_NEEDS: dict[ReferralReason, str] = {
    ReferralReason.FIND_ATTENDING_DOCTOR: (
        "Je n'ai plus de médecin traitant depuis le départ à la retraite de mon docteur, et aucun "
        "cabinet de {commune} ne prend de nouveaux patients."
    ),
    ReferralReason.CHRONIC_ALD: (
        "Je suis diabétique, en ALD, et je n'ai plus de médecin pour mon suivi depuis plusieurs mois."
    ),
    ReferralReason.TREATMENT_RENEWAL: (
        "Mon ordonnance pour la tension se termine la semaine prochaine et je n'ai pas de médecin "
        "pour la renouveler."
    ),
    ReferralReason.HOSPITAL_DISCHARGE: (
        "Je sors de l'hôpital de Nîmes après une opération et on m'a dit de voir un médecin dans "
        "les quinze jours."
    ),
    ReferralReason.FOLLOW_UP: (
        "Je suis passé aux urgences samedi pour une entorse et on m'a demandé de consulter un "
        "médecin pour le suivi."
    ),
    ReferralReason.UNSCHEDULED_CARE: (
        "J'ai de la fièvre depuis deux jours et je n'arrive pas à voir un médecin."
    ),
}


def _national(e164: str) -> str:
    """« 06 12 34 56 78 », as people type it."""
    return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL)


def _address(first: str, last: str, index: int) -> Address:
    local = ".".join("-".join(search_key(part).split()) for part in (first, last))
    return Address(f"{first} {last.title()}", local, MAIL_DOMAINS[index % len(MAIL_DOMAINS)])


def _letter(person: Person, reason: ReferralReason, *, urgent: bool) -> str:
    born = "née" if person.sex == Sex.FEMALE else "né"
    need = _NEEDS[reason].format(commune=person.commune_name)
    if person.sex == Sex.FEMALE:
        need = need.replace("Je suis passé", "Je suis passée")
    lines = [
        "Bonjour,",
        "",
        f"Je m'appelle {person.first_names} {person.birth_name}, {born} le "
        f"{person.birth_date:%d/%m/%Y}, et j'habite à {person.commune_name}.",
        need,
    ]
    if urgent:
        lines.append("C'est assez urgent, pourriez-vous me rappeler dès que possible ?")
    lines += [
        "",
        f"Vous pouvez me joindre au {_national(person.phone)} (plutôt le matin).",
        "",
        "Merci d'avance, bien cordialement,",
        person.full_name,
    ]
    return "\n".join(lines)


def _headers(message: EmailMessage, sender: Address, subject: str, sent: datetime, index: int) -> None:
    message["From"] = sender
    message["To"] = POLE_ADDRESS
    message["Subject"] = subject
    message["Date"] = format_datetime(sent.astimezone(PARIS))
    message["Message-ID"] = f"<demo-orientation-{index:04d}@{sender.domain}>"


def build_email(
    person: Person,
    reason: ReferralReason,
    *,
    sent: datetime,
    index: int,
    style: MailStyle = MailStyle.PLAIN,
    urgent: bool = False,
    relative_first_name: str = "Sophie",
) -> bytes:
    """The raw bytes of one message about ``person`` (``index`` makes its Message-ID unique)."""
    if style == MailStyle.BROKEN:
        return _broken(person, sent, index)
    letter = _letter(person, reason, urgent=urgent)
    message = EmailMessage()
    subject = _SUBJECTS[reason]
    if style == MailStyle.FORWARDED:
        relative = _address(relative_first_name, person.birth_name, index)
        original = _address(person.first_names, person.birth_name, index + 1)
        mother = "ma mère" if person.sex == Sex.FEMALE else "mon père"
        body = "\n".join(
            [
                "Bonjour,",
                "",
                f"Je vous transfère le message de {mother}, qui n'arrive pas à vous joindre par téléphone.",
                "Je peux aussi être contactée si besoin.",
                "",
                f"{relative_first_name} {person.birth_name.title()}",
                "",
                "---------- Message transféré ---------",
                f"De : {original.display_name} <{original.addr_spec}>",
                f"Date : {sent.astimezone(PARIS):%d/%m/%Y %H:%M}",
                f"Objet : {subject}",
                "",
                letter,
            ]
        )
        _headers(message, relative, f"Fwd: {subject}", sent, index)
        message.set_content(body)
    elif style == MailStyle.HTML:
        _headers(message, _address(person.first_names, person.birth_name, index), subject, sent, index)
        paragraphs = "".join(f"<p>{line}</p>" if line else "<br>" for line in letter.splitlines())
        message.set_content(f"<html><body><div>{paragraphs}</div></body></html>", subtype="html")
    else:
        _headers(message, _address(person.first_names, person.birth_name, index), subject, sent, index)
        message.set_content(letter)
    return bytes(message)


def _broken(person: Person, sent: datetime, index: int) -> bytes:
    """A message cut in the middle, with an unknown charset: kept as text, never dropped."""
    return (
        "From: ???\r\n"
        "Subject: =?x-unknown?Q?aide_m=E9decin?=\r\n"
        f"Date: {format_datetime(sent.astimezone(PARIS))}\r\n"
        f"Message-ID: <demo-orientation-{index:04d}@example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="cut"\r\n'
        "\r\n"
        "--cut\r\n"
        "Content-Type: text/plain; charset=x-unknown-8bit\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "Qm9uam91ciwgaidhaSBiZXNvaW4gZCd1biBt6WRlY2luLiAw\r\n"
        f" \xe9 {person.birth_name} {_national(person.phone)} m\xe9decin svp\r\n"
        "--cu"
    ).encode("latin-1")
