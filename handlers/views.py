"""The modal's submission: validate in place (Slack shows errors on the right field), then share."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, replace

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import format_duration
from bot.service import MIN_PASSPHRASE_LENGTH, SecretService
from handlers import blocks
from handlers.background import AfterAck
from handlers.bound import recipient_scope
from handlers.delivery import Delivery
from handlers.payloads import actor, address, field, text, workspace_of
from handlers.sharing import CreationLimit, ShareRequest, share
from handlers.workspace import Policy, Workspaces


@dataclass(frozen=True, slots=True)
class ShareForm:
    text: str
    ttl: int
    passphrase: str
    recipient: str
    note: str
    bound: bool = False

    def __repr__(self) -> str:  # never the text or passphrase in a traceback
        return f"ShareForm(ttl={self.ttl})"


def _value(values: dict, block: str, action: str) -> dict:
    found = field(values, block, action)
    return found if isinstance(found, dict) else {}


def read_form(values: dict, policy: Policy) -> tuple[ShareForm | None, dict[str, str]]:
    """The form's values, or Slack's `errors` map keyed by block_id."""
    errors: dict[str, str] = {}
    secret = text(_value(values, blocks.SECRET_BLOCK, blocks.SECRET_INPUT), "value")
    if not secret.strip():
        errors[blocks.SECRET_BLOCK] = "Write the secret to share."
    elif len(secret) > blocks.SLACK_INPUT_MAX:
        errors[blocks.SECRET_BLOCK] = f"At most {blocks.SLACK_INPUT_MAX} characters."

    raw_ttl = text(
        _value(values, blocks.EXPIRY_BLOCK, blocks.EXPIRY_SELECT), "selected_option", "value"
    )
    ttl = int(raw_ttl) if raw_ttl.isascii() and raw_ttl.isdigit() else 0
    if ttl > policy.max_ttl:
        errors[blocks.EXPIRY_BLOCK] = (
            f"The longest expiry allowed is {format_duration(policy.max_ttl)}."
        )
    elif ttl not in policy.expiry_choices:
        errors[blocks.EXPIRY_BLOCK] = "Choose one of the offered expiry times."

    passphrase = text(_value(values, blocks.PASSPHRASE_BLOCK, blocks.PASSPHRASE_INPUT), "value")
    if passphrase and len(unicodedata.normalize("NFC", passphrase)) < MIN_PASSPHRASE_LENGTH:
        errors[blocks.PASSPHRASE_BLOCK] = (
            f"Use at least {MIN_PASSPHRASE_LENGTH} characters, or leave it empty."
        )

    recipient = text(
        _value(values, blocks.RECIPIENT_BLOCK, blocks.RECIPIENT_SELECT), "selected_user"
    )
    note = text(_value(values, blocks.NOTE_BLOCK, blocks.NOTE_INPUT), "value")
    if len(note) > blocks.NOTE_MAX:
        errors[blocks.NOTE_BLOCK] = f"At most {blocks.NOTE_MAX} characters."
    chosen = _value(values, blocks.BOUND_BLOCK, blocks.BOUND_CHECK).get("selected_options")
    bound = isinstance(chosen, list) and any(
        isinstance(option, dict) and option.get("value") == blocks.BOUND_OPTION for option in chosen
    )
    if bound and not recipient:
        errors[blocks.RECIPIENT_BLOCK] = "Choose the person who alone can open it."
    if errors:
        return None, errors
    return ShareForm(secret, ttl, passphrase, recipient, note.strip(), bound), {}


NO_USER = "Slack didn't say who you are; please try again."


def read_metadata(private_metadata: str | None) -> dict:
    try:
        metadata = json.loads(private_metadata or "{}")
    except ValueError:
        return {}
    return metadata if isinstance(metadata, dict) else {}


def register(
    app: AsyncApp,
    service: SecretService,
    delivery: Delivery,
    after_ack: AfterAck,
    creation_limit: CreationLimit,
    workspaces: Workspaces,
) -> None:
    @app.view(blocks.MODAL_CALLBACK)
    async def share_submitted(
        ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient
    ) -> None:
        values = field(view, "state", "values")
        team_id, user_id = actor(body)
        policy = await workspaces.policy(workspace_of(body))
        form, errors = read_form(values if isinstance(values, dict) else {}, policy)
        if form is None:
            await ack(response_action="errors", errors=errors)
            return
        if not user_id:
            await ack(response_action="errors", errors={blocks.SECRET_BLOCK: NO_USER})
            return
        refusal = await creation_limit.refusal(team_id, user_id)
        if refusal:  # keep the modal open with everything typed: nothing is lost
            await ack(response_action="errors", errors={blocks.SECRET_BLOCK: refusal})
            return
        await ack()  # closes the modal; the rest happens after Slack has its answer
        metadata = read_metadata(text(view, "private_metadata"))
        request = ShareRequest(
            text=form.text,
            ttl=form.ttl,
            team_id=team_id,
            user_id=user_id,
            where=address(body),
            channel_id=str(metadata.get("channel") or ""),
            response_url=str(metadata.get("response_url") or "") or None,
            passphrase=form.passphrase or None,
            recipient=form.recipient,
            note=form.note,
            from_shortcut=bool(metadata.get("shortcut")),
            bound=form.bound,
        )

        async def share_now() -> None:
            if request.bound and request.recipient:
                # Bound to the recipient as they will click: another organisation's person
                # in a Slack Connect channel carries their own scope (handlers.bound).
                scope = await recipient_scope(client, request.recipient, team_id)
                await share(replace(request, recipient_scope=scope), service, delivery)
                return
            await share(request, service, delivery)

        after_ack.run(share_now(), body)
