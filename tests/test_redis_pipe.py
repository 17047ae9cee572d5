"""The reveal paths' shared Redis connection (storage/redis_pipe.py), against real redis-servers.

Many callers share one connection and their replies are matched by order alone, so these
tests are about the ways that order could slip: callers that give up, error replies, a
Redis that dies or hangs mid-batch, a Redis that forgot the scripts."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import subprocess

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from bot.service import SecretService
from storage import redis_pipe
from storage.redis_pipe import PipelinedRedis
from storage.redis_store import RedisStore, record_key
from tests.support.links import proofs
from tests.support.redis_servers import RedisServer

SCRIPT = b"return {KEYS[1], ARGV[1]}"


def sha1(script: bytes) -> str:
    return hashlib.sha1(script).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1


async def test_concurrent_callers_each_get_their_own_reply(fresh_redis):
    pipe = PipelinedRedis.from_url(fresh_redis.url)
    try:
        await asyncio.gather(*(pipe.execute("SET", f"k{n}", f"v{n}") for n in range(500)))
        got = await asyncio.gather(*(pipe.execute("GET", f"k{n}") for n in range(500)))
        assert got == [f"v{n}".encode() for n in range(500)]
    finally:
        await pipe.close()


async def test_the_commands_of_one_turn_leave_in_one_write(fresh_redis):
    pipe = PipelinedRedis.from_url(fresh_redis.url)
    try:
        await pipe.execute("PING")  # connected
        replies = pipe._replies
        assert replies is not None and replies.transport is not None
        writes: list[bytes] = []
        transport = replies.transport
        original = transport.write

        def counting(data: bytes) -> None:
            writes.append(data)
            original(data)

        transport.write = counting  # type: ignore[method-assign]
        got = await asyncio.gather(*(pipe.execute("ECHO", str(n)) for n in range(50)))
        assert got == [str(n).encode() for n in range(50)]
        assert len(writes) == 1 and writes[0].count(b"ECHO") == 50
    finally:
        await pipe.close()


async def test_callers_that_give_up_do_not_shift_the_replies_of_the_others(fresh_redis):
    pipe = PipelinedRedis.from_url(fresh_redis.url)
    try:
        await asyncio.gather(*(pipe.execute("SET", f"k{n}", f"v{n}") for n in range(300)))
        calls = [asyncio.ensure_future(pipe.execute("GET", f"k{n}")) for n in range(300)]
        await asyncio.sleep(0)  # every command is written, none answered yet
        for call in calls[::3]:
            call.cancel()
        for n, call in enumerate(calls):
            if n % 3:
                assert await call == f"v{n}".encode()
            else:
                with pytest.raises(asyncio.CancelledError):
                    await call
        assert await pipe.execute("GET", "k299") == b"v299"  # and the next caller too
    finally:
        await pipe.close()


async def test_an_error_reply_reaches_only_its_own_caller(fresh_redis):
    pipe = PipelinedRedis.from_url(fresh_redis.url)
    try:
        await pipe.execute("SET", "text", "not a number")
        got = await asyncio.gather(
            pipe.execute("ECHO", "before"),
            pipe.execute("INCR", "text"),
            pipe.execute("ECHO", "after"),
            return_exceptions=True,
        )
        assert got[0] == b"before" and got[2] == b"after"
        assert isinstance(got[1], ResponseError) and "not an integer" in str(got[1])
    finally:
        await pipe.close()


async def test_a_script_redis_forgot_is_loaded_again(fresh_redis):
    pipe = PipelinedRedis.from_url(fresh_redis.url)
    try:
        assert await pipe.evalsha(sha1(SCRIPT), SCRIPT, ["key"], ["arg"]) == [b"key", b"arg"]
        fresh_redis.command("SCRIPT", "FLUSH")
        assert await pipe.evalsha(sha1(SCRIPT), SCRIPT, ["key"], ["two"]) == [b"key", b"two"]
        with pytest.raises(ResponseError, match="NOSCRIPT"):  # without the script: refused
            await pipe.execute("EVALSHA", sha1(b"return 1"), 0)
    finally:
        await pipe.close()


async def test_a_killed_redis_fails_the_waiting_callers_and_the_next_command_reconnects(tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    pipe = PipelinedRedis.from_url(redis.url)
    try:
        await pipe.execute("SET", "kept", "yes")
        slow = asyncio.ensure_future(pipe.execute("BLPOP", "nothing", 5))  # waits in Redis
        await asyncio.sleep(0.1)
        redis.kill()
        with pytest.raises(RedisConnectionError):
            await slow
        with pytest.raises((RedisConnectionError, OSError)):
            await pipe.execute("PING")  # nothing listens
        redis.start()
        assert await pipe.execute("PING") == b"PONG"
    finally:
        await pipe.close()
        redis.kill()


async def test_a_hung_redis_connection_is_dropped_once_its_oldest_command_stalls(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(redis_pipe, "STALLED_AFTER", 0.3)
    redis = RedisServer(tmp_path)
    redis.start()
    pipe = PipelinedRedis.from_url(redis.url)
    try:
        assert await pipe.execute("PING") == b"PONG"
        first = pipe._replies
        assert redis.process is not None
        redis.process.send_signal(signal.SIGSTOP)
        stuck = asyncio.ensure_future(pipe.execute("PING"))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(stuck), 0.5)
        redis.process.send_signal(signal.SIGCONT)
        # The next command finds the oldest one waiting past the bound: the connection is
        # dropped (the stuck caller told so) and a new one carries the command.
        assert await pipe.execute("ECHO", "new") == b"new"
        with pytest.raises(RedisConnectionError):
            await stuck
        assert pipe._replies is not first
    finally:
        if redis.process is not None:
            redis.process.send_signal(signal.SIGCONT)
        await pipe.close()
        redis.kill()


async def test_user_password_and_database_from_the_url_are_used(tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    redis.command("ACL", "SETUSER", "app", "on", ">s3cret", "~*", "+@all")
    redis.command("ACL", "SETUSER", "default", "off")  # nobody gets in without a password
    pipe = PipelinedRedis.from_url(f"redis://app:s3cret@127.0.0.1:{redis.port}/3")
    wrong = PipelinedRedis.from_url(f"redis://app:wrong@127.0.0.1:{redis.port}/0")
    try:
        await pipe.execute("SET", "where", "db3")
        found = subprocess.run(
            ["redis-cli", "-p", str(redis.port), "--user", "app", "--pass", "s3cret",
             "--no-auth-warning", "-n", "3", "GET", "where"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert found.strip() == "db3"
        with pytest.raises(ResponseError):
            await wrong.execute("PING")
    finally:
        await pipe.close()
        await wrong.close()
        redis.kill()


async def test_a_unix_socket_url_is_followed(tmp_path):
    socket_path = tmp_path / "redis.sock"
    redis = RedisServer(tmp_path, "--unixsocket", str(socket_path))
    redis.start()
    pipe = PipelinedRedis.from_url(f"unix://{socket_path}?db=2")
    try:
        await pipe.execute("SET", "via", "socket")
        assert redis.command("-n", "2", "GET", "via").strip() == "socket"
    finally:
        await pipe.close()
        redis.kill()


async def test_the_store_reveals_and_reads_status_through_the_pipe(fresh_redis):
    """A standalone Redis URL gives the store its pipe, and the reveal paths use it: with the
    pool's connections made unusable, they still work."""
    store = RedisStore.from_url(fresh_redis.url)
    service = SecretService(store, public_url="http://x", max_ttl=600)
    try:
        created = await service.create("through the pipe", ttl=600)
        assert store._pipe is not None

        async def refused(*args, **kwargs):
            raise AssertionError("the reveal paths went through redis-py's pool")

        store._redis.execute_command = refused  # type: ignore[method-assign]
        status = await service.status(created.secret_id)
        assert status.has_passphrase is False
        fresh_redis.command("SCRIPT", "FLUSH")  # the pipe loads the reveal script again
        link_proof, auth = proofs(created.link)
        revealed = await service.reveal(created.secret_id, link_proof, auth)
        assert revealed.ciphertext
        assert fresh_redis.command("EXISTS", record_key(created.secret_id)).strip() == "0"
    finally:
        await store.close()
