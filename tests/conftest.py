"""The fixtures every test stands on: redis-server, SQLite files, Chromium, a served app, the
fake Slack. What they are built from lives in tests/support/; this file only declares them.

Nothing here skips. A missing redis-server or Chromium fails the run, so CI can never pass
by quietly testing less.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from storage.redis_store import RedisStore
from storage.sqlite_store import SqliteStore
from tests.slack_fake import FakeSlack
from tests.slack_harness import SlackHarness
from tests.support.app import ServedApp, make_settings, serve, slack_settings
from tests.support.browser import chromium
from tests.support.redis_servers import RedisClusterNodes, RedisSentinelSetup, RedisServer
from tests.support.stores import open_test_store


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


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


@pytest.fixture(params=["redis", "sqlite"])
async def store(request, tmp_path) -> AsyncIterator[RedisStore | SqliteStore]:
    """Every store test runs unchanged against both implementations."""
    store = await open_test_store(request.param, request, tmp_path)
    yield store
    await store.close()


@pytest.fixture
async def served(store) -> AsyncIterator[ServedApp]:
    """The app over both stores."""
    app = await serve(make_settings(), store=store)
    yield app
    await app.runner.cleanup()


@pytest.fixture(scope="session")
async def browser():
    async with chromium() as browser:
        yield browser


@pytest.fixture
async def page(browser):
    context = await browser.new_context()
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def slack(store, fake_slack) -> AsyncIterator[SlackHarness]:
    """The whole app with Slack connected to the fake, over both stores."""
    served = await serve(slack_settings(fake_slack), store=store)
    yield SlackHarness(served, fake_slack)
    await served.runner.cleanup()
