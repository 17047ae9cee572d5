"""The `/secret` slash command: a modal, an inline secret, or help."""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import passwords
from bot.service import SecretService
from handlers import payloads
from handlers.background import AfterAck
from handlers.blocks import help_text, request_modal, share_modal
from handlers.compose import ComposeFlow
from handlers.delivery import Delivery
from handlers.home import send_list
from handlers.secret_requests import parse_request_text
from handlers.sharing import CreationLimit, ShareRequest, share
from handlers.workspace import Workspaces

COMMAND = "/secret"


GENERATE_USAGE = f"{COMMAND} generate [length] [--no-symbols]"


def generate_from(args: list[str]) -> str:
    """A password from `generate`'s arguments; ValueError says what was wrong."""
    symbols = "--no-symbols" not in args
    rest = [arg for arg in args if arg != "--no-symbols"]
    if len(rest) > 1 or (rest and not rest[0].isdigit()):
        raise ValueError("Give at most a length (a number) and --no-symbols")
    length = int(rest[0]) if rest else passwords.DEFAULT_LENGTH
    if not passwords.MIN_LENGTH <= length <= passwords.MAX_LENGTH:
        raise ValueError(
            f"The length must be from {passwords.MIN_LENGTH} to {passwords.MAX_LENGTH}"
        )
    return passwords.generate(length, symbols)


def modal_metadata(response_url: str | None, channel_id: str, from_shortcut: bool) -> str:
    """Carried through the modal so the link goes back where the person asked."""
    return json.dumps(
        {"response_url": response_url or "", "channel": channel_id, "shortcut": from_shortcut}
    )


def register(
    app: AsyncApp,
    service: SecretService,
    delivery: Delivery,
    after_ack: AfterAck,
    creation_limit: CreationLimit,
    workspaces: Workspaces,
    compose: ComposeFlow,
) -> None:
    @app.command(COMMAND)
    async def secret_command(ack: AsyncAck, command: dict, client: AsyncWebClient) -> None:
        text = payloads.command_text(command)
        team_id, user_id = payloads.actor(command)
        words = text.split()
        subcommand = words[0].lower() if words else ""
        # trigger_id expires 3 seconds after the command: modals are opened right away.
        trigger_id = payloads.text(command, "trigger_id")

        def metadata() -> str:  # only the modal branches need it, not every inline secret
            return modal_metadata(
                payloads.text(command, "response_url"), payloads.text(command, "channel_id"), False
            )

        policy = await workspaces.policy(payloads.workspace_of(command))
        if subcommand == "help" and len(words) == 1:
            await ack(
                text=help_text(COMMAND, policy.expiry_choices, policy.default_ttl),
                response_type="ephemeral",
            )
            return
        if not words:
            await ack()
            view = share_modal(
                expiry_choices=policy.expiry_choices,
                default_ttl=policy.default_ttl,
                private_metadata=metadata(),
            )
            after_ack.run(client.views_open(trigger_id=trigger_id, view=view), command)
            return
        if not user_id:
            await ack(text="Slack didn't say who you are; please try again.")
            return
        if subcommand == "compose":
            return await compose.command(ack, command, client)
        if subcommand == "list" and len(words) == 1:
            await ack()
            after_ack.run(send_list(command, service, delivery), command)
            return
        if subcommand == "request":
            await ack()
            asked, what_for = parse_request_text(text[len(words[0]) :])
            view = request_modal(private_metadata=metadata(), asked=asked, what_for=what_for)
            after_ack.run(client.views_open(trigger_id=trigger_id, view=view), command)
            return
        generated = subcommand == "generate"
        if generated:
            try:
                text = generate_from(words[1:])
            except ValueError as exc:
                await ack(text=f"{exc}. Usage: `{GENERATE_USAGE}`", response_type="ephemeral")
                return
        refusal = await creation_limit.refusal(team_id, user_id)
        if refusal:
            await ack(text=refusal, response_type="ephemeral")
            return
        await ack()
        share_now = share(
            ShareRequest(
                text=text,
                ttl=policy.default_ttl,
                team_id=team_id,
                user_id=user_id,
                where=payloads.address(command),
                channel_id=payloads.text(command, "channel_id"),
                response_url=payloads.text(command, "response_url") or None,
                generated=generated,
            ),
            service,
            delivery,
        )
        after_ack.run(share_now, command)
