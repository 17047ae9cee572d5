"""Operations: /readyz, Prometheus /metrics (off by default, never public unless asked),
JSON logs."""

from __future__ import annotations

import json
import logging

import aiohttp

from bot.web import redact_path
from tests.support.app import make_settings, serve
from tests.support.links import parse_link, reveal_body
from tests.support.ports import free_port
from tests.support.process import ServerProcess


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            return response.status, await response.text()


async def exercise(served) -> list[str]:
    """Create, reveal, mistype and guess: returns the ids involved."""
    service = served.service
    plain = await service.create("metrics", ttl=60, creator="T:U")
    guarded = await service.create("metrics", ttl=60, passphrase="right phrase")
    burned = await service.create("metrics", ttl=60, creator="T:U")
    await service.burn(burned.secret_id, "T:U")
    async with aiohttp.ClientSession() as http:
        for link, passphrase in ((plain.link, None), (guarded.link, "wrong phrase")):
            async with http.post(
                served.url + parse_link(link).path, json=reveal_body(link, passphrase)
            ) as response:
                await response.read()
        mangled = reveal_body(guarded.link)
        mangled["link_proof"] = reveal_body(plain.link)["link_proof"]
        async with http.post(served.url + parse_link(guarded.link).path, json=mangled) as r:
            assert r.status == 403
    return [plain.secret_id, guarded.secret_id, burned.secret_id]


async def test_metrics_are_off_by_default_and_readyz_answers(served):
    assert (await get(served.url + "/metrics"))[0] == 404
    assert (await get(served.url + "/readyz")) == (200, "ok\n")


async def test_public_metrics_count_what_happened_without_ids(store):
    served = await serve(make_settings(metrics="public"), store=store)
    try:
        ids = await exercise(served)
        status, text = await get(served.url + "/metrics")
        assert status == 200
        for line in (
            "oncelink_secrets_created_total 3",
            "oncelink_secrets_revealed_total 1",
            "oncelink_secrets_burned_total 1",
            "oncelink_passphrase_failures_total 1",
            "oncelink_broken_links_total 1",
        ):
            assert line in text, line
        assert 'route="/s/{secret_id}"' in text
        assert 'oncelink_request_duration_seconds_count{route="/s/{secret_id}"} 3' in text
        for secret_id in ids:
            assert secret_id not in text and secret_id[:6] not in text
    finally:
        await served.runner.cleanup()


async def test_metrics_on_use_their_own_port_not_the_public_one(store):
    port = free_port()
    served = await serve(make_settings(metrics="on", metrics_port=port), store=store)
    try:
        await exercise(served)
        assert (await get(served.url + "/metrics"))[0] == 404
        status, text = await get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "oncelink_secrets_created_total 3" in text
    finally:
        await served.runner.cleanup()


async def test_json_logs_are_one_object_per_line(tmp_path):
    env = {"LOG_FORMAT": "json", "SQLITE_PATH": str(tmp_path / "j.sqlite3"), "REDIS_URL": ""}
    server = ServerProcess(env, tmp_path / "json.log")
    try:
        assert (await get(server.url + "/healthz"))[0] == 200
        assert (await get(server.url + "/s/AAECAwQFBgcICQoLDA0ODw"))[0] == 200  # no secret
    finally:
        server.stop()
    entries = [json.loads(line) for line in server.logs().splitlines() if line.strip()]
    assert entries and all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert any(e["message"].startswith("GET /s/AAECAw…") for e in entries)


async def test_a_path_cannot_write_a_forged_log_line(served, caplog):
    """aiohttp decodes `%0A` in `request.path` into a newline; the access log writes the path
    as it came in, so a request cannot start a line of its own in a text log."""
    forged = "/x%0A2099-01-01%2000:00:00%20ERROR%20forged.line:%20token%0D%0Aleaked"
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        async with aiohttp.ClientSession() as http:
            async with http.get(served.url + forged) as response:
                assert response.status == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert lines and all("\n" not in line and "\r" not in line for line in lines)
    assert any("%0A2099" in line for line in lines)


def test_logged_paths_keep_no_query_no_whole_id_and_no_control_character():
    assert redact_path("/s/AbCdEf1234567890abcdef?k=secret") == "/s/AbCdEf…"
    assert redact_path("/a\x1b[31mred\x7f") == "/a%1B[31mred%7F"
    # aiohttp routes on the decoded path: an encoded id still names the secret, so it is cut
    assert redact_path("/s/%61PQa82qAa3bd3JjV1MVzww") == "/s/aPQa82…"
    assert redact_path("/s/%0A%0Aforged") == "/s/%0A%0Aforg…"
