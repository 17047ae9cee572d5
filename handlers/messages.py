"""What a Slack user reads when something went wrong: each domain error's one sentence.

`bot/web.py` maps the same errors to pages for the browser; this is the Slack side, and every
listener uses it, so one failure reads the same wherever it happens. Sentences claim only what
is known: a store that did not answer in time may still have done the work.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt import BoltResponse

from bot.errors import (
    BrokenLink,
    InvalidSecret,
    NotCreator,
    SecretGone,
    StoreUnavailable,
    WrongPassphrase,
)
from bot.outside import OutsideRequestGone
from bot.ratelimit import RateLimited
from bot.requests import NotAsked, RequestClosed
from handlers.blocks import notice
from handlers.delivery import Delivery
from handlers.payloads import read_metadata, text

log = logging.getLogger(__name__)

STORE_DOWN = "The secret store didn't answer in time. Please try again in a moment."
GONE = "This secret is gone: it was revealed, burned or has expired."
# In Slack a proof fails only for someone the secret was not bound to (the key travels in the
# button): a mistyped link cannot happen there.
NOT_YOURS = "This secret was sent to someone else. Only they can open it; nothing was used up."
NOT_CREATOR = "Only the person who created this secret can burn it."
REQUEST_CLOSED = "This request has expired or was already answered."
REQUEST_NOT_YOURS = "This request was sent to someone else."
OUTSIDE_CLOSED = "This request is over: its answer was opened, or it was cancelled or expired."
SOMETHING_WENT_WRONG = (
    "Something went wrong on our side and your request was not completed. If you were "
    "creating a secret, nothing was stored. Please try again."
)
# Said only where Slack's slowness stopped the app before anything was used up.
SLACK_SLOW = "Slack didn't answer in time, so nothing was used up. Please try again."


def for_error(error: Exception) -> str:
    """The sentence for a domain error. Anything else is not the user's to read: it goes on
    to the one error reporter, which logs it and says something calm."""
    match error:
        case StoreUnavailable():
            return STORE_DOWN
        case SecretGone():
            return GONE
        case BrokenLink():
            return NOT_YOURS
        case NotCreator():
            return NOT_CREATOR
        case RequestClosed():
            return REQUEST_CLOSED
        case NotAsked():
            return REQUEST_NOT_YOURS
        case OutsideRequestGone():
            return OUTSIDE_CLOSED
        case WrongPassphrase(attempts_left=left):
            tries = "try" if left == 1 else "tries"
            return f"Wrong passphrase. {left} {tries} left before the secret is destroyed."
        case InvalidSecret():
            return f"{error} Nothing was stored."
        case RateLimited(retry_after=seconds):
            return (
                f"You've shared or asked for many secrets in a short time. Wait {seconds} "
                "seconds and try again; nothing was stored or sent."
            )
    raise error


def error_reporter(delivery: Delivery) -> Callable[[Exception, dict], Awaitable[BoltResponse]]:
    """ONE place for the unexpected, for bolt's error handler and the work after acks."""

    async def report(error: Exception, body: dict) -> BoltResponse:
        """A redacted log line and a calm word to the user.

        Before the ack, the failure can only come from a payload our listeners or bolt's
        matching could not read (Slack sends none such): the answer is a 400, not a 500."""
        log.error("Slack listener failed: %s", type(error).__name__)
        metadata = read_metadata(text(body, "view", "private_metadata"))
        response_url = text(body, "response_url") or metadata.get("response_url")
        await delivery.respond(response_url, notice(SOMETHING_WENT_WRONG))
        return BoltResponse(status=400, body="")

    return report
