"""The real parts every test stands on: redis-server, SQLite files, Chromium, a served app.

Nothing here skips. A missing redis-server or Chromium fails the run, so CI can never pass
by quietly testing less.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import create_app
from bot.config import Settings
from bot.web import RedactingAccessLogger
from storage.redis_store import RedisStore
from storage.sqlite_store import SqliteStore

CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server that a test may kill -9 and start again on the same port."""

    def __init__(self, workdir: Path, *extra: str, port: int | None = None) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        self.port = port or free_port()
        self.workdir = workdir
        self.extra = extra
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            *self.extra,
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process:
            self.process.kill()
            self.process.wait()
            self.process = None

    def command(self, *args: str) -> str:
        return subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, check=True
        ).stdout


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too, outside the ephemeral range
    that free_port() draws from, so neither can collide with another test's server."""
    import random

    while True:
        port = random.randint(20000, 29999)
        if _port_is_free(port) and _port_is_free(port + 10000):
            return port


class RedisClusterNodes:
    """Three masters with cluster mode on, joined with `redis-cli --cluster create`."""

    def __init__(self, workdir: Path) -> None:
        self.nodes = []
        for n in range(3):
            folder = workdir / f"node{n}"
            folder.mkdir()
            cluster_args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
            self.nodes.append(RedisServer(folder, *cluster_args, port=cluster_port()))

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        subprocess.run(
            ["redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{node.port}" for node in self.nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while "cluster_state:ok" not in self.nodes[0].command("CLUSTER", "INFO"):
            if time.monotonic() > deadline:
                raise RuntimeError("cluster did not become ready")
            time.sleep(0.1)

    def flush(self) -> None:
        for node in self.nodes:
            node.command("FLUSHALL")

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()


class RedisSentinelSetup:
    """A primary, one replica and one sentinel watching them as `oncelink`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        (workdir / "primary").mkdir()
        (workdir / "replica").mkdir()
        self.primary = RedisServer(workdir / "primary")
        self.replica = RedisServer(
            workdir / "replica", "--replicaof", "127.0.0.1", str(self.primary.port)
        )
        self.sentinel_port = free_port()
        self.sentinel: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/oncelink"

    def start(self) -> None:
        self.primary.start()
        self.replica.start()
        config = self.workdir / "sentinel.conf"
        config.write_text(
            f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor oncelink 127.0.0.1 {self.primary.port} 1\n"
            "sentinel down-after-milliseconds oncelink 1000\n"
            "sentinel failover-timeout oncelink 5000\n"
        )
        self.sentinel = subprocess.Popen(
            ["redis-server", str(config), "--sentinel"], stdout=subprocess.DEVNULL
        )
        # A sentinel learns of replicas from the primary's INFO, which it asks every 10 s.
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:  # ready once the sentinel knows the replica
            try:
                out = subprocess.run(
                    ["redis-cli", "-p", str(self.sentinel_port), "SENTINEL", "replicas",
                     "oncelink"], capture_output=True, text=True, timeout=2,
                ).stdout  # fmt: skip
                replication = self.primary.command("INFO", "replication")
                if str(self.replica.port) in out and "state=online" in replication:
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.2)
        raise RuntimeError("sentinel did not see the replica")

    def primary_port(self) -> int:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.sentinel_port), "SENTINEL",
             "get-master-addr-by-name", "oncelink"], capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        return int(out[1]) if len(out) > 1 else 0

    def kill(self) -> None:
        if self.sentinel:
            self.sentinel.kill()
            self.sentinel.wait()
        self.primary.kill()
        self.replica.kill()


@pytest.fixture(scope="session")
def sentinel_session(tmp_path_factory) -> Iterator[RedisSentinelSetup]:
    setup = RedisSentinelSetup(tmp_path_factory.mktemp("sentinel"))
    setup.start()
    yield setup
    setup.kill()


@pytest.fixture
def redis_sentinel(sentinel_session: RedisSentinelSetup) -> RedisSentinelSetup:
    sentinel_session.primary.command("FLUSHALL")
    return sentinel_session


@pytest.fixture
def sentinel_for_failover(tmp_path) -> Iterator[RedisSentinelSetup]:
    """A private setup: the failover test kills its primary."""
    setup = RedisSentinelSetup(tmp_path)
    setup.start()
    yield setup
    setup.kill()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory) -> Iterator[RedisClusterNodes]:
    cluster = RedisClusterNodes(tmp_path_factory.mktemp("cluster"))
    cluster.start()
    yield cluster
    cluster.kill()


@pytest.fixture
def fresh_cluster(redis_cluster: RedisClusterNodes) -> RedisClusterNodes:
    redis_cluster.flush()
    return redis_cluster


@pytest.fixture
def fresh_redis(redis_server: RedisServer) -> RedisServer:
    redis_server.command("FLUSHALL")
    return redis_server


async def open_test_store(kind: str, request, tmp_path) -> RedisStore | SqliteStore:
    if kind == "redis":
        return RedisStore.from_url(request.getfixturevalue("fresh_redis").url)
    if kind == "cluster":
        return RedisStore.from_url(request.getfixturevalue("fresh_cluster").url)
    if kind == "sentinel":
        return RedisStore.from_url(request.getfixturevalue("redis_sentinel").url)
    return SqliteStore(str(tmp_path / "store.sqlite3"))


@pytest.fixture(params=["redis", "sqlite"])
async def store(request, tmp_path) -> AsyncIterator[RedisStore | SqliteStore]:
    """Every store test runs unchanged against both implementations."""
    if request.param == "redis":
        server = request.getfixturevalue("fresh_redis")
        store = RedisStore.from_url(server.url)
    else:
        store = SqliteStore(str(tmp_path / "store.sqlite3"))
    yield store
    await store.close()


def make_settings(**overrides) -> Settings:
    return Settings(**{"public_url": "http://127.0.0.1:1", **overrides})


class ServedApp:
    """The real aiohttp app on a real loopback port."""

    def __init__(self, runner: web.AppRunner, url: str, app: web.Application) -> None:
        self.runner = runner
        self.url = url
        self.app = app

    @property
    def service(self):
        from bot.web import SERVICE_KEY

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


@pytest.fixture
async def served(store) -> AsyncIterator[ServedApp]:
    """The app over both stores."""
    app = await serve(make_settings(), store=store)
    yield app
    await app.runner.cleanup()


@pytest.fixture(scope="session")
async def browser():
    """Debian's Chromium driven by Playwright; never a downloaded browser."""
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser):
    context = await browser.new_context()
    page = await context.new_page()
    yield page
    await context.close()


class ServerProcess:
    """`oncelink serve` as a real child process, its logs captured to a file."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str) -> None:
        import os
        import sys

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PUBLIC_URL": self.url,
            **env,
        }
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", *args],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def logs(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text("utf-8", errors="replace")

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for the process to exit by itself (after a signal sent by the test)."""
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code

    def stop(self, sig: int = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._log.closed:
            self._log.close()
        return self.process.returncode


@pytest.fixture
async def fake_slack():
    from tests.slack_fake import FakeSlack

    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


def slack_settings(fake, **overrides) -> Settings:
    from tests.slack_fake import BOT_TOKEN, SIGNING_SECRET

    return make_settings(
        slack_signing_secret=SIGNING_SECRET,
        slack_bot_token=BOT_TOKEN,
        slack_api_url=fake.api_url,
        **overrides,
    )


@pytest.fixture
async def slack(store, fake_slack):
    """The whole app with Slack connected to the fake, over both stores."""
    from tests.slack_harness import SlackHarness

    served = await serve(slack_settings(fake_slack), store=store)
    yield SlackHarness(served, fake_slack)
    await served.runner.cleanup()
