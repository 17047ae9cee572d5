"""The `oncelink` command: share from stdin, clear one-line errors, serve at DEBUG leaks nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.support.links import decrypt_answer, parse_link, post_reveal, reveal_body
from tests.support.process import ServerProcess, run_in_child


def oncelink(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


@pytest.fixture
def sqlite_env(tmp_path) -> dict[str, str]:
    return {"SQLITE_PATH": str(tmp_path / "cli.sqlite3"), "REDIS_URL": ""}


async def test_share_prints_a_link_that_reveals_the_text_minus_one_newline(tmp_path, sqlite_env):
    server = ServerProcess(sqlite_env, tmp_path / "serve.log")
    try:
        shared = oncelink("share", stdin="hunter2\n\n", PUBLIC_URL=server.url, **sqlite_env)
        assert shared.returncode == 0, shared.stderr
        link = shared.stdout.strip()
        assert link.startswith(server.url + "/s/") and "#" in link
        status, answer = await post_reveal(server.url, link)
        assert status == 200 and decrypt_answer(link, answer) == "hunter2\n"
        assert (await post_reveal(server.url, link))[0] == 410
    finally:
        server.stop()


async def test_share_on_redis_with_ttl(fresh_redis, tmp_path):
    env = {"REDIS_URL": fresh_redis.url}
    server = ServerProcess(env, tmp_path / "serve.log")
    try:
        shared = oncelink("share", "--ttl", "5m", stdin="on redis", PUBLIC_URL=server.url, **env)
        assert shared.returncode == 0, shared.stderr
        ttl = int(fresh_redis.command("TTL", fresh_redis.command("KEYS", "oncelink:{*}:s").strip()))
        assert 290 <= ttl <= 300
        status, answer = await post_reveal(server.url, shared.stdout.strip())
        assert decrypt_answer(shared.stdout.strip(), answer) == "on redis"
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("args", "stdin", "env", "says"),
    [
        (("share",), "", {}, "The secret is empty. Nothing was stored."),
        (("share", "--ttl", "soon"), "x", {}, "--ttl 'soon' is not a duration"),
        (("share", "--ttl", "30d"), "x", {}, "longer than MAX_TTL"),
        (("share",), "x", {"MAX_TTL": "forever"}, "MAX_TTL='forever' is not a duration"),
        (("serve",), "", {"PORT": "99999"}, "PORT='99999' must be a whole number"),
        (("serve",), "", {"PUBLIC_URL": "ftp://x"}, "PUBLIC_URL='ftp://x' must be an http(s)"),
        (("serve",), "", {"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD' must be one of"),
        (("serve",), "", {"REDIS_URL": "http://x"}, "REDIS_URL must start with redis://"),
        (("serve",), "", {"RECEIPTS": "maybe"}, "RECEIPTS='maybe' must be on or off"),
        (("serve",), "", {"METRICS": "yes"}, "METRICS='yes' must be one of off, on, public"),
        (
            ("serve",),
            "",
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s"},
            "TOKEN_ENCRYPTION_KEY is needed with SLACK_CLIENT_ID",
        ),
        (("serve",), "", {"TOKEN_ENCRYPTION_KEY": "c2hvcnQ="}, "must be 32 random bytes"),
        (("serve",), "", {"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml' must be one of text, json"),
        (("serve",), "", {"RATE_LIMIT_REVEAL": "lots"}, "RATE_LIMIT_REVEAL='lots' must be"),
        (("serve",), "", {"SQLITE_PATH": "/nonexistent/dir/x.db"}, "SQLITE_PATH="),
    ],
)
def test_bad_input_stops_with_one_clear_line(sqlite_env, args, stdin, env, says):
    result = oncelink(*args, stdin=stdin, **{**sqlite_env, **env})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_share_reports_a_store_outage_and_stores_nothing(tmp_path):
    from tests.support.ports import free_port

    result = oncelink("share", stdin="x", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert result.returncode == 1
    assert "nothing was stored" in result.stderr and "Traceback" not in result.stderr


SECRET = "LOG-CANARY-secret-7c1e"
PASSPHRASE = "LOG-CANARY-passphrase"


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_debug_logs_hold_no_secret_key_passphrase_or_link(backend, tmp_path, request):
    env = {"LOG_LEVEL": "DEBUG", "SQLITE_PATH": str(tmp_path / "log.sqlite3"), "REDIS_URL": ""}
    if backend == "redis":
        env["REDIS_URL"] = request.getfixturevalue("fresh_redis").url
    server = ServerProcess(env, tmp_path / "serve.log")
    links = []
    try:
        shared = oncelink("share", stdin=SECRET, PUBLIC_URL=server.url, **env)
        links.append((shared.stdout.strip(), None))
        from bot.service import SecretService
        from storage import make_store

        store = make_store(env["REDIS_URL"] or None, env["SQLITE_PATH"])
        service = SecretService(store, public_url=server.url, max_ttl=86400)
        links.append(
            ((await service.create(SECRET, ttl=60, passphrase=PASSPHRASE)).link, PASSPHRASE)
        )
        await store.close()
        async with aiohttp.ClientSession() as http:
            for link, passphrase in links:
                path = parse_link(link).path
                async with http.get(server.url + path) as response:
                    assert response.status == 200
                if passphrase:
                    status, _ = await post_reveal(server.url, link, "wrong-" + passphrase)
                    assert status == 403
                mangled = link[:-6] + ("AAAAAA" if not link.endswith("AAAAAA") else "BBBBBB")
                assert (await post_reveal(server.url, mangled))[0] == 403
                status, _ = await post_reveal(server.url, link, passphrase)
                assert status == 200
                assert (await post_reveal(server.url, link, passphrase))[0] == 410
    finally:
        server.stop()
    logs = server.logs()
    assert "DEBUG" in logs or "INFO" in logs  # the capture really captured
    assert "revealed and deleted" in logs
    for link, _ in links:
        parts = parse_link(link)
        for needle in (SECRET, PASSPHRASE, link, link.split("#")[1], parts.secret_id):
            assert needle not in logs
        assert parts.secret_id[:6] + "…" in logs
        for value in reveal_body(link).values():
            assert value not in logs


def test_a_worker_freezes_its_start_up_objects_and_collects_the_young_less_often():
    """What `serve` does once the app is built, checked in a child so this test process
    keeps its own collector settings."""
    script = (
        "import gc\n"
        "from bot.cli import settle_long_lived_objects, YOUNG_OBJECTS_PER_COLLECTION\n"
        "settle_long_lived_objects()\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "assert gc.get_threshold()[0] == YOUNG_OBJECTS_PER_COLLECTION > 700\n"
        "print('settled')\n"
    )
    assert run_in_child(script) == "settled\n"


def decrypt_file_answer(link: str, answer: dict):
    from bot import crypto
    from tests.support.links import parse_link

    parts = parse_link(link)
    keys = crypto.derive_keys(parts.link_key, b"", parts.secret_id)
    text = answer["ciphertext"]
    plaintext = crypto.unseal(
        crypto.b64decode(answer["nonce"], 12),
        crypto.b64decode(text, len(text) * 3 // 4),
        keys.enc_key,
        parts.secret_id,
    )
    return crypto.read_file_plaintext(plaintext)


async def test_share_file_makes_a_file_secret_with_its_name_and_bytes(tmp_path, sqlite_env):
    source = tmp_path / "id_ed25519"
    source.write_bytes(os.urandom(300_000))
    server = ServerProcess(sqlite_env, tmp_path / "serve.log")
    try:
        shared = oncelink("share", "--file", str(source), PUBLIC_URL=server.url, **sqlite_env)
        assert shared.returncode == 0, shared.stderr
        link = shared.stdout.strip()
        status, answer = await post_reveal(server.url, link)
        assert status == 200
        file = decrypt_file_answer(link, answer)
        assert file is not None and file.name == "id_ed25519"
        assert file.data == source.read_bytes()
    finally:
        server.stop()


def test_share_file_over_max_file_size_is_refused_in_one_line(tmp_path, sqlite_env):
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * 2048)
    result = oncelink("share", "--file", str(source), MAX_FILE_SIZE="1KiB", **sqlite_env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "larger than MAX_FILE_SIZE" in lines[0], result.stderr


def test_share_from_another_directory_refuses_instead_of_printing_a_dead_link(tmp_path):
    """The server runs in one directory with the default ./oncelink.sqlite3; share, run in
    another, would have made a new file there that no server reads."""
    server_dir, elsewhere = tmp_path / "server", tmp_path / "elsewhere"
    server_dir.mkdir()
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("SQLITE_PATH", "REDIS_URL")}
    server = ServerProcess(
        {"SQLITE_PATH": "", "REDIS_URL": ""}, tmp_path / "serve.log", cwd=server_dir
    )

    def share_from(cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "share"],
            input="hunter2",
            capture_output=True,
            text=True,
            env={**env, "PUBLIC_URL": server.url},
            cwd=cwd,
            timeout=60,
        )

    try:
        result = share_from(elsewhere)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "no oncelink store at" in lines[0], result.stderr
        assert str(elsewhere / "oncelink.sqlite3") in lines[0]
        assert result.stdout == "" and list(elsewhere.iterdir()) == []
        # From the server's own directory the same command works.
        here = share_from(server_dir)
        assert here.returncode == 0, here.stderr
    finally:
        server.stop()


def test_the_default_install_serves_on_uvloop_and_parses_redis_replies_with_hiredis():
    """uvloop and hiredis are dependencies, not an extra: what `pip install .` gives is what
    docs/benchmarks.md measured (uvloop has no Windows build; this machine is Linux)."""
    import importlib.metadata

    import hiredis
    import uvloop
    from redis.utils import HIREDIS_AVAILABLE

    from bot.cli import event_loop

    loop = event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    assert HIREDIS_AVAILABLE and hiredis.Reader
    required = importlib.metadata.requires("oncelink") or []
    plain = [r for r in required if "extra ==" not in r]
    assert any(r.startswith("hiredis") for r in plain)
    assert any(r.startswith("uvloop") and 'sys_platform != "win32"' in r for r in plain)
