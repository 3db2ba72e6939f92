"""Outgoing e-mail through the operator's SMTP server (``CPTS_SMTP_*``), with the standard library.

Why smtplib: one plain-text message at a time is all the platform sends (the unread-message
digest); the standard library speaks STARTTLS, implicit TLS and authentication. Failures become a
French ``MailError``; the password never appears in a message or a log line.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from cpts_app.services.errors import DomainError
from cpts_app.settings import Settings

__all__ = ["MailError", "MailServerUnavailable", "build_message", "send_mail"]

TIMEOUT_SECONDS = 20
SECURITY_MODES = ("starttls", "tls", "none")


class MailError(DomainError):
    """One e-mail could not be sent (e.g. its recipient was refused)."""


class MailServerUnavailable(MailError):
    """The mail server cannot be used at all (unreachable, TLS or sign-in refused): stop sending."""


def build_message(sender: str, to: str, subject: str, text: str) -> EmailMessage:
    """A UTF-8 plain-text message, marked as automatic so that vacation replies stay quiet."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    return message


def _server(settings: Settings) -> str:
    return f"{settings.smtp_host}:{settings.smtp_port}"


def _connect(settings: Settings) -> smtplib.SMTP:
    """An open, secured and signed-in connection, or ``MailServerUnavailable``."""
    security = settings.smtp_security.strip().lower()
    if security not in SECURITY_MODES:
        raise MailServerUnavailable(
            f"CPTS_SMTP_SECURITY vaut « {settings.smtp_security} » : choisissez starttls, tls ou none."
        )
    context = ssl.create_default_context()
    try:
        if security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailServerUnavailable(
            f"Le serveur de courriel {_server(settings)} est injoignable ({type(exc).__name__} : {exc})."
        ) from exc
    try:
        if security == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
    except smtplib.SMTPAuthenticationError:
        smtp.close()
        raise MailServerUnavailable(
            f"Le serveur de courriel {_server(settings)} a refusé l'identification de "
            f"« {settings.smtp_user} » : vérifiez CPTS_SMTP_USER et CPTS_SMTP_PASSWORD."
        ) from None  # the server's reply may echo what was sent: never chained into logs
    except (OSError, smtplib.SMTPException) as exc:
        smtp.close()
        raise MailServerUnavailable(
            f"Connexion sécurisée ou identification impossible avec {_server(settings)} "
            f"({type(exc).__name__})."
        ) from None
    return smtp


def send_mail(settings: Settings, to: str, subject: str, text: str) -> None:
    """Send one plain-text e-mail to ``to``; ``MailError`` (French) when it could not be sent."""
    try:
        message = build_message(settings.smtp_sender, to, subject, text)
    except ValueError as exc:
        raise MailError(f"L'adresse « {to[:254]} » ne peut pas recevoir de courriel.") from exc
    smtp = _connect(settings)
    try:
        smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"Le serveur de courriel a refusé le destinataire « {to} ».") from exc
    except smtplib.SMTPSenderRefused as exc:
        raise MailServerUnavailable(
            f"Le serveur de courriel a refusé l'expéditeur « {settings.smtp_sender} » (CPTS_SMTP_SENDER)."
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(
            f"Envoi du courriel à « {to} » impossible par {_server(settings)} ({type(exc).__name__})."
        ) from exc
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
