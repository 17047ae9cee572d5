"""Every Slack flow, run against a real `oncelink serve` process at LOG_LEVEL=DEBUG:
the captured log holds no secret, passphrase, key, proof, link or whole id."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

import aiohttp
import pytest

from bot.config import Settings
from bot.logs import BOLT_LOGGER_NAME, SDK_LOGGER_NAME
from handlers import blocks
from handlers.endpoint import SIGNATURE_REFUSED
from tests.slack_fake import (
    BOT_TOKEN,
    SIGNING_SECRET,
    command_body,
    interactive_body,
    outside_window,
    payload,
    sign,
)
from tests.slack_harness import SlackHarness, find_link, form_values
from tests.support.links import parse_link, reveal_body
from tests.support.process import ServerProcess, run_in_child

SECRETS = {
    "modal": "SLACK-CANARY-modal-secret",
    "inline": "SLACK-CANARY-inline-secret",
    "shortcut": "SLACK-CANARY-shortcut-secret",
    "invalid": "SLACK-CANARY-invalid-secret",
    "bound": "SLACK-CANARY-bound-secret",
    "answer": "SLACK-CANARY-answered-request",
    "outside": "SLACK-CANARY-sent-from-outside-slack",
}
PASSPHRASE = "SLACK-CANARY-passphrase"


def button_value(messages: list[dict], action_id: str) -> str:
    """The newest message's button with this action (receipts arrive in between)."""
    for message in reversed(messages):
        for block in message.get("blocks", []):
            for element in block.get("elements", []):
                if element.get("action_id") == action_id:
                    return element["value"]
    raise AssertionError(f"no {action_id}")


async def outside_flow(slack: SlackHarness, url: str) -> tuple[str, dict]:
    """A request to someone outside Slack, answered through its upload link and revealed
    by the requester: the upload link and the Reveal button's value (the private key)."""
    from handlers import outside
    from tests.support.outside import post_answer, sealed_answer
    from tests.test_outside import UPLOAD

    fake = slack.fake
    hooks, dms = len(fake.of("response_url")), len(fake.of("chat.postMessage"))
    updates = len(fake.of("views.update"))
    await slack.command('request --outside "vendor key"')
    found = None
    while found is None:  # the list asked for before may answer in between
        hooks += 1
        shown = (await fake.wait_for("response_url", hooks))[-1]
        found = UPLOAD.search(json.dumps(shown.get("blocks", [])))
    upload_link = found.group(0)
    sent = await fake.wait_for("chat.postMessage", dms + 1)
    value = button_value(sent, outside.REVEAL_ACTION)
    body = sealed_answer(upload_link, SECRETS["outside"].encode())
    assert (await post_answer(url, upload_link, body))[0] == 200
    await slack.click(outside.REVEAL_ACTION, value, "U2147483697", "outside")
    update = (await fake.wait_for("views.update", updates + 1))[-1]
    assert SECRETS["outside"] in json.dumps(update["view"])
    return upload_link, json.loads(value)


async def bound_flows(slack: SlackHarness) -> list[dict]:
    """A bound secret with a passphrase (a wrong try, a stranger, the right person) and a
    request answered: the values of the Reveal buttons that carried keys."""
    fake = slack.fake
    view = await slack.open_modal()
    await slack.submit(
        form_values(SECRETS["bound"], passphrase=PASSPHRASE, recipient="UBOB", bound=True),
        view["private_metadata"],
    )
    dms = await fake.wait_for("chat.postMessage", 4)
    first = json.loads(button_value(dms, blocks.REVEAL_ACTION))
    await slack.click(blocks.REVEAL_ACTION, json.dumps(first), "UMALLORY")
    await slack.click(blocks.REVEAL_ACTION, json.dumps(first), "UBOB")
    modal = (await fake.wait_for("views.open", 4))[-1]["view"]

    def typed(passphrase: str) -> dict:
        return {
            blocks.PASSPHRASE_BLOCK: {
                blocks.PASSPHRASE_INPUT: {"type": "plain_text_input", "value": passphrase}
            }
        }

    metadata = modal["private_metadata"]
    await slack.submit_view(blocks.PASSPHRASE_MODAL, typed("wrong-pass"), metadata, "UBOB")
    _, shown = await slack.submit_view(blocks.PASSPHRASE_MODAL, typed(PASSPHRASE), metadata, "UBOB")
    assert SECRETS["bound"] in shown

    await slack.command("request <@UALICE|alice> db")
    request_modal = (await fake.wait_for("views.open", 5))[-1]["view"]
    asked = {blocks.ASK_BLOCK: {blocks.ASK_SELECT: {"selected_user": "UALICE"}}}
    await slack.submit_view(
        blocks.REQUEST_MODAL, asked, request_modal["private_metadata"], "U2147483697"
    )
    dms = await fake.wait_for("chat.postMessage", 6)
    request_id = button_value(dms, blocks.ANSWER_ACTION)
    await slack.click(blocks.ANSWER_ACTION, request_id, "UALICE")
    answer_modal = (await fake.wait_for("views.open", 6))[-1]["view"]
    secret = {blocks.SECRET_BLOCK: {blocks.SECRET_INPUT: {"value": SECRETS["answer"]}}}
    await slack.submit_view(blocks.ANSWER_MODAL, secret, answer_modal["private_metadata"], "UALICE")
    dms = await fake.wait_for("chat.postMessage", 8)  # + the DM confirming Alice's answer
    second = json.loads(button_value(dms, blocks.REVEAL_ACTION))
    await slack.click(blocks.REVEAL_ACTION, json.dumps(second), "U2147483697")
    update = (await fake.wait_for("views.update"))[-1]
    assert SECRETS["answer"] in json.dumps(update["view"])
    return [first, second]


class _Served:
    def __init__(self, url: str) -> None:
        self.url = url


async def test_slack_flows_at_debug_log_nothing_secret(fake_slack, tmp_path):
    env = {
        "LOG_LEVEL": "DEBUG",
        "SQLITE_PATH": str(tmp_path / "slack.sqlite3"),
        "REDIS_URL": "",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": fake_slack.api_url,
    }
    server = ServerProcess(env, tmp_path / "serve.log")
    slack = SlackHarness(_Served(server.url), fake_slack)
    links: list[tuple[str, str | None]] = []
    try:
        # Modal with passphrase, recipient and note; a wrong passphrase, then the right one.
        view = await slack.open_modal()
        await slack.submit(
            form_values(SECRETS["modal"], passphrase=PASSPHRASE, recipient="UBOB", note="n1"),
            view["private_metadata"],
        )
        message = (await fake_slack.wait_for("response_url"))[-1]
        links.append((find_link(message), PASSPHRASE))
        # Validation error: secret too long and passphrase too short.
        await slack.submit(
            form_values(SECRETS["invalid"] * 200, passphrase="abc"), view["private_metadata"]
        )
        # Inline command and help.
        await slack.command(SECRETS["inline"])
        message = (await fake_slack.wait_for("response_url", 2))[-1]
        links.append((find_link(message), None))
        await slack.command("help")
        await slack.command("generate 32")
        generated = (await fake_slack.wait_for("response_url", 3))[-1]
        links.append((find_link(generated), None))
        password = generated["blocks"][1]["text"]["text"].split("```")[1]
        # Message shortcut, then submission of its modal.
        await slack.shortcut(SECRETS["shortcut"])
        view = (await fake_slack.wait_for("views.open", 2))[-1]["view"]
        await slack.submit(form_values(SECRETS["shortcut"]), view["private_metadata"])
        message = (await fake_slack.wait_for("response_url", 4))[-1]
        links.append((find_link(message), None))
        async with aiohttp.ClientSession() as http:
            modal_link = links[0][0]
            path = parse_link(modal_link).path
            async with http.post(server.url + path, json=reveal_body(modal_link, "nope!!")) as r:
                assert r.status == 403
            for link, passphrase in links[:2]:
                async with http.post(
                    server.url + parse_link(link).path, json=reveal_body(link, passphrase)
                ) as response:
                    assert response.status == 200
        await fake_slack.wait_for("chat.postMessage", 3)  # recipient DM + two receipts
        await slack.click_burn(parse_link(links[3][0]).secret_id)  # burn the shortcut one
        burned = (await fake_slack.wait_for("response_url", 5))[-1]
        assert "Burned" in burned["text"]
        await slack.click_burn(parse_link(links[3][0]).secret_id, user="UMALLORY")
        await fake_slack.wait_for("response_url", 6)
        bound_values = await bound_flows(slack)
        await slack.command("list")
        await fake_slack.wait_for("response_url", 9)
        upload_link, outside_value = await outside_flow(slack, server.url)
    finally:
        server.stop()
    logs = server.logs()
    assert "WARNING" not in logs and "ERROR" not in logs, logs
    assert "revealed and deleted" in logs and "burned by its creator" in logs
    assert "DEBUG" in logs  # the capture really ran at DEBUG
    assert "settings: Settings(" in logs  # the DEBUG start-up line, credentials left out
    for text in [*SECRETS.values(), PASSPHRASE, 'abc"', password, SIGNING_SECRET, BOT_TOKEN]:
        assert text not in logs, text
    for value in bound_values:  # the Reveal buttons' keys and ids
        assert value["k"] not in logs and value["s"] not in logs
    upload_key, requester_public = upload_link.split("#")[1].split(".")
    outside_keys = (upload_key, requester_public, outside_value["d"], outside_value["q"])
    for needle in (upload_link, *outside_keys):
        assert needle not in logs
    for link, passphrase in links:
        parts = parse_link(link)
        for needle in (link, link.split("#")[1], parts.secret_id, *reveal_body(link).values()):
            assert needle not in logs
        if passphrase:
            for value in reveal_body(link, passphrase).values():
                assert value not in logs


def test_loggers_handed_to_slack_libraries_skip_debug_formatting_even_at_debug():
    """slack_sdk and slack_bolt test `logger.level <= DEBUG` (the logger's own level) before
    formatting a debug line with the whole body: the loggers we hand them need a level of
    their own, or every post formats (and drops) a line holding the link."""
    script = (
        "import logging\n"
        "from bot.logs import configure_logging\n"
        "configure_logging('DEBUG')\n"
        "from bot.config import Settings\n"
        "from handlers.delivery import SDK_LOGGER\n"
        "from bot.logs import LIBRARY_LOGGERS\n"
        "levels = {n: logging.getLogger(n).level for n in LIBRARY_LOGGERS}\n"
        "assert all(level > logging.DEBUG for level in levels.values()), levels\n"
        "settings = Settings.from_env({'SLACK_SIGNING_SECRET': 's', 'SLACK_BOT_TOKEN': 'xoxb-1',\n"
        "                              'SQLITE_PATH': ':memory:'})\n"
        "from bot.app import create_app\n"
        "app = create_app(settings)\n"
        "route = next(r for r in app.router.routes() if r.resource.canonical == '/slack/events')\n"
        "from slack_bolt.async_app import AsyncApp\n"
        "cells = [cell.cell_contents for cell in route.handler.__closure__]\n"
        "bolt = next(cell for cell in cells if isinstance(cell, AsyncApp))\n"
        "assert bolt.client.logger is SDK_LOGGER and bolt.logger.name == 'slack_bolt.oncelink'\n"
        "print('ok')\n"
    )
    assert run_in_child(script).strip() == "ok"


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("redis://:hunter2pass@db.example.internal:6379/0", "hunter2pass"),
        ("redis://user:pw@db.example.internal", "user:pw"),
        ("redis+sentinel://user:s3ntinel-pw@a:26379,b:26379/oncelink", "s3ntinel-pw"),
        ("unix:///run/redis.sock?db=1&password=sock-pw", "sock-pw"),
    ],
)
def test_settings_never_render_the_redis_password(url, password):
    settings = Settings(redis_url=url)
    for rendering in (repr(settings), str(settings), f"{settings}", f"{settings!r}"):
        assert password not in rendering and "***" in rendering, rendering
    assert settings.redis_url == url  # only the renderings are redacted, not the value used


def test_serve_at_debug_logs_no_redis_password(tmp_path):
    """The DEBUG start-up line and the store's outage lines, from a real process whose
    REDIS_URL holds a password (nothing listens there, so the store reports outages)."""
    from tests.support.ports import free_port

    url = f"redis://:hunter2pass@127.0.0.1:{free_port()}/0"
    server = ServerProcess({"LOG_LEVEL": "DEBUG", "REDIS_URL": url}, tmp_path / "serve.log")
    try:
        with urllib.request.urlopen(server.url + "/healthz") as response:
            assert response.status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/readyz")
        assert refused.value.code == 503
    finally:
        server.stop()
    logs = server.logs()
    assert "settings: Settings(" in logs and "redis://***@127.0.0.1" in logs
    assert "hunter2pass" not in logs


SIGNATURE_MARKER = "SLACK-CANARY-unsigned-secret"
FORGED_LINE = "2026-12-01 12:00:00,000 ERROR [1] bot.app: FORGED-BY-A-STRANGER"


def _stale(body: str) -> dict:
    return sign(body, timestamp=outside_window(-1))


def _wrong_secret(body: str) -> dict:
    return sign(body, secret="a-rotated-signing-secret")


def _future(body: str) -> dict:
    return sign(body, timestamp=outside_window(+1))


@pytest.mark.parametrize("signed", [_stale, _wrong_secret, _future], ids=lambda f: f.__name__)
async def test_refused_signatures_log_neither_the_body_nor_forged_lines(slack, caplog, signed):
    """A signature that fails (a rotated secret, a skewed clock, a delayed request) is
    refused with one fixed line: the body, which holds secrets and passphrases, is logged
    at no level by any logger, and newlines in it cannot add lines to the log."""
    caplog.set_level(logging.DEBUG)  # the root, and below it every logger that propagates
    for name in (BOLT_LOGGER_NAME, SDK_LOGGER_NAME, "slack_bolt", "slack_sdk"):
        caplog.set_level(logging.DEBUG, logger=name)
    command = command_body(
        text=f"{SIGNATURE_MARKER}\n{FORGED_LINE}\n", response_url=slack.fake.response_url()
    )
    data = payload("view_submission")
    data["view"]["state"]["values"] = form_values(
        f"{SIGNATURE_MARKER}\r\n{FORGED_LINE}", passphrase=f"{SIGNATURE_MARKER}-passphrase"
    )
    modal = interactive_body(data)
    raw = f"{SIGNATURE_MARKER}\n{FORGED_LINE}\n"  # not even form-encoded: newlines as sent
    for body in (command, modal, raw):
        headers = signed(body)
        status, answer = await slack.send(body, headers)
        assert status == 401 and SIGNATURE_MARKER not in answer
    messages = [record.getMessage() for record in caplog.records]
    for message in messages:
        assert SIGNATURE_MARKER not in message and "FORGED-BY-A-STRANGER" not in message
        assert "\n" not in message and headers["X-Slack-Signature"] not in message
    assert SIGNATURE_MARKER not in caplog.text and "FORGED" not in caplog.text
    assert messages.count(SIGNATURE_REFUSED) == 3, messages  # and one fixed line each
    await slack.settle()
    assert [call.method for call in slack.fake.calls] == []


async def test_a_valid_signature_still_reaches_the_listeners_without_logging_the_body(
    slack, caplog
):
    caplog.set_level(logging.DEBUG)
    status, _ = await slack.command(f"{SIGNATURE_MARKER}-valid")
    assert status == 200
    message = (await slack.fake.wait_for("response_url"))[-1]
    assert find_link(message)
    assert f"{SIGNATURE_MARKER}-valid" not in caplog.text
    assert SIGNATURE_REFUSED not in caplog.text
