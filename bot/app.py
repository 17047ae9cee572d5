"""The composition root: builds the whole app from settings and injected parts.

Nothing here runs at import time, and everything a test wants to swap (the store, the Slack
client, the clock) comes in as an argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from bot import api_web, compose_web, outside_web, uploads
from bot.config import Settings
from bot.logs import guard_server_log
from bot.metrics import Metrics
from bot.ratelimit import CreationLimit, RateLimiter
from bot.service import SecretService
from bot.web import LIMITER_KEY, SERVICE_KEY, add_routes
from storage import SecretStore, StoreUnavailable, make_store

if TYPE_CHECKING:  # the annotation only: slack_sdk is loaded by handlers/, when Slack is set up
    from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

SLACK_NOT_CONNECTED = "Slack is not connected: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN.\n"

UNCHECKED_PROXY_DEPTH = (
    "TRUSTED_PROXY_DEPTH is set without TRUSTED_PROXIES: X-Forwarded-For is believed from "
    "any peer, so a client reaching the app directly picks its own address for the reveal "
    "limit. Set TRUSTED_PROXIES to your reverse proxies' addresses."
)
PURGE_INTERVAL = 60.0
# What aiohttp reads of a body for any route: none needs more. /slack/events raises it for
# itself (handlers/endpoint.py MAX_SLACK_BODY); the reveal POST reads at most 1 KiB by hand.
CLIENT_MAX_SIZE = 64 * 1024


def create_app(
    settings: Settings,
    *,
    store: SecretStore | None = None,
    slack_client: AsyncWebClient | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    guard_server_log()
    store = store or make_store(settings.redis_url, settings.sqlite_path)
    metrics = Metrics()
    limiter = RateLimiter(store, clock, metrics=metrics)
    service = SecretService(
        store,
        public_url=settings.public_url,
        max_ttl=settings.max_ttl,
        clock=clock,
        metrics=metrics,
        binding_key=settings.binding_key,
        max_file_size=settings.max_file_size,
        creation_limit=CreationLimit(limiter, settings.rate_limit_create),
    )
    app = web.Application(client_max_size=CLIENT_MAX_SIZE)
    app[SERVICE_KEY] = service
    app[LIMITER_KEY] = limiter
    add_routes(app, settings)
    # One gate for every route that takes in a file: memory is per process.
    gate = app[uploads.GATE_KEY] = uploads.new_gate()
    compose_web.add_routes(app, service, settings, gate)
    outside_web.add_routes(app, service, gate)
    api_web.add_routes(app, service, settings, gate)
    if settings.metrics == "public":
        app.router.add_get("/metrics", metrics_endpoint(metrics))
    elif settings.metrics == "on":
        app.cleanup_ctx.append(_metrics_site(settings, metrics))
    if settings.slack_configured:
        import handlers  # Slack stays an edge: the core never imports it

        handlers.mount(app, service, settings, store, client=slack_client)
    else:
        log.warning(
            "Slack is not connected: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN to enable "
            "/secret (or SLACK_APP_TOKEN and SLACK_BOT_TOKEN for Socket Mode). Reveal pages "
            "are served as usual."
        )
        app.router.add_post("/slack/events", _slack_not_connected)
    app.cleanup_ctx.append(_lifecycle(service, store, clock))
    if settings.trusted_proxy_depth and not settings.trusted_proxies:
        log.warning(UNCHECKED_PROXY_DEPTH)
    return app


async def _slack_not_connected(request: web.Request) -> web.Response:
    return web.Response(status=503, text=SLACK_NOT_CONNECTED)


def metrics_endpoint(metrics: Metrics) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve_metrics(request: web.Request) -> web.Response:
        return web.Response(
            text=metrics.render(), content_type="text/plain", headers={"Cache-Control": "no-store"}
        )

    return serve_metrics


def _metrics_site(
    settings: Settings, metrics: Metrics
) -> Callable[[web.Application], AsyncIterator[None]]:
    """/metrics on its own address (127.0.0.1:9464 by default), away from the public port.
    With --workers each process binds it too (SO_REUSEPORT): a scrape sees one process."""

    async def metrics_site(app: web.Application) -> AsyncIterator[None]:
        side = web.Application()
        side.router.add_get("/metrics", metrics_endpoint(metrics))
        runner = web.AppRunner(side, access_log=None)
        await runner.setup()
        await web.TCPSite(
            runner, settings.metrics_host, settings.metrics_port, reuse_port=True
        ).start()
        yield
        await runner.cleanup()

    return metrics_site


def _lifecycle(
    service: SecretService, store: SecretStore, clock: Callable[[], float]
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        purger = asyncio.create_task(_purge_forever(service, store, clock))
        yield
        purger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purger
        await service.drain()
        await store.close()

    return lifecycle


async def _purge_forever(
    service: SecretService, store: SecretStore, clock: Callable[[], float]
) -> None:
    """Expired rows are never returned anyway; this gives the space back, and tells the
    creators of secrets that expired unread (each by one process only)."""
    while True:
        try:
            removed = await store.purge_expired(clock())
            if removed:
                service.metrics.inc("oncelink_secrets_expired_total", amount=removed)
                log.info("purged %d expired secrets", removed)
            told = await service.sweep_expired()
            if told:
                log.info("%d secrets expired unread", told)
        except StoreUnavailable:
            log.warning("could not purge expired secrets: store unavailable")
        await asyncio.sleep(PURGE_INTERVAL)
