"""What a stolen database shows of the messages: no body, no attachment, no attachment name, no
searchable word — checked on a full dump of every table (SQLite and PostgreSQL) and, on SQLite, on
the raw bytes of the database file and its write-ahead log."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from cpts_app.services.messaging import attachments, messages
from tests.services.messaging.factories import build_world, care_team

SECRET_TEXT = "Glycémie capillaire 3,1 : resucrage fait, surveiller Zébulon"
SECRET_WORDS = ("Glycémie", "glycemie", "capillaire", "resucrage", "Zébulon", "zebulon")
SECRET_FILE_NAME = "compte-rendu-oncologie-zebulon.pdf"
SECRET_FILE = b"%PDF-1.4\n% Bilan oncologique confidentiel ZEBULON-42\n%%EOF\n"


def _dump(engine: Engine) -> str:
    """Every row of every table, as text (what ``pg_dump`` or ``.dump`` would give an attacker)."""
    lines: list[str] = []
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        lines.append(bytes(value).decode("latin-1"))
                    else:
                        lines.append(str(value))
    return "\n".join(lines)


def test_database_dump_holds_no_message_text_nor_attachment(
    session: Session, engine: Engine, database_url: str
) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor)
    draft = attachments.stage_attachment(session, world.coordinator, thread_id, SECRET_FILE_NAME, SECRET_FILE)
    messages.post_message(session, world.coordinator, thread_id, SECRET_TEXT, [draft.id])
    session.commit()

    # The message is really there and readable by the care team…
    page = messages.load_messages(session, world.doctor, thread_id)
    shown = " ".join(span.text for block in page.messages[0].blocks for span in block.spans)
    assert "Zébulon" in shown
    assert page.messages[0].attachments[0].name == SECRET_FILE_NAME
    session.commit()

    # …but nothing of it can be read in the database.
    dump = _dump(engine)
    assert "Beaucaire" in dump  # the dump does read every row (a commune of the world)
    for secret in (*SECRET_WORDS, SECRET_FILE_NAME, "ZEBULON-42", "oncologique"):
        assert secret not in dump, secret
        assert secret.lower() not in dump.lower(), secret

    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        engine.dispose()
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        for secret in (*SECRET_WORDS, SECRET_FILE_NAME, "ZEBULON-42"):
            assert secret.encode("utf-8") not in raw, secret
