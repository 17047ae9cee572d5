"""The two ceilings every figure is compared with, served exactly like the app.

(a) `bare`: a fixed small response: aiohttp's own ceiling on this machine.
(b) `redis`: one EVALSHA of a trivial script through redis-py's pool: what any request
    touching Redis paid before the reveal paths had their own connection.

And one reference, to show what the app's own code costs:
`reveal-floor`: the least any reveal POST can do on this stack. It reads the body, decodes
and hashes the two proofs, runs the app's real reveal script on the real key through the
app's own shared connection (storage/redis_pipe.py), and answers the stored bytes. No id
check, rate limit, error handling, receipt, answer formatting or security headers. Whatever
the app costs beyond it is its own code.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from aiohttp import web
from redis.asyncio import Redis

from bot import crypto
from bot.cli import event_loop
from bot.logs import configure_logging
from bot.service import MAX_PASSPHRASE_ATTEMPTS
from bot.web import RedactingAccessLogger
from storage.redis_pipe import PipelinedRedis, Script
from storage.redis_store import REVEAL_SCRIPT, record_key


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


def reveal_floor_app(url: str) -> web.Application:
    pipe = PipelinedRedis.for_url(url)
    assert pipe is not None, "the floor is measured on a plain redis:// URL"
    script = Script(REVEAL_SCRIPT)

    async def handler(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        reply = await pipe.evalsha(
            script,
            [record_key(request.match_info["secret_id"])],
            [
                crypto.verifier(crypto.b64decode(body["link_proof"], crypto.KEY_BYTES)),
                crypto.verifier(crypto.b64decode(body["auth"], crypto.KEY_BYTES)),
                MAX_PASSPHRASE_ATTEMPTS,
                0,  # a link reveal
                repr(time.time() * 1000),  # the caller's now, which the script compares
            ],
        )
        return web.Response(body=reply[-1] if len(reply) > 1 else b"")

    app = web.Application()
    app.router.add_post("/s/{secret_id}", handler)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["bare", "redis", "reveal-floor"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--reuse-port", action="store_true")
    args = parser.parse_args()
    configure_logging("WARNING")
    if args.kind == "bare":
        app = bare_app()
    elif args.kind == "redis":
        app = redis_app(args.redis_url)
    else:
        app = reveal_floor_app(args.redis_url)
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
