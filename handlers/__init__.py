"""Slack listeners: thin translations from Slack payloads to core calls and back.

`mount` puts a slack-bolt AsyncApp on the same aiohttp application as the reveal page, at
`POST /slack/events`, the one request URL for commands, shortcuts, modals and buttons.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from slack_bolt import BoltResponse
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.logs import BOLT_LOGGER_NAME
from bot.ratelimit import RateLimiter
from bot.service import SecretService
from handlers import (
    actions,
    bound,
    commands,
    compose,
    home,
    receipts,
    secret_requests,
    shortcuts,
    views,
)
from handlers.background import AfterAck
from handlers.blocks import notice
from handlers.delivery import REQUEST_TIMEOUT, SDK_LOGGER, Delivery, retry_handlers
from handlers.endpoint import slack_endpoint
from handlers.installations import StoreInstallationStore, StoreOAuthStateStore, TokenCipher
from handlers.payloads import text
from handlers.sharing import CreationLimit
from handlers.workspace import Workspaces
from storage.interfaces import KeyValues

log = logging.getLogger(__name__)

INSTALLATIONS_KEY = web.AppKey("slack_installations", object)
RUNTIME_KEY = web.AppKey("slack_runtime", object)
BOT_SCOPES = [
    "commands",
    "chat:write",
    "users:read",
]  # the same as manifest.yml (a test keeps them equal)
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
ROTATE_MINUTES_BEFORE_EXPIRY = 120  # bolt's own default for tokens it refreshes

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
    installations: StoreInstallationStore | None = None

    async def start(self) -> None:
        await self.delivery.open()

    async def stop(self) -> None:
        await self.after_ack.drain()  # a secret being created is never cut off half-way
        await self.service.drain()  # receipts still on their way use the session too
        await self.delivery.close()


def register(
    app: AsyncApp,
    service: SecretService,
    settings: Settings,
    limiter: RateLimiter,
    key_values: KeyValues,
    installations: StoreInstallationStore | None = None,
) -> SlackRuntime:
    api_host = urlsplit(settings.slack_api_url).hostname or ""

    rotator = (
        AsyncTokenRotator(
            client_id=settings.slack_client_id or "",
            client_secret=settings.slack_client_secret or "",
            client=app.client,
        )
        if installations is not None
        else None
    )

    async def token_for(place: str) -> str | None:
        """The bot token that speaks at `place` (handlers.payloads.address: "E…/T…" in
        Enterprise Grid, else the workspace): the workspace's own install, or its org's
        org-wide one. With token rotation, a token about to expire is refreshed first:
        receipts leave without a request from Slack that would have made bolt refresh it."""
        if installations is None or rotator is None:
            return settings.slack_bot_token
        bot = await installations.find_bot_at(place)
        if bot is None:
            return None
        if bot.bot_refresh_token:
            try:
                refreshed = await rotator.perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=ROTATE_MINUTES_BEFORE_EXPIRY
                )
            except SlackTokenRotationError as exc:
                log.warning(
                    "token rotation failed: %s", exc.api_error.response.get("error", "unknown")
                )
                return bot.bot_token
            if refreshed is not None:
                await installations.async_save_bot(refreshed)
                return refreshed.bot_token
        return bot.bot_token

    delivery = Delivery(
        app.client, frozenset({api_host}) - {"slack.com"}, service.metrics, token_for
    )
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
    workspaces = Workspaces(key_values, settings)
    # Bolt tries listeners in this order for every request: the busiest paths first.
    flow = compose.register(app, service, delivery, after_ack, creation_limit, workspaces)
    commands.register(app, service, delivery, after_ack, creation_limit, workspaces, flow)
    views.register(app, service, delivery, after_ack, creation_limit, workspaces)
    shortcuts.register(app, delivery, after_ack, workspaces)
    actions.register(app, service, delivery, after_ack)
    bound.register(app, service, delivery, after_ack)
    secret_requests.register(app, service, delivery, after_ack, creation_limit, workspaces)
    home.register(app, service, settings, delivery, after_ack, workspaces)
    if settings.receipts:
        receipts.register(service, delivery, workspaces)
    app.error(report)
    return SlackRuntime(after_ack, delivery, service, installations)


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
    key_values: KeyValues,
    client: AsyncWebClient | None = None,
) -> tuple[AsyncApp, SlackRuntime]:
    """`key_values` keeps what Slack's side needs kept (installs, OAuth states, workspace
    settings): handed in by the composition root, so no listener reaches the secrets."""
    client = client or AsyncWebClient(
        token=None if settings.oauth_enabled else settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=REQUEST_TIMEOUT,
        retry_handlers=retry_handlers(),
        logger=SDK_LOGGER,  # bolt's per-request clients take this one too
    )
    bolt_logger = logging.getLogger(BOLT_LOGGER_NAME)
    bolt_logger.addFilter(_TOKEN_WARNING_FILTER)  # the same object: adding twice is a no-op
    installations = None
    oauth: dict[str, Any] = {}
    if settings.oauth_enabled:
        installations = StoreInstallationStore(
            key_values, TokenCipher(settings.token_encryption_key or b"")
        )
        oauth = {
            "oauth_settings": AsyncOAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                scopes=BOT_SCOPES,
                installation_store=installations,
                installation_store_bot_only=True,
                state_store=StoreOAuthStateStore(key_values),
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
                # Straight to Slack's consent screen: bolt's own install page would load
                # Slack's button image from another origin.
                install_page_rendering_enabled=False,
            ),
            "installation_store_bot_only": True,
        }
    app = AsyncApp(
        signing_secret=settings.slack_signing_secret,
        client=client,
        # Given here too (not only in the OAuth settings), so bolt's authorize, which also
        # refreshes rotating tokens, talks to Slack through this client (SLACK_API_URL,
        # retries). From the OAuth settings alone it would make its own client for slack.com.
        installation_store=installations,
        logger=bolt_logger,
        # The signature is checked in handlers/endpoint.py before bolt sees a request: bolt's
        # check logs the raw body (secrets) when it fails. Socket Mode has no signature.
        request_verification_enabled=False,
        # Our listeners ack and hand the rest to AfterAck, so they return at once: bolt can
        # answer when the listener returns instead of polling for the ack every 10 ms.
        process_before_response=True,
        **oauth,
    )
    runtime = register(app, service, settings, limiter, key_values, installations)
    # After ours: bolt tries listeners in order, and every try builds the listener's
    # arguments anew; these two rare events placed first would cost every command two.
    if installations is not None:
        app.enable_token_revocation_listeners()  # app_uninstalled, tokens_revoked
    else:

        async def uninstalled() -> None:
            log.warning("Slack says the app was uninstalled or its token revoked")

        app.event("app_uninstalled")(uninstalled)
        app.event("tokens_revoked")(uninstalled)
    return app, runtime


def mount(
    web_app: web.Application,
    service: SecretService,
    settings: Settings,
    limiter: RateLimiter,
    key_values: KeyValues,
    client: AsyncWebClient | None = None,
) -> AsyncApp:
    slack_app, runtime = build_slack_app(service, settings, limiter, key_values, client)
    web_app[INSTALLATIONS_KEY] = runtime.installations
    web_app[RUNTIME_KEY] = runtime  # tests wait on its work after acks (SlackHarness.settle)
    if settings.slack_signing_secret:
        web_app.router.add_post(
            "/slack/events", slack_endpoint(slack_app, settings.slack_signing_secret)
        )
    if slack_app.oauth_flow is not None:
        flow = slack_app.oauth_flow

        async def install(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await flow.handle_installation(await to_bolt_request(request))
            )

        async def oauth_redirect(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await flow.handle_callback(await to_bolt_request(request))
            )

        web_app.router.add_get(INSTALL_PATH, install)
        web_app.router.add_get(REDIRECT_PATH, oauth_redirect)
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
