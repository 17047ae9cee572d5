"""Asking for a secret: `/secret request @alice [what for]`, its form, the answer.

Alice gets a DM with "Send the secret"; it opens a form; what she types becomes a secret that
only the requester can open (a Reveal button in their DM). The request's life and who may
answer it are the core's (bot/requests.py); here Slack's payloads become its calls and its
answers become messages.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import StoreUnavailable
from bot.requests import NotAsked, RequestClosed, WaitingRequest
from bot.service import SecretService, compact_json
from handlers import blocks, outside
from handlers.background import AfterAck
from handlers.bound import holder_before_ack, holder_of, recipient_scope
from handlers.delivery import Delivery
from handlers.messages import REQUEST_CLOSED, SLACK_SLOW, for_error
from handlers.payloads import actor, address, field, string_fields, text, workspace_of
from handlers.share import Subcommands, command_metadata
from handlers.sharing import CreationLimit, ShareRequest, creator_of, share
from handlers.workspace import Workspaces

log = logging.getLogger(__name__)

MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True, slots=True)
class SecretRequest:
    team_id: str  # the requester's scope (handlers.payloads.actor)
    requester: str
    asked: str
    what_for: str
    where: str = ""  # where the app speaks to the requester (handlers.payloads.address)
    # The asked person's scope as Slack named it when they were asked (handlers.bound):
    # theirs, not the requester's, when they are of another organisation.
    asked_scope: str = ""

    @property
    def place(self) -> str:
        return self.where or self.team_id

    @property
    def answerer_scope(self) -> str:
        return self.asked_scope or self.team_id

    @property
    def answerer(self) -> str:
        """The asked person's identity, as their click will be named (handlers.bound)."""
        return creator_of(self.answerer_scope, self.asked)

    def to_bytes(self) -> bytes:
        fields = [self.team_id, self.requester, self.asked, self.what_for]
        return json.dumps([*fields, self.where, self.asked_scope]).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> SecretRequest | None:
        try:
            fields = json.loads(raw or b"null")
            team_id, requester, asked, what_for, *more = fields
        except (ValueError, TypeError):
            return None
        where, asked_scope = [*map(str, more[:2]), "", ""][:2]  # requests stored before
        return cls(str(team_id), str(requester), str(asked), str(what_for), where, asked_scope)


def parse_request_text(words: str) -> tuple[str, str]:
    """(user id of an escaped mention, the rest as "what for"). Slack sends a mention as
    <@U…|name> when the command escapes them; our command does not (a secret typed after
    `/secret` must arrive as typed), so a plain @name arrives instead: it is dropped from
    "what for", and the form's person picker asks whom to ask. The note comes whole, without
    the quotes (straight or smart) put around it: never cut, the form says when it is long."""
    found = MENTION.search(words)
    asked = found.group(1) if found else ""
    rest = MENTION.sub("", words, count=1) if found else words
    parts = rest.split()
    if not found and parts and parts[0].startswith("@"):
        parts = parts[1:]
    return asked, outside.what_for_of(" ".join(parts))


def note_beyond_the_form(note: str) -> str:
    """The sentence refusing a typed note even the form cannot hold (Slack refuses an
    initial value over its input ceiling), or "" when the form can take it."""
    if len(note) <= blocks.SLACK_INPUT_MAX:
        return ""
    return (
        f"That note is {len(note):,} characters; at most {blocks.NOTE_MAX} fit. Shorten it "
        "and ask again. Nobody was asked."
    )


def register(
    app: AsyncApp,
    service: SecretService,
    delivery: Delivery,
    after_ack: AfterAck,
    creation_limit: CreationLimit,
    workspaces: Workspaces,
    subcommands: Subcommands,
) -> None:
    requests = service.requests
    flow = outside.OutsideFlow(service, delivery, creation_limit, workspaces)

    async def request_command(
        ack: AsyncAck, command: dict, client: AsyncWebClient, rest: str
    ) -> None:
        """`/secret request [@name] [what for]`: the form, filled with what was typed.
        `/secret request --outside [what for]`: an upload link for someone outside Slack."""
        first, _, after = rest.strip().partition(" ")
        if outside.is_outside_flag(first):
            note = outside.what_for_of(after)
            too_long = outside.too_long_note(note)
            if too_long:
                await ack(text=too_long, response_type="ephemeral")
                return
            team_id, user_id = actor(command)
            refusal = await creation_limit.refusal(team_id, user_id)
            if refusal:  # the upload link counts like a secret created
                await ack(text=refusal, response_type="ephemeral")
                return
            await ack()
            response_url = text(command, "response_url") or None
            after_ack.run(flow.ask(command, note, response_url), command)
            return
        asked, what_for = parse_request_text(rest)
        beyond = note_beyond_the_form(what_for)
        if beyond:
            await ack(text=beyond, response_type="ephemeral")
            return
        await ack()
        view = blocks.request_modal(
            private_metadata=command_metadata(command), asked=asked, what_for=what_for
        )
        # trigger_id expires 3 seconds after the command: the form is opened right away.
        trigger = text(command, "trigger_id")
        after_ack.run(client.views_open(trigger_id=trigger, view=view), command)

    subcommands.add("request", request_command)

    async def send_request(
        body: dict, request: SecretRequest, response_url: str, client: AsyncWebClient
    ) -> None:
        policy = await workspaces.policy(workspace_of(body))
        tell = lambda message: delivery.to_person(  # noqa: E731
            response_url, request.requester, blocks.notice(message), request.place
        )
        # Only the asked person can answer, as the app will see them when they click: their
        # own scope, which for someone of another organisation is not the requester's.
        asked_scope = await recipient_scope(client, request.asked, request.team_id)
        request = replace(request, asked_scope=asked_scope)
        try:
            request_id, expires_at = await requests.open(
                request.to_bytes(), answerer=request.answerer, ttl=policy.default_ttl
            )
        except StoreUnavailable as exc:
            await tell(for_error(exc))
            return
        sent = await delivery.dm(
            request.asked,
            blocks.request_message(
                requester=request.requester,
                request_id=request_id,
                what_for=request.what_for,
                expires_at=expires_at,
            ),
            request.place,
        )
        if not sent:
            await requests.withdraw(request_id)
            await tell(f"Couldn't send your request to <@{request.asked}>. Try again.")
            return
        await tell(
            f":key: Asked <@{request.asked}> for a secret. You'll get a Reveal button that only "
            f"you can use when they send it. The request expires {blocks.slack_date(expires_at)}."
        )

    @app.view(blocks.REQUEST_MODAL)
    async def request_submitted(
        ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient
    ) -> None:
        values = field(view, "state", "values")
        team_id, user_id = actor(body)
        asked = text(values, blocks.ASK_BLOCK, blocks.ASK_SELECT, "selected_user")
        what_for = text(values, blocks.NOTE_BLOCK, blocks.NOTE_INPUT, "value").strip()
        outside_chosen = bool(
            field(values, blocks.OUTSIDE_BLOCK, blocks.OUTSIDE_CHECK, "selected_options")
        )
        if outside_chosen and asked:
            await ack(
                response_action="errors",
                errors={blocks.OUTSIDE_BLOCK: "Ask someone in Slack or outside it, not both."},
            )
            return
        if outside_chosen and len(what_for) <= blocks.NOTE_MAX:  # else said below
            refusal = await creation_limit.refusal(team_id, user_id)
            if refusal:
                await ack(response_action="errors", errors={blocks.OUTSIDE_BLOCK: refusal})
                return
            await ack()
            metadata = string_fields(text(view, "private_metadata"))
            response_url = metadata.get("response_url") or None
            after_ack.run(flow.ask(body, what_for, response_url), body)
            return
        if not asked and not outside_chosen:
            await ack(
                response_action="errors",
                errors={blocks.ASK_BLOCK: "Choose someone, or someone outside Slack."},
            )
            return
        if asked == user_id:
            await ack(response_action="errors", errors={blocks.ASK_BLOCK: "Ask someone else."})
            return
        if len(what_for) > blocks.NOTE_MAX:
            await ack(
                response_action="errors",
                errors={blocks.NOTE_BLOCK: f"At most {blocks.NOTE_MAX} characters."},
            )
            return
        refusal = await creation_limit.refusal(team_id, user_id)
        if refusal:  # the form stays open with the choice made: nothing is lost
            await ack(response_action="errors", errors={blocks.ASK_BLOCK: refusal})
            return
        await ack()
        metadata = string_fields(text(view, "private_metadata"))
        request = SecretRequest(team_id, user_id, asked, what_for, address(body))
        response_url = metadata.get("response_url", "")
        after_ack.run(send_request(body, request, response_url, client), body)

    async def waiting(request_id: str) -> tuple[WaitingRequest, SecretRequest]:
        """The waiting request and what it says; RequestClosed when it says nothing we read."""
        found = await requests.look(request_id)
        request = SecretRequest.from_bytes(found.content)
        if request is None:
            raise RequestClosed()
        return found, request

    async def open_answer(body: dict, action: dict, client: AsyncWebClient) -> None:
        request_id = text(action, "value")
        response_url = text(body, "response_url")
        try:
            found, request = await waiting(request_id)
        except StoreUnavailable as exc:
            await delivery.respond(response_url, blocks.notice(for_error(exc)))
            return
        except RequestClosed as exc:
            await delivery.respond(
                response_url, blocks.notice(for_error(exc), replace_original=True)
            )
            return
        if not found.answerable_by(await holder_of(client, body, request.answerer_scope)):
            await delivery.respond(response_url, blocks.notice(for_error(NotAsked())))
            return
        metadata = compact_json({"i": request_id, "u": response_url})
        await client.views_open(
            trigger_id=text(body, "trigger_id"),
            view=blocks.answer_modal(
                private_metadata=metadata,
                requester=request.requester,
                what_for=request.what_for,
            ),
        )

    app.action(blocks.ANSWER_ACTION)(after_ack.on_click(open_answer))

    @app.view(blocks.ANSWER_MODAL)
    async def answer_submitted(
        ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient
    ) -> None:
        team_id, user_id = actor(body)
        metadata = string_fields(text(view, "private_metadata"))
        secret = text(view, "state", "values", blocks.SECRET_BLOCK, blocks.SECRET_INPUT, "value")
        if not secret.strip():
            await ack(response_action="errors", errors={blocks.SECRET_BLOCK: "Write the secret."})
            return
        request_id = metadata.get("i", "")
        try:
            found, request = await waiting(request_id)
        except (StoreUnavailable, RequestClosed) as exc:
            await ack(response_action="errors", errors={blocks.SECRET_BLOCK: for_error(exc)})
            return
        holder = await holder_before_ack(client, body, request.answerer_scope)
        if holder is None:  # before the request is taken: nothing was used up
            await ack(response_action="errors", errors={blocks.SECRET_BLOCK: SLACK_SLOW})
            return
        # In the answer form, someone who is not the one asked reads that the request is
        # closed: to them it is, and the form says no more about it.
        if not found.answerable_by(holder):
            await ack(response_action="errors", errors={blocks.SECRET_BLOCK: REQUEST_CLOSED})
            return
        refusal = await creation_limit.refusal(team_id, user_id)
        if refusal:
            await ack(response_action="errors", errors={blocks.SECRET_BLOCK: refusal})
            return
        try:
            await requests.answer_once(request_id, by=holder)
        except StoreUnavailable as exc:
            await ack(response_action="errors", errors={blocks.SECRET_BLOCK: for_error(exc)})
            return
        except (RequestClosed, NotAsked):  # answered once, ever
            await ack(response_action="errors", errors={blocks.SECRET_BLOCK: REQUEST_CLOSED})
            return
        await ack()
        policy = await workspaces.policy(workspace_of(body))
        share_now = share(
            ShareRequest(
                text=secret,
                ttl=policy.default_ttl,
                team_id=team_id,
                user_id=user_id,
                where=address(body),
                recipient=request.requester,
                recipient_scope=request.team_id,  # the requester, as they asked
                note=request.what_for,
                bound=True,
            ),
            service,
            delivery,
        )

        async def answer() -> None:
            await share_now
            await delivery.respond(
                metadata.get("u"),
                blocks.notice(
                    f":white_check_mark: You answered <@{request.requester}>'s request.",
                    replace_original=True,
                ),
            )

        after_ack.run(answer(), body)
