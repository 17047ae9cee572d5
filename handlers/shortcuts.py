"""The message shortcut "Share as one-time secret": the modal, prefilled with the message."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.background import AfterAck
from handlers.blocks import SHORTCUT_CALLBACK, SLACK_INPUT_MAX, notice, share_modal
from handlers.commands import modal_metadata
from handlers.delivery import Delivery
from handlers.message_text import typed_text
from handlers.payloads import actor, address, field, text, workspace_of
from handlers.workspace import Workspaces

TOO_LONG = (
    "This message is {length:,} characters long; a secret can hold at most {limit:,}. "
    "Nothing was shared: a cut-off secret would be a wrong one. Use /secret with the part "
    "that is secret."
)


def too_long(prefill: str) -> str | None:
    """The sentence refusing a message the form cannot hold whole, or None.

    The secret field holds SLACK_INPUT_MAX characters (plain_text_input's ceiling); Slack
    would refuse a longer initial_value, and cutting it would share a truncated secret that
    looks complete."""
    if len(prefill) <= SLACK_INPUT_MAX:
        return None
    return TOO_LONG.format(length=len(prefill), limit=SLACK_INPUT_MAX)


def register(
    app: AsyncApp, delivery: Delivery, after_ack: AfterAck, workspaces: Workspaces
) -> None:
    @app.shortcut(SHORTCUT_CALLBACK)
    async def share_message(ack: AsyncAck, shortcut: dict, client: AsyncWebClient) -> None:
        _, user_id = actor(shortcut)
        policy = await workspaces.policy(workspace_of(shortcut))
        await ack()
        # What the author typed, not Slack's markup of it: a pasted password must come back
        # into the form character for character.
        prefill = typed_text(field(shortcut, "message"))
        refusal = too_long(prefill)
        if refusal:
            after_ack.run(
                delivery.to_person(
                    text(shortcut, "response_url"), user_id, notice(refusal), address(shortcut)
                ),
                shortcut,
            )
            return
        view = share_modal(
            expiry_choices=policy.expiry_choices,
            default_ttl=policy.default_ttl,
            private_metadata=modal_metadata(
                text(shortcut, "response_url"), text(shortcut, "channel", "id"), True
            ),
            prefill=prefill,
        )
        after_ack.run(
            client.views_open(trigger_id=text(shortcut, "trigger_id"), view=view), shortcut
        )
