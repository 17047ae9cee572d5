"""The open-loop generator (bench/arrivals.py) cannot hide a stall: requests due while the
server was stalled count the time they waited, not just the time after they were sent."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bench.arrivals import raw_request, run, summary

RATE = 200  # requests per second, over one second
STALL = 0.3  # seconds the server sits on one request


async def test_requests_due_during_a_server_stall_count_their_wait():
    seen = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal seen
        seen += 1
        if seen == 50:
            await asyncio.sleep(STALL)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        requests = [raw_request("GET", "/", f"127.0.0.1:{port}")] * RATE
        # One connection: every request due during the stall waits behind the stalled one.
        outcome = await run("127.0.0.1", port, requests, RATE, cap=1)
    finally:
        await runner.cleanup()

    figures = summary(outcome, RATE)
    assert figures["errors"] == 0
    assert figures["max_ms"] >= STALL * 1000
    latencies = [end - due for end, due in zip(outcome.ended, outcome.due, strict=True)]
    # About STALL * RATE = 60 requests were due during the stall; those due in its first
    # two thirds waited more than 0.1 s.
    assert sum(1 for s in latencies if s > 0.1) >= 20
    assert figures["p90_ms"] > 100
    # What a closed loop reports (from when each was sent): only the stalled one is slow
    # (a little slack for a busy machine).
    services = [end - sent for end, sent in zip(outcome.ended, outcome.sent, strict=True)]
    assert sum(1 for s in services if s > 0.1) <= 3
