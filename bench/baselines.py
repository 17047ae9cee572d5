"""The two ceilings every figure is compared with, served exactly like the app.

(a) `bare`: a fixed small response: aiohttp's own ceiling on this machine.
(b) `redis`: one EVALSHA of a trivial script: the floor for any request touching the store.
"""

from __future__ import annotations

import argparse
import logging

from aiohttp import web
from redis.asyncio import Redis

from bot.cli import event_loop
from bot.logs import configure_logging
from bot.web import RedactingAccessLogger


def bare_app() -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/", handler)
    return app


def redis_app(url: str) -> web.Application:
    client = Redis.from_url(url)
    script = client.register_script("return 1")

    async def handler(request: web.Request) -> web.Response:
        await script(keys=[], args=[])
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/", handler)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["bare", "redis"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--reuse-port", action="store_true")
    args = parser.parse_args()
    configure_logging("WARNING")
    app = bare_app() if args.kind == "bare" else redis_app(args.redis_url)
    web.run_app(
        app,
        host="127.0.0.1",
        port=args.port,
        access_log_class=RedactingAccessLogger,
        access_log=logging.getLogger("oncelink.access"),
        reuse_port=args.reuse_port,
        loop=event_loop(),
        print=None,
    )


if __name__ == "__main__":
    main()
