"""The open-loop generator (bench/arrivals.py) cannot hide a stall: requests due while the
server was stalled count the time they waited, not just the time after they were sent; a
request that got no answer cannot drop out of the percentiles; and one late final answer
does not make a server that kept up look saturated."""

from __future__ import annotations

import asyncio
import math

from aiohttp import web

import bench.arrivals
from bench.arrivals import raw_request, run, summary
from bench.openloop import reason

RATE = 200  # requests per second, over one second
STALL = 0.3  # seconds the server sits on one request


async def run_against_a_stall(stalled: int, cap: int = 256):
    """RATE requests over one second to an aiohttp server that sits STALL seconds on its
    `stalled`-th request; the generator's outcome."""
    seen = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal seen
        seen += 1
        if seen == stalled:
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
        return await run("127.0.0.1", port, requests, RATE, cap=cap)
    finally:
        await runner.cleanup()


async def test_requests_due_during_a_server_stall_count_their_wait():
    # One connection: every request due during the stall waits behind the stalled one.
    outcome = await run_against_a_stall(50, cap=1)
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


async def serve_raw(skip_every: int) -> tuple[asyncio.Server, int]:
    """A raw HTTP server that answers every request 200 except every `skip_every`-th, which
    it never answers (the connection stays open and silent)."""
    seen = 0

    class Silent(asyncio.Protocol):
        def connection_made(self, transport) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            nonlocal seen
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
                seen += 1
                if seen % skip_every:
                    self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server = await asyncio.get_running_loop().create_server(Silent, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_requests_never_answered_count_as_infinitely_slow(monkeypatch):
    monkeypatch.setattr(bench.arrivals, "DRAIN_TIMEOUT", 0.5)
    server, port = await serve_raw(skip_every=20)  # 5% never answered
    try:
        requests = [raw_request("GET", "/", f"127.0.0.1:{port}")] * RATE
        outcome = await run("127.0.0.1", port, requests, RATE)
    finally:
        server.close()

    figures = summary(outcome, RATE)
    assert figures["errors"] == RATE // 20
    # More than 1% lost: p99 and max cannot be finite, however fast the answered ones were.
    assert math.isinf(figures["p99_ms"])
    assert math.isinf(figures["max_ms"])
    assert not math.isinf(figures["p50_ms"])
    assert reason(figures | {"rate": RATE}, 10.0).startswith(f"{RATE // 20} of {RATE}")


async def test_one_late_final_answer_does_not_lower_the_achieved_rate():
    outcome = await run_against_a_stall(RATE)  # the last request
    figures = summary(outcome, RATE)
    assert figures["errors"] == 0
    assert figures["max_ms"] >= STALL * 1000
    # It kept up: the rate it achieved is the rate asked for, give or take the last few.
    assert figures["achieved_rps"] >= 0.95 * RATE
    assert figures["in_flight_end"] <= 0.05 * RATE
