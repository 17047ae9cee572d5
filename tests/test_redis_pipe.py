"""The reveal paths' shared Redis connection (storage/redis_pipe.py), against real redis-servers.

Many callers share one connection and their replies are matched by order alone, so these
tests are about the ways that order could slip: callers that give up, error replies, a
Redis that dies or hangs mid-batch, a Redis that forgot the scripts."""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import signal
import ssl
import subprocess
import time
from pathlib import Path

import hiredis
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from bot import crypto
from bot.service import SecretService
from storage import redis_pipe
from storage.base import StoreUnavailable
from storage.redis_pipe import Address, PipelinedRedis, Script
from storage.redis_store import RedisStore, record_key
from tests.support.links import proofs
from tests.support.ports import free_port
from tests.support.redis_servers import RedisServer

SCRIPT = Script("return {KEYS[1], ARGV[1]}")


def connect(url: str) -> PipelinedRedis:
    pipe = PipelinedRedis.for_url(url)
    assert pipe is not None
    return pipe


async def test_concurrent_callers_each_get_their_own_reply(fresh_redis):
    pipe = connect(fresh_redis.url)
    try:
        await asyncio.gather(*(pipe.execute("SET", f"k{n}", f"v{n}") for n in range(500)))
        got = await asyncio.gather(*(pipe.execute("GET", f"k{n}") for n in range(500)))
        assert got == [f"v{n}".encode() for n in range(500)]
    finally:
        await pipe.close()


async def test_the_commands_of_one_turn_leave_in_one_write(fresh_redis):
    pipe = connect(fresh_redis.url)
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
    pipe = connect(fresh_redis.url)
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
    pipe = connect(fresh_redis.url)
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
    pipe = connect(fresh_redis.url)
    try:
        assert await pipe.evalsha(SCRIPT, ["key"], ["arg"]) == [b"key", b"arg"]
        fresh_redis.command("SCRIPT", "FLUSH")
        assert await pipe.evalsha(SCRIPT, ["key"], ["two"]) == [b"key", b"two"]
        with pytest.raises(ResponseError, match="NOSCRIPT"):  # without the script: refused
            await pipe.execute("EVALSHA", Script("return 1").sha, 0)
        # The digest worked out here is the name Redis gives the script.
        assert await pipe.execute("SCRIPT", "LOAD", SCRIPT.body) == SCRIPT.sha.encode()
    finally:
        await pipe.close()


async def test_a_killed_redis_fails_the_waiting_callers_and_the_next_command_reconnects(tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    pipe = connect(redis.url)
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
    pipe = connect(redis.url)
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
    pipe = connect(f"redis://app:s3cret@127.0.0.1:{redis.port}/3")
    wrong = connect(f"redis://app:wrong@127.0.0.1:{redis.port}/0")
    try:
        await pipe.execute("SET", "where", "db3")
        found = subprocess.run(
            ["redis-cli", "-p", str(redis.port), "--user", "app", "--pass", "s3cret",
             "--no-auth-warning", "-n", "3", "GET", "where"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert found.strip() == "db3"
        with pytest.raises(RedisConnectionError, match="WRONGPASS"):  # an outage, not a bug
            await wrong.execute("PING")
    finally:
        await pipe.close()
        await wrong.close()
        redis.kill()


async def test_a_unix_socket_url_is_followed(tmp_path):
    socket_path = tmp_path / "redis.sock"
    redis = RedisServer(tmp_path, "--unixsocket", str(socket_path))
    redis.start()
    pipe = connect(f"unix://{socket_path}?db=2")
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


class ScriptedRedis:
    """A stand-in Redis that answers each command from `answer(command)`, and may greet a
    new connection first: for replies a real Redis gives only in states that are hard to
    reach on purpose (loading its files, too many clients)."""

    def __init__(self, answer, greeting: bytes = b"") -> None:
        self.answer, self.greeting = answer, greeting
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def __aexit__(self, *exc) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.greeting:
            writer.write(self.greeting)
            writer.close()
            return
        commands = hiredis.Reader()
        try:
            while data := await reader.read(65536):
                commands.feed(data)
                while (command := commands.gets()) is not False:
                    writer.write(self.answer([part.decode() for part in command]))
        except asyncio.CancelledError:  # the test is over
            pass
        writer.close()


def loading(command: list[str]) -> bytes:
    """Redis replaying its files after a restart: PING answers, commands on data do not."""
    if command[0] == "PING":
        return b"+PONG\r\n"
    return b"-LOADING Redis is loading the dataset in memory\r\n"


async def test_a_loading_redis_is_an_outage_for_the_reveal_paths_not_a_failed_step():
    async with ScriptedRedis(loading) as url:
        store = RedisStore.from_url(url)
        store._ready = True  # its start-up checks passed before Redis restarted
        try:
            assert store._pipe is not None
            with pytest.raises(StoreUnavailable):
                await store.status(crypto.new_secret_id(), time.time(), max_attempts=5)
            with pytest.raises(StoreUnavailable):
                await store.reveal(
                    crypto.new_secret_id(), b"l" * 32, b"v" * 32, time.time(), max_attempts=5
                )
        finally:
            await store.close()


async def test_a_redis_that_now_wants_a_password_is_an_outage(tmp_path):
    """Restarted with a password the app was not given: NOAUTH on the new connection."""
    redis = RedisServer(tmp_path)
    redis.start()
    store = RedisStore.from_url(redis.url)
    try:
        secret_id = crypto.new_secret_id()
        assert await store.status(secret_id, time.time(), max_attempts=5) is None
        redis.command("CONFIG", "SET", "requirepass", "new")
        redis.command("-a", "new", "--no-auth-warning", "CLIENT", "KILL", "TYPE", "normal")
        with pytest.raises(StoreUnavailable):
            await store.status(secret_id, time.time(), max_attempts=5)
    finally:
        await store.close()
        redis.kill()


async def test_what_redis_says_on_accepting_a_connection_never_reaches_a_caller(caplog):
    """Redis greets a connection it will not serve (too many clients) and closes it: the
    caller is told the connection failed, and nothing crashes or logs a traceback."""
    greeting = b"-ERR max number of clients reached\r\n"
    async with ScriptedRedis(loading, greeting=greeting) as url:
        pipe = connect(url)
        with pytest.raises(RedisConnectionError, match="max number of clients reached"):
            await pipe.execute("GET", "key")  # Redis's own reason, for whoever reads the log
        await pipe.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_reply_nobody_asked_for_ends_the_connection_instead_of_shifting_replies(caplog):
    def echo_then_stray(command: list[str]) -> bytes:
        if command[0] == "ECHO" and command[1] == "first":
            return b"$5\r\nfirst\r\n+STRAY\r\n"  # one command, two replies
        if command[0] == "ECHO":
            return b"$%d\r\n%s\r\n" % (len(command[1]), command[1].encode())
        return b"+PONG\r\n"

    async with ScriptedRedis(echo_then_stray) as url:
        pipe = connect(url)
        try:
            assert await pipe.execute("ECHO", "first") == b"first"
            await asyncio.sleep(0.05)  # the stray reply arrives with nobody waiting
            assert await pipe.execute("ECHO", "second") == b"second"  # not b"STRAY"
        finally:
            await pipe.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback


async def test_a_command_whose_caller_gave_up_before_it_left_is_not_sent(fresh_redis):
    pipe = connect(fresh_redis.url)
    try:
        await pipe.execute("PING")
        given_up = asyncio.ensure_future(pipe.execute("INCR", "counted"))
        await asyncio.sleep(0)  # queued for this turn's write, not yet written
        given_up.cancel()
        assert await pipe.execute("GET", "counted") is None
    finally:
        await pipe.close()


def test_urls_with_options_this_connection_does_not_apply_keep_redis_py():
    assert PipelinedRedis.for_url("redis://127.0.0.1:6379/0?protocol=3") is None
    assert PipelinedRedis.for_url("redis://127.0.0.1:6379/0?socket_timeout=5") is None
    # Values redis-py refuses are left to it (it says why), never read more loosely here.
    assert PipelinedRedis.for_url("rediss://h:6380/0?ssl_cert_reqs=NONE") is None
    assert PipelinedRedis.for_url("rediss://h:6380/0?ssl_keyfile=/k.pem") is None
    assert RedisStore.from_url("redis://127.0.0.1:6379/0?protocol=3")._pipe is None


CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oncelink test CA")])


def certificate(subject: x509.Name, key, signer, *extensions) -> x509.Certificate:
    """A day-long certificate for `key`'s public half, signed by `signer` as the test CA."""
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(CA_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer, hashes.SHA256())


def new_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    ca = x509.BasicConstraints(ca=True, path_length=None)
    return key, certificate(CA_NAME, key, key, (ca, True))


def self_signed_ca() -> bytes:
    return new_ca()[1].public_bytes(serialization.Encoding.PEM)


def test_tls_options_in_the_url_are_applied_as_redis_py_applies_them(tmp_path):
    plain = Address.from_url("rediss://cache.internal:6380/0")
    assert plain is not None
    context = plain.tls_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    unverified = Address.from_url("rediss://cache.internal:6380/0?ssl_cert_reqs=none")
    assert unverified is not None and unverified.tls_context().verify_mode == ssl.CERT_NONE
    no_name = Address.from_url("rediss://10.0.0.5:6380/0?ssl_check_hostname=false")
    assert no_name is not None and no_name.tls_context().check_hostname is False
    private_ca = Address.from_url("rediss://h:6380/0?ssl_ca_certs=/nonexistent/ca.pem")
    assert private_ca is not None
    with pytest.raises(FileNotFoundError):  # the CA file is read, not ignored
        private_ca.tls_context()
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(self_signed_ca())
    extra_ca = Address.from_url(f"rediss://h:6380/0?ssl_ca_certs={ca_file}")
    assert extra_ca is not None
    # The URL's CA is added to the system's, as redis-py adds it, not trusted alone.
    assert extra_ca.tls_context().cert_store_stats()["x509_ca"] == system + 1
    assert Address.from_url("redis://127.0.0.1/0").tls_context() is None


def test_the_password_never_shows_in_the_address():
    address = Address.from_url("redis://app:hunter2@127.0.0.1:6379/0")
    assert address is not None and address.password == "hunter2"
    assert "hunter2" not in repr(address)


async def test_a_forked_child_does_not_use_its_parents_connection(fresh_redis):
    pipe = connect(fresh_redis.url)
    try:
        await pipe.execute("PING")
        child = os.fork()
        if child == 0:  # the child: the parent's socket must not be used from here
            os._exit(0 if pipe._replies is None else 1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert await pipe.execute("ECHO", "parent") == b"parent"  # the parent's is intact
    finally:
        await pipe.close()


async def test_an_acl_user_without_a_password_is_the_user_the_connection_runs_as(tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    redis.command("ACL", "SETUSER", "app", "on", "nopass", "~*", "+@all")
    pipe = connect(f"redis://app@127.0.0.1:{redis.port}/0")
    try:
        assert await pipe.execute("ACL", "WHOAMI") == b"app"  # not Redis's default user
    finally:
        await pipe.close()
        redis.kill()


async def test_closing_while_a_connection_is_being_opened_keeps_none_open(fresh_redis):
    pipe = connect(fresh_redis.url)
    call = asyncio.ensure_future(pipe.execute("PING"))
    await asyncio.sleep(0)  # the connect has started
    await pipe.close()
    with pytest.raises(RedisConnectionError):
        await call
    assert pipe._replies is None


async def test_every_waiting_caller_is_failed_with_its_own_exception(tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    pipe = connect(redis.url)
    try:
        await pipe.execute("PING")
        waiting = [asyncio.ensure_future(pipe.execute("BLPOP", "nothing", 5)) for _ in range(3)]
        await asyncio.sleep(0.1)
        redis.kill()
        failures = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(f, RedisConnectionError) for f in failures)
        assert len({id(f) for f in failures}) == 3  # no traceback shared between callers
    finally:
        await pipe.close()
        redis.kill()


def issue_server_certificate(folder: Path) -> Path:
    """A CA and a certificate for localhost signed by it, as PEM files in `folder`; the CA's
    file is returned (the server's are server.pem and server.key)."""
    ca_key, ca = new_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    localhost = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    names = x509.SubjectAlternativeName([x509.DNSName("localhost")])
    server = certificate(localhost, key, ca_key, (names, False))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder / "ca.pem"


async def test_a_tls_redis_is_reached_with_the_urls_ca_and_refused_without_it(tmp_path):
    """rediss:// through the shared connection, against a redis-server speaking only TLS: the
    reveal paths work with the CA the URL names; without it the certificate is refused and
    the store says unavailable (it never falls back to an unchecked connection)."""
    ca = issue_server_certificate(tmp_path)
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(tmp_path / "server.pem"),
         "--tls-key-file", str(tmp_path / "server.key"),
         "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    checked = connect(f"rediss://localhost:{port}/0?ssl_ca_certs={ca}")
    unknown_ca = RedisStore.from_url(f"rediss://localhost:{port}/0")
    unknown_ca._ready = True  # straight to the reveal paths' own connection
    try:
        for _ in range(100):  # until it listens
            try:
                assert await checked.execute("PING") == b"PONG"
                break
            except (OSError, RedisConnectionError):
                await asyncio.sleep(0.05)
        assert await checked.execute("SET", "over", "tls") == b"OK"
        assert await checked.execute("GET", "over") == b"tls"
        assert unknown_ca._pipe is not None
        with pytest.raises(StoreUnavailable) as refused:
            await unknown_ca.status(crypto.new_secret_id(), time.time(), max_attempts=5)
        assert isinstance(refused.value.__cause__, ssl.SSLCertVerificationError)
    finally:
        await checked.close()
        await unknown_ca.close()
        server.kill()
        server.wait()
