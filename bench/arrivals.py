"""An open-loop load generator: requests sent at fixed arrival times, latency counted from
each request's scheduled time.

wrk keeps a fixed number of connections busy (a closed loop): when the server stalls, wrk
stops sending, and the requests it would have sent meanwhile are never counted, so a stall
shows up as one slow request. At saturation its p99 is only connections / throughput. Here
request i is due at t0 + i / rate whatever the server does; it goes out on an idle
keep-alive connection, or a new one up to `cap`, or else waits for the next free one. Its
latency runs from when it was due to the last byte of its answer, so a stall of the server,
of the pool or of this generator itself is counted in every request it delayed.

It shares the machine with the app and Redis, so it is lean: raw asyncio protocols,
requests pre-built as bytes, answers parsed only as far as the status line and
Content-Length. `bench.openloop` runs it in its own process:

    python -m bench.arrivals --port P --rate R --seconds S --requests FILE   (JSON on stdout)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from time import perf_counter, process_time

from bot.cli import event_loop

# A request whose answer has not arrived this long after the schedule ended is an error.
DRAIN_TIMEOUT = 30.0


def raw_request(method: str, path: str, host: str, body: bytes = b"", headers=()) -> bytes:
    """One HTTP/1.1 keep-alive request as the bytes to write."""
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    head += [f"{name}: {value}" for name, value in headers]
    if body or method != "GET":
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def from_wrk_line(wrk_line: str, host: str) -> bytes:
    """bench.run's request lines (method, path, content type, `k=v;k=v` headers, body,
    tab-separated, as bench/requests.lua reads them) as raw bytes."""
    method, path, ctype, extra, body = wrk_line.split("\t", 4)
    headers = [("Content-Type", ctype)] if ctype else []
    headers += [tuple(pair.split("=", 1)) for pair in extra.split(";") if pair]
    return raw_request(method, path, host, body.encode(), headers)


@dataclass
class Outcome:
    """Per request, in perf_counter seconds: when it was due, when the generator got to
    it, when it was written, when its answer ended (0 if it never did), and its status (0:
    no answer)."""

    due: list[float]
    dispatched: list[float]
    sent: list[float]
    ended: list[float]
    status: list[int]
    connections: int = 0  # the most connections open at once
    queued: int = 0  # requests that waited for a free connection (the cap was reached)


class _Connection(asyncio.Protocol):
    """One keep-alive connection, one request in flight at a time."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.current = -1  # the request in flight, -1 when idle
        self.need = -1  # bytes the whole answer takes, -1 until its head has arrived
        self.status = 0

    def connection_made(self, transport) -> None:
        self.transport = transport

    def send(self, index: int) -> None:
        self.current = index
        self.pool.outcome.sent[index] = perf_counter()
        self.transport.write(self.pool.requests[index])

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.need < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                # The app always answers with Content-Length; anything else is not parsed.
                self.pool.failed(self)
                return
            stop = head.find(b"\r\n", at + 17)
            length = int(head[at + 17 : stop if stop >= 0 else None])
            self.need = end + 4 + length
        if len(self.buffer) >= self.need:
            ended = perf_counter()
            del self.buffer[: self.need]
            self.need = -1
            index, self.current = self.current, -1
            self.pool.answered(self, index, self.status, ended)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.lost(self)


@dataclass
class _Pool:
    """Connections to one server: idle ones, at most `cap` open, a queue beyond."""

    host: str
    port: int
    requests: Sequence[bytes]
    cap: int
    outcome: Outcome
    idle: list[_Connection] = field(default_factory=list)
    every: list[_Connection] = field(default_factory=list)  # all it opened, closed at the end
    open: int = 0
    waiting: deque[int] = field(default_factory=deque)
    left: int = 0
    all_done: asyncio.Future | None = None

    def dispatch(self, index: int) -> None:
        if self.idle:
            self.idle.pop().send(index)
        elif self.open < self.cap:
            self.open += 1
            self.outcome.connections = max(self.outcome.connections, self.open)
            asyncio.get_running_loop().create_task(self._connect(index))
        else:
            self.outcome.queued += 1
            self.waiting.append(index)

    async def _connect(self, index: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _Connection(self), self.host, self.port)
        except OSError:
            self.open -= 1
            self._finish(index)  # status stays 0: no answer
            self._refill()
            return
        self.every.append(conn)
        conn.send(index)

    def answered(self, conn: _Connection, index: int, status: int, ended: float) -> None:
        self.outcome.status[index] = status
        self.outcome.ended[index] = ended
        self._next(conn)
        self._finish(index)

    def _next(self, conn: _Connection) -> None:
        if self.waiting:
            conn.send(self.waiting.popleft())
        else:
            self.idle.append(conn)

    def failed(self, conn: _Connection) -> None:
        """An answer this generator cannot read: the request fails, the connection goes."""
        conn.transport.close()

    def lost(self, conn: _Connection) -> None:
        self.open -= 1
        if conn in self.idle:
            self.idle.remove(conn)
        if conn.current >= 0:
            self._finish(conn.current)  # status stays 0: no answer
        self._refill()

    def _refill(self) -> None:
        """A connection went: one waiting request may open another, so the queue moves."""
        if self.waiting and self.open < self.cap:
            self.dispatch(self.waiting.popleft())

    def _finish(self, index: int) -> None:
        self.left -= 1
        if self.left == 0 and self.all_done and not self.all_done.done():
            self.all_done.set_result(None)

    def close(self) -> None:
        for conn in self.every:
            conn.transport.close()


async def run(
    host: str, port: int, requests: Sequence[bytes], rate: float, cap: int = 256
) -> Outcome:
    """Send every request at its arrival time (the i-th at start + i / rate) and wait for
    the answers, up to DRAIN_TIMEOUT after the last is due."""
    n = len(requests)
    outcome = Outcome([0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n, [0] * n)
    pool = _Pool(host, port, requests, cap, outcome, left=n)
    pool.all_done = asyncio.get_running_loop().create_future()
    start = perf_counter() + 0.01
    index = 0
    while index < n:
        now = perf_counter()
        due = start + index / rate
        if due > now:
            await asyncio.sleep(due - now)
            continue
        # Everything due by now goes out in this pass: a late wake-up is caught up at once,
        # and each request's lateness is kept (dispatched - due).
        while index < n and start + index / rate <= now:
            outcome.due[index] = start + index / rate
            outcome.dispatched[index] = now
            pool.dispatch(index)
            index += 1
    if n:
        try:
            await asyncio.wait_for(pool.all_done, DRAIN_TIMEOUT)
        except TimeoutError:
            pass
    pool.close()
    return outcome


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of sorted `values`."""
    if not values:
        return 0.0
    return values[min(len(values) - 1, max(0, math.ceil(share * len(values)) - 1))]


def in_flight(outcome: Outcome, at: float) -> int:
    """Requests due by `at` that had no answer yet (those never answered included)."""
    return sum(
        1
        for due, ended in zip(outcome.due, outcome.ended, strict=True)
        if due <= at and not 0 < ended <= at
    )


def summary(outcome: Outcome, rate: float, skip: int = 0) -> dict:
    """The figures of the requests after the first `skip` (the warm-up), in milliseconds.
    Latency is from when each request was due; `service` from when it was written (what a
    closed loop would report), kept for comparison.

    A request without a 2xx answer (another status, unreadable, lost or never answered)
    counts as infinitely slow in p50/p90/p99/max: leaving it out would let a row that lost
    more than 1% of its requests show a good p99."""
    rows = range(skip, len(outcome.due))
    answered = [i for i in rows if outcome.ended[i]]
    good = {i for i in answered if 200 <= outcome.status[i] < 300}
    latency = sorted(outcome.ended[i] - outcome.due[i] if i in good else math.inf for i in rows)
    service = sorted(outcome.ended[i] - outcome.sent[i] for i in answered)
    lag = max((outcome.dispatched[i] - outcome.due[i] for i in rows), default=0.0)
    # Achieved: the 2xx answers that ended while the counted schedule ran (from the first
    # counted request's due time to the schedule's end), per second of it. A server that
    # keeps up ends as many as arrive, whatever one late final answer does; a saturated one
    # ends only what it can. (Counting answers up to a grace after the end instead would
    # hide a server that runs short by less than the grace's share of the schedule.)
    schedule = len(rows) / rate
    first = outcome.due[skip] if len(rows) else 0.0
    end = first + schedule
    ended_in_schedule = sum(
        1
        for status, ended in zip(outcome.status, outcome.ended, strict=True)
        if 200 <= status < 300 and first <= ended <= end
    )
    statuses: dict[str, int] = {}
    for i in rows:
        key = str(outcome.status[i])
        statuses[key] = statuses.get(key, 0) + 1

    def ms(value: float) -> float:
        return round(value * 1000, 3)

    return {
        "requests": len(rows),
        "answered": len(answered),
        "errors": len(rows) - len(good),  # non-2xx, unreadable, lost or unanswered
        "statuses": statuses,
        "achieved_rps": round(ended_in_schedule / schedule, 1) if schedule > 0 else 0.0,
        # Unanswered at the schedule's half and at its end: a queue that grows is saturation.
        "in_flight_half": in_flight(outcome, first + schedule / 2),
        "in_flight_end": in_flight(outcome, end),
        "p50_ms": ms(percentile(latency, 0.50)),
        "p90_ms": ms(percentile(latency, 0.90)),
        "p99_ms": ms(percentile(latency, 0.99)),
        "max_ms": ms(latency[-1]) if latency else 0.0,
        "service_p50_ms": ms(percentile(service, 0.50)),
        "service_p99_ms": ms(percentile(service, 0.99)),
        "service_max_ms": ms(service[-1]) if service else 0.0,
        "send_lag_max_ms": ms(lag),
        "connections": outcome.connections,
        "queued": outcome.queued,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--warmup", type=int, default=0, help="first N requests not counted")
    parser.add_argument("--cap", type=int, default=256, help="most connections open")
    parser.add_argument("--requests", required=True, help="file: one base64 request a line")
    args = parser.parse_args(argv)
    with open(args.requests, "rb") as lines:
        requests = [base64.b64decode(row) for row in lines if row.strip()]
    loop = event_loop()
    cpu, wall = process_time(), perf_counter()
    try:
        outcome = loop.run_until_complete(run(args.host, args.port, requests, args.rate, args.cap))
    finally:
        loop.close()
    cpu, wall = process_time() - cpu, perf_counter() - wall
    figures = summary(outcome, args.rate, args.warmup)
    # Its CPU time as a share of ONE core while it ran: it is single-threaded, so near 100%
    # it could not send any faster, however many cores the machine has.
    figures["generator_cpu_share"] = round(cpu / wall, 3)
    json.dump(figures, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
