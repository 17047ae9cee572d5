"""A 10 MiB file through oncelink against a plain aiohttp upload and download of the same
bytes, in ONE run: the server's RSS growth and the time to upload and to reveal, each also
as a ratio to the plain server's, since the machines are shared and noisy.

Each server runs in its own process on loopback, on its own SQLite file or in memory. The
oncelink side is the real app (`create_app`, SQLite), with compose links issued by its core
at start-up, as `/secret compose` would; the client does what the compose page and the
reveal page send (sealing happens before the clock starts: that is the browser's work).
RSS is read from /proc/PID/status, sampled every millisecond during each step; the growth
is the highest peak of a step over the server's RSS before the first upload.

    python -m bench.files        (prints a small table; ROUNDS=5 by default)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import aiohttp

from bot import crypto
from tests.support.compose import sealed_upload
from tests.support.links import reveal_body
from tests.support.ports import free_port

T = TypeVar("T")
SIZE = 10 * 1024 * 1024
ROUNDS = int(os.environ.get("ROUNDS", "5"))

# The oncelink server: the real app on SQLite; compose links issued by the core at start-up
# and printed, one per line, before it serves.
ONCELINK_SERVER = """
import asyncio, sys
from aiohttp import web
from bot.app import create_app
from bot.compose import ComposeGrant
from bot.config import Settings
from bot.web import SERVICE_KEY

port, path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
settings = Settings(public_url=f"http://127.0.0.1:{port}", port=port, sqlite_path=path)
app = create_app(settings)

async def issue(app):
    grant = ComposeGrant("T0001:U0001", "{}", (3600,), 3600)
    for _ in range(count):
        print((await app[SERVICE_KEY].compose.issue(grant)).link, flush=True)
    print("ready", flush=True)

app.on_startup.append(issue)
web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
"""

# The baseline: what any aiohttp upload and download of the same bytes costs. The body is
# read as a stream into one buffer (as oncelink reads it) and handed back once.
PLAIN_SERVER = """
import sys
from aiohttp import web

kept = {}

async def upload(request):
    buffer = bytearray()
    while chunk := await request.content.read(256 * 1024):
        buffer += chunk
    kept[request.match_info["name"]] = bytes(buffer)
    return web.json_response({"ok": True})

async def download(request):
    return web.Response(body=kept.pop(request.match_info["name"]))

app = web.Application()
app.router.add_post("/up/{name}", upload)
app.router.add_post("/down/{name}", download)

async def ready(app):
    print("ready", flush=True)

app.on_startup.append(ready)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


class Server:
    def __init__(self, script: str, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-c", script, str(self.port), *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip() == "ready":
                break
            self.lines.append(line.strip())

    def rss(self, field: str = "VmRSS") -> int:
        """Bytes, from /proc/PID/status."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(field)

    async def peak_during(self, work: Awaitable[T]) -> tuple[T, int]:
        """`work`'s result and the server's highest RSS while it ran, sampled every
        millisecond from another thread (VmHWM is not reset reliably in every kernel)."""
        done = threading.Event()
        peak = [self.rss()]

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], self.rss())
                time.sleep(0.001)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            result = await work
        finally:
            done.set()
            sampler.join()
        return result, max(peak[0], self.rss())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


async def timed(http: aiohttp.ClientSession, url: str, body: bytes) -> tuple[float, bytes]:
    started = time.perf_counter()
    async with http.post(url, data=body) as response:
        answer = await response.read()
        assert response.status == 200, answer[:200]
    return time.perf_counter() - started, answer


async def measure() -> dict[str, dict[str, float]]:
    data = os.urandom(SIZE)
    plaintext = crypto.file_plaintext("bench.bin", "application/octet-stream", data)
    results: dict[str, dict[str, list[float]]] = {
        name: {"upload_s": [], "reveal_s": [], "upload_rss": [], "reveal_rss": []}
        for name in ("oncelink", "plain")
    }
    with tempfile.TemporaryDirectory() as folder:
        oncelink = Server(ONCELINK_SERVER, str(Path(folder) / "bench.sqlite3"), str(ROUNDS + 1))
        plain = Server(PLAIN_SERVER)
        links = list(oncelink.lines)
        start = {"oncelink": oncelink.rss(), "plain": plain.rss()}
        try:
            async with aiohttp.ClientSession() as http:
                # One warm-up round each: imports, first allocations, SQLite's first pages.
                for round_no in range(ROUNDS + 1):
                    body, link = sealed_upload(links[round_no], oncelink.url, plaintext, ttl=3600)
                    reveal = json.dumps(reveal_body(link)).encode()
                    steps = (
                        ("oncelink", oncelink, links[round_no], body, f"{oncelink.url}"
                         + link.split("#")[0].removeprefix(oncelink.url), reveal),
                        ("plain", plain, f"{plain.url}/up/{round_no}", data,
                         f"{plain.url}/down/{round_no}", b""),
                    )  # fmt: skip
                    for name, server, up_url, up_body, down_url, down_body in steps:
                        before = start[name]
                        (upload_s, _), upload_peak = await server.peak_during(
                            timed(http, up_url, up_body)
                        )
                        (reveal_s, answer), reveal_peak = await server.peak_during(
                            timed(http, down_url, down_body)
                        )
                        assert len(answer) >= SIZE
                        # Growth counts from the very first round: that is where a process
                        # grows and (glibc keeping freed memory) stays grown.
                        results[name]["upload_rss"].append(upload_peak - before)
                        results[name]["reveal_rss"].append(reveal_peak - before)
                        if round_no == 0:
                            continue
                        results[name]["upload_s"].append(upload_s)
                        results[name]["reveal_s"].append(reveal_s)
        finally:
            oncelink.stop()
            plain.stop()
    # Times: the median round. Memory: the highest peak over the process's RSS at start.
    return {
        name: {
            key: (max if key.endswith("_rss") else statistics.median)(values)
            for key, values in figures.items()
        }
        for name, figures in results.items()
    }


def report(figures: dict[str, dict[str, float]]) -> str:
    mib = 1024 * 1024
    rows = [
        f"| 10 MiB file ({ROUNDS} rounds) | oncelink | plain aiohttp | ratio |",
        "| --- | --- | --- | --- |",
    ]
    for key, label, scale, unit in (
        ("upload_s", "upload time, median", 1000, "ms"),
        ("reveal_s", "reveal / download time, median", 1000, "ms"),
        ("upload_rss", "server RSS growth at its peak, upload", 1 / mib, "MiB"),
        ("reveal_rss", "server RSS growth at its peak, reveal", 1 / mib, "MiB"),
    ):
        ours, theirs = figures["oncelink"][key], figures["plain"][key]
        ratio = ours / theirs if theirs > 0 else float("nan")
        rows.append(
            f"| {label} | {ours * scale:.1f} {unit} | {theirs * scale:.1f} {unit} | {ratio:.2f} |"
        )
    return "\n".join(rows)


def main() -> None:
    print(report(asyncio.run(measure())))


if __name__ == "__main__":
    main()
