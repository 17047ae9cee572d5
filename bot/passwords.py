"""Strong random passwords for `/secret generate`, from the `secrets` module.

No look-alike characters by default (0/O/o, 1/l/I), so a password read off a screen can be
typed; every character class appears at least once, which most password rules demand.
"""

from __future__ import annotations

import secrets

MIN_LENGTH, MAX_LENGTH, DEFAULT_LENGTH = 8, 128, 20
LOWER = "abcdefghijkmnpqrstuvwxyz"
UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "23456789"
SYMBOLS = "!#$%&*+-=?@^_"


def generate(length: int = DEFAULT_LENGTH, symbols: bool = True) -> str:
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"length must be from {MIN_LENGTH} to {MAX_LENGTH}")
    classes = [LOWER, UPPER, DIGITS] + ([SYMBOLS] if symbols else [])
    alphabet = "".join(classes)
    while True:  # rejection sampling keeps every password equally likely among valid ones
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(char in group for char in password) for group in classes):
            return password
