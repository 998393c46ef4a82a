"""Errors that domain operations raise; the portal turns them into 4xx answers."""

from __future__ import annotations


class ValidationError(ValueError):
    """Bad input. `field` names the form field the message belongs next to."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(LookupError):
    """No such object in the acting organisation (or none the actor may see)."""


class PermissionDenied(PermissionError):
    """The actor is known but may not do this."""
