"""Domain errors: what can go wrong, in the words an edge turns into a message."""

from __future__ import annotations

from storage.base import StoreUnavailable


class SecretError(Exception):
    """Base of the errors a user can be told about."""


class SecretGone(SecretError):
    """Revealed, burned, expired, destroyed by wrong passphrases, or never existed.

    Deliberately one error: telling these apart would tell a stranger which ids once existed.
    """


class BrokenLink(SecretError):
    """The link's key does not match: truncated or mistyped. Nothing was counted or burned."""


class WrongPassphrase(SecretError):
    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"wrong passphrase, {attempts_left} attempts left")
        self.attempts_left = attempts_left


class NotCreator(SecretError):
    """Only the person who created a secret may burn it."""


class InvalidSecret(SecretError):
    """The input cannot become a secret (empty, too long, bad expiry); the message says why."""


__all__ = [
    "BrokenLink",
    "InvalidSecret",
    "NotCreator",
    "SecretError",
    "SecretGone",
    "StoreUnavailable",
    "WrongPassphrase",
]
