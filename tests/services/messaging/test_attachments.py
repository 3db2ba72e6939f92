"""Attachments: type from the bytes, size limit, drafts, claiming, sealed storage and read rights."""

from __future__ import annotations

import json
import struct
import zlib
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from cpts_app.models.access import Role
from cpts_app.models.audit import AuditEvent
from cpts_app.models.messaging import MessageAttachment, MessageAttachmentBlob, ThreadKind
from cpts_app.models.types import utcnow
from cpts_app.services import crypto
from cpts_app.services.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.messaging import attachments
from cpts_app.settings import Settings
from tests.services.messaging import rows


def pdf_bytes() -> bytes:
    """A minimal valid PDF with one empty page."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def png_bytes() -> bytes:
    """A 1×1 white PNG (signature, IHDR, IDAT, IEND with their CRCs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg_bytes() -> bytes:
    """The start of a JFIF file: SOI, APP0 « JFIF » segment, then EOI."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


def webp_bytes() -> bytes:
    """A 1×1 lossless WebP (RIFF container, VP8L chunk)."""
    vp8l = bytes.fromhex("2f0000001007101111888 8fe0700".replace(" ", ""))
    body = b"WEBP" + b"VP8L" + struct.pack("<I", 13) + vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.fixture
def world(session: Session) -> dict:
    nurse = rows.person(session, "Claire Martin")
    doctor = rows.person(session, "Paul Roux")
    outsider = rows.person(session, "Jean Bernard")
    coordinator = rows.person(session, "Anne Coordo", Role.COORDINATOR)
    care = rows.thread(session, ThreadKind.PATIENT, coordinator, patient_row=rows.patient(session))
    nurse_member = rows.member(session, care, nurse)
    doctor_member = rows.member(session, care, doctor)
    other = rows.thread(session, ThreadKind.CHANNEL, coordinator, title="IDE")
    rows.member(session, other, nurse)
    session.commit()
    return {
        "nurse": nurse,
        "doctor": doctor,
        "outsider": outsider,
        "coordinator": coordinator,
        "care": care,
        "other": other,
        "nurse_member": nurse_member,
        "doctor_member": doctor_member,
    }


@pytest.mark.parametrize(
    ("maker", "content_type"),
    [
        (pdf_bytes, "application/pdf"),
        (png_bytes, "image/png"),
        (jpeg_bytes, "image/jpeg"),
        (webp_bytes, "image/webp"),
    ],
)
def test_accepted_types_are_detected_from_the_bytes(maker, content_type: str) -> None:
    assert attachments.check_attachment("fichier", maker()) == content_type


def test_a_png_named_pdf_is_a_png() -> None:
    assert attachments.check_attachment("ordonnance.pdf", png_bytes()) == "image/png"
    assert attachments.with_extension("ordonnance.pdf", "image/png") == "ordonnance.png"
    assert attachments.with_extension("scan", "application/pdf") == "scan.pdf"
    assert attachments.with_extension("photo.JPEG", "image/jpeg") == "photo.JPEG"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64),
        ("page.html", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("archive.pdf", b"PK\x03\x04" + b"\x00" * 64),
        ("texte.pdf", b"Compte rendu en texte brut"),
    ],
)
def test_other_types_are_refused(name: str, data: bytes) -> None:
    with pytest.raises(ValidationFailed) as caught:
        attachments.check_attachment(name, data)
    assert caught.value.errors == {
        "file": "Type de fichier non accepté : seuls les PDF et les images (PNG, JPEG, WebP) sont acceptés."
    }


def test_empty_and_too_large_files_are_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        attachments.check_attachment("vide.pdf", b"")
    assert caught.value.errors == {"file": "Le fichier est vide."}
    huge = pdf_bytes() + bytes(25 * 1024 * 1024)
    with pytest.raises(ValidationFailed) as caught:
        attachments.check_attachment("gros.pdf", huge)
    assert caught.value.errors == {"file": "Le fichier dépasse la taille maximale de 10 Mo."}
    small = Settings(attachment_max_bytes=int(2.5 * 1024 * 1024))
    with pytest.raises(ValidationFailed) as caught:
        attachments.check_attachment("moyen.pdf", pdf_bytes() + bytes(3 * 1024 * 1024), small)
    assert caught.value.errors == {"file": "Le fichier dépasse la taille maximale de 2,5 Mo."}
    exact = pdf_bytes()
    assert attachments.check_attachment("juste.pdf", exact, Settings(attachment_max_bytes=len(exact)))
    assert attachments.max_bytes() == 10 * 1024 * 1024
    assert attachments.too_large_message(small) == "Le fichier dépasse la taille maximale de 2,5 Mo."


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\Users\\marie\\Documents\\bilan.pdf", "bilan.pdf"),
        ("../../etc/passwd", "passwd"),
        ("ordo\x00nnance\r\n.pdf", "ordonnance.pdf"),
        ("facture\u202efdp.exe", "facturefdp.exe"),
        ("  compte   rendu .pdf ", "compte rendu .pdf"),
        ("", "piece-jointe"),
        ("...", "piece-jointe"),
        ("/", "piece-jointe"),
    ],
)
def test_names_are_cleaned(raw: str, clean: str) -> None:
    assert attachments.clean_filename(raw) == clean


def test_long_names_keep_their_extension() -> None:
    name = attachments.clean_filename("r" * 300 + ".pdf")
    assert len(name) == 120 and name.endswith("r.pdf")


def test_stage_claim_and_read(session: Session, world: dict) -> None:
    nurse, doctor, care = world["nurse"], world["doctor"], world["care"]
    view = attachments.stage_attachment(session, nurse, care.id, "bilan sanguin.pdf", pdf_bytes())
    session.commit()
    assert (view.name, view.content_type, view.size_bytes) == (
        "bilan sanguin.pdf",
        "application/pdf",
        len(pdf_bytes()),
    )
    assert attachments.draft_views(session, nurse, care.id) == [view]
    assert attachments.draft_views(session, doctor, care.id) == []

    row = session.get(MessageAttachment, view.id)
    blob = session.get(MessageAttachmentBlob, view.id)
    assert row is not None and blob is not None
    assert b"bilan" not in row.sealed_name and b"%PDF" not in blob.content
    assert (
        crypto.open_sealed(
            blob.content, purpose="message.attachment.draft", record_id=f"thread-{care.id}/draft-{view.id}"
        )
        == pdf_bytes()
    )

    # A draft is its uploader's alone.
    with pytest.raises(NotFound):
        attachments.read_attachment(session, doctor, view.id)
    assert attachments.read_attachment(session, nurse, view.id) == (view, pdf_bytes())

    message = rows.message(session, care, nurse, "Voici le bilan")
    assert attachments.claim_drafts(session, nurse, care.id, message.id, [view.id, view.id]) == 1
    session.commit()
    assert attachments.draft_views(session, nurse, care.id) == []
    session.refresh(blob)
    record_id = f"thread-{care.id}/message-{message.id}/attachment-{view.id}"
    assert crypto.open_sealed(blob.content, purpose="message.attachment", record_id=record_id) == pdf_bytes()
    with pytest.raises(crypto.CryptoError):
        crypto.open_sealed(
            blob.content, purpose="message.attachment.draft", record_id=f"thread-{care.id}/draft-{view.id}"
        )

    assert attachments.attachment_views(session, [message.id]) == {message.id: [view]}
    assert attachments.read_attachment(session, doctor, view.id) == (view, pdf_bytes())
    _view, data = attachments.read_attachment(session, world["coordinator"], view.id)
    assert data == pdf_bytes()
    with pytest.raises(PermissionDenied):
        attachments.read_attachment(session, world["outsider"], view.id)
    session.commit()

    actions = [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]
    assert actions == ["messaging.attachment.stage"] + ["messaging.attachment.read"] * 3
    read = session.exec(select(AuditEvent).where(AuditEvent.action == "messaging.attachment.read")).all()[-1]
    detail = json.loads(read.detail)
    assert detail["patient_id"] == care.patient_id and detail["as_coordinator"] is True
    assert "bilan" not in read.detail


def test_claiming_someone_elses_or_a_sent_draft_fails(session: Session, world: dict) -> None:
    nurse, doctor, care, other = world["nurse"], world["doctor"], world["care"], world["other"]
    draft = attachments.stage_attachment(session, nurse, care.id, "photo.png", png_bytes())
    elsewhere = attachments.stage_attachment(session, nurse, other.id, "photo.png", png_bytes())
    message = rows.message(session, care, doctor, "Merci")
    for actor, ids in ((doctor, [draft.id]), (nurse, [elsewhere.id]), (nurse, [999_999])):
        with pytest.raises(DomainError, match="Pièce jointe introuvable ou déjà envoyée"):
            attachments.claim_drafts(session, actor, care.id, message.id, ids)
    mine = rows.message(session, care, nurse, "Photo")
    assert attachments.claim_drafts(session, nurse, care.id, mine.id, [draft.id]) == 1
    again = rows.message(session, care, nurse, "Encore")
    with pytest.raises(DomainError, match="déjà envoyée"):
        attachments.claim_drafts(session, nurse, care.id, again.id, [draft.id])


def test_refused_files_store_nothing(session: Session, world: dict) -> None:
    with pytest.raises(ValidationFailed):
        attachments.stage_attachment(
            session, world["nurse"], world["care"].id, "virus.exe", b"MZ" + bytes(100)
        )
    with pytest.raises(ValidationFailed):
        attachments.stage_attachment(
            session, world["nurse"], world["care"].id, "gros.pdf", pdf_bytes() + bytes(25 * 1024 * 1024)
        )
    with pytest.raises(PermissionDenied):
        attachments.stage_attachment(session, world["outsider"], world["care"].id, "bilan.pdf", pdf_bytes())
    session.commit()
    assert session.exec(select(MessageAttachment)).all() == []
    assert session.exec(select(MessageAttachmentBlob)).all() == []


def test_at_most_five_drafts_and_stale_drafts_purged(session: Session, world: dict) -> None:
    nurse, care = world["nurse"], world["care"]
    first = attachments.stage_attachment(session, nurse, care.id, "1.pdf", pdf_bytes())
    for index in range(2, 6):
        attachments.stage_attachment(session, nurse, care.id, f"{index}.pdf", pdf_bytes())
    with pytest.raises(ValidationFailed) as caught:
        attachments.stage_attachment(session, nurse, care.id, "6.pdf", pdf_bytes())
    assert "5 fichiers" in caught.value.errors["file"]
    attachments.stage_attachment(session, nurse, world["other"].id, "ailleurs.pdf", pdf_bytes())  # per thread

    attachments.discard_draft(session, nurse, first.id)
    with pytest.raises(NotFound):
        attachments.discard_draft(session, world["doctor"], first.id + 1)  # not theirs
    attachments.stage_attachment(session, nurse, care.id, "6.pdf", pdf_bytes())
    assert len(attachments.draft_views(session, nurse, care.id)) == 5

    old = session.exec(select(MessageAttachment).where(MessageAttachment.thread_id == care.id)).all()
    for row in old:
        row.created_at = utcnow() - timedelta(hours=25)
        session.add(row)
    session.commit()
    assert attachments.draft_views(session, nurse, care.id) == []
    attachments.stage_attachment(session, nurse, care.id, "neuf.pdf", pdf_bytes())
    session.commit()
    names = [v.name for v in attachments.draft_views(session, nurse, care.id)]
    assert names == ["neuf.pdf"]
    assert len(session.exec(select(MessageAttachmentBlob)).all()) == 2  # the new one and « ailleurs »


def test_swapped_blobs_do_not_open(session: Session, world: dict) -> None:
    nurse, care = world["nurse"], world["care"]
    a = attachments.stage_attachment(session, nurse, care.id, "a.pdf", pdf_bytes())
    b = attachments.stage_attachment(session, nurse, care.id, "b.png", png_bytes())
    message = rows.message(session, care, nurse, "Deux fichiers")
    attachments.claim_drafts(session, nurse, care.id, message.id, [a.id, b.id])
    blob_a = session.get(MessageAttachmentBlob, a.id)
    blob_b = session.get(MessageAttachmentBlob, b.id)
    row_a = session.get(MessageAttachment, a.id)
    row_b = session.get(MessageAttachment, b.id)
    assert blob_a and blob_b and row_a and row_b
    blob_a.content, blob_b.content = blob_b.content, blob_a.content
    row_a.sealed_name, row_b.sealed_name = row_b.sealed_name, row_a.sealed_name
    session.add_all([blob_a, blob_b, row_a, row_b])
    session.commit()
    with pytest.raises(crypto.CryptoError):
        attachments.read_attachment(session, nurse, a.id)
    with pytest.raises(crypto.CryptoError):
        attachments.attachment_views(session, [message.id])


def test_former_members_and_deleted_messages(session: Session, world: dict) -> None:
    nurse, doctor, care = world["nurse"], world["doctor"], world["care"]
    before = attachments.stage_attachment(session, nurse, care.id, "avant.pdf", pdf_bytes())
    first = rows.message(session, care, nurse, "Avant")
    attachments.claim_drafts(session, nurse, care.id, first.id, [before.id])
    rows.leave(session, world["doctor_member"], first.id)
    after = attachments.stage_attachment(session, nurse, care.id, "apres.pdf", pdf_bytes())
    second = rows.message(session, care, nurse, "Après")
    attachments.claim_drafts(session, nurse, care.id, second.id, [after.id])
    session.commit()

    assert attachments.read_attachment(session, doctor, before.id)[1] == pdf_bytes()
    with pytest.raises(NotFound, match="Pièce jointe introuvable"):
        attachments.read_attachment(session, doctor, after.id)

    second.deleted_at = utcnow()
    session.add(second)
    attachments.forget_message_attachments(session, second.id)
    session.commit()
    row = session.get(MessageAttachment, after.id)
    assert row is not None and row.deleted_at is not None and row.sealed_name == b""
    assert session.get(MessageAttachmentBlob, after.id) is None
    with pytest.raises(NotFound):
        attachments.read_attachment(session, nurse, after.id)
    assert attachments.attachment_views(session, [first.id, second.id]) == {first.id: [before]}
    with pytest.raises(NotFound):
        attachments.read_attachment(session, nurse, 424242)
