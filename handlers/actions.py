"""The "Burn now" button on the creator's confirmation."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.errors import NotCreator, SecretGone, StoreUnavailable
from bot.service import SecretService
from handlers.background import AfterAck
from handlers.blocks import BURN_ACTION, notice
from handlers.delivery import Delivery
from handlers.messages import for_error
from handlers.payloads import actor, text
from handlers.sharing import creator_of


def register(
    app: AsyncApp, service: SecretService, delivery: Delivery, after_ack: AfterAck
) -> None:
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

    app.action(BURN_ACTION)(after_ack.on_click(burn))
