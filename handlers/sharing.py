"""The one flow behind `/secret <text>` and the modal: create, deliver, never lose silently.

Runs after the ack, so slow parts (passphrase key derivation, the store, Slack calls) never
hold up Slack's 3-second window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.errors import InvalidSecret, SecretGone, StoreUnavailable
from bot.ratelimit import CreationLimit as CoreCreationLimit
from bot.ratelimit import RateLimited
from bot.service import SecretService, compact_json, short_id
from handlers.blocks import (
    LinkDetails,
    bound_message,
    link_message,
    notice,
    recipient_message,
)
from handlers.delivery import Delivery
from handlers.messages import for_error

log = logging.getLogger(__name__)

UNDELIVERED_TO_RECIPIENT = (
    "Couldn't send the secret to <@{recipient}>, so it was deleted right away. Nothing can "
    "be read. Please try again."
)
UNDELIVERABLE = (
    "Couldn't deliver your one-time link, so the secret was deleted right away. "
    "Nothing can be read. Please try again."
)


class CreationLimit:
    """The core's creation limit (bot.ratelimit.CreationLimit) for a Slack person, answered
    as the sentence they read."""

    def __init__(self, limit: CoreCreationLimit) -> None:
        self._limit = limit

    async def refusal(self, team_id: str, user_id: str) -> str | None:
        """None when this user may create a secret now, else the sentence saying why not."""
        try:
            await self._limit.check(creator_of(team_id, user_id))
        except RateLimited as exc:
            return for_error(exc)
        return None


def creator_of(scope: str, user_id: str) -> str:
    """The identity burn, lists and bindings are checked against: a person's scope (their
    Enterprise Grid org, else their own workspace) and their user id, from
    handlers.payloads.actor (`user.team_id`, not `team.id`, so it holds in Slack Connect
    channels, where the two differ)."""
    return f"{scope}:{user_id}"


@dataclass(frozen=True, slots=True)
class ShareRequest:
    text: str
    ttl: int
    team_id: str  # the creator's scope (handlers.payloads.actor), not necessarily a T…
    user_id: str
    channel_id: str = ""
    response_url: str | None = None
    passphrase: str | None = None
    recipient: str = ""
    note: str = ""
    from_shortcut: bool = False
    generated: bool = False  # the text is a password we made: show it to the creator once
    bound: bool = False  # only the recipient can open it, with a Reveal button in Slack
    # Where the app speaks back (handlers.payloads.address); the scope when not given.
    where: str = ""
    # The recipient's scope as the app will see it when they click (handlers.bound), for
    # a bound secret; the creator's when not given.
    recipient_scope: str = ""

    @property
    def place(self) -> str:
        return self.where or self.team_id

    @property
    def bound_to(self) -> str:
        return creator_of(self.recipient_scope or self.team_id, self.recipient)

    def __repr__(self) -> str:  # the text and passphrase must never reach a log or traceback
        return f"ShareRequest(team={self.team_id}, user={self.user_id}, ttl={self.ttl})"

    def metadata(self) -> str:
        """Stored beside the ciphertext for receipts; the note is declared not secret.

        Short keys and no empty fields: this rides along with every stored secret, and the
        creator (scope and user) is stored on its own already. "w" is where the creator's
        install speaks, for receipts: in Enterprise Grid the creator's scope is their org,
        which alone does not say which install to speak through."""
        where = self.where if self.where != self.team_id else ""
        fields = {"c": self.channel_id, "n": self.note, "r": self.recipient, "w": where}
        return compact_json({k: v for k, v in fields.items() if v})


async def share(request: ShareRequest, service: SecretService, delivery: Delivery) -> None:
    tell = lambda text: delivery.to_person(  # noqa: E731
        request.response_url, request.user_id, notice(text), request.place
    )
    creator = creator_of(request.team_id, request.user_id)
    bound = request.bound and bool(request.recipient)
    try:
        created = await service.create(
            request.text,
            ttl=request.ttl,
            passphrase=request.passphrase or None,
            creator=creator,
            metadata=request.metadata(),
            bound_to=request.bound_to if bound else "",
            track=True,  # `/secret list`, the App Home tab and expiry receipts
        )
    except StoreUnavailable as exc:
        log.warning("store unavailable: secret not created")
        await tell(for_error(exc))
        return
    except InvalidSecret as exc:
        await tell(for_error(exc))
        return

    recipient_sent = False
    if bound:
        recipient_sent = await delivery.dm(
            request.recipient,
            bound_message(
                creator=request.user_id,
                reveal_value=reveal_value(created.secret_id, created.key, request),
                note=request.note,
                expires_at=created.expires_at,
                has_passphrase=bool(request.passphrase),
            ),
            request.place,
        )
        if not recipient_sent:
            # The button was the only way to it: without it, nobody can ever open it.
            await _burn_undeliverable(service, created.secret_id, creator)
            await tell(UNDELIVERED_TO_RECIPIENT.format(recipient=request.recipient))
            return
    elif request.recipient:
        recipient_sent = await delivery.dm(
            request.recipient,
            recipient_message(
                creator=request.user_id,
                link=created.link,
                note=request.note,
                expires_at=created.expires_at,
            ),
            request.place,
        )
    details = LinkDetails(
        secret_id=created.secret_id,
        link=created.link,
        expires_at=created.expires_at,
        note=request.note,
        has_passphrase=bool(request.passphrase),
        recipient=request.recipient,
        recipient_sent=recipient_sent,
        from_shortcut=request.from_shortcut,
        generated_password=request.text if request.generated else "",
        bound=bound,
    )
    if await delivery.to_person(
        request.response_url, request.user_id, link_message(details), request.place
    ):
        return
    if recipient_sent:
        log.warning("secret %s: creator unreachable, recipient has it", short_id(created.secret_id))
        return
    # Nobody holds the link: an orphaned secret would only wait to be guessed. Burn it.
    await _burn_undeliverable(service, created.secret_id, creator)
    await tell(UNDELIVERABLE)


def reveal_value(secret_id: str, key: str, request: ShareRequest) -> str:
    """The Reveal button's value: which secret, its key, and whom it is for (to refuse
    others at once; the store refuses them anyway, the proof being bound to the recipient),
    and the scope it is bound to ("o"), which a click must prove (handlers.bound)."""
    scope = request.recipient_scope or request.team_id
    return compact_json(
        {"s": secret_id, "k": key, "r": request.recipient, "o": scope, "c": request.user_id}
    )


async def _burn_undeliverable(service: SecretService, secret_id: str, creator: str) -> None:
    log.warning("secret %s: undeliverable, burning it", short_id(secret_id))
    try:
        await service.burn(secret_id, creator)
    except (SecretGone, StoreUnavailable):
        log.warning("secret %s: could not burn undeliverable secret", short_id(secret_id))
