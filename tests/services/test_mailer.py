"""Outgoing mail against a real local SMTP server (aiosmtpd): UTF-8, sign-in, French errors."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from cpts_app.services.mailer import MailError, MailServerUnavailable, send_mail
from cpts_app.settings import Settings
from tests.smtp_server import free_port, smtp_server

TEXT = "Bonjour Hélène,\n\nVous avez 2 nouveaux messages non lus — « à lire ».\n"


def _settings(port: int, **changes: object) -> Settings:
    values: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_sender": "messagerie@cpts-test.fr",
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


def test_sends_a_utf8_plain_text_message() -> None:
    with smtp_server() as (inbox, port):
        send_mail(
            _settings(port), "helene.durand@example.fr", "Messagerie : 2 nouveaux messages non lus", TEXT
        )
    (mail,) = inbox.received
    assert mail.mail_from == "messagerie@cpts-test.fr"
    assert mail.rcpt_tos == ["helene.durand@example.fr"]
    assert mail.message["Subject"] == "Messagerie : 2 nouveaux messages non lus"
    assert mail.message["To"] == "helene.durand@example.fr"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message.get_content_type() == "text/plain"
    assert mail.message.get_content_charset() == "utf-8"
    assert mail.text == TEXT


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_signs_in_when_a_user_is_set() -> None:
    with smtp_server(user="cpts", password="s3cret-Passw0rd") as (inbox, port):
        settings = _settings(port, smtp_user="cpts", smtp_password=SecretStr("s3cret-Passw0rd"))
        send_mail(settings, "a@example.fr", "Objet", "Texte")
        assert len(inbox.received) == 1

        wrong = _settings(port, smtp_user="cpts", smtp_password=SecretStr("mauvais-Passw0rd"))
        with pytest.raises(MailServerUnavailable) as caught:
            send_mail(wrong, "a@example.fr", "Objet", "Texte")
        assert "refusé l'identification" in caught.value.message
        assert "mauvais-Passw0rd" not in caught.value.message
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
        assert len(inbox.received) == 1


def test_a_refused_recipient_is_a_mail_error() -> None:
    with smtp_server() as (inbox, port):
        inbox.refuse.add("inconnu@example.fr")
        with pytest.raises(MailError) as caught:
            send_mail(_settings(port), "inconnu@example.fr", "Objet", "Texte")
    assert not isinstance(caught.value, MailServerUnavailable)
    assert "refusé le destinataire « inconnu@example.fr »" in caught.value.message
    assert inbox.received == []


def test_unreachable_server_and_bad_settings() -> None:
    with pytest.raises(MailServerUnavailable, match="injoignable"):
        send_mail(_settings(free_port()), "a@example.fr", "Objet", "Texte")
    with pytest.raises(MailServerUnavailable, match="starttls, tls ou none"):
        send_mail(_settings(25, smtp_security="ssl"), "a@example.fr", "Objet", "Texte")
    with smtp_server() as (_inbox, port):
        # This server offers no STARTTLS: the message is not sent in clear instead.
        with pytest.raises(MailServerUnavailable, match="Connexion sécurisée"):
            send_mail(_settings(port, smtp_security="starttls"), "a@example.fr", "Objet", "Texte")
        with pytest.raises(MailServerUnavailable):
            send_mail(_settings(port, smtp_security="tls"), "a@example.fr", "Objet", "Texte")
    with pytest.raises(MailError, match="ne peut pas recevoir"):
        send_mail(_settings(25), "a@example.fr\r\nBcc: b@example.fr", "Objet", "Texte")
