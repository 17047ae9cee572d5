"""The message shortcut "Share as one-time secret": the modal, prefilled with the message."""

from __future__ import annotations

import html

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.background import AfterAck
from handlers.blocks import SHORTCUT_CALLBACK, share_modal
from handlers.commands import modal_metadata
from handlers.payloads import actor, text
from handlers.workspace import Workspaces


def register(app: AsyncApp, after_ack: AfterAck, workspaces: Workspaces) -> None:
    @app.shortcut(SHORTCUT_CALLBACK)
    async def share_message(ack: AsyncAck, shortcut: dict, client: AsyncWebClient) -> None:
        policy = await workspaces.policy(actor(shortcut)[0])
        await ack()
        # Slack escapes &, < and > in message text; a pasted password must come back as typed.
        view = share_modal(
            expiry_choices=policy.expiry_choices,
            default_ttl=policy.default_ttl,
            private_metadata=modal_metadata(
                text(shortcut, "response_url"), text(shortcut, "channel", "id"), True
            ),
            prefill=html.unescape(text(shortcut, "message", "text")),
        )
        after_ack.run(
            client.views_open(trigger_id=text(shortcut, "trigger_id"), view=view), shortcut
        )
