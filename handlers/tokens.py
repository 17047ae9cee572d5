"""Personal API tokens in Slack: `/secret token` shows a person, to them alone, a token for
`oncelink share --server` (bot/tokens.py keeps the rules), `/secret token revoke` removes
it; admins turn tokens on or off for their workspace on the App Home tab; an uninstall
deletes the workspace's tokens; and a secret uploaded with `--to` is passed on by DM.

The token is the person's Slack identity for the API: the secrets it makes are theirs, on
their list, with Burn and receipts, exactly like secrets made with `/secret`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import StoreUnavailable
from bot.service import SecretService, compact_json
from bot.tokens import TokenGrant, TokenSecret, TokensOff
from handlers import blocks, payloads
from handlers.background import AfterAck
from handlers.delivery import Delivery, MissingScope
from handlers.messages import for_error
from handlers.share import Subcommands
from handlers.sharing import creator_of
from handlers.workspace import Workspaces, is_admin

log = logging.getLogger(__name__)

PREF_TOKENS = "pref_tokens"
MEMBER_ID = re.compile(r"^<?@?([UW][A-Z0-9]{2,})(?:\|[^>]*)?>?$")
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")

TOKENS_OFF = (
    "Your workspace's admins have turned personal API tokens off. Ask them, or share from "
    "Slack with /secret."
)
NOT_SHOWN = (
    "Slack did not let me show you your new API token, so it was revoked at once and never "
    "worked: run `/secret token` again. Any earlier token was replaced too."
)
REVOKED = "Your API token is revoked: it no longer works anywhere."
NONE_TO_REVOKE = "You have no API token; nothing was changed."
USAGE = (
    "Usage: `/secret token` for a new API token, `/secret token revoke` to remove it. "
    "Nothing was shared: to share text that starts with the word token, use `/secret` alone "
    "and type it in the form."
)


def token_message(token: str, server: str) -> dict[str, Any]:
    """The token where the person reads it, in the blocks; never in `text`, which
    notifications show."""
    message = blocks.notice("Your new API token is ready. Only you can see it.")
    message["blocks"] = [
        blocks.section(
            ":key: Your personal API token, shown this once (it replaces any earlier one):\n"
            f"```{token}```"
        ),
        blocks.context(
            f"Run `oncelink login --server {server}` and paste it when asked; then "
            "`oncelink share` sends secrets as you. Anyone holding it can create secrets in "
            "your name (never read them). `/secret token revoke` removes it."
        ),
    ]
    return message


def describe(grant: TokenGrant, note: str, recipient: str) -> str:
    """What a token's secret carries for lists and receipts, as handlers/sharing.py's
    ShareRequest.metadata writes it: the note, the recipient when it is a member id, and
    where the creator's install speaks."""
    edge = payloads.string_fields(grant.edge)
    where = edge.get("w", "")
    member = MEMBER_ID.match(recipient)
    fields = {
        "n": note,
        "r": member.group(1) if member else "",
        "w": where if where != grant.creator.partition(":")[0] else "",
    }
    return compact_json({key: value for key, value in fields.items() if value})


def settings_blocks(enabled: bool) -> list[dict[str, Any]]:
    """For workspace admins, beside the workspace's defaults on the App Home tab."""
    options = [("on", "Allowed"), ("off", "Turned off")]
    chosen = "on" if enabled else "off"

    def option(value: str, label: str) -> dict[str, Any]:
        return {"text": blocks.plain(label), "value": value}

    return [
        {
            "type": "section",
            "text": blocks.mrkdwn(
                "*Personal API tokens* (`/secret token`, for `oncelink share` from a terminal)"
            ),
            "accessory": {
                "type": "static_select",
                "action_id": PREF_TOKENS,
                "options": [option(value, label) for value, label in options],
                "initial_option": option(chosen, dict(options)[chosen]),
            },
        },
        blocks.context(
            "Turning them off stops every existing token at once; turning them back on "
            "revives those not revoked."
        ),
    ]


class Tokens:
    def __init__(
        self,
        service: SecretService,
        delivery: Delivery,
        after_ack: AfterAck,
        public_url: str,
    ) -> None:
        self._service = service
        self._delivery = delivery
        self._after_ack = after_ack
        self._public_url = public_url.rstrip("/")

    async def command(
        self, ack: AsyncAck, command: dict, _client: AsyncWebClient, rest: str
    ) -> None:
        """`/secret token [revoke]`, answered to the person alone."""
        words = rest.split()
        if words not in ([], ["revoke"]):
            await ack(text=USAGE, response_type="ephemeral")
            return
        await ack()
        revoke = bool(words)
        scope, user_id = payloads.actor(command)
        grant = TokenGrant(
            creator=creator_of(scope, user_id),
            scope=payloads.workspace_of(command),
            edge=compact_json({"u": user_id, "w": payloads.address(command)}),
            org=payloads.enterprise_of(command),
        )

        response_url = payloads.text(command, "response_url") or None
        where = payloads.address(command)

        async def answer() -> None:
            try:
                if revoke:
                    gone = await self._service.tokens.revoke(grant.creator)
                    message = blocks.notice(REVOKED if gone else NONE_TO_REVOKE)
                else:
                    token = await self._service.tokens.issue(grant)
                    await self.show_token(token, response_url, user_id, where)
                    return
            except TokensOff:
                message = blocks.notice(TOKENS_OFF)
            except StoreUnavailable as exc:
                message = blocks.notice(for_error(exc))
            await self._delivery.to_person(response_url, user_id, message, where)

        self._after_ack.run(answer(), command)

    async def show_token(
        self, token: str, response_url: str | None, user_id: str, where: str
    ) -> None:
        """The token goes only where Slack keeps nothing: the command's response_url (an
        ephemeral answer). Never the DM fallback other answers use: a DM stays in history,
        search and exports, and the token would no longer be shown once. chat.postEphemeral
        is no second way: it fails in every conversation the bot is not a member of, where
        /secret is mostly typed. If the answer cannot be shown, the token nobody saw is
        revoked at once and the person hears so, without it: that token alone, never one
        they asked for again meanwhile and were shown."""
        if await self._delivery.respond(response_url, token_message(token, self._public_url)):
            return
        await self._service.tokens.revoke_if_current(token)
        log.warning("a new personal token could not be shown and was revoked")
        await self._delivery.dm(user_id, blocks.notice(NOT_SHOWN), where)

    async def admin_section(self, workspace: str) -> list[dict[str, Any]]:
        return settings_blocks(await self._service.tokens.enabled(workspace))

    async def uninstalled(self, body: dict) -> None:
        # A workspace's uninstall forgets that workspace's tokens; an org-wide install's,
        # every token made anywhere in the org (each token knows its org).
        scopes = {payloads.workspace_of(body)}
        if payloads.is_org_wide(body):
            scopes.add(payloads.enterprise_of(body))
        await self.forget(scopes - {""}, body)

    async def access_revoked(self, body: dict) -> None:
        """An org-wide app removed from some of the org's workspaces: Slack names them in
        team_access_revoked (no app_uninstalled comes for them)."""
        await self.forget(set(payloads.team_ids_of(payloads.field(body, "event"))), body)

    async def forget(self, scopes: set[str], body: dict) -> None:
        """Every token of `scopes` stops now (a new epoch each: one write), before Slack
        gets its answer; deleting them one by one, which may be many, waits until after,
        so a large workspace's uninstall never outlasts Slack's three seconds."""
        for scope in scopes:
            await self._service.tokens.close_scope(scope)

        async def delete() -> None:
            for scope in scopes:
                await self._service.tokens.forget_scope(scope)

        if scopes:
            self._after_ack.run(delete(), body)

    async def recipient_id(self, recipient: str, where: str) -> str:
        """A member id as given, or the member Slack finds by email; "" for nobody."""
        member = MEMBER_ID.match(recipient)
        if member:
            return member.group(1)
        if not EMAIL.match(recipient):
            return ""
        return await self._delivery.find_by_email(recipient, where)

    async def pass_on(self, made: TokenSecret) -> None:
        """`oncelink share --to`: DM the link to the person named, as the CLI said it
        would (through Slack); tell the creator when that was not possible."""
        if not made.recipient:
            return
        edge = payloads.string_fields(made.grant.edge)
        user_id, where = edge.get("u", ""), edge.get("w", "")
        try:
            recipient = await self.recipient_id(made.recipient, where)
        except MissingScope as exc:
            await self._delivery.dm(
                user_id,
                blocks.notice(
                    f"Couldn't look up {blocks.escape(made.recipient)}: this workspace's "
                    f"oncelink install lacks the `{exc.scope}` permission, which only a "
                    "reinstall grants (ask an admin to Add to Slack again). The secret is "
                    "still waiting: send them the link `oncelink share` printed, or use "
                    "their member id (U…)."
                ),
                where,
            )
            return
        sent = bool(recipient and made.pass_on_link) and await self._delivery.dm(
            recipient,
            blocks.recipient_message(
                creator=user_id, link=made.pass_on_link, note=made.note, expires_at=made.expires_at
            ),
            where,
        )
        if not sent:
            await self._delivery.dm(
                user_id,
                blocks.notice(
                    f"Couldn't send your one-time link to {blocks.escape(made.recipient)}. The "
                    "secret is still waiting: send them the link `oncelink share` printed."
                ),
                where,
            )


def register(
    app: AsyncApp,
    service: SecretService,
    delivery: Delivery,
    after_ack: AfterAck,
    subcommands: Subcommands,
    workspaces: Workspaces,
    public_url: str,
    admin_sections: list[Callable[[str], Awaitable[list[dict[str, Any]]]]],
    publish_home: Callable[[AsyncWebClient, dict], Awaitable[None]],
) -> Tokens:
    tokens = Tokens(service, delivery, after_ack, public_url)
    subcommands.add("token", tokens.command)
    admin_sections.append(tokens.admin_section)
    service.tokens.describe_with(describe)

    async def longest(grant: TokenGrant) -> int:
        # The workspace's own longest expiry, as its admins set it for /secret.
        return (await workspaces.policy(grant.scope)).max_ttl

    service.tokens.limit_expiry_with(longest)

    async def change(body: dict, action: dict, client: AsyncWebClient) -> None:
        _, user_id = payloads.actor(body)
        workspace = payloads.workspace_of(body)
        if not workspace or not await is_admin(client, user_id):
            return  # only admins see the control; anyone else changes nothing
        chosen = payloads.text(action, "selected_option", "value")
        await service.tokens.set_enabled(workspace, chosen != "off")
        await publish_home(client, body)

    app.action(PREF_TOKENS)(after_ack.on_click(change))

    service.tokens.on_created(tokens.pass_on)
    return tokens
