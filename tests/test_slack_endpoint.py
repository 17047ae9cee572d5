"""`POST /slack/events` before the signature is known: what an unsigned sender can make the
app read, hold and answer. Requests go over raw sockets, so a test can stall mid-body."""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlsplit

import pytest

from handlers import endpoint
from storage.sqlite_store import SqliteStore
from tests.slack_fake import command_body, outside_window, sign
from tests.support.app import serve, slack_settings


async def _exchange(url: str, head: dict, body: bytes, *, send: int | None = None) -> bytes:
    """Send a request with `head` headers and the first `send` bytes of `body` (all by
    default), then read whatever the app answers."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    lines = ["POST /slack/events HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in head.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body[:send])
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)  # the status and headers
    finally:
        writer.close()


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _unsigned_but_fresh(body: bytes) -> dict:
    return {
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=" + "0" * 64,
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(body)),
    }


@pytest.fixture
async def app_url(fake_slack, tmp_path, monkeypatch):
    monkeypatch.setattr(endpoint, "BODY_READ_SECONDS", 1.5)
    monkeypatch.setattr(endpoint, "LARGE_READS_AT_ONCE", 1)
    served = await serve(slack_settings(fake_slack), store=SqliteStore(str(tmp_path / "s.db")))
    yield served.url
    await served.runner.cleanup()


async def test_a_stale_or_malformed_timestamp_is_refused_before_the_body_is_read(app_url):
    """A 4 MiB body is declared and never sent: the answer comes at once, not after the
    app waited for (and held) the body."""
    big = b"x" * endpoint.MAX_SLACK_BODY
    for timestamp in (str(outside_window(-1)), "5" * 5000, "1e9", ""):
        head = {**_unsigned_but_fresh(big), "X-Slack-Request-Timestamp": timestamp}
        started = time.monotonic()
        answer = await _exchange(app_url, head, big, send=0)
        assert _status(answer) == 401, timestamp[:20]
        assert time.monotonic() - started < endpoint.BODY_READ_SECONDS


async def test_a_huge_timestamp_or_a_body_not_in_utf8_gets_401_never_a_500(app_url):
    body = b"payload=\xff\xfe"
    assert _status(await _exchange(app_url, _unsigned_but_fresh(body), body)) == 401
    head = {**_unsigned_but_fresh(body), "X-Slack-Request-Timestamp": "1" + "0" * 4300}
    assert _status(await _exchange(app_url, head, body)) == 401


async def test_a_stalled_large_body_is_cut_off_and_holds_up_only_other_large_ones(app_url):
    """One large body is read at a time (LARGE_READS_AT_ONCE, here 1), each within the
    deadline: a sender stalling mid-body gets 408, a small body is read meanwhile, and a
    second large body is read only once the stalled one was cut off."""
    large = b"payload=" + b"x" * (endpoint.SMALL_SLACK_BODY + 1)
    stalled = asyncio.create_task(
        _exchange(app_url, _unsigned_but_fresh(large), large, send=len(large) // 2)
    )
    await asyncio.sleep(0.2)  # the stalled read holds the one slot
    small = command_body(text="small")
    head = {**sign(small), "Content-Length": str(len(small))}
    assert _status(await _exchange(app_url, head, small.encode())) == 200
    assert not stalled.done()  # the small one did not wait for the slot
    waiting = await _exchange(app_url, _unsigned_but_fresh(large), large)
    assert stalled.done() and _status(stalled.result()) == 408
    assert _status(waiting) == 401  # read whole after the slot came free, then verified


@pytest.mark.parametrize("size", [1_000, endpoint.SMALL_SLACK_BODY + 1])
async def test_a_sender_hanging_up_mid_body_leaves_one_calm_line(app_url, caplog, size):
    """No traceback, no ERROR: an unsigned sender could otherwise fill the log with them."""
    body = b"payload=" + b"x" * size
    parts = urlsplit(app_url)
    with caplog.at_level(logging.INFO):
        _, writer = await asyncio.open_connection(parts.hostname, parts.port)
        head = "".join(f"{k}: {v}\r\n" for k, v in _unsigned_but_fresh(body).items())
        writer.write(f"POST /slack/events HTTP/1.1\r\nHost: {parts.netloc}\r\n{head}\r\n".encode())
        writer.write(body[: size // 2])
        await writer.drain()
        writer.close()
        deadline = time.monotonic() + 5
        while endpoint.BODY_CUT_OFF not in caplog.text and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    assert endpoint.BODY_CUT_OFF in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
