"""Installing the app and keeping its tokens: OAuth ("Add to Slack" and Slack's redirect),
the installs' store, token rotation, and what happens when Slack says the app was removed.

Without OAuth settings (one workspace, SLACK_BOT_TOKEN) there is one token and nothing of
this runs but the uninstall warning.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt import BoltResponse
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator

from bot.config import Settings
from handlers import payloads
from handlers.installations import StoreInstallationStore, StoreOAuthStateStore, TokenCipher
from storage.interfaces import KeyValues

log = logging.getLogger(__name__)

INSTALLATIONS_KEY = web.AppKey("slack_installations", object)
BOT_SCOPES = [
    "commands",
    "chat:write",
    "users:read",
    "users:read.email",
]  # the same as manifest.yml (a test keeps them equal)
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
ROTATE_MINUTES_BEFORE_EXPIRY = 120  # bolt's own default for tokens it refreshes

TokenFor = Callable[[str], Awaitable[str | None]]


def installation_store(settings: Settings, key_values: KeyValues) -> StoreInstallationStore | None:
    """Where OAuth installs are kept (sealed), or None when the app has one token."""
    if not settings.oauth_enabled:
        return None
    return StoreInstallationStore(key_values, TokenCipher(settings.token_encryption_key or b""))


def oauth_options(
    settings: Settings, key_values: KeyValues, installations: StoreInstallationStore | None
) -> dict[str, Any]:
    """AsyncApp's OAuth arguments: none without installs."""
    if installations is None:
        return {}
    return {
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


def token_source(
    app: AsyncApp, settings: Settings, installations: StoreInstallationStore | None
) -> TokenFor:
    """What work without a request from Slack (receipts, DMs after the ack) speaks with."""
    if installations is None:

        async def the_token(place: str) -> str | None:
            return settings.slack_bot_token

        return the_token

    rotator = AsyncTokenRotator(
        client_id=settings.slack_client_id or "",
        client_secret=settings.slack_client_secret or "",
        client=app.client,
    )

    async def token_for(place: str) -> str | None:
        """The bot token that speaks at `place` (handlers.payloads.address: "E…/T…" in
        Enterprise Grid, else the workspace): the workspace's own install, or its org's
        org-wide one. With token rotation, a token about to expire is refreshed first:
        receipts leave without a request from Slack that would have made bolt refresh it."""
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

    return token_for


class NestedAccessRevoked:
    """Slack's own example of team_access_revoked nests the event one level deeper
    (event.event.type), where bolt's event matching does not look. Given to AsyncApp as
    `before_authorize` (so for HTTP and Socket Mode alike): bolt's authorization skips the
    install lookup only for the flat shape, and the nested one, from an org-wide install and
    naming a workspace, finds no install under that workspace, so bolt would answer it
    itself and no middleware or listener after authorization would ever see it.
    `handler` is set by `register`, once the features exist."""

    def __init__(self) -> None:
        self.handler: Callable[[dict], Awaitable[None]] | None = None

    async def middleware(self, body: dict, next: Callable[[], Awaitable[Any]]) -> Any:
        event = body.get("event") if isinstance(body, dict) else None
        if (
            isinstance(event, dict)
            and "type" not in event
            and body.get("type") == "event_callback"
            and payloads.text(event, "event", "type") == "team_access_revoked"
        ):
            if self.handler is not None:
                await self.handler(body)
            return BoltResponse(status=200, body="")
        return await next()


def register(
    app: AsyncApp,
    installations: StoreInstallationStore | None,
    on_uninstalled: Callable[[dict], Awaitable[None]] | None = None,
    on_access_revoked: Callable[[dict], Awaitable[None]] | None = None,
    nested: NestedAccessRevoked | None = None,
) -> None:
    """Slack's word that the app was uninstalled or its tokens revoked. Registered after
    every other listener: bolt tries listeners in order, and every try builds the
    listener's arguments anew; these two rare events placed first would cost every command
    two. `on_uninstalled` is what the features forget with the workspace (API tokens):
    bolt runs only the first listener an event matches, so it is called from this one."""

    async def uninstalled(body: dict, context: AsyncBoltContext) -> None:
        try:
            if on_uninstalled is not None:
                await on_uninstalled(body)
        finally:  # the install is deleted even when forgetting the features' part failed
            if installations is not None:
                await app.default_app_uninstalled_event_listener()(context)
            else:
                log.warning("Slack says the app was uninstalled")

    async def access_revoked(body: dict) -> None:
        if on_access_revoked is not None:
            await on_access_revoked(body)

    app.event("app_uninstalled")(uninstalled)
    app.event("team_access_revoked")(access_revoked)
    if nested is not None:
        nested.handler = access_revoked

    async def tokens_revoked(body: dict, event: dict, context: AsyncBoltContext) -> None:
        """The bot's tokens revoked (an admin's way to cut the app off without uninstalling
        it): the workspace's API tokens go too, as on an uninstall. Only user tokens revoked
        leaves them: the app works on."""
        try:
            if on_uninstalled is not None and payloads.field(event, "tokens", "bot"):
                await on_uninstalled(body)
        finally:  # the install's tokens are deleted even when forgetting ours failed
            if installations is not None:
                await app.default_tokens_revoked_event_listener()(event, context)
            else:
                log.warning("Slack says the app's token was revoked")

    app.event("tokens_revoked")(tokens_revoked)


def add_routes(web_app: web.Application, slack_app: AsyncApp) -> None:
    """ "Add to Slack" and Slack's redirect back, when OAuth is on."""
    if slack_app.oauth_flow is None:
        return
    flow = slack_app.oauth_flow

    async def install(request: web.Request) -> web.Response:
        return await to_aiohttp_response(
            await flow.handle_installation(await to_bolt_request(request))
        )

    async def oauth_redirect(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    web_app.router.add_get(INSTALL_PATH, install)
    web_app.router.add_get(REDIRECT_PATH, oauth_redirect)
