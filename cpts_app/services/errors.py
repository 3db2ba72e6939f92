"""Errors the services raise, each carrying a French message the UI and the API can show as is."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the user must understand (French message)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermissionDenied(DomainError):
    """The actor's role does not allow this action."""

    DEFAULT = "Accès refusé : vous n'avez pas le droit d'effectuer cette action."

    def __init__(self, message: str = DEFAULT) -> None:
        super().__init__(message)


class NotAuthenticated(DomainError):
    """No valid session: sign in again."""

    def __init__(self, message: str = "Votre session a expiré. Veuillez vous reconnecter.") -> None:
        super().__init__(message)


class NotFound(DomainError):
    """The record does not exist (or is not visible to the actor)."""


class ValidationFailed(DomainError):
    """Some fields are invalid; ``errors`` maps each field name to its French message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("Le formulaire contient des erreurs : rien n'a été enregistré.")
        self.errors = errors
