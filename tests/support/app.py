"""The app as tests run it: Settings with test defaults, served on a real loopback port."""

from __future__ import annotations

from aiohttp import web

from bot.app import create_app
from bot.config import Settings
from bot.web import SERVICE_KEY, RedactingAccessLogger
from tests.slack_fake import BOT_TOKEN, SIGNING_SECRET
from tests.support.ports import free_port


def make_settings(**overrides) -> Settings:
    """Settings as the environment would give them; serve() replaces the URL and port."""
    return Settings(**{"public_url": "http://127.0.0.1:1", **overrides})


class ServedApp:
    """The real aiohttp app on a real loopback port."""

    def __init__(self, runner: web.AppRunner, url: str, app: web.Application) -> None:
        self.runner = runner
        self.url = url
        self.app = app

    @property
    def service(self):
        return self.app[SERVICE_KEY]


async def serve(settings: Settings, **parts) -> ServedApp:
    """Start the app on a free port; PUBLIC_URL becomes that port so links work."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(**{**settings.__dict__, "public_url": url, "port": port})
    app = create_app(settings, **parts)
    runner = web.AppRunner(app, access_log_class=RedactingAccessLogger)  # as `oncelink serve`
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return ServedApp(runner, url, app)


def slack_settings(fake, **overrides) -> Settings:
    return make_settings(
        slack_signing_secret=SIGNING_SECRET,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=fake.api_url,
        **overrides,
    )
