"""Every Slack flow, run against a real `oncelink serve` process at LOG_LEVEL=DEBUG:
the captured log holds no secret, passphrase, key, proof, link or whole id."""

from __future__ import annotations

import aiohttp

from tests.conftest import ServerProcess
from tests.slack_fake import BOT_TOKEN, SIGNING_SECRET
from tests.slack_harness import SlackHarness, find_link, form_values
from tests.support import parse_link, reveal_body

SECRETS = {
    "modal": "SLACK-CANARY-modal-secret",
    "inline": "SLACK-CANARY-inline-secret",
    "shortcut": "SLACK-CANARY-shortcut-secret",
    "invalid": "SLACK-CANARY-invalid-secret",
}
PASSPHRASE = "SLACK-CANARY-passphrase"


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
    finally:
        server.stop()
    logs = server.logs()
    assert "WARNING" not in logs and "ERROR" not in logs, logs
    assert "revealed and deleted" in logs and "burned by its creator" in logs
    assert "DEBUG" in logs  # the capture really ran at DEBUG
    assert "settings: Settings(" in logs  # the DEBUG start-up line, credentials left out
    for text in [*SECRETS.values(), PASSPHRASE, 'abc"', password, SIGNING_SECRET, BOT_TOKEN]:
        assert text not in logs, text
    for link, passphrase in links:
        parts = parse_link(link)
        for needle in (link, link.split("#")[1], parts.secret_id, *reveal_body(link).values()):
            assert needle not in logs
        if passphrase:
            for value in reveal_body(link, passphrase).values():
                assert value not in logs
