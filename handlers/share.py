"""Sharing a secret, everything a person does for it: the `/secret` command (a modal, an
inline secret, a generated password, or help), the modal's submission, the message shortcut
"Share as one-time secret", and "Burn now" on the creator's confirmation.

The flow that creates and delivers the secret once a listener has acked is
handlers/sharing.py's `share`; other features (requests) use it too. Words after `/secret`
that belong to another feature (`list`, `request`) are answered through the `Subcommands`
table each feature adds its word to.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import passwords
from bot.config import format_duration
from bot.errors import NotCreator, SecretGone, StoreUnavailable
from bot.service import MIN_PASSPHRASE_LENGTH, SecretService
from handlers import blocks, payloads
from handlers.background import AfterAck
from handlers.blocks import help_text, notice, share_modal
from handlers.bound import recipient_scope
from handlers.delivery import Delivery
from handlers.message_text import typed_text
from handlers.messages import for_error
from handlers.payloads import actor, address, field, read_metadata, text, workspace_of
from handlers.sharing import CreationLimit, ShareRequest, creator_of, share
from handlers.workspace import Policy, Workspaces

COMMAND = "/secret"


NO_SYMBOLS = "--no-symbols"
GENERATE_USAGE = f"{COMMAND} generate [length] [{NO_SYMBOLS}]"


def generate_from(args: list[str]) -> str:
    """A password from `generate`'s arguments; ValueError says what was wrong. The flag is
    taken as a phone types it too (`—no-symbols`: iOS turns `--` into an em dash)."""
    rest = [arg for arg in args if not payloads.is_flag(arg, NO_SYMBOLS)]
    symbols = len(rest) == len(args)
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


def command_metadata(command: dict) -> str:
    """modal_metadata for a modal the command opens: the link goes back where it was typed."""
    return modal_metadata(
        payloads.text(command, "response_url"), payloads.text(command, "channel_id"), False
    )


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
    if SecretService.passphrase_too_short(passphrase):
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


TOO_LONG = (
    "This message is {length:,} characters long; a secret can hold at most {limit:,}. "
    "Nothing was shared: a cut-off secret would be a wrong one. Use /secret with the part "
    "that is secret."
)


def too_long(prefill: str) -> str | None:
    """The sentence refusing a message the form cannot hold whole, or None.

    The secret field holds blocks.SLACK_INPUT_MAX characters (plain_text_input's ceiling); Slack
    would refuse a longer initial_value, and cutting it would share a truncated secret that
    looks complete."""
    if len(prefill) <= blocks.SLACK_INPUT_MAX:
        return None
    return TOO_LONG.format(length=len(prefill), limit=blocks.SLACK_INPUT_MAX)


# A word after `/secret` that another feature answers: given the ack, the command, the
# client and the text after the word, it acks and does its part (after the ack, as ever).
Subcommand = Callable[[AsyncAck, dict, AsyncWebClient, str], Awaitable[None]]


class Subcommands:
    """The `/secret` words other features answer (`list`, `request`, ...), each added by its
    feature's register(): the command looks a word up here, so a new feature adds one line
    in its own module instead of a branch in the command."""

    def __init__(self) -> None:
        self._table: dict[str, tuple[Subcommand, bool]] = {}

    def add(self, word: str, run: Subcommand, *, alone: bool = False) -> None:
        """`alone`: the word counts only when it is the whole command; with more words,
        they are shared as a secret (`/secret list 1234` shares "list 1234")."""
        self._table[word.lower()] = (run, alone)

    def find(self, words: list[str]) -> Subcommand | None:
        found = self._table.get(words[0].lower()) if words else None
        if found is None or (found[1] and len(words) != 1):
            return None
        return found[0]


def register(
    app: AsyncApp,
    service: SecretService,
    delivery: Delivery,
    after_ack: AfterAck,
    creation_limit: CreationLimit,
    workspaces: Workspaces,
    subcommands: Subcommands,
) -> None:
    @app.command(COMMAND)
    async def secret_command(ack: AsyncAck, command: dict, client: AsyncWebClient) -> None:
        text = payloads.command_text(command)
        team_id, user_id = payloads.actor(command)
        words = text.split()
        subcommand = words[0].lower() if words else ""
        # trigger_id expires 3 seconds after the command: modals are opened right away.
        trigger_id = payloads.text(command, "trigger_id")

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
                private_metadata=command_metadata(command),
            )
            after_ack.run(client.views_open(trigger_id=trigger_id, view=view), command)
            return
        if not user_id:
            await ack(text="Slack didn't say who you are; please try again.")
            return
        answered_elsewhere = subcommands.find(words)
        if answered_elsewhere is not None:
            await answered_elsewhere(ack, command, client, payloads.after_first_word(text))
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

    @app.shortcut(blocks.SHORTCUT_CALLBACK)
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

    async def burn(body: dict, action: dict, _client: object) -> None:
        team_id, user_id = actor(body)
        try:
            await service.burn(text(action, "value"), creator_of(team_id, user_id))
            message = notice(":fire: Burned. The link no longer works.", replace_original=True)
        except (NotCreator, StoreUnavailable) as exc:
            message = notice(for_error(exc))
        except SecretGone as exc:
            message = notice(for_error(exc), replace_original=True)
        await delivery.respond(text(body, "response_url"), message)

    app.action(blocks.BURN_ACTION)(after_ack.on_click(burn))
