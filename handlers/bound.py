"""Secrets only one person can open: the Reveal button in their DM, and the passphrase modal.

Slack signs every click and says who clicked. The button's value carries the key (held by
Slack, as a link would be); the server decrypts in memory for this one reveal. The store
itself refuses anyone but the intended person: it opens a bound record only on this path,
never through a link, and the proof it checks needs the server's binding key and the
identity Slack signed. A forwarded message, a mail scanner or a crafted request burns nothing.
"""

from __future__ import annotations

import logging
import time

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import BrokenLink, SecretGone, StoreUnavailable, WrongPassphrase
from bot.service import SecretService, compact_json
from handlers import blocks
from handlers.background import AfterAck
from handlers.delivery import SLACK_CALL_FAILURES, Delivery, failure_kind
from handlers.payloads import actor, field, string_fields, text
from handlers.sharing import creator_of

log = logging.getLogger(__name__)

NOT_YOURS = "This secret was sent to someone else. Only they can open it; nothing was used up."
GONE = "This secret is gone: it was revealed, burned or has expired."
NO_WINDOW = "Slack couldn't open a window for the secret; nothing was used up. Click Reveal again."
STORE_DOWN = "Couldn't reach the secret store; the secret was not used up. Try again."


def register(
    app: AsyncApp, service: SecretService, delivery: Delivery, after_ack: AfterAck
) -> None:
    async def reveal_into(
        client: AsyncWebClient, view_id: str, value: dict[str, str], holder: str
    ) -> bool:
        """Reveal and show in the open modal. True when the secret was shown."""
        try:
            plaintext = await service.reveal_for(value.get("s", ""), value.get("k", ""), holder)
            view, shown = blocks.secret_modal(plaintext), True
        except BrokenLink:
            view, shown = blocks.sorry_modal(NOT_YOURS), False
        except SecretGone:
            view, shown = blocks.sorry_modal(GONE), False
        except StoreUnavailable:
            view, shown = blocks.sorry_modal(STORE_DOWN), False
        try:
            await client.views_update(view_id=view_id, view=view)
        except SLACK_CALL_FAILURES as exc:
            # Revealed and burned, but Slack would not show it (after retries): the one way
            # a bound secret is lost. Logged by kind; the sender can share it again.
            log.error("bound secret not shown: %s", failure_kind(exc))
            return False
        return shown

    async def open_reveal(body: dict, action: dict, client: AsyncWebClient) -> None:
        team_id, user_id = actor(body)
        value = string_fields(text(action, "value"))
        response_url = text(body, "response_url")
        if value.get("r") != user_id:
            await delivery.respond(response_url, blocks.notice(NOT_YOURS))
            return
        try:
            status = await service.status(value.get("s", ""))
        except SecretGone:
            await delivery.respond(response_url, blocks.notice(GONE, replace_original=True))
            return
        except StoreUnavailable:
            await delivery.respond(response_url, blocks.notice(STORE_DOWN))
            return
        trigger_id = text(body, "trigger_id")
        if status.has_passphrase:
            metadata = compact_json({**value, "u": response_url})
            await client.views_open(
                trigger_id=trigger_id,
                view=blocks.passphrase_modal(metadata, value.get("c", "")),
            )
            return
        # Open first (the trigger lasts 3 s), reveal second: if Slack cannot show a window,
        # nothing has been used up.
        try:
            opened = await client.views_open(trigger_id=trigger_id, view=blocks.opening_modal())
        except SLACK_CALL_FAILURES:
            await delivery.respond(response_url, blocks.notice(NO_WINDOW))
            return
        view_id = str(field(opened.data, "view", "id") or "")
        if await reveal_into(client, view_id, value, creator_of(team_id, user_id)):
            await delivery.respond(response_url, blocks.revealed_in_slack_message(time.time()))

    app.action(blocks.REVEAL_ACTION)(after_ack.on_click(open_reveal))

    @app.view(blocks.PASSPHRASE_MODAL)
    async def passphrase_submitted(ack: AsyncAck, body: dict, view: dict) -> None:
        team_id, user_id = actor(body)
        value = string_fields(text(view, "private_metadata"))
        passphrase = text(
            view, "state", "values", blocks.PASSPHRASE_BLOCK, blocks.PASSPHRASE_INPUT, "value"
        )
        try:
            # Key derivation runs in a thread; Slack waits up to 3 s for this answer, and the
            # secret travels in it, so no later call can lose it.
            plaintext = await service.reveal_for(
                value.get("s", ""), value.get("k", ""), creator_of(team_id, user_id), passphrase
            )
        except WrongPassphrase as exc:
            await ack(
                response_action="errors",
                errors={
                    blocks.PASSPHRASE_BLOCK: (
                        f"Wrong passphrase. {exc.attempts_left} tries left before the secret "
                        "is destroyed."
                    )
                },
            )
            return
        except BrokenLink:
            await ack(response_action="update", view=blocks.sorry_modal(NOT_YOURS))
            return
        except SecretGone:
            await ack(response_action="update", view=blocks.sorry_modal(GONE))
            return
        except StoreUnavailable:
            await ack(response_action="errors", errors={blocks.PASSPHRASE_BLOCK: STORE_DOWN})
            return
        await ack(response_action="update", view=blocks.secret_modal(plaintext))
        after_ack.run(
            delivery.respond(value.get("u"), blocks.revealed_in_slack_message(time.time())),
            body,
        )
