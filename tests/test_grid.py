"""Enterprise Grid as Slack sends it, for a workspace install and an org-wide install.

A person is their org plus their user id, whichever way a payload names their team: a
command carries the workspace (`team_id`, T…) beside `enterprise_id`, an interactive
payload's `user.team_id` may be the org (E…) or the workspace, and an org-wide install's
view payloads have `team: null`. Every flow below runs with both namings of the team.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest

from handlers import blocks, home_blocks
from tests.slack_fake import (
    ADMIN,
    GRID_CODE,
    GRID_TOKEN,
    ORG_CODE,
    ORG_TOKEN,
    interactive_body,
    payload,
    sign,
)
from tests.slack_harness import SlackHarness, find_link, form_values
from tests.slack_payloads import in_grid
from tests.support.app import serve
from tests.support.links import decrypt_answer, parse_link, post_reveal
from tests.test_oauth import install, oauth_settings

CREATOR = "U2147483697"
BOB = "UBOB00001"

# install kind -> (OAuth code, org, workspace the payloads come from, org-wide, its token)
INSTALLS = {
    "workspace-install": (GRID_CODE, "E0001", "T0003", False, GRID_TOKEN),
    "org-wide-install": (ORG_CODE, "E0002", "T0004", True, ORG_TOKEN),
}


@dataclass
class Grid:
    """Drives the app as Slack does from one Grid workspace."""

    slack: SlackHarness
    enterprise: str
    team: str
    org_wide: bool
    token: str
    user_team: str | None  # what user.team_id says: None for the org (E…), else the T…

    @property
    def fake(self):
        return self.slack.fake

    def as_sent(self, data: dict) -> dict:
        return in_grid(
            data, self.enterprise, self.team, org_wide=self.org_wide, user_team=self.user_team
        )

    async def command(self, text: str = "", user: str = CREATOR, hook: str = "cmd"):
        return await self.slack.command(
            text,
            response_url=self.fake.response_url(hook),
            team_id=self.team,
            user_id=user,
            enterprise_id=self.enterprise,
            is_enterprise_install="true" if self.org_wide else "false",
        )

    async def open_modal(self, text: str = "") -> dict:
        assert (await self.command(text))[0] == 200
        return (await self.fake.wait_for("views.open"))[-1]["view"]

    async def click(
        self,
        action_id: str,
        value: str,
        user: str = CREATOR,
        hook: str = "btn",
        home: bool = False,
        selected: str | None = None,
    ):
        # The App Home tab is a view payload, so team is null there when org-installed.
        container = "view" if home else "message"
        data = self.slack.click_payload(action_id, value, user, hook, container, selected)
        return await self.slack.send(interactive_body(self.as_sent(data)))

    async def submit(
        self, values: dict, private_metadata: str, user: str = CREATOR, callback_id: str = ""
    ):
        data = payload("view_submission")
        data["view"]["callback_id"] = callback_id or blocks.MODAL_CALLBACK
        data["view"]["state"]["values"] = values
        data["view"]["private_metadata"] = private_metadata
        data["user"]["id"] = user
        return await self.slack.send(interactive_body(self.as_sent(data)))

    async def open_home(self, user: str = CREATOR) -> dict:
        """app_home_opened as the Events API sends it in Grid; the published tab."""
        published = len(self.fake.of("views.publish"))
        event = {
            "token": "x",
            "team_id": self.team,
            "enterprise_id": self.enterprise,
            "api_app_id": "A123456",
            "event": {"type": "app_home_opened", "user": user, "tab": "home"},
            "type": "event_callback",
            "event_id": "Ev0GRID0002",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": self.enterprise,
                    "team_id": None if self.org_wide else self.team,
                    "user_id": "UBOTGRID1",
                    "is_bot": True,
                    "is_enterprise_install": self.org_wide,
                }
            ],
            "is_ext_shared_channel": False,
        }
        body = json.dumps(event)
        status, _ = await self.slack.send(body, {**sign(body), "Content-Type": "application/json"})
        assert status == 200
        return (await self.fake.wait_for("views.publish", published + 1))[-1]["view"]


@pytest.fixture(
    params=[
        (kind, naming)
        for kind in INSTALLS
        for naming in ("user-team-is-the-org", "user-team-is-the-workspace")
    ],
    ids=lambda param: "/".join(param),
)
async def grid(request, store, fake_slack):
    kind, naming = request.param
    code, enterprise, team, org_wide, token = INSTALLS[kind]
    served = await serve(oauth_settings(fake_slack), store=store)
    try:
        status, page, _ = await install(served, code)
        assert status == 200, page
        user_team = None if naming == "user-team-is-the-org" else team
        yield Grid(SlackHarness(served, fake_slack), enterprise, team, org_wide, token, user_team)
    finally:
        await served.runner.cleanup()


def buttons(message: dict, action_id: str) -> list[dict]:
    return [
        element
        for block in message.get("blocks", [])
        for element in block.get("elements", []) + [block.get("accessory") or {}]
        if element.get("action_id") == action_id
    ]


async def command_secret(grid: Grid, text: str) -> tuple[str, dict]:
    """`/secret <text>` in the Grid workspace: the link and the creator's message."""
    assert (await grid.command(text, hook="made"))[0] == 200
    made = [m for m in await grid.fake.wait_for("response_url") if "blocks" in m][-1]
    return find_link(made), made


async def test_a_command_made_secret_is_burned_by_its_own_burn_button(grid):
    link, made = await command_secret(grid, "grid burn me")
    (burn,) = buttons(made, blocks.BURN_ACTION)
    answers = len(grid.fake.of("response_url"))
    await grid.click(blocks.BURN_ACTION, burn["value"], hook="burn")
    burned = (await grid.fake.wait_for("response_url", answers + 1))[-1]
    assert "Burned" in burned["text"], burned["text"]
    assert (await post_reveal(grid.slack.served.url, link))[0] == 410


async def test_a_command_made_secret_shows_in_secret_list_and_in_app_home(grid):
    link, _ = await command_secret(grid, "grid listed")
    secret_id = parse_link(link).secret_id
    answers = len(grid.fake.of("response_url"))
    await grid.command("list", hook="list")
    listing = (await grid.fake.wait_for("response_url", answers + 1))[-1]
    assert [b["value"] for b in buttons(listing, home_blocks.LIST_BURN_ACTION)] == [secret_id]
    home = await grid.open_home()
    assert [b["value"] for b in buttons(home, home_blocks.LIST_BURN_ACTION)] == [secret_id]
    # Burned from the App Home tab, the click naming the person as Slack does there.
    await grid.click(home_blocks.LIST_BURN_ACTION, secret_id, home=True)
    await grid.fake.wait_for("views.publish", 2)
    assert (await post_reveal(grid.slack.served.url, link))[0] == 410


async def test_workspace_settings_from_the_home_tab_apply_to_commands(grid):
    await grid.click(home_blocks.PREF_MAX_TTL, "", ADMIN, home=True, selected="3600")
    republished = (await grid.fake.wait_for("views.publish"))[-1]
    assert "at most 1 hour" in json.dumps(republished["view"])
    view = await grid.open_modal()
    assert [o["value"] for o in view["blocks"][1]["element"]["options"]] == ["300", "3600"]
    before = time.time()
    link, _ = await command_secret(grid, "short lived")
    status = await grid.slack.service.status(parse_link(link).secret_id)
    assert status.expires_at <= before + 3601


async def test_a_modal_secret_reaches_its_recipient_and_the_receipt_its_creator(grid):
    view = await grid.open_modal()
    values = form_values("grid modal secret", recipient=BOB)
    assert await grid.submit(values, view["private_metadata"]) == (200, "")
    dm = (await grid.fake.wait_for("chat.postMessage"))[0]
    assert dm["channel"] == BOB
    link = find_link((await grid.fake.wait_for("response_url"))[-1])
    _, answer = await post_reveal(grid.slack.served.url, link)
    assert decrypt_answer(link, answer) == "grid modal secret"
    receipt = (await grid.fake.wait_for("chat.postMessage", 2))[1]
    assert receipt["channel"] == CREATOR and "revealed" in receipt["text"]
    tokens = {c.token for c in grid.fake.calls if c.method == "chat.postMessage"}
    assert tokens == {grid.token}


async def test_a_bound_secret_opens_for_its_recipient_only(grid):
    view = await grid.open_modal()
    values = form_values("for bob in grid", recipient=BOB, bound=True)
    assert await grid.submit(values, view["private_metadata"]) == (200, "")
    dm = (await grid.fake.wait_for("chat.postMessage"))[0]
    assert dm["channel"] == BOB
    (reveal,) = buttons(dm, blocks.REVEAL_ACTION)
    await grid.click(blocks.REVEAL_ACTION, reveal["value"], BOB, hook="bob")
    update = (await grid.fake.wait_for("views.update"))[0]
    assert "for bob in grid" in json.dumps(update["view"])


async def test_receipts_turned_off_on_the_home_tab_stay_off_for_later_receipts(grid):
    await grid.click(home_blocks.PREF_RECEIPTS, "", ADMIN, home=True, selected="off")
    await grid.fake.wait_for("views.publish")
    link, _ = await command_secret(grid, "no receipt please")
    assert (await post_reveal(grid.slack.served.url, link))[0] == 200
    await grid.slack.settle()
    assert [m for m in grid.fake.of("chat.postMessage") if "revealed" in m.get("text", "")] == []


async def test_a_request_is_answered_and_revealed_within_the_org(grid):
    assert (await grid.command(f"request <@{BOB}|bob> the grid key"))[0] == 200
    modal = (await grid.fake.wait_for("views.open"))[-1]["view"]
    values = {
        blocks.ASK_BLOCK: {blocks.ASK_SELECT: {"type": "users_select", "selected_user": BOB}},
        blocks.NOTE_BLOCK: {blocks.NOTE_INPUT: {"type": "plain_text_input", "value": "key"}},
    }
    status, body = await grid.submit(
        values, modal["private_metadata"], callback_id=blocks.REQUEST_MODAL
    )
    assert (status, body) == (200, "")
    asked = (await grid.fake.wait_for("chat.postMessage"))[0]
    (answer,) = buttons(asked, blocks.ANSWER_ACTION)
    await grid.click(blocks.ANSWER_ACTION, answer["value"], BOB, hook="bob")
    answer_modal = (await grid.fake.wait_for("views.open", 2))[-1]["view"]
    assert answer_modal["callback_id"] == blocks.ANSWER_MODAL
    typed = {
        blocks.SECRET_BLOCK: {blocks.SECRET_INPUT: {"type": "plain_text_input", "value": "g1d"}}
    }
    status, body = await grid.submit(
        typed, answer_modal["private_metadata"], BOB, callback_id=blocks.ANSWER_MODAL
    )
    assert (status, body) == (200, "")
    to_requester = [
        m
        for m in await grid.fake.wait_for("chat.postMessage", 2)
        if m["channel"] == CREATOR and "blocks" in m
    ][0]
    (reveal,) = buttons(to_requester, blocks.REVEAL_ACTION)
    await grid.click(blocks.REVEAL_ACTION, reveal["value"], CREATOR, hook="requester")
    update = (await grid.fake.wait_for("views.update"))[0]
    assert "g1d" in json.dumps(update["view"])
