"""One identity for burn and ownership, also in Slack Connect channels and Enterprise Grid: a
person is their Grid org (else their own workspace) plus their user id
(handlers.payloads.actor). In a shared channel a payload's `team.id` names the workspace it
was sent for, while `user.team_id` names the person's own."""

from __future__ import annotations

import json

import pytest

from handlers import blocks
from handlers.payloads import actor
from tests.slack_fake import interactive_body, payload
from tests.slack_harness import find_link, form_values
from tests.slack_payloads import from_shared_channel, in_grid
from tests.support.links import parse_link, post_reveal

CREATOR = "U2147483697"  # of workspace T0001, in the fixtures
HOST = "T0009"  # the other organisation's workspace that hosts the shared channel


def burn_click(slack, secret_id: str, hook: str) -> dict:
    data = payload("block_actions", response_url=slack.fake.response_url(hook))
    data["actions"][0].update(action_id=blocks.BURN_ACTION, value=secret_id)
    data["team"] = {"id": HOST, "domain": "partner"}
    return data


async def created_secret(slack) -> tuple[str, str]:
    await slack.command("shared-channel secret")
    link = find_link((await slack.fake.wait_for("response_url"))[0])
    return link, parse_link(link).secret_id


def test_the_identity_is_the_persons_own_workspace_and_id():
    click = from_shared_channel(payload("block_actions"), "U0EXT0001", "T0EXT")
    click["team"] = {"id": HOST, "domain": "partner"}
    assert actor(click) == ("T0EXT", "U0EXT0001")
    assert actor(payload("slash_command", team_id="T0001", user_id=CREATOR)) == ("T0001", CREATOR)
    # In Enterprise Grid the person is of their org, whichever way Slack names their team.
    grid_command = in_grid(payload("slash_command"), "E0001", "T0003", command=True)
    assert actor(grid_command) == ("E0001", "U2147483697")
    for org_wide in (False, True):
        for name in ("view_submission", "block_actions", "message_action"):
            grid = in_grid(payload(name), "E0001", "T0003", org_wide=org_wide)
            assert actor(grid) == ("E0001", "U2147483697"), (name, org_wide)
            named = in_grid(payload(name), "E0001", "T0003", org_wide=org_wide, user_team="T0003")
            assert actor(named) == ("E0001", "U2147483697"), (name, org_wide)
    # A visitor of another workspace in a Grid org's shared channel keeps their own.
    visitor = from_shared_channel(
        in_grid(payload("block_actions"), "E0001", "T0003"), "U0EXT0001", "T0EXT"
    )
    assert actor(visitor) == ("T0EXT", "U0EXT0001")


async def test_the_creator_burns_from_a_shared_channel_payload(slack):
    link, secret_id = await created_secret(slack)
    # The creator clicks Burn in a channel shared with HOST's organisation: the payload is
    # for HOST, and says the person is of T0001.
    click = from_shared_channel(burn_click(slack, secret_id, "shared"), CREATOR, "T0001")
    status, _ = await slack.send(interactive_body(click))
    assert status == 200
    burned = (await slack.fake.wait_for("response_url", 2))[1]
    assert "Burned" in burned["text"]
    assert (await post_reveal(slack.served.url, link))[0] == 410


async def test_the_same_user_id_in_another_workspace_cannot_burn(slack):
    link, secret_id = await created_secret(slack)
    # Same user id, but a person of HOST's workspace: somebody else.
    click = from_shared_channel(burn_click(slack, secret_id, "other"), CREATOR, HOST)
    status, _ = await slack.send(interactive_body(click))
    assert status == 200
    refused = (await slack.fake.wait_for("response_url", 2))[1]
    assert "Only the person who created" in refused["text"]
    assert (await post_reveal(slack.served.url, link))[0] == 200


# A recipient from another organisation in a Slack Connect channel: users.info (through the
# creator's install) names their own workspace, or their Grid org and its workspaces.
GUEST = "U0EXT0001"
GUEST_OF_WORKSPACE = {"team_id": "T0EXT"}
GUEST_OF_GRID_ORG = {
    "team_id": "T0EXT",
    "enterprise_user": {
        "id": GUEST,
        "enterprise_id": "E0EXT",
        "enterprise_name": "Partner Org",
        "is_admin": False,
        "is_owner": False,
        "teams": ["T0EXT"],
    },
}


def click_as(slack, action_id: str, value: str, user_team: str, hook: str) -> str:
    """The guest's click, signed by Slack with the guest's own user.team_id."""
    data = payload("block_actions", response_url=slack.fake.response_url(hook))
    data["actions"][0].update(action_id=action_id, value=value)
    return interactive_body(from_shared_channel(data, GUEST, user_team))


async def bound_to_guest(slack, secret: str) -> str:
    """The creator shares `secret` with only the guest; the Reveal button's value."""
    view = await slack.open_modal()
    values = form_values(secret, recipient=GUEST, bound=True)
    assert await slack.submit(values, view["private_metadata"]) == (200, "")
    dm = [m for m in await slack.fake.wait_for("chat.postMessage") if m["channel"] == GUEST][-1]
    return reveal_value(dm)


def reveal_value(message: dict) -> str:
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == blocks.REVEAL_ACTION:
                return element["value"]
    raise AssertionError("no Reveal button")


@pytest.mark.parametrize(
    "guest, user_team",
    [
        (GUEST_OF_WORKSPACE, "T0EXT"),
        (GUEST_OF_GRID_ORG, "E0EXT"),
        (GUEST_OF_GRID_ORG, "T0EXT"),
    ],
    ids=["other-workspace", "grid-org-named", "grid-workspace-named"],
)
async def test_a_guest_from_another_organisation_reveals_a_secret_bound_to_them(
    slack, guest, user_team
):
    slack.fake.people[GUEST] = guest
    value = await bound_to_guest(slack, "for our partner")
    click = click_as(slack, blocks.REVEAL_ACTION, value, user_team, "guest")
    assert (await slack.send(click))[0] == 200
    update = (await slack.fake.wait_for("views.update"))[0]
    assert "for our partner" in json.dumps(update["view"])


@pytest.mark.parametrize("guest", [GUEST_OF_WORKSPACE, GUEST_OF_GRID_ORG], ids=["plain", "grid"])
async def test_the_same_user_id_from_a_third_workspace_cannot_reveal(slack, guest):
    slack.fake.people[GUEST] = guest
    value = await bound_to_guest(slack, "not for a namesake")
    await slack.send(click_as(slack, blocks.REVEAL_ACTION, value, "T0THIRD", "namesake"))
    update = (await slack.fake.wait_for("views.update"))[0]
    assert "sent to someone else" in json.dumps(update["view"])
    secret_id = json.loads(value)["s"]
    assert (await slack.service.status(secret_id)).attempts_left == 5


@pytest.mark.parametrize(
    "guest, user_team",
    [(GUEST_OF_WORKSPACE, "T0EXT"), (GUEST_OF_GRID_ORG, "T0EXT"), (GUEST_OF_GRID_ORG, "E0EXT")],
    ids=["other-workspace", "grid-workspace-named", "grid-org-named"],
)
async def test_a_guest_from_another_organisation_answers_a_request(slack, guest, user_team):
    slack.fake.people[GUEST] = guest
    await slack.command(f"request <@{GUEST}|guest> the VPN key")
    modal = (await slack.fake.wait_for("views.open"))[0]["view"]
    values = {
        blocks.ASK_BLOCK: {blocks.ASK_SELECT: {"type": "users_select", "selected_user": GUEST}},
        blocks.NOTE_BLOCK: {
            blocks.NOTE_INPUT: {"type": "plain_text_input", "value": "the VPN key"}
        },
    }
    status, body = await slack.submit_view(
        blocks.REQUEST_MODAL, values, modal["private_metadata"], CREATOR
    )
    assert (status, body) == (200, "")
    asked = (await slack.fake.wait_for("chat.postMessage"))[0]
    request_id = [
        element["value"]
        for block in asked["blocks"]
        for element in block.get("elements", [])
        if element.get("action_id") == blocks.ANSWER_ACTION
    ][0]
    await slack.send(click_as(slack, blocks.ANSWER_ACTION, request_id, user_team, "answer"))
    answer_modal = (await slack.fake.wait_for("views.open", 2))[-1]["view"]
    assert answer_modal["callback_id"] == blocks.ANSWER_MODAL

    submission = payload("view_submission")
    submission["view"].update(
        callback_id=blocks.ANSWER_MODAL, private_metadata=answer_modal["private_metadata"]
    )
    submission["view"]["state"]["values"] = {
        blocks.SECRET_BLOCK: {blocks.SECRET_INPUT: {"type": "plain_text_input", "value": "k3y"}}
    }
    status, body = await slack.send(
        interactive_body(from_shared_channel(submission, GUEST, user_team))
    )
    assert (status, body) == (200, "")
    to_requester = [
        m
        for m in await slack.fake.wait_for("chat.postMessage", 2)
        if m["channel"] == CREATOR and "blocks" in m
    ][0]
    await slack.click(blocks.REVEAL_ACTION, reveal_value(to_requester), CREATOR, "requester")
    update = (await slack.fake.wait_for("views.update"))[0]
    assert "k3y" in json.dumps(update["view"])


async def test_a_slow_users_info_before_the_ack_uses_nothing_up():
    """A passphrase or an answer is checked in the ack, which Slack drops after 3 seconds:
    when users.info is slow, the listener says "try again" before anything is used up."""
    import asyncio
    import time

    from handlers.bound import HOLDER_BEFORE_ACK, holder_before_ack

    class SlowSlack:
        async def users_info(self, user: str):
            await asyncio.sleep(10)

    click = {"user": {"id": "U0001", "team_id": "T0003"}, "team": {"id": "T0003"}}
    started = time.monotonic()
    assert await holder_before_ack(SlowSlack(), click, "E0001") is None
    assert time.monotonic() - started < HOLDER_BEFORE_ACK + 2  # not the 10 s Slack took
