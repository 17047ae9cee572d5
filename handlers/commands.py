"""The `/secret` slash command: a modal, an inline secret, or help."""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.service import SecretService
from handlers.background import AfterAck
from handlers.blocks import help_text, share_modal
from handlers.delivery import Delivery
from handlers.sharing import CreationLimit, ShareRequest, share

COMMAND = "/secret"


def modal_metadata(response_url: str | None, channel_id: str, from_shortcut: bool) -> str:
    """Carried through the modal so the link goes back where the person asked."""
    return json.dumps(
        {"response_url": response_url or "", "channel": channel_id, "shortcut": from_shortcut}
    )


def register(
    app: AsyncApp,
    service: SecretService,
    settings: Settings,
    delivery: Delivery,
    after_ack: AfterAck,
    creation_limit: CreationLimit,
) -> None:
    @app.command(COMMAND)
    async def secret_command(ack: AsyncAck, command: dict, client: AsyncWebClient) -> None:
        text = command.get("text") or ""
        if text.strip().lower() == "help":
            await ack(
                text=help_text(COMMAND, settings.expiry_choices, settings.default_ttl),
                response_type="ephemeral",
            )
            return
        if not text.strip():
            await ack()
            # trigger_id expires 3 seconds after the command: open the modal right away.
            view = share_modal(
                expiry_choices=settings.expiry_choices,
                default_ttl=settings.default_ttl,
                private_metadata=modal_metadata(
                    command.get("response_url"), command.get("channel_id", ""), False
                ),
            )
            after_ack.run(client.views_open(trigger_id=command["trigger_id"], view=view), command)
            return
        refusal = await creation_limit.refusal(command.get("team_id", ""), command["user_id"])
        if refusal:
            await ack(text=refusal, response_type="ephemeral")
            return
        await ack()
        share_now = share(
            ShareRequest(
                text=text,
                ttl=settings.default_ttl,
                team_id=command.get("team_id", ""),
                user_id=command["user_id"],
                channel_id=command.get("channel_id", ""),
                response_url=command.get("response_url"),
            ),
            service,
            delivery,
        )
        after_ack.run(share_now, command)
