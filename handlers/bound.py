"""Secrets only one person can open: the Reveal button in their DM, and the passphrase modal.

Slack signs every click and says who clicked. The button's value carries the key (held by
Slack, as a link would be); the server decrypts in memory for this one reveal. The store
itself refuses anyone but the intended person: it opens a bound record only on this path,
never through a link, and the proof it checks needs the server's binding key and the
identity Slack signed. A forwarded message, a mail scanner or a crafted request burns nothing.

Whom a secret is bound to: the recipient's identity as the app will see it when they click
(handlers.payloads.actor: their Grid org, else their own workspace, and their user id). The
form's person picker gives only a user id, so the scope is asked of Slack (users.info, with
the install the secret was made through) when the secret is made: a recipient from another
organisation in a Slack Connect channel, or from a Grid org, is bound to their own scope,
not the creator's. A Grid person's click names their org in some payloads and their
workspace in others; a click naming a workspace counts as the bound org only when
users.info says this very user id belongs to that org AND to the workspace the signed click
names. A bare matching user id never suffices: user ids are only unique within one
workspace or org, while Slack signs each click with the clicker's own team.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import BrokenLink, SecretGone, StoreUnavailable, WrongPassphrase
from bot.service import SecretService, compact_json
from handlers import blocks
from handlers.background import AfterAck
from handlers.delivery import SLACK_CALL_FAILURES, Delivery, failure_kind
from handlers.messages import NOT_YOURS, SLACK_SLOW, for_error
from handlers.payloads import actor, field, string_fields, text
from handlers.sharing import creator_of

log = logging.getLogger(__name__)

NO_WINDOW = "Slack couldn't open a window for the secret; nothing was used up. Click Reveal again."


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """Where Slack says a user belongs: their scope (org, else workspace) and the
    workspaces they are a member of."""

    scope: str
    teams: frozenset[str]


async def whereabouts(client: AsyncWebClient, user_id: str) -> Whereabouts | None:
    """users.info's word on `user_id` (https://api.slack.com/methods/users.info: `user.team_id`,
    and for Grid users `user.enterprise_user.enterprise_id` and `.teams`); None when Slack
    did not answer."""
    try:
        response = await client.users_info(user=user_id)
    except SLACK_CALL_FAILURES as exc:
        log.warning("users.info failed: %s", failure_kind(exc))
        return None
    user = field(response.data, "user")
    team = text(user, "team_id")
    org = text(user, "enterprise_user", "enterprise_id")
    listed = field(user, "enterprise_user", "teams")
    teams = {team}
    if isinstance(listed, list):
        teams.update(listed_team for listed_team in listed if isinstance(listed_team, str))
    scope = org or team
    return Whereabouts(scope, frozenset(teams - {""})) if scope else None


async def recipient_scope(client: AsyncWebClient, user_id: str, creator_scope: str) -> str:
    """The scope a recipient picked in the form is bound to: theirs, as Slack names it. When
    Slack cannot say, the creator's (most recipients are of the creator's own workspace or
    org; anyone else is then refused, never let in)."""
    found = await whereabouts(client, user_id)
    return found.scope if found is not None else creator_scope


async def holder_of(client: AsyncWebClient, body: dict, bound_scope: str) -> str:
    """The identity a click reveals as: the clicker's own (handlers.payloads.actor), or
    the bound Grid org when the click names the clicker's workspace instead and Slack
    says that workspace and this user id belong to the org."""
    scope, user_id = actor(body)
    if bound_scope == scope or not bound_scope.startswith("E") or scope.startswith("E"):
        return creator_of(scope, user_id)
    found = await whereabouts(client, user_id)
    if found is not None and found.scope == bound_scope and scope in found.teams:
        return creator_of(bound_scope, user_id)
    return creator_of(scope, user_id)


# Listeners that answer Slack only after the holder is known (a passphrase or an answer is
# checked in the ack) give users.info this long: Slack drops an answer after 3 seconds, and
# the key derivation and the store still follow. Past it, nothing is used up.
HOLDER_BEFORE_ACK = 0.8


async def holder_before_ack(client: AsyncWebClient, body: dict, bound_scope: str) -> str | None:
    """holder_of within HOLDER_BEFORE_ACK; None when Slack did not say in time."""
    try:
        async with asyncio.timeout(HOLDER_BEFORE_ACK):
            return await holder_of(client, body, bound_scope)
    except TimeoutError:
        log.warning("users.info too slow for the ack: asked to try again")
        return None


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
        except (BrokenLink, SecretGone, StoreUnavailable) as exc:
            view, shown = blocks.sorry_modal(for_error(exc)), False
        try:
            await client.views_update(view_id=view_id, view=view)
        except SLACK_CALL_FAILURES as exc:
            # Revealed and burned, but Slack would not show it (after retries): the one way
            # a bound secret is lost. Logged by kind; the sender can share it again.
            log.error("bound secret not shown: %s", failure_kind(exc))
            return False
        return shown

    async def open_reveal(body: dict, action: dict, client: AsyncWebClient) -> None:
        _, user_id = actor(body)
        value = string_fields(text(action, "value"))
        response_url = text(body, "response_url")
        if value.get("r") != user_id:
            await delivery.respond(response_url, blocks.notice(NOT_YOURS))
            return
        try:
            status = await service.status(value.get("s", ""))
        except SecretGone as exc:
            await delivery.respond(
                response_url, blocks.notice(for_error(exc), replace_original=True)
            )
            return
        except StoreUnavailable as exc:
            await delivery.respond(response_url, blocks.notice(for_error(exc)))
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
        holder = await holder_of(client, body, value.get("o", ""))
        if await reveal_into(client, view_id, value, holder):
            await delivery.respond(response_url, blocks.revealed_in_slack_message(time.time()))

    app.action(blocks.REVEAL_ACTION)(after_ack.on_click(open_reveal))

    @app.view(blocks.PASSPHRASE_MODAL)
    async def passphrase_submitted(
        ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient
    ) -> None:
        value = string_fields(text(view, "private_metadata"))
        passphrase = text(
            view, "state", "values", blocks.PASSPHRASE_BLOCK, blocks.PASSPHRASE_INPUT, "value"
        )
        holder = await holder_before_ack(client, body, value.get("o", ""))
        if holder is None:  # before the reveal: nothing was used up
            await ack(response_action="errors", errors={blocks.PASSPHRASE_BLOCK: SLACK_SLOW})
            return
        try:
            # Key derivation runs in a thread; Slack waits up to 3 s for this answer, and the
            # secret travels in it, so no later call can lose it.
            plaintext = await service.reveal_for(
                value.get("s", ""), value.get("k", ""), holder, passphrase
            )
        except (WrongPassphrase, StoreUnavailable) as exc:
            # Shown under the field: the window stays open for another try.
            await ack(response_action="errors", errors={blocks.PASSPHRASE_BLOCK: for_error(exc)})
            return
        except (BrokenLink, SecretGone) as exc:
            await ack(response_action="update", view=blocks.sorry_modal(for_error(exc)))
            return
        await ack(response_action="update", view=blocks.secret_modal(plaintext))
        after_ack.run(
            delivery.respond(value.get("u"), blocks.revealed_in_slack_message(time.time())),
            body,
        )
