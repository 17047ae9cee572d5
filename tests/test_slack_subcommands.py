"""The words after `/secret` that other features answer (handlers.share.Subcommands): a word
meant alone counts only alone, so a secret that starts with it is shared, not swallowed."""

from __future__ import annotations

from handlers.share import Subcommands


async def _run(ack, command, client, rest) -> None:
    return None


async def _other(ack, command, client, rest) -> None:
    return None


def test_a_word_meant_alone_is_answered_only_when_it_is_the_whole_command():
    words = Subcommands()
    words.add("list", _run, alone=True)
    assert words.find(["list"]) is _run
    assert words.find(["LIST"]) is _run  # Slack keeps the case people type
    assert words.find(["list", "hunter2"]) is None  # shared as the secret "list hunter2"


def test_a_word_that_takes_more_is_answered_with_or_without_it():
    words = Subcommands()
    words.add("request", _other)
    assert words.find(["request"]) is _other
    assert words.find(["request", "<@U1>", "the", "db", "password"]) is _other
    assert words.find(["requests"]) is None and words.find([]) is None
