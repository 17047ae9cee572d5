"""`oncelink serve --workers N`: N processes on one port, nothing shared in memory."""

from __future__ import annotations

import asyncio
import re

import aiohttp

from bot.service import SecretService
from storage.redis_store import RedisStore
from tests.support.links import parse_link, reveal_body
from tests.support.process import ServerProcess


async def test_two_workers_share_the_port_and_stop_together_on_sigterm(fresh_redis, tmp_path):
    env = {"REDIS_URL": fresh_redis.url, "RATE_LIMIT_REVEAL": "off"}
    server = ServerProcess(env, tmp_path / "workers.log", "--workers", "2")
    store = RedisStore.from_url(fresh_redis.url)
    for _ in range(200):  # the port answers once the first worker is up; wait for both
        if server.logs().count("worker ready") == 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # "ready" is logged just before each worker binds the port
    try:
        service = SecretService(store, public_url=server.url, max_ttl=86400)
        links = [(await service.create(f"w{n}", ttl=60)).link for n in range(40)]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:

            async def reveal(link: str) -> int:
                path = parse_link(link).path
                async with http.post(server.url + path, json=reveal_body(link)) as response:
                    return response.status

            assert await asyncio.gather(*(reveal(link) for link in links)) == [200] * 40
    finally:
        await store.close()
        code = server.stop()
    logs = server.logs()
    assert "workers: 2" in logs
    assert code == 0  # SIGTERM reached both workers and both exited cleanly
    # Each worker logs its access lines with its own pid: both really served reveals.
    pids = set(re.findall(r"\[(\d+)\] oncelink\.access: POST /s/", logs))
    assert len(pids) == 2, logs
