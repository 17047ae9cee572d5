"""One identity for burn and ownership, also in Slack Connect channels and Enterprise Grid: a
person is their Grid org (else their own workspace) plus their user id
(handlers.payloads.actor). In a shared channel a payload's `team.id` names the workspace it
was sent for, while `user.team_id` names the person's own."""

from __future__ import annotations

from handlers import blocks
from handlers.payloads import actor
from tests.slack_fake import interactive_body, payload
from tests.slack_harness import find_link
from tests.slack_payloads import from_shared_channel, in_grid
from tests.support import parse_link, post_reveal

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
