"""One map from domain errors to what a Slack user reads (handlers/messages.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.errors import (
    BrokenLink,
    InvalidSecret,
    NotCreator,
    SecretGone,
    StoreUnavailable,
    WrongPassphrase,
)
from bot.ratelimit import RateLimited
from bot.requests import NotAsked, RequestClosed
from handlers import messages

HANDLERS = Path(__file__).resolve().parents[1] / "handlers"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (StoreUnavailable(), messages.STORE_DOWN),
        (SecretGone(), messages.GONE),
        (BrokenLink(), messages.NOT_YOURS),
        (NotCreator(), messages.NOT_CREATOR),
        (RequestClosed(), "This request has expired or was already answered."),
        (NotAsked(), "This request was sent to someone else."),
        (WrongPassphrase(1), "Wrong passphrase. 1 try left before the secret is destroyed."),
        (WrongPassphrase(4), "Wrong passphrase. 4 tries left before the secret is destroyed."),
        (InvalidSecret("The secret is empty."), "The secret is empty. Nothing was stored."),
        (
            RateLimited(42),
            "You've shared or asked for many secrets in a short time. Wait 42 seconds and try "
            "again; nothing was stored or sent.",
        ),
    ],
)
def test_each_domain_error_reads_as_one_sentence(error, expected):
    assert messages.for_error(error) == expected


def test_anything_else_goes_on_to_the_error_reporter():
    with pytest.raises(KeyError):
        messages.for_error(KeyError("not a domain error"))


def test_the_store_outage_is_worded_in_one_place_only():
    """Listeners used to word it four ways, some claiming nothing had happened when a store
    that did not answer in time may have done the work."""
    for path in HANDLERS.glob("*.py"):
        if path.name == "messages.py":
            continue
        source = path.read_text()
        assert not re.search(r"secret store|Couldn't reach|store didn't", source), path.name
    assert "nothing" not in messages.STORE_DOWN  # it claims nothing it cannot know
