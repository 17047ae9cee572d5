"""A local stand-in for Slack during the benchmark: answers every Web API call and
response_url post at once, so Slack's own latency is not what gets measured."""

from __future__ import annotations

import argparse
import time

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    async def api(request: web.Request) -> web.Response:
        await request.read()
        method = request.match_info["method"]
        if method == "auth.test":
            return web.json_response(
                {"ok": True, "team_id": "T0001", "user_id": "UBOT", "bot_id": "B1"}
            )
        return web.json_response({"ok": True, "ts": f"{time.time():.6f}", "channel": "D1"})

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/api/{method}", api)
    app.router.add_post("/response/{name}", hook)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
