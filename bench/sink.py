"""A local stand-in for Slack during the benchmark: answers every Web API call and
response_url post at once, so Slack's own latency is not what gets measured.

It shares the machine's two cores with the app, wrk and Redis, and Slack's CPU is not the
app's cost: so it is a bare asyncio protocol with canned answers (about a tenth of the CPU
per call of an aiohttp handler), not a web framework.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from bot.cli import event_loop


def _answer(body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


AUTH_TEST = _answer(
    json.dumps({"ok": True, "team_id": "T0001", "user_id": "UBOT", "bot_id": "B1"}).encode(),
    "application/json",
)
API_OK = _answer(
    json.dumps({"ok": True, "ts": "1.000001", "channel": "D1"}).encode(), "application/json"
)
HOOK_OK = _answer(b"ok", "text/plain")


class SlackSink(asyncio.Protocol):
    """HTTP/1.1 keep-alive: reads each request's head and Content-Length body, answers.
    `GET /count` tells how many response_url posts (links and notices) arrived so far, so
    the benchmark can see whether deliveries kept up with the acks."""

    hook_posts = 0

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end].decode("latin-1")
            length = 0
            for header in head.split("\r\n")[1:]:
                name, _, value = header.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            self._buffer = self._buffer[end + 4 + length :]
            path = head.split(" ", 2)[1]
            if path == "/count":
                self._transport.write(_answer(str(SlackSink.hook_posts).encode(), "text/plain"))
            elif path.startswith("/api/auth.test"):
                self._transport.write(AUTH_TEST)
            elif path.startswith("/api/"):
                self._transport.write(API_OK)
            else:
                SlackSink.hook_posts += 1
                self._transport.write(HOOK_OK)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    loop = event_loop()
    server = loop.run_until_complete(loop.create_server(SlackSink, "127.0.0.1", args.port))
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
