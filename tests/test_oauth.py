"""Many workspaces: Slack's OAuth v2 install against the fake Slack, tokens sealed at rest,
states good once, uninstall forgets the workspace."""

from __future__ import annotations

import asyncio
import json
import os
import time
from urllib.parse import parse_qs, urlsplit

import aiohttp
from slack_sdk.oauth.installation_store import Bot

from handlers.install import INSTALLATIONS_KEY
from handlers.installations import StoreInstallationStore, TokenCipher
from tests.slack_fake import (
    GRID_CODE,
    GRID_TOKEN,
    OAUTH_CODE,
    ORG_CODE,
    ORG_TOKEN,
    REFRESH_TOKEN,
    ROTATED_TOKEN,
    SIGNING_SECRET,
    TEAM2_TOKEN,
    interactive_body,
    payload,
    sign,
)
from tests.slack_harness import SlackHarness, find_link, form_values
from tests.slack_payloads import in_grid
from tests.support.app import make_settings, serve
from tests.support.links import decrypt_answer, post_reveal

CLIENT_ID = "4724469134.4644010092847"


def oauth_settings(fake):
    return make_settings(
        slack_signing_secret=SIGNING_SECRET,
        slack_client_id=CLIENT_ID,
        slack_client_secret="3ee6b1ce7d2c1d2f9a4b5e6d7c8b9a0f",
        token_encryption_key=os.urandom(32),
        slack_api_url=fake.api_url,
    )


async def install(served, code: str = OAUTH_CODE) -> tuple[aiohttp.ClientResponse, str, str]:
    """Add to Slack, then Slack's redirect back with a code: returns the final page."""
    async with aiohttp.ClientSession() as http:
        async with http.get(served.url + "/slack/install", allow_redirects=False) as response:
            assert response.status == 302
            consent = urlsplit(response.headers["Location"])
            query = parse_qs(consent.query)
            assert consent.netloc == "slack.com" and query["client_id"] == [CLIENT_ID]
            assert query["scope"] == ["commands,chat:write,users:read,users:read.email"]
            state = query["state"][0]
            # The state cookie is Secure (production is https); a browser sends it back.
            cookie = response.cookies["slack-app-oauth-state"]
            assert cookie["secure"] and cookie["httponly"]
        async with http.get(
            served.url + "/slack/oauth_redirect",
            params={"code": code, "state": state},
            headers={"Cookie": f"slack-app-oauth-state={cookie.value}"},
        ) as response:
            return response.status, await response.text(), state


async def test_install_then_a_secret_from_the_new_workspace(store, fake_slack):
    served = await serve(oauth_settings(fake_slack), store=store)
    try:
        status, page, state = await install(served)
        assert status == 200, page
        assert len(fake_slack.of("oauth.v2.access")) == 1
        bot = await served.app[INSTALLATIONS_KEY].async_find_bot(
            enterprise_id=None, team_id="T0002"
        )
        assert bot.bot_token == TEAM2_TOKEN

        # The state was consumed: Slack's redirect cannot be replayed.
        async with aiohttp.ClientSession() as http:
            async with http.get(
                served.url + "/slack/oauth_redirect",
                params={"code": OAUTH_CODE, "state": state},
            ) as response:
                assert response.status >= 400
        assert len(fake_slack.of("oauth.v2.access")) == 1

        # A /secret from workspace T0002 speaks with T0002's own token.
        slack = SlackHarness(served, fake_slack)
        status, _ = await slack.command("", team_id="T0002")
        assert status == 200
        await fake_slack.wait_for("views.open")
        assert [c.token for c in fake_slack.calls if c.method == "views.open"] == [TEAM2_TOKEN]
        await slack.command("from team two", team_id="T0002", user_id="U0002")
        link = find_link((await fake_slack.wait_for("response_url"))[0])
        _, answer = await post_reveal(served.url, link)
        assert decrypt_answer(link, answer) == "from team two"
        receipt = (await fake_slack.wait_for("chat.postMessage"))[0]
        assert receipt["channel"] == "U0002"
        assert [c.token for c in fake_slack.calls if c.method == "chat.postMessage"] == [
            TEAM2_TOKEN
        ]

        # A workspace that never installed the app is refused.
        status, _ = await slack.command("nope", team_id="T9999")
        told = (await fake_slack.wait_for("response_url", 2))[1]
        assert "reinstall this app" in told["text"] and "/s/" not in told["text"]
    finally:
        await served.runner.cleanup()


async def test_tokens_are_sealed_at_rest_and_uninstall_forgets_them(store, fake_slack, tmp_path):
    served = await serve(oauth_settings(fake_slack), store=store)
    try:
        status, page, _ = await install(served)
        assert status == 200, page
        from tests.test_at_rest import store_bytes

        dump = await store_bytes(store, tmp_path)
        assert TEAM2_TOKEN.encode() not in dump and b"TeamTwoBotTokenValue" not in dump
        event = {
            "token": "x",
            "team_id": "T0002",
            "api_app_id": "A123456",
            "event": {"type": "app_uninstalled", "event_ts": "1700000000.000100"},
            "type": "event_callback",
            "event_id": "Ev0PV52K21",
            "event_time": 1700000000,
        }
        body = json.dumps(event)
        headers = {**sign(body), "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as http:
            async with http.post(served.url + "/slack/events", data=body, headers=headers) as r:
                assert r.status == 200
        installations = served.app[INSTALLATIONS_KEY]
        for _ in range(50):
            if await installations.async_find_bot(enterprise_id=None, team_id="T0002") is None:
                break
            await asyncio.sleep(0.05)
        assert await installations.async_find_bot(enterprise_id=None, team_id="T0002") is None
    finally:
        await served.runner.cleanup()


async def test_rotating_tokens_are_refreshed_before_they_expire(store, fake_slack, tmp_path):
    """An app with token rotation: the install's token expires in 10 minutes (inside bolt's
    2-hour window), so the next request refreshes it through the fake's oauth.v2.access,
    and every call after that speaks with the new token. Refresh tokens are sealed too."""
    fake_slack.rotating = 600
    served = await serve(oauth_settings(fake_slack), store=store)
    try:
        status, page, _ = await install(served)
        assert status == 200, page
        slack = SlackHarness(served, fake_slack)
        await slack.command("rotated", team_id="T0002", user_id="U0002")
        link = find_link((await fake_slack.wait_for("response_url"))[0])
        refreshes = [p for p in fake_slack.of("oauth.v2.access") if "refresh_token" in p]
        assert len(refreshes) == 1 and refreshes[0]["grant_type"] == "refresh_token"
        bot = await served.app[INSTALLATIONS_KEY].async_find_bot(
            enterprise_id=None, team_id="T0002"
        )
        assert bot.bot_token == ROTATED_TOKEN
        assert bot.bot_token_expires_at > time.time() + 3600 * 11

        # The receipt leaves with the new token; the old one no longer works.
        await post_reveal(served.url, link)
        await fake_slack.wait_for("chat.postMessage")
        assert [c.token for c in fake_slack.calls if c.method == "chat.postMessage"] == [
            ROTATED_TOKEN
        ]
        from tests.test_at_rest import store_bytes

        dump = await store_bytes(store, tmp_path)
        for token in (TEAM2_TOKEN, ROTATED_TOKEN, REFRESH_TOKEN):
            assert token.encode() not in dump
    finally:
        await served.runner.cleanup()


async def test_a_receipt_refreshes_an_expiring_token_itself(store, fake_slack):
    """Receipts leave without a request from Slack, so bolt has not refreshed the token:
    the app does it before speaking."""
    served = await serve(oauth_settings(fake_slack), store=store)
    try:
        status, page, _ = await install(served)
        assert status == 200, page
        installations = served.app[INSTALLATIONS_KEY]
        bot = await installations.async_find_bot(enterprise_id=None, team_id="T0002")
        expiring = Bot(
            **{
                **bot.__dict__,
                "bot_refresh_token": REFRESH_TOKEN,
                "bot_token_expires_at": int(time.time()) + 300,
            }
        )
        await installations.async_save_bot(expiring)
        created = await served.service.create("x", ttl=60, creator="T0002:U0002")
        await post_reveal(served.url, created.link)
        await fake_slack.wait_for("chat.postMessage")
        assert [c.token for c in fake_slack.calls if c.method == "chat.postMessage"] == [
            ROTATED_TOKEN
        ]
    finally:
        await served.runner.cleanup()


def tokens_of(fake, method: str) -> list[str]:
    return [call.token for call in fake.calls if call.method == method]


async def grid_round_trip(served, fake, enterprise_id: str, team_id: str, org_wide: bool):
    """/secret in a Grid workspace, the form sent to a recipient, the recipient's DM, a
    reveal and its receipt: every Slack call must speak with the org's install."""
    slack = SlackHarness(served, fake)
    flag = "true" if org_wide else "false"
    status, _ = await slack.command(
        "", team_id=team_id, enterprise_id=enterprise_id, is_enterprise_install=flag
    )
    assert status == 200
    view = (await fake.wait_for("views.open"))[0]["view"]
    submission = in_grid(payload("view_submission"), enterprise_id, team_id, org_wide=org_wide)
    submission["view"]["state"]["values"] = form_values("grid secret", recipient="UBOB")
    submission["view"]["private_metadata"] = view["private_metadata"]
    status, _ = await slack.send(interactive_body(submission))
    assert status == 200
    dm = (await fake.wait_for("chat.postMessage"))[0]
    assert dm["channel"] == "UBOB"
    link = find_link((await fake.wait_for("response_url"))[0])
    _, answer = await post_reveal(served.url, link)
    assert decrypt_answer(link, answer) == "grid secret"
    receipt = (await fake.wait_for("chat.postMessage", 2))[1]
    assert receipt["channel"] == "U2147483697" and "revealed" in receipt["text"]

    # The App Home tab, from an Events API callback as Slack sends it in Grid.
    event = {
        "token": "x",
        "team_id": team_id,
        "enterprise_id": enterprise_id,
        "api_app_id": "A123456",
        "event": {"type": "app_home_opened", "user": "U2147483697", "tab": "home"},
        "type": "event_callback",
        "event_id": "Ev0GRID0001",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": enterprise_id,
                "team_id": None if org_wide else team_id,
                "user_id": "UBOTGRID1",
                "is_bot": True,
                "is_enterprise_install": org_wide,
            }
        ],
        "is_ext_shared_channel": False,
    }
    body = json.dumps(event)
    status, _ = await slack.send(body, {**sign(body), "Content-Type": "application/json"})
    assert status == 200
    home = (await fake.wait_for("views.publish"))[0]
    assert home["user_id"] == "U2147483697"


async def test_a_grid_workspace_install_delivers_the_recipient_dm_a_receipt_and_app_home(
    store, fake_slack
):
    settings = oauth_settings(fake_slack)
    served = await serve(settings, store=store)
    try:
        status, page, _ = await install(served, GRID_CODE)
        assert status == 200, page
        installations = served.app[INSTALLATIONS_KEY]
        bot = await installations.async_find_bot(enterprise_id="E0001", team_id="T0003")
        assert bot.bot_token == GRID_TOKEN and bot.enterprise_id == "E0001"
        await grid_round_trip(served, fake_slack, "E0001", "T0003", org_wide=False)
        assert set(tokens_of(fake_slack, "chat.postMessage")) == {GRID_TOKEN}
        assert tokens_of(fake_slack, "views.open") == [GRID_TOKEN]
        assert tokens_of(fake_slack, "views.publish") == [GRID_TOKEN]
        # Another process (a restart) finds it from the team alone, as receipts do.
        later = StoreInstallationStore(store, TokenCipher(settings.token_encryption_key))
        assert (await later.find_bot_for_team("T0003")).bot_token == GRID_TOKEN
    finally:
        await served.runner.cleanup()


async def test_an_org_wide_install_delivers_the_recipient_dm_a_receipt_and_app_home(
    store, fake_slack
):
    settings = oauth_settings(fake_slack)
    served = await serve(settings, store=store)
    try:
        status, page, _ = await install(served, ORG_CODE)
        assert status == 200, page
        installations = served.app[INSTALLATIONS_KEY]
        bot = await installations.async_find_bot(
            enterprise_id="E0002", team_id=None, is_enterprise_install=True
        )
        assert bot.bot_token == ORG_TOKEN and bot.is_enterprise_install
        # Any workspace of the org, though the install named none of them.
        await grid_round_trip(served, fake_slack, "E0002", "T0004", org_wide=True)
        assert set(tokens_of(fake_slack, "chat.postMessage")) == {ORG_TOKEN}
        assert tokens_of(fake_slack, "views.open") == [ORG_TOKEN]
        assert tokens_of(fake_slack, "views.publish") == [ORG_TOKEN]
        later = StoreInstallationStore(store, TokenCipher(settings.token_encryption_key))
        assert (await later.find_bot_for_team("T0004")).bot_token == ORG_TOKEN
        assert (await later.find_bot_for_team("E0002")).bot_token == ORG_TOKEN
        assert await later.find_bot_for_team("T0005") is None  # never seen: not guessed
    finally:
        await served.runner.cleanup()


async def test_a_grid_install_stored_before_the_org_was_known_is_found_after_one_request(store):
    """Installs saved by an older version have no workspace-to-org record: bolt's lookup
    for the next request from that workspace (org and team both given) writes it."""
    cipher = TokenCipher(os.urandom(32))
    installations = StoreInstallationStore(store, cipher)
    await installations.async_save_bot(
        Bot(
            app_id="A123456",
            enterprise_id="E0001",
            team_id="T0003",
            bot_token=GRID_TOKEN,
            bot_id="B0003",
            bot_user_id="UBOTGRID1",
            installed_at=time.time(),
        )
    )
    await store.delete("slack-team-org:T0003")  # as an older version left it
    fresh = StoreInstallationStore(store, cipher)
    assert await fresh.find_bot_for_team("T0003") is None
    assert await fresh.async_find_bot(enterprise_id="E0001", team_id="T0003") is not None
    assert (await fresh.find_bot_for_team("T0003")).bot_token == GRID_TOKEN
