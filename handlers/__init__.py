"""Slack listeners: thin translations from Slack payloads to core calls and back.

`mount` puts a slack-bolt AsyncApp on the same aiohttp application as the reveal page, at
`POST /slack/events`, the one request URL for commands, shortcuts, modals and buttons.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.ratelimit import RateLimiter
from bot.service import SecretService
from handlers import actions, commands, receipts, shortcuts, views
from handlers.background import AfterAck
from handlers.blocks import notice
from handlers.delivery import REQUEST_TIMEOUT, Delivery, retry_handlers
from handlers.endpoint import slack_endpoint
from handlers.payloads import text
from handlers.sharing import CreationLimit

log = logging.getLogger(__name__)

SOMETHING_WENT_WRONG = (
    "Something went wrong on our side and your request was not completed. If you were "
    "creating a secret, nothing was stored. Please try again."
)


@dataclass(frozen=True)
class SlackRuntime:
    """What outlives a request: work after acks, and the HTTP session to Slack."""

    after_ack: AfterAck
    delivery: Delivery
    service: SecretService

    async def start(self) -> None:
        await self.delivery.open()

    async def stop(self) -> None:
        await self.after_ack.drain()  # a secret being created is never cut off half-way
        await self.service.drain()  # receipts still on their way use the session too
        await self.delivery.close()


def register(
    app: AsyncApp, service: SecretService, settings: Settings, limiter: RateLimiter
) -> SlackRuntime:
    api_host = urlsplit(settings.slack_api_url).hostname or ""
    delivery = Delivery(app.client, frozenset({api_host}) - {"slack.com"}, service.metrics)
    creation_limit = CreationLimit(limiter, settings.rate_limit_create)

    async def report(error: Exception, body: dict) -> BoltResponse:
        """ONE place for the unexpected: a redacted log line and a calm word to the user.

        Before the ack, the failure can only come from a payload our listeners or bolt's
        matching could not read (Slack sends none such): the answer is a 400, not a 500."""
        log.error("Slack listener failed: %s", type(error).__name__)
        metadata = views.read_metadata(text(body, "view", "private_metadata"))
        response_url = text(body, "response_url") or metadata.get("response_url")
        await delivery.respond(response_url, notice(SOMETHING_WENT_WRONG))
        return BoltResponse(status=400, body="")

    after_ack = AfterAck(report)
    commands.register(app, service, settings, delivery, after_ack, creation_limit)
    views.register(app, service, settings, delivery, after_ack, creation_limit)
    shortcuts.register(app, settings, after_ack)
    actions.register(app, service, delivery, after_ack)
    if settings.receipts:
        receipts.register(service, delivery)
    app.error(report)
    return SlackRuntime(after_ack, delivery, service)


class _DropClientTokenWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and then warns that our
    explicitly built client (with its base URL and retry handlers) wins. That is intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in str(record.msg)


_TOKEN_WARNING_FILTER = _DropClientTokenWarning()


def build_slack_app(
    service: SecretService,
    settings: Settings,
    limiter: RateLimiter,
    client: AsyncWebClient | None = None,
) -> tuple[AsyncApp, SlackRuntime]:
    client = client or AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=REQUEST_TIMEOUT,
        retry_handlers=retry_handlers(),
    )
    bolt_logger = logging.getLogger("slack_bolt.oncelink")
    bolt_logger.addFilter(_TOKEN_WARNING_FILTER)  # the same object: adding twice is a no-op
    app = AsyncApp(
        signing_secret=settings.slack_signing_secret,
        client=client,
        logger=bolt_logger,
        # Our listeners ack and hand the rest to AfterAck, so they return at once: bolt can
        # answer when the listener returns instead of polling for the ack every 10 ms.
        process_before_response=True,
    )
    runtime = register(app, service, settings, limiter)
    return app, runtime


def mount(
    web_app: web.Application,
    service: SecretService,
    settings: Settings,
    limiter: RateLimiter,
    client: AsyncWebClient | None = None,
) -> AsyncApp:
    slack_app, runtime = build_slack_app(service, settings, limiter, client)
    if settings.slack_signing_secret:
        web_app.router.add_post("/slack/events", slack_endpoint(slack_app))
    socket_mode = None
    if settings.slack_app_token:
        # Socket Mode: Slack's requests arrive over a WebSocket this process opens, in the
        # same event loop as the reveal page (which still needs its public URL).
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        socket_mode = AsyncSocketModeHandler(slack_app, settings.slack_app_token)

    async def start(_: web.Application) -> None:
        await runtime.start()
        if socket_mode is not None:
            await socket_mode.connect_async()

    async def stop(_: web.Application) -> None:
        if socket_mode is not None:
            await socket_mode.close_async()
        await runtime.stop()

    web_app.on_startup.append(start)
    web_app.on_shutdown.append(stop)
    return slack_app
