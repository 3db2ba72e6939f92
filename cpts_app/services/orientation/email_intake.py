"""E-mails become « à qualifier » referrals, from a drop folder of .eml files or an IMAP mailbox.

The rule is: never drop a message. Each message is stored sealed (``crypto.seal``) and turned into
a referral in one transaction; a file is moved to ``processed/`` and an IMAP message marked \\Seen
only after that transaction committed. If anything fails, the file stays in place (the mail stays
unseen) and the next run takes it again; the dedup key (SHA-256 of the Message-ID, or of the raw
bytes) makes that second run harmless when the first one had in fact committed.
"""

from __future__ import annotations

import hashlib
import imaplib
import os
import re
import shutil
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cpts_app.db import run_in_transaction
from cpts_app.models.orientation import (
    InboundMessage,
    Referral,
    ReferralReason,
    ReferralSource,
    ReferralStatus,
    Urgency,
)
from cpts_app.models.types import utcnow
from cpts_app.services import audit, crypto
from cpts_app.services.identifiers import search_key
from cpts_app.services.orientation.contact_traits import ContactTraits, format_traits
from cpts_app.services.orientation.email_parsing import ParsedSignal, parse_signal_email
from cpts_app.services.orientation.events import add_event
from cpts_app.services.orientation.priority import score_referral

__all__ = [
    "ImapConfig",
    "IntakeReport",
    "ParsedSignal",
    "fetch_imap",
    "imap_config_from_env",
    "ingest_drop_folder",
    "ingest_message",
    "parse_signal_email",
]

RAW_PURPOSE = "inbound_message.raw"
SOURCE_FOLDER = "dossier"
SOURCE_IMAP = "imap"
FREE_TEXT_MAX = 4000
DEFAULT_IMAP_PORT = 993

_REASON_WORDS: list[tuple[ReferralReason, re.Pattern[str]]] = [
    (
        ReferralReason.HOSPITAL_DISCHARGE,
        re.compile(r"\bsor\w* (?:d|de l|du) (?:hopital|hospi|clinique)|hospitalis"),
    ),
    (
        ReferralReason.CHRONIC_ALD,
        re.compile(r"\bald\b|maladie chronique|longue duree|diabet|insuffisan\w* cardiaque|cancer"),
    ),
    (ReferralReason.TREATMENT_RENEWAL, re.compile(r"renouvel|ordonnance|traitement habituel")),
    (
        ReferralReason.FOLLOW_UP,
        re.compile(r"\burgences\b|maison medicale de garde|teleconsultation|\bsos medecin"),
    ),
]
_URGENT = re.compile(r"\burgent\w*|au plus vite|des que possible|rapidement")


@dataclass
class IntakeReport:
    """What one run of the intake did."""

    created: list[int] = field(default_factory=list)
    """Referral ids."""
    duplicates: list[str] = field(default_factory=list)
    """Files (or IMAP uids) already received before."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(file or uid, error): left in place, taken again at the next run."""


@dataclass(frozen=True)
class ImapConfig:
    host: str
    user: str
    password: str
    port: int = DEFAULT_IMAP_PORT
    folder: str = "INBOX"


def imap_config_from_env(environ: dict[str, str] | None = None) -> ImapConfig | None:
    """The mailbox from CPTS_IMAP_HOST / _PORT / _USER / _PASSWORD / _FOLDER (None when not set).

    Why not ``Settings``: proposed as fields there; read here meanwhile so the intake can run.
    """
    env = os.environ if environ is None else environ
    host, user, password = (
        env.get("CPTS_IMAP_HOST", ""),
        env.get("CPTS_IMAP_USER", ""),
        env.get("CPTS_IMAP_PASSWORD", ""),
    )
    if not (host and user and password):
        return None
    port = env.get("CPTS_IMAP_PORT", "")
    return ImapConfig(
        host=host,
        user=user,
        password=password,
        port=int(port) if port.isdigit() else DEFAULT_IMAP_PORT,
        folder=env.get("CPTS_IMAP_FOLDER", "") or "INBOX",
    )


def dedup_key(raw: bytes, message_id: str) -> str:
    """SHA-256 of the Message-ID when there is one, else of the raw bytes."""
    basis = message_id.strip().encode() if message_id.strip() else raw
    return hashlib.sha256(basis).hexdigest()


def guess_reason(text: str) -> ReferralReason:
    """The reason the words suggest; « recherche de médecin traitant » by default."""
    key = search_key(text)
    for reason, pattern in _REASON_WORDS:
        if pattern.search(key):
            return reason
    return ReferralReason.FIND_ATTENDING_DOCTOR


def guess_urgency(text: str) -> Urgency:
    """« Sous 48 h » when the patient says it is urgent, else « programmé »."""
    return Urgency.WITHIN_48H if _URGENT.search(search_key(text)) else Urgency.SCHEDULED


def _free_text(parsed: ParsedSignal) -> str:
    header = format_traits(ContactTraits(parsed.birth_name, parsed.first_names, parsed.birth_date))
    lines = [f"Courriel de : {parsed.sender_name} <{parsed.sender}>".replace(" <>", "")]
    lines.append(f"Objet : {parsed.subject}")
    if parsed.attachments:
        lines.append("Pièces jointes : " + ", ".join(parsed.attachments))
    if parsed.problems:
        lines.append("Lecture incomplète du message : voir le message d'origine.")
    text = header + "\n".join(lines) + "\n\n" + parsed.text
    return text[:FREE_TEXT_MAX]


def ingest_message(session: Session, raw: bytes, *, source: str, now: datetime | None = None) -> int | None:
    """Store ``raw`` sealed and create its « à qualifier » referral; None if already received."""
    now = now or utcnow()
    parsed = parse_signal_email(raw)
    key = dedup_key(raw, parsed.message_id)
    if (
        session.exec(select(InboundMessage.id).where(col(InboundMessage.dedup_key) == key)).first()
        is not None
    ):
        return None
    message = InboundMessage(received_at=now, dedup_key=key, source=source, sealed_raw=b"", parsed=parsed.ok)
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        return None  # the same message committed concurrently by another run
    assert message.id is not None
    # The id is part of the seal's associated data, hence insert first, then seal.
    message.sealed_raw = crypto.seal(raw, purpose=RAW_PURPOSE, record_id=str(message.id))
    session.add(message)
    context = f"{parsed.subject}\n{parsed.text}"
    referral = Referral(
        patient_id=None,
        source=ReferralSource.PATIENT_EMAIL,
        reason=guess_reason(context),
        urgency=guess_urgency(context),
        consent_to_contact=True,
        free_text=_free_text(parsed),
        status=ReferralStatus.TO_QUALIFY,
        contact_name=parsed.contact_name[:200],
        contact_phone=parsed.phone,
        inbound_message_id=message.id,
        received_at=now,
        updated_at=now,
    )
    referral.priority_score = score_referral(referral, None, now=now).score
    session.add(referral)
    session.flush()
    assert referral.id is not None
    add_event(session, referral, ReferralStatus.TO_QUALIFY, at=now, reason="Courriel reçu")
    audit.record(
        session,
        "referral.email_intake",
        target_type="referral",
        target_id=referral.id,
        detail={"inbound_message_id": message.id, "source": source, "parsed": parsed.ok},
    )
    session.flush()
    return referral.id


def _ingest_committed(raw: bytes, source: str, url: str | None) -> int | None:
    """``ingest_message`` in its own committed transaction."""
    work: Callable[[Session], int | None] = lambda session: ingest_message(session, raw, source=source)  # noqa: E731
    return run_in_transaction(work, url, write=True)


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    counter = 1
    while target.exists():
        target = folder / f"{Path(name).stem}.{counter}{Path(name).suffix}"
        counter += 1
    return target


def ingest_drop_folder(
    folder: Path, *, processed_dir: Path | None = None, url: str | None = None
) -> IntakeReport:
    """Every ``*.eml`` of ``folder``: one transaction each, moved to ``processed/`` after its commit.

    A file that fails stays where it is and is reported; nothing is ever deleted.
    """
    processed = processed_dir or folder / "processed"
    report = IntakeReport()
    for path in sorted(folder.glob("*.eml")):
        try:
            raw = path.read_bytes()
            referral_id = _ingest_committed(raw, SOURCE_FOLDER, url)
        except Exception as exc:  # each file on its own: one failure never stops the others
            report.failed.append((path.name, f"{type(exc).__name__}: {exc}"))
            continue
        if referral_id is None:
            report.duplicates.append(path.name)
        else:
            report.created.append(referral_id)
        try:
            processed.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), str(_free_name(processed, path.name)))
        except OSError as exc:
            # Committed but not moved: the next run sees a duplicate and moves it then.
            report.failed.append((path.name, f"déplacement impossible : {exc}"))
    return report


def fetch_imap(
    host: str,
    port: int,
    user: str,
    password: str,
    *,
    folder: str = "INBOX",
    url: str | None = None,
) -> IntakeReport:
    """Unseen messages of an IMAP mailbox over TLS; each marked \\Seen only after its commit."""
    report = IntakeReport()
    context = ssl.create_default_context()
    with imaplib.IMAP4_SSL(host, port, ssl_context=context) as client:
        client.login(user, password)
        client.select(folder)
        status, data = client.uid("SEARCH", None, "UNSEEN")  # type: ignore[arg-type]
        if status != "OK":
            raise imaplib.IMAP4.error(f"recherche impossible dans {folder}")
        for uid in (data[0] or b"").split():
            label = uid.decode()
            try:
                # BODY.PEEK leaves the message unseen until its referral is committed.
                status, parts = client.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) > 1), None)
                if status != "OK" or not isinstance(raw, bytes):
                    raise imaplib.IMAP4.error("message introuvable")
                referral_id = _ingest_committed(raw, SOURCE_IMAP, url)
            except Exception as exc:  # left unseen: taken again at the next run
                report.failed.append((label, f"{type(exc).__name__}: {exc}"))
                continue
            if referral_id is None:
                report.duplicates.append(label)
            else:
                report.created.append(referral_id)
            client.uid("STORE", uid.decode(), "+FLAGS", "(\\Seen)")
    return report
