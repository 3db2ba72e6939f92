"""The ``cpts`` command: migrate the database, load the demo territory, create accounts, take in
the patients' e-mails, e-mail the unread-message digests and rotate the master key.

Why a CLI besides the web app: the first administrator must exist before anyone can sign in, and
deployments migrate, seed, poll the mailbox and send the digests (cron or a systemd timer) and
rotate keys from scripts. It uses the settings' database (``CPTS_DATABASE_URL`` or
``CPTS_DATA_DIR``) and secrets folder (``CPTS_SECRETS_DIR``), like the app.
"""

from __future__ import annotations

import argparse
import getpass
import imaplib
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from cpts_app import db
from cpts_app.demo import DEMO_CREDENTIALS, DemoSummary, is_empty, load_demo
from cpts_app.demo_orientation import referral_counts
from cpts_app.models import (
    InboundMessage,
    Message,
    MessageAttachment,
    MessageAttachmentBlob,
    Profession,
    Professional,
    ReferralStatus,
    Role,
)
from cpts_app.services import audit, crypto
from cpts_app.services.authentication import create_user
from cpts_app.services.errors import ValidationFailed
from cpts_app.services.labels import PROFESSION_LABELS, ROLE_LABELS
from cpts_app.services.mailer import MailServerUnavailable
from cpts_app.services.messaging import digest
from cpts_app.services.orientation import email_intake
from cpts_app.services.orientation.labels import STATUS_LABELS
from cpts_app.settings import get_settings

REWRAP_BATCH = 200
"""Sealed messages re-wrapped per transaction by ``rotate-key`` (each batch commits on its own)."""
REWRAP_FILE_BATCH = 10
"""Attachments re-wrapped per transaction: up to 10 MB each, so a batch stays within memory."""
SMTP_NOT_CONFIGURED = "Aucun serveur SMTP configuré (CPTS_SMTP_HOST) : aucun résumé envoyé."
IMAP_NOT_CONFIGURED = (
    "la boîte IMAP n'est pas configurée : définissez CPTS_IMAP_HOST, CPTS_IMAP_USER et "
    "CPTS_IMAP_PASSWORD (et au besoin CPTS_IMAP_PORT, CPTS_IMAP_FOLDER)."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; the return value is the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    return int(args.handler(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cpts", description="Administration de la plateforme de coordination de la CPTS.", add_help=False
    )
    _add_help(parser)
    commands = parser.add_subparsers(title="commandes", metavar="COMMANDE")

    migrate = commands.add_parser(
        "migrate", help="mettre le schéma de la base de données à jour", add_help=False
    )
    _add_help(migrate)
    migrate.set_defaults(handler=_migrate)

    demo = commands.add_parser(
        "demo", help="charger le territoire de démonstration (CPTS Costières en Camargue)", add_help=False
    )
    _add_help(demo)
    demo.add_argument(
        "--if-empty",
        action="store_true",
        help="ne rien faire si la base contient déjà un territoire",
    )
    demo.set_defaults(handler=_demo)

    user = commands.add_parser(
        "create-user",
        help="créer un compte (mot de passe lu sur l'entrée standard ou demandé)",
        add_help=False,
    )
    _add_help(user)
    user.add_argument("--email", required=True, help="adresse e-mail de connexion")
    user.add_argument(
        "--role",
        required=True,
        choices=[role.value for role in Role],
        help="rôle : " + ", ".join(f"{role.value} ({ROLE_LABELS[role]})" for role in Role),
    )
    user.add_argument("--name", required=True, help="nom affiché, p. ex. « Claire Martin — coordinatrice »")
    user.add_argument(
        "--professional-id", type=int, default=None, help="identifiant du professionnel lié au compte"
    )
    user.set_defaults(handler=_create_user)

    intake = commands.add_parser(
        "intake",
        help="transformer les courriels des patients en demandes « à qualifier » (dossier .eml ou IMAP)",
        add_help=False,
    )
    _add_help(intake)
    intake.add_argument(
        "--dossier", type=Path, metavar="CHEMIN", help="dossier de fichiers .eml déposés (traités un par un)"
    )
    intake.add_argument(
        "--traites",
        type=Path,
        metavar="CHEMIN",
        help="où déplacer les fichiers traités (par défaut : le sous-dossier processed/ du dossier)",
    )
    intake.add_argument(
        "--imap",
        action="store_true",
        help="lire les messages non lus de la boîte IMAP (variables CPTS_IMAP_*)",
    )
    intake.set_defaults(handler=_intake)

    digest_command = commands.add_parser(
        "digest",
        help="envoyer par courriel le résumé des messages non lus (sans leur contenu)",
        add_help=False,
    )
    _add_help(digest_command)
    digest_command.set_defaults(handler=_digest)

    rotate = commands.add_parser(
        "rotate-key",
        help="créer une nouvelle clé maîtresse et y rattacher toutes les données chiffrées",
        add_help=False,
    )
    _add_help(rotate)
    rotate.set_defaults(handler=_rotate_key)
    return parser


def _add_help(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-h", "--help", action="help", help="afficher cette aide et quitter")


def _database_label() -> str:
    """The database URL without its password, for messages."""
    return make_url(get_settings().effective_database_url).render_as_string(hide_password=True)


def _migrate(_args: argparse.Namespace) -> int:
    db.migrate()
    print(f"Base de données à jour : {_database_label()}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    db.migrate()
    with db.session_scope() as session:
        if args.if_empty and not is_empty(session):
            print("La base contient déjà un territoire : la démonstration n'est pas chargée.")
            return 0
        summary = load_demo(session)
        if summary.created:
            audit.record(session, "demo.load", detail={"via": "cli"})
        by_status = referral_counts(session)
    _print_summary(summary, by_status)
    _print_credentials()
    return 0


def _print_summary(summary: DemoSummary, referrals_by_status: dict[str, int] | None = None) -> None:
    if summary.created:
        print(f"Territoire de démonstration chargé dans {_database_label()}")
    else:
        print(f"Le territoire de démonstration était déjà chargé dans {_database_label()}")
    print(f"  Communes : {summary.communes}")
    print(f"  Structures : {summary.structures}")
    print(f"  Professionnels : {summary.total_professionals}")
    for value, count in sorted(summary.professionals.items(), key=lambda item: -item[1]):
        print(f"    {PROFESSION_LABELS[Profession(value)]} : {count}")
    print(f"  Comptes utilisateurs : {summary.users}")
    print(f"  Agendas : {summary.schedules}")
    print(f"  Créneaux : {summary.slots}")
    print(f"  Rendez-vous : {summary.appointments}")
    print(f"  Patients : {summary.patients}")
    print(f"  Demandes d'orientation : {summary.referrals}")
    for status in ReferralStatus:
        count = (referrals_by_status or {}).get(status.value, 0)
        if count:
            print(f"    {STATUS_LABELS[status]} : {count}")


def _print_credentials() -> None:
    """The demo accounts, as a table (demo mode only: these passwords are public)."""
    rows = [("Rôle", "E-mail", "Mot de passe", "Nom affiché")]
    rows += [(ROLE_LABELS[c.role], c.email, c.password, c.display_name) for c in DEMO_CREDENTIALS]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    print("Comptes de démonstration :")
    for index, row in enumerate(rows):
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


def _read_password() -> str:
    """From standard input when it is piped (scripts), otherwise typed twice without echo."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mot de passe : ")
    second = getpass.getpass("Confirmez le mot de passe : ")
    if first != second:
        raise ValueError("Les deux mots de passe ne correspondent pas.")
    return first


def _create_user(args: argparse.Namespace) -> int:
    try:
        password = _read_password()
    except ValueError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 1
    except (EOFError, KeyboardInterrupt):
        print("Erreur : aucun mot de passe saisi.", file=sys.stderr)
        return 1
    db.migrate()
    try:
        with db.session_scope() as session:
            if args.professional_id is not None and session.get(Professional, args.professional_id) is None:
                raise ValidationFailed({"professional_id": "Aucun professionnel ne porte cet identifiant."})
            user = create_user(
                session,
                email=args.email,
                password=password,
                role=Role(args.role),
                display_name=args.name,
                professional_id=args.professional_id,
            )
            audit.record(
                session,
                "users.create",
                target_type="user",
                target_id=user.id,
                detail={"via": "cli", "role": user.role},
            )
            email, user_id = user.email, user.id
    except ValidationFailed as exc:
        for field, message in exc.errors.items():
            print(f"Erreur ({field}) : {message}", file=sys.stderr)
        return 1
    print(f"Compte créé : {email} ({ROLE_LABELS[Role(args.role)]}, n° {user_id})")
    return 0


def _intake(args: argparse.Namespace) -> int:
    """One pass of the e-mail intake; exit 2 when misused or not configured, 1 when a message failed."""
    if (args.dossier is None) == (not args.imap):
        print("Erreur : choisissez soit --dossier CHEMIN, soit --imap.", file=sys.stderr)
        return 2
    if args.traites is not None and args.dossier is None:
        print("Erreur : --traites ne s'utilise qu'avec --dossier.", file=sys.stderr)
        return 2
    if args.imap:
        config = email_intake.imap_config_from_env()
        if config is None:
            print(f"Erreur : {IMAP_NOT_CONFIGURED}", file=sys.stderr)
            return 2
        db.migrate()
        try:
            report = email_intake.fetch_imap(
                config.host, config.port, config.user, config.password, folder=config.folder
            )
        except (OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
            # The password is never printed: only the server and the error.
            print(f"Erreur : lecture de {config.host}:{config.port} impossible ({exc}).", file=sys.stderr)
            return 1
        origin = f"la boîte {config.user}@{config.host} ({config.folder})"
    else:
        folder: Path = args.dossier
        if not folder.is_dir():
            print(f"Erreur : le dossier « {folder} » n'existe pas.", file=sys.stderr)
            return 2
        db.migrate()
        report = email_intake.ingest_drop_folder(folder, processed_dir=args.traites)
        origin = f"le dossier {folder}"
    print(f"Courriels lus dans {origin} :")
    print(f"  Demandes créées (à qualifier) : {len(report.created)}")
    print(f"  Déjà reçus (doublons) : {len(report.duplicates)}")
    print(f"  Échecs (laissés en place, repris au prochain passage) : {len(report.failed)}")
    for name, error in report.failed:
        print(f"    {name} : {error}", file=sys.stderr)
    return 1 if report.failed else 0


def _digest(_args: argparse.Namespace) -> int:
    """One pass of the unread-message digest; exit 2 when no SMTP server is configured."""
    settings = get_settings()
    if not settings.smtp_host.strip():
        print(SMTP_NOT_CONFIGURED, file=sys.stderr)
        return 2
    db.migrate()
    try:
        sent = digest.send_digests(None, settings)
    except MailServerUnavailable as exc:
        print(f"Erreur : {exc.message}", file=sys.stderr)
        return 1
    print(f"{sent} courriel(s) de résumé envoyé(s).")
    return 0


@dataclass
class _Rewrap:
    """One kind of sealed column that ``rotate-key`` moves to the new key."""

    label: str
    """« Pièces jointes rechiffrées » in the report."""
    item: str
    """« pièce jointe n° », to name a record that failed."""
    model: type
    key: str
    """The primary key attribute."""
    column: str
    batch: int = REWRAP_BATCH
    rewrapped: int = 0
    current: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def _rewrap_targets() -> list[_Rewrap]:
    return [
        _Rewrap(
            "Messages reçus par courriel rechiffrés", "message reçu n°", InboundMessage, "id", "sealed_raw"
        ),
        _Rewrap("Messages de la messagerie rechiffrés", "message n°", Message, "id", "body"),
        _Rewrap(
            "Noms de pièces jointes rechiffrés",
            "nom de la pièce jointe n°",
            MessageAttachment,
            "id",
            "sealed_name",
        ),
        _Rewrap(
            "Pièces jointes rechiffrées",
            "pièce jointe n°",
            MessageAttachmentBlob,
            "attachment_id",
            "content",
            batch=REWRAP_FILE_BATCH,
        ),
    ]


def _rewrap_all(target: _Rewrap, key_id: str) -> None:
    """Re-wrap one column, one transaction per batch; empty values (deleted messages) are skipped."""
    model, key = target.model, getattr(target.model, target.key)
    column = getattr(model, target.column)
    with db.session_scope() as session:
        ids = list(
            session.exec(
                select(key).where(col(column).is_not(None), func.length(column) > 0).order_by(col(key))
            ).all()
        )
    for start in range(0, len(ids), target.batch):
        batch = ids[start : start + target.batch]
        with db.session_scope(write=True) as session:
            for row in session.exec(select(model).where(col(key).in_(batch))):
                record_id = getattr(row, target.key)
                blob = getattr(row, target.column)
                try:
                    if crypto.key_id_of(blob) == key_id:
                        target.current += 1
                        continue
                    setattr(row, target.column, crypto.rewrap(blob))
                except crypto.CryptoError as exc:
                    target.failed.append((record_id, str(exc)))
                    continue
                session.add(row)
                target.rewrapped += 1


def _rotate_key(_args: argparse.Namespace) -> int:
    """A new master key, then every sealed value re-wrapped under it, one transaction per batch.

    Sealed values: e-mails received, message bodies, attachment names and attachment contents.
    Only the 48-byte wrapped data keys change (``crypto.rewrap``); a run that stops midway is
    resumed by running the command again (the values still under an old key are re-wrapped).
    """
    db.migrate()
    key_id = crypto.rotate_master_key()
    print(f"Nouvelle clé maîtresse : {key_id}")
    targets = _rewrap_targets()
    for target in targets:
        _rewrap_all(target, key_id)
    rewrapped = sum(target.rewrapped for target in targets)
    failed = [(target.item, record_id, error) for target in targets for record_id, error in target.failed]
    with db.session_scope() as session:
        audit.record(
            session,
            "crypto.rotate",
            detail={
                "via": "cli",
                "key_id": key_id,
                "rewrapped": rewrapped,
                "failed": len(failed),
                "by_kind": {target.column: target.rewrapped for target in targets},
            },
        )
    for target in targets:
        print(f"  {target.label} : {target.rewrapped}")
    print(f"  Déjà sous la nouvelle clé : {sum(target.current for target in targets)}")
    print(f"  Illisibles (laissés tels quels) : {len(failed)}")
    for item, record_id, error in failed:
        print(f"    {item} {record_id} : {error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
