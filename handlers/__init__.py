"""The Slack edge, composed: the bolt app, each feature's listeners, and the one error handler.

Each feature module registers what a person does with it (share.py: `/secret`, its modal,
the message shortcut, Burn; bound.py; requests.py; home.py: the list and App Home;
receipts.py; install.py: OAuth and tokens). `mount` puts the bolt app on the same aiohttp
application as the reveal page, at `POST /slack/events`, the one request URL for commands,
shortcuts, modals and buttons.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.logs import BOLT_LOGGER_NAME, TOKEN_WARNING_FILTER
from bot.service import SecretService
from handlers import bound, compose, home, install, outside, receipts, requests, share, tokens
from handlers.background import AfterAck
from handlers.delivery import REQUEST_TIMEOUT, SDK_LOGGER, Delivery, retry_handlers
from handlers.endpoint import slack_endpoint
from handlers.installations import StoreInstallationStore
from handlers.messages import error_reporter
from handlers.sharing import CreationLimit
from handlers.workspace import Workspaces
from storage.interfaces import KeyValues

RUNTIME_KEY = web.AppKey("slack_runtime", object)


@dataclass(frozen=True)
class SlackRuntime:
    """What outlives a request: work after acks, and the HTTP session to Slack."""

    after_ack: AfterAck
    delivery: Delivery
    service: SecretService
    installations: StoreInstallationStore | None = None
    # What the features forget when the app is uninstalled from a workspace (API tokens).
    uninstalled: Callable[[dict], Awaitable[None]] | None = None
    # ... and from some workspaces of an org (team_access_revoked, an org-wide app).
    access_revoked: Callable[[dict], Awaitable[None]] | None = None

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
    key_values: KeyValues,
    installations: StoreInstallationStore | None = None,
) -> SlackRuntime:
    api_host = urlsplit(settings.slack_api_url).hostname or ""
    delivery = Delivery(
        app.client,
        frozenset({api_host}) - {"slack.com"},
        service.metrics,
        install.token_source(app, settings, installations),
    )
    creation_limit = CreationLimit(service.creation)
    report = error_reporter(delivery)
    after_ack = AfterAck(report)
    workspaces = Workspaces(key_values, settings)
    subcommands = share.Subcommands()  # `/secret list`, `/secret request`: added below
    # Bolt tries listeners in this order for every request: the busiest paths first.
    share.register(app, service, delivery, after_ack, creation_limit, workspaces, subcommands)
    compose.register(app, service, delivery, after_ack, creation_limit, workspaces, subcommands)
    bound.register(app, service, delivery, after_ack)
    requests.register(app, service, delivery, after_ack, creation_limit, workspaces, subcommands)
    home_tab = home.register(app, service, settings, delivery, after_ack, workspaces, subcommands)
    outside.register(app, service, delivery, after_ack, home_tab.publish)
    api_tokens = tokens.register(
        app,
        service,
        delivery,
        after_ack,
        subcommands,
        workspaces,
        settings.public_url,
        home_tab.admin_sections,
        home_tab.publish,
    )
    if settings.receipts:
        receipts.register(service, delivery, workspaces)
    app.error(report)
    return SlackRuntime(
        after_ack,
        delivery,
        service,
        installations,
        api_tokens.uninstalled,
        api_tokens.access_revoked,
    )


def build_slack_app(
    service: SecretService,
    settings: Settings,
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
    bolt_logger.addFilter(TOKEN_WARNING_FILTER)  # the same object: adding twice is a no-op
    installations = install.installation_store(settings, key_values)
    nested_revoked = install.NestedAccessRevoked()
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
        before_authorize=nested_revoked.middleware,
        **install.oauth_options(settings, key_values, installations),
    )
    runtime = register(app, service, settings, key_values, installations)
    # after ours: see install.register
    install.register(
        app, installations, runtime.uninstalled, runtime.access_revoked, nested_revoked
    )
    return app, runtime


def mount(
    web_app: web.Application,
    service: SecretService,
    settings: Settings,
    key_values: KeyValues,
    client: AsyncWebClient | None = None,
) -> AsyncApp:
    slack_app, runtime = build_slack_app(service, settings, key_values, client)
    web_app[install.INSTALLATIONS_KEY] = runtime.installations
    web_app[RUNTIME_KEY] = runtime  # tests wait on its work after acks (SlackHarness.settle)
    if settings.slack_signing_secret:
        web_app.router.add_post(
            "/slack/events", slack_endpoint(slack_app, settings.slack_signing_secret)
        )
    install.add_routes(web_app, slack_app)
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
