"""``python -m mobile_sync``: enrol, unlock, sync and inspect a field laptop (French messages).

The passphrase is asked without echo; ``--phrase-stdin`` reads it from standard input instead
(scripts, tests). It is never an argument: arguments show in the process list and shell history.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from mobile_sync import field
from mobile_sync.client import SyncClient, SyncRefused
from mobile_sync.envelope import EnvelopeError
from mobile_sync.store import StoreError
from mobile_sync.sync import SyncProgress, rejections, synchronise

DEFAULT_FOLDER = Path(os.environ.get("CPTS_TERRAIN_DIR", Path.home() / ".cpts-terrain"))
PARIS = ZoneInfo("Europe/Paris")


def _passphrase(args: argparse.Namespace, *, confirm: bool = False) -> str:
    if args.phrase_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Phrase de passe du portable : ")
    if confirm and getpass.getpass("Répétez-la : ") != first:
        raise field.FieldError("Les deux saisies diffèrent : rien n'a été créé.")
    return first


def _moment(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def _print_status(status: field.FieldStatus) -> None:
    print(f"Appareil : {status.label} ({status.device_id})")
    print(f"Serveur : {status.server_url}")
    print(f"Modifications en attente d'envoi : {status.pending}")
    print(f"Dernière synchronisation : {_moment(status.last_sync_ms)}")
    state = "dépassé : synchronisez" if status.lease_expired else f"jusqu'au {_moment(status.lease_ends_ms)}"
    print(f"Travail hors ligne autorisé ({status.lease_days} jours) : {state}")


def _run(args: argparse.Namespace) -> int:
    folder: Path = args.dossier
    if args.command == "enroll":
        client = SyncClient.connect(args.serveur)
        try:
            status = field.enrol(folder, _passphrase(args, confirm=True), args.serveur, args.code, client)
        finally:
            client.close()
        print("Portable inscrit.")
        _print_status(status)
    elif args.command == "unlock":
        field.unlock(folder, _passphrase(args)).close()
        print("Portable déverrouillé : les données locales sont accessibles.")
    elif args.command == "status":
        _print_status(field.status(folder, _passphrase(args)))
    elif args.command == "sync":
        return _sync(folder, _passphrase(args))
    return 0


def _show_progress(progress: SyncProgress) -> None:
    total = f"/{progress.total}" if progress.total else ""
    print(f"[{progress.phase}] {progress.done}{total} — {progress.message}", flush=True)


def _sync(folder: Path, passphrase: str) -> int:
    """Push then pull; a revoked laptop is erased by the engine and says so."""
    store = field.unlock(folder, passphrase, for_sync=True)
    client: SyncClient | None = None
    try:
        client = SyncClient.connect(field.server_url(store))
        report = synchronise(store, client, progress=_show_progress)
        print(
            f"Synchronisation terminée : {report.pushed} modification(s) envoyée(s), "
            f"{report.pulled} reçue(s), {report.rejected} refusée(s), {report.conflicts} conflit(s)."
        )
        for notice in rejections(store)[-report.rejected :] if report.rejected else []:
            print(f"À reprogrammer : {notice['raison']}")
        return 0
    except SyncRefused as refusal:
        if refusal.revoked:
            print("Appareil révoqué : ses clés et ses données locales ont été effacées.", file=sys.stderr)
            return 3
        raise
    finally:
        if client is not None:
            client.close()
        if store.is_open:
            store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mobile_sync", description="Portable de terrain (hors ligne)."
    )
    parser.add_argument("--dossier", type=Path, default=DEFAULT_FOLDER, help="dossier des données locales")
    parser.add_argument(
        "--phrase-stdin", action="store_true", help="lire la phrase de passe sur l'entrée standard"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    enroll = commands.add_parser(
        "enroll", help="inscrire ce portable avec le code donné par l'administrateur"
    )
    enroll.add_argument("--serveur", required=True, help="adresse du serveur, https://…")
    enroll.add_argument("--code", required=True, help="code d'inscription (valable 24 h, une fois)")
    commands.add_parser("unlock", help="vérifier la phrase de passe et le délai hors ligne")
    commands.add_parser("status", help="état : modifications en attente, dernière synchronisation")
    commands.add_parser("sync", help="envoyer les modifications locales puis recevoir celles du serveur")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (field.FieldError, SyncRefused, EnvelopeError, StoreError) as error:
        print(getattr(error, "message", str(error)), file=sys.stderr)
        return 2
