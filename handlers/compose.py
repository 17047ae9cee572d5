"""Writing a secret in the browser: `/secret compose` and the form's "Write it in my browser
instead" button give the creator, alone, a one-time compose link (bot/compose.py).

`/secret compose` alone answers with the link at once. Followed by anything (`compose @bob`)
it opens a small form with a person picker: the command does not escape mentions (a secret
typed after `/secret` must arrive as typed), so Slack sends a typed `@bob` as plain text,
not as a user id, and only a picker can say whom the person meant.

Neither the secret nor its link passes through Slack: the page encrypts in the browser and
shows the link there. Slack carries only the compose link, to its creator, and the secret's
link when the creator ticks "send it" on the page (which says so).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.compose import COMPOSE_TTL, ComposedSecret, ComposeGrant, ComposeTicket
from bot.config import format_duration
from bot.errors import StoreUnavailable
from bot.service import SecretService, compact_json
from handlers import blocks, payloads
from handlers.background import AfterAck
from handlers.delivery import SLACK_CALL_FAILURES, Delivery, failure_kind
from handlers.messages import for_error
from handlers.requests import parse_request_text
from handlers.share import Subcommands, command_metadata
from handlers.sharing import CreationLimit, ShareRequest, creator_of
from handlers.workspace import Policy, Workspaces

log = logging.getLogger(__name__)

LABEL_TIMEOUT = 2.0  # users.info for the name the page shows; the id is shown without it
# views.update errors that are a person's doing, not a fault: a second click already
# replaced the modal (hash_conflict), or they closed it meanwhile (not_found).
VIEW_GONE = ("hash_conflict", "not_found")


def grant_for(
    *,
    team_id: str,
    user_id: str,
    where: str,
    channel_id: str,
    recipient: str,
    recipient_label: str,
    policy: Policy,
) -> ComposeGrant:
    """What a compose link stands for: this Slack person as the secret's creator (so it is
    on their list, Burn works and receipts reach them), the workspace's expiry choices, and
    whom the link may be passed on to."""
    declared = ShareRequest(
        text="",
        ttl=policy.default_ttl,
        team_id=team_id,
        user_id=user_id,
        where=where,
        channel_id=channel_id,
        recipient=recipient,
    )
    return ComposeGrant(
        creator=creator_of(team_id, user_id),
        metadata=declared.metadata(),
        expiry_choices=policy.expiry_choices,
        default_ttl=policy.default_ttl,
        recipient_label=recipient_label if recipient else "",
        edge=compact_json({"u": user_id, "r": recipient, "w": declared.place}),
    )


def compose_blocks(ticket: ComposeTicket) -> list[dict[str, Any]]:
    return [
        blocks.section(
            ":writing_hand: Write your secret, or attach one file, in your browser: "
            f"{blocks.link_markup(ticket.link)}"
        ),
        blocks.context(
            # "Yours alone" would overstate it: the server cannot tell who opens it.
            f"Only you see this link. It works once, for {format_duration(COMPOSE_TTL)}, for "
            "whoever holds it: keep it to yourself. "
            "The secret is encrypted in your browser: neither Slack nor this app's server "
            "ever sees it. The page then shows you its one-time link."
        ),
    ]


def compose_message(ticket: ComposeTicket) -> dict[str, Any]:
    message = blocks.notice("Your compose link is ready. Only you can see it.")
    message["blocks"] = compose_blocks(ticket)  # `text` (notifications) holds no link
    return message


def compose_modal(ticket: ComposeTicket) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": blocks.plain("Write it in your browser"),
        "close": blocks.plain("Done"),
        "blocks": compose_blocks(ticket),
    }


def pick_modal(private_metadata: str, initial_user: str = "") -> dict[str, Any]:
    """`/secret compose` followed by anything: whom the link may go to, picked, not typed."""
    select: dict[str, Any] = {"type": "users_select", "action_id": blocks.RECIPIENT_SELECT}
    if initial_user:
        select["initial_user"] = initial_user
    return {
        "type": "modal",
        "callback_id": blocks.COMPOSE_PICK_CALLBACK,
        "private_metadata": private_metadata,
        "title": blocks.plain("Write it in your browser"),
        "submit": blocks.plain("Get link"),
        "close": blocks.plain("Cancel"),
        "blocks": [
            blocks.section(
                "You get a one-time page to write a secret or attach a file in your browser. "
                "Pick someone, and the page offers to send them the secret's link."
            ),
            {
                "type": "input",
                "block_id": blocks.RECIPIENT_BLOCK,
                "optional": True,
                "label": blocks.plain("Send the link to"),
                "element": select,
            },
        ],
    }


def waiting_modal() -> dict[str, Any]:
    return {
        "type": "modal",
        "title": blocks.plain("Write it in your browser"),
        "close": blocks.plain("Close"),
        "blocks": [blocks.section(":hourglass_flowing_sand: Getting your compose link…")],
    }


def passed_on_message(creator: str, link: str, expires_at: float) -> dict[str, Any]:
    return blocks.recipient_message(creator=creator, link=link, note="", expires_at=expires_at)


class ComposeFlow:
    """Issues compose links for Slack people; `command` serves `/secret compose`."""

    def __init__(
        self,
        service: SecretService,
        delivery: Delivery,
        after_ack: AfterAck,
        creation_limit: CreationLimit,
        workspaces: Workspaces,
    ) -> None:
        self._service = service
        self._delivery = delivery
        self._after_ack = after_ack
        self._creation_limit = creation_limit
        self._workspaces = workspaces

    async def _label(self, client: AsyncWebClient, recipient: str) -> str:
        """How the page names the recipient: their Slack name, else their id."""
        # A deadline of our own: slack_sdk sends extra keyword arguments to Slack as API
        # parameters, so a `timeout=` there bounds nothing.
        try:
            async with asyncio.timeout(LABEL_TIMEOUT):
                answer = await client.users_info(user=recipient)
        except SLACK_CALL_FAILURES as exc:
            log.info("no name for the compose page's recipient: %s", failure_kind(exc))
            return recipient
        user = answer.get("user") or {}
        profile = user.get("profile") or {}
        name = profile.get("display_name") or user.get("real_name") or user.get("name")
        return f"@{name}" if name else recipient

    async def issue(
        self, body: dict[str, Any], recipient: str, client: AsyncWebClient, channel_id: str
    ) -> ComposeTicket:
        team_id, user_id = payloads.actor(body)
        policy = await self._workspaces.policy(payloads.workspace_of(body))
        label = await self._label(client, recipient) if recipient else ""
        grant = grant_for(
            team_id=team_id,
            user_id=user_id,
            where=payloads.address(body),
            channel_id=channel_id,
            recipient=recipient,
            recipient_label=label,
            policy=policy,
        )
        return await self._service.compose.issue(grant)

    async def command(
        self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, rest: str
    ) -> None:
        """`/secret compose`: the compose link, to the creator alone. `/secret compose @bob`
        (anything after the word): the picker first, filled in when the mention came as
        an id (pasted escaped); a typed @name is not one, and is never guessed at."""
        team_id, user_id = payloads.actor(command)
        if rest.strip():
            await ack()
            recipient, _ = parse_request_text(rest.strip())
            view = pick_modal(command_metadata(command), recipient)
            trigger_id = payloads.text(command, "trigger_id")
            self._after_ack.run(client.views_open(trigger_id=trigger_id, view=view), command)
            return
        refusal = await self._creation_limit.refusal(team_id, user_id)
        if refusal:
            await ack(text=refusal, response_type="ephemeral")
            return
        await ack()
        response_url = payloads.text(command, "response_url") or None
        channel_id = payloads.text(command, "channel_id")

        async def send() -> None:
            try:
                ticket = await self.issue(command, "", client, channel_id)
            except StoreUnavailable as exc:
                message = blocks.notice(for_error(exc))
            else:
                message = compose_message(ticket)
            await self._delivery.to_person(
                response_url, user_id, message, payloads.address(command)
            )

        self._after_ack.run(send(), command)

    async def clicked(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        """The form's button: the modal turns into the compose link (a modal is seen by
        the person who opened it alone), taking the person they picked, if any."""
        await self.into_link(body, client, payloads.text(body, "view", "hash"))

    async def picked(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        """The picker's Get link, after the ack turned it into a waiting modal (whose new
        hash Slack does not tell us, so none is sent)."""
        await self.into_link(body, client, "")

    async def into_link(self, body: dict[str, Any], client: AsyncWebClient, hash_: str) -> None:
        """Replace the modal `body` came from with the compose link, for the person picked in
        it. The channel is the one the modal was opened from (its private_metadata): a click
        inside a modal carries no channel of its own."""
        team_id, user_id = payloads.actor(body)
        view_id = payloads.text(body, "view", "id")
        recipient = payloads.text(
            payloads.field(body, "view", "state", "values"),
            blocks.RECIPIENT_BLOCK,
            blocks.RECIPIENT_SELECT,
            "selected_user",
        )
        metadata = payloads.read_metadata(payloads.text(body, "view", "private_metadata"))
        refusal = await self._creation_limit.refusal(team_id, user_id)
        if refusal:
            view = blocks.sorry_modal(refusal)
        else:
            try:
                channel_id = str(metadata.get("channel") or "")
                view = compose_modal(await self.issue(body, recipient, client, channel_id))
            except StoreUnavailable as exc:
                view = blocks.sorry_modal(for_error(exc))
        update: dict[str, Any] = {"view_id": view_id, "view": view}
        if hash_:
            # Two quick clicks: Slack takes the first update and refuses the second, so the
            # modal never flips from one compose link to another.
            update["hash"] = hash_
        try:
            await client.views_update(**update)
        except SlackApiError as exc:
            if failure_kind(exc) not in VIEW_GONE:
                raise
            log.info("compose modal not updated: %s", failure_kind(exc))

    async def pass_on(self, composed: ComposedSecret) -> None:
        """The creator ticked "send it in Slack": DM the link to the person they picked."""
        edge = payloads.string_fields(composed.grant.edge)
        recipient, user_id = edge.get("r", ""), edge.get("u", "")
        if not composed.pass_on_link or not recipient:
            return
        sent = await self._delivery.dm(
            recipient,
            passed_on_message(user_id, composed.pass_on_link, composed.expires_at),
            edge.get("w", ""),
        )
        if not sent:
            await self._delivery.dm(
                user_id,
                blocks.notice(
                    f"Couldn't send your one-time link to <@{recipient}>. The secret is "
                    "still waiting: send them the link from the page yourself."
                ),
                edge.get("w", ""),
            )


def register(
    app: AsyncApp,
    service: SecretService,
    delivery: Delivery,
    after_ack: AfterAck,
    creation_limit: CreationLimit,
    workspaces: Workspaces,
    subcommands: Subcommands,
) -> ComposeFlow:
    flow = ComposeFlow(service, delivery, after_ack, creation_limit, workspaces)
    subcommands.add("compose", flow.command)

    async def clicked(body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        await flow.clicked(body, client)

    app.action(blocks.COMPOSE_ACTION)(after_ack.on_click(clicked))

    @app.view(blocks.COMPOSE_PICK_CALLBACK)
    async def picked(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack(response_action="update", view=waiting_modal())
        after_ack.run(flow.picked(body, client), body)

    service.compose.on_composed(flow.pass_on)
    return flow
