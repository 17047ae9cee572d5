"""Asking someone outside Slack: `/secret request --outside [what for]` and the request
form's "Someone outside Slack" choice give the requester, alone, a one-time upload link;
the answer reaches only them (bot/outside.py owns the rules).

Slack carries the keys, and only to the requester: the upload link (the upload key `u` and
the public key `Q`, which seal but never open) in a message only they see, and their Reveal
button (the private key `d`) in their DM. The server forgets them once these are sent. A
text answer opens in Slack, for the person Slack signs the click for, like a bound secret
(handlers/bound.py); a file answer becomes a one-time link in their DM, decrypted in their
browser.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import crypto
from bot.errors import BrokenLink, NotCreator, SecretGone, StoreUnavailable
from bot.outside import (
    ANSWER_MARK,
    FILE,
    TEXT,
    WAITING_MARK,
    OutsideAnswer,
    OutsideRequestGone,
    OutsideTicket,
    UnreadableAnswer,
)
from bot.service import ExpiryNotice, SecretService, compact_json
from handlers import blocks, home_blocks
from handlers.background import AfterAck
from handlers.bound import NO_WINDOW, holder_of
from handlers.delivery import SLACK_CALL_FAILURES, Delivery, failure_kind
from handlers.messages import NOT_YOURS, for_error
from handlers.payloads import actor, address, field, is_flag, string_fields, text, workspace_of
from handlers.sharing import CreationLimit, creator_of
from handlers.workspace import Workspaces

log = logging.getLogger(__name__)

REVEAL_ACTION = "reveal_outside_answer"
CANCEL_ACTION = "cancel_outside_request"
LIST_CANCEL_ACTION = home_blocks.LIST_CANCEL_ACTION
OUTSIDE_FLAG = "--outside"
NO_ANSWER_YET = "No answer yet. When the person you sent the link to answers, this button opens it."
ALREADY_ANSWERED = "It was already answered, so there is nothing to cancel: use Reveal above."
ANSWER_ARRIVING = (
    "An answer is arriving right now, so it cannot be cancelled: use Reveal above in a moment."
)


# Quote pairs as typed, and as Smart Punctuation and other locales' keyboards turn them.
_QUOTES = (
    ('"', '"'),
    ("'", "'"),
    ("\u201c", "\u201d"),
    ("\u2018", "\u2019"),
    ("\u201e", "\u201c"),
    ("\u201e", "\u201d"),
    ("«", "»"),
)


def is_outside_flag(word: str) -> bool:
    """`--outside`, also as a phone types it: `—outside`, `–outside`, `−−outside`."""
    return is_flag(word, OUTSIDE_FLAG)


def what_for_of(words: str) -> str:
    """The note typed after the flag, without the quotes people put around it (not cut:
    `too_long_note` says when it is over the limit)."""
    note = words.strip()
    for opening, closing in _QUOTES:
        if len(note) >= 2 and note[0] == opening and note[-1] == closing:
            note = note[1:-1].strip()
            break
    return note


def too_long_note(note: str) -> str:
    """The sentence refusing a note over the form's limit, or "" when it fits: cutting it
    silently would send the outside person a note the requester never wrote."""
    if len(note) <= blocks.NOTE_MAX:
        return ""
    return (
        f"That note is {len(note)} characters; at most {blocks.NOTE_MAX} fit. Shorten it and "
        "ask again. No upload link was made."
    )


# ---- Block Kit: pure functions ------------------------------------------------------------


def link_message(ticket: OutsideTicket, note: str) -> dict[str, Any]:
    """To the requester alone: the upload link, only in the blocks (`text`, which
    notifications show, holds no link)."""
    what = f" for *{blocks.escape(note)}*" if note else ""
    message = blocks.notice("Your upload link for someone outside Slack is ready.")
    message["blocks"] = [
        blocks.section(
            f":outbox_tray: Send this link{what} to the person who has the secret, by any "
            f"channel: {blocks.link_markup(ticket.upload_link)}"
        ),
        blocks.context(
            f"It works *once* and expires {blocks.slack_date(ticket.expires_at)}. They need no "
            "Slack account: their browser encrypts what they send, and only you can open it, "
            "with the Reveal button in your DM. Only you can see this message."
        ),
    ]
    return message


def reveal_value(ticket: OutsideTicket, user_id: str, scope: str) -> str:
    """The requester's Reveal button: which request, the private key `d` that alone opens
    the answer, whose it is ("r") and the scope the text answer is bound to ("o", checked as
    in handlers/bound.py). Far under Slack's 2,000 characters for a button's value."""
    return compact_json({"q": ticket.request_id, "d": ticket.answer_key, "r": user_id, "o": scope})


def request_dm(ticket: OutsideTicket, note: str, value: str) -> dict[str, Any]:
    """The requester's DM, sent when they ask: its Reveal button holds the keys, so the
    answer can be opened without the server ever keeping them."""
    what = f" for *{blocks.escape(note)}*" if note else ""
    reveal = {
        "type": "button",
        "action_id": REVEAL_ACTION,
        "text": blocks.plain("Reveal"),
        "style": "primary",
        "value": value,
    }
    cancel = {
        "type": "button",
        "action_id": CANCEL_ACTION,
        "text": blocks.plain("Cancel request"),
        "value": ticket.request_id,
        "confirm": {
            "title": blocks.plain("Cancel this request?"),
            "text": blocks.plain("The upload link stops working at once."),
            "confirm": blocks.plain("Cancel it"),
            "deny": blocks.plain("Keep it"),
        },
    }
    return blocks.dm_message(
        "You asked someone outside Slack for a secret.",
        [
            blocks.section(
                f":inbox_tray: You asked someone outside Slack{what}. When they answer, "
                "*Reveal* here opens it, once, for you alone."
            ),
            {"type": "actions", "block_id": "outside_actions", "elements": [reveal, cancel]},
            blocks.context(
                f"The request expires {blocks.slack_date(ticket.expires_at)} if unanswered."
            ),
        ],
    )


def answered_dm(answer: OutsideAnswer) -> dict[str, Any]:
    what = f" *{blocks.escape(answer.note)}*" if answer.note else ""
    kind = "a file" if answer.kind == FILE else "a secret"
    return blocks.dm_message(
        "Someone outside Slack answered your request.",
        [
            blocks.section(
                f":white_check_mark: Your request{what} was answered with {kind}. Open it "
                "with *Reveal* on your request message, above: only you can."
            ),
            blocks.context(f"It expires {blocks.slack_date(answer.expires_at)} if unopened."),
        ],
    )


def file_link_message(link: str) -> dict[str, Any]:
    """Replaces the request message when the answer is a file: its one-time link, opened
    and decrypted in the requester's browser."""
    return {
        "replace_original": True,
        "text": "The answer to your request is a file: open its one-time link.",
        "blocks": [
            blocks.section(
                ":page_facing_up: The answer is a file. Open it once, in your browser: "
                f"{blocks.link_markup(link)}"
            ),
            blocks.context("Your browser decrypts it. The link works once."),
        ],
    }


def cancelled_message() -> dict[str, Any]:
    return blocks.notice(
        ":no_entry_sign: Request cancelled. Its upload link no longer works.",
        replace_original=True,
    )


def expired_dm(notice: ExpiryNotice, mark: str) -> dict[str, Any]:
    note = string_fields(notice.metadata).get("n", "")
    what = f" *{blocks.escape(note)}*" if note else ""
    if mark == WAITING_MARK:
        headline = (
            f":hourglass: Your request{what} to someone outside Slack expired unanswered "
            f"{blocks.slack_date(notice.expires_at)}. Its upload link no longer works."
        )
    else:
        headline = (
            f":hourglass: The answer to your request{what} expired unopened "
            f"{blocks.slack_date(notice.expires_at)}. It is deleted."
        )
    return blocks.dm_message(
        "Your request to someone outside Slack expired.",
        [
            blocks.section(headline),
            blocks.context("Ask again with /secret request --outside if you still need it."),
        ],
    )


# ---- Asking ------------------------------------------------------------------------------


class OutsideFlow:
    """Opens requests for Slack people; used by `/secret request --outside` and the form
    (handlers/requests.py)."""

    def __init__(
        self,
        service: SecretService,
        delivery: Delivery,
        creation_limit: CreationLimit,
        workspaces: Workspaces,
    ) -> None:
        self._service = service
        self._delivery = delivery
        self.creation_limit = creation_limit
        self._workspaces = workspaces

    async def ask(self, body: dict[str, Any], note: str, response_url: str | None) -> None:
        """After the ack (the creation limit was checked before it): open the request, DM
        the requester their Reveal button, then show them the upload link."""
        scope, user_id = actor(body)
        where = address(body)
        policy = await self._workspaces.policy(workspace_of(body))
        requester = creator_of(scope, user_id)
        try:
            ticket = await self._service.outside.open(
                requester=requester, note=note, ttl=policy.default_ttl, edge=where
            )
        except StoreUnavailable as exc:
            await self._delivery.to_person(
                response_url, user_id, blocks.notice(for_error(exc)), where
            )
            return
        dm = request_dm(ticket, note, reveal_value(ticket, user_id, scope))
        if not await self._delivery.dm(user_id, dm, where):
            # Without the button nobody could ever open the answer: withdraw it.
            await self._withdraw(ticket.request_id, requester)
            await self._delivery.to_person(
                response_url,
                user_id,
                blocks.notice("Couldn't send you a DM, so no upload link was made. Try again."),
                where,
            )
            return
        if not await self._delivery.to_person(
            response_url, user_id, link_message(ticket, note), where
        ):
            await self._withdraw(ticket.request_id, requester)

    async def _withdraw(self, request_id: str, requester: str) -> None:
        try:
            await self._service.outside.cancel(request_id, requester)
        except (OutsideRequestGone, NotCreator, StoreUnavailable):
            log.warning("an undeliverable outside request could not be withdrawn")


# ---- Reveal, cancel, telling the requester ------------------------------------------------


def register(
    app: AsyncApp,
    service: SecretService,
    delivery: Delivery,
    after_ack: AfterAck,
    publish_home: Callable[[AsyncWebClient, dict], Awaitable[None]],
) -> None:
    outside = service.outside

    async def reveal_text(body: dict, value: dict[str, str], client: AsyncWebClient) -> None:
        response_url = text(body, "response_url")
        # Open first (the trigger lasts 3 s), reveal second: if Slack cannot show a window,
        # nothing has been used up.
        try:
            opened = await client.views_open(
                trigger_id=text(body, "trigger_id"), view=blocks.opening_modal()
            )
        except SLACK_CALL_FAILURES:
            await delivery.respond(response_url, blocks.notice(NO_WINDOW))
            return
        view_id = str(field(opened.data, "view", "id") or "")
        holder = await holder_of(client, body, value.get("o", ""))
        try:
            if "d" in value:
                plaintext = await outside.reveal_text(value.get("q", ""), value["d"], holder)
            else:
                # A button made before answers were sealed to `d`: its answer opens as then.
                plaintext = await service.reveal_for(value.get("q", ""), value.get("k", ""), holder)
            view, shown = blocks.secret_modal(plaintext), True
        except (BrokenLink, SecretGone, StoreUnavailable) as exc:
            view, shown = blocks.sorry_modal(for_error(exc)), False
        except (UnicodeDecodeError, UnreadableAnswer):
            # Sent as a text, but not one (a crafted upload): spent, and said so.
            view, shown = blocks.sorry_modal("The answer could not be read as text."), False
        try:
            await client.views_update(view_id=view_id, view=view)
        except SLACK_CALL_FAILURES as exc:
            log.error("outside answer not shown: %s", failure_kind(exc))
            return
        if shown:
            await delivery.respond(response_url, blocks.revealed_in_slack_message(time.time()))

    async def clicked_reveal(body: dict, action: dict, client: AsyncWebClient) -> None:
        _, user_id = actor(body)
        value = string_fields(text(action, "value"))
        response_url = text(body, "response_url")
        if value.get("r") != user_id:
            # Someone else's button (a forwarded copy): refused before the store is asked.
            await delivery.respond(response_url, blocks.notice(NOT_YOURS))
            return
        try:
            kind = await outside.answered_kind(value.get("q", ""))
        except OutsideRequestGone as exc:
            # Said beside the message, never over it: this message is the only place the
            # keys live, and an answer may still be on its way (bot/outside.py's lease).
            await delivery.respond(response_url, blocks.notice(for_error(exc)))
            return
        except StoreUnavailable as exc:
            await delivery.respond(response_url, blocks.notice(for_error(exc)))
            return
        if not kind:
            await delivery.respond(response_url, blocks.notice(NO_ANSWER_YET))
        elif kind == TEXT:
            await reveal_text(body, value, client)
        else:
            # The whole identity, as the text path's binding checks it (holder_of): the same
            # user id in another workspace is somebody else.
            holder = await holder_of(client, body, value.get("o", ""))
            if holder != creator_of(value.get("o", ""), value.get("r", "")):
                await delivery.respond(response_url, blocks.notice(NOT_YOURS))
                return
            try:
                if "d" in value:
                    # `#d.Q`: the reveal page proves the link with `d` and opens the answer
                    # with it; the upload link never held `d` (docs/SECURITY.md).
                    link = outside.file_link(value.get("q", ""), value["d"])
                else:
                    # A button made before answers were sealed to `d`: `#k.g`, as then.
                    key = crypto.b64decode(value["k"], 32)
                    link = f"{service.link_for(value.get('q', ''), key)}.{value['g']}"
            except (KeyError, ValueError, BrokenLink):
                await delivery.respond(response_url, blocks.notice(NOT_YOURS))
                return
            await delivery.respond(response_url, file_link_message(link))

    app.action(REVEAL_ACTION)(after_ack.on_click(clicked_reveal))

    async def cancel(body: dict, action: dict, client: AsyncWebClient, from_list: bool) -> None:
        scope, user_id = actor(body)
        requester = creator_of(scope, user_id)
        response_url = text(body, "response_url")
        request_id = text(action, "value")
        try:
            await outside.cancel(request_id, requester)
        except (NotCreator, StoreUnavailable) as exc:
            # A click in the App Home tab has no response_url: then the sentence is a DM.
            await delivery.to_person(
                response_url, user_id, blocks.notice(for_error(exc)), address(body)
            )
            return
        except OutsideRequestGone as exc:
            if not from_list:
                await too_late_to_cancel(response_url, request_id, exc)
                return
        if from_list and text(body, "container", "type") == "view":
            # The App Home tab: its click has no response_url; only a new view changes it.
            await publish_home(client, body)
            return
        if from_list:
            summaries = await service.my_secrets(requester)
            await delivery.respond(
                response_url, home_blocks.list_message(summaries, replace_original=True)
            )
            return
        await delivery.respond(response_url, cancelled_message())

    async def too_late_to_cancel(
        response_url: str, request_id: str, gone: OutsideRequestGone
    ) -> None:
        """Cancel clicked on the DM when there is nothing left to cancel. The DM holds the
        only copy of the keys: it is replaced only when the request is really over, never
        when its answer came (or is arriving)."""
        try:
            kind = await outside.answered_kind(request_id)
        except OutsideRequestGone:
            await delivery.respond(
                response_url, blocks.notice(for_error(gone), replace_original=True)
            )
            return
        except StoreUnavailable as exc:
            await delivery.respond(response_url, blocks.notice(for_error(exc)))
            return
        await delivery.respond(
            response_url, blocks.notice(ALREADY_ANSWERED if kind else ANSWER_ARRIVING)
        )

    async def cancel_from_dm(body: dict, action: dict, client: AsyncWebClient) -> None:
        await cancel(body, action, client, from_list=False)

    async def cancel_from_list(body: dict, action: dict, client: AsyncWebClient) -> None:
        await cancel(body, action, client, from_list=True)

    app.action(CANCEL_ACTION)(after_ack.on_click(cancel_from_dm))
    app.action(LIST_CANCEL_ACTION)(after_ack.on_click(cancel_from_list))

    async def tell_answered(answer: OutsideAnswer) -> None:
        _, _, user_id = answer.requester.partition(":")
        if user_id:
            await delivery.dm(user_id, answered_dm(answer), answer.edge)

    async def tell_expired(notice: ExpiryNotice) -> None:
        declared = string_fields(notice.metadata)
        mark = declared.get("q", "")
        _, _, user_id = notice.creator.partition(":")
        if mark not in (WAITING_MARK, ANSWER_MARK) or not user_id:
            return  # not a request to someone outside Slack: receipts tell of those
        where = declared.get("w") or notice.creator.partition(":")[0]
        await delivery.dm_in_turn(user_id, expired_dm(notice, mark), where)

    outside.on_answered(tell_answered)
    service.on_expired(tell_expired)
