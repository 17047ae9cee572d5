"""The fake Slack refuses what Slack refuses: each documented limit, just over and at it.

Every case goes through the fake's HTTP endpoints, as the app's calls do, so these tests
prove both the rule (tests/slack_rules.py) and that the fake answers with Slack's shape.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from handlers import blocks
from tests import slack_rules as rules
from tests.slack_fake import BOT_TOKEN, FakeSlack

SEVENTY_SEVEN = "They get a Reveal button in Slack instead of a link; nobody else can open it."


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def section(text: str = "hello", **extra) -> dict:
    return {"type": "section", "text": mrkdwn(text), **extra}


def option(text: str = "One", value: str = "1", **extra) -> dict:
    return {"text": plain(text), "value": value, **extra}


def modal(*blocks_: dict, **extra) -> tuple[str, dict]:
    view = {"type": "modal", "title": plain("Title"), "blocks": list(blocks_) or [section()]}
    return "views.open", {"trigger_id": "12345.98765.abcd", "view": {**view, **extra}}


def home(*blocks_: dict) -> tuple[str, dict]:
    return "views.publish", {"user_id": "U1", "view": {"type": "home", "blocks": list(blocks_)}}


def message(*blocks_: dict, text: str = "fallback") -> tuple[str, dict]:
    return "chat.postMessage", {"channel": "C1", "text": text, "blocks": list(blocks_)}


def input_block(element: dict, **extra) -> dict:
    return {"type": "input", "block_id": "in", "label": plain("Label"), "element": element, **extra}


def in_input(element: dict) -> tuple[str, dict]:
    return modal(input_block(element), submit=plain("Go"))


def actions(*elements: dict) -> dict:
    return {"type": "actions", "elements": list(elements)}


def button(**extra) -> dict:
    return {"type": "button", "action_id": "b", "text": plain("Go"), "value": "v", **extra}


def static_select(options: list[dict], **extra) -> dict:
    return {"type": "static_select", "action_id": "s", "options": options, **extra}


def confirm(**parts: str) -> dict:
    texts = {"title": "Sure?", "text": "Really.", "confirm": "Yes", "deny": "No", **parts}
    return button(confirm={key: plain(value) for key, value in texts.items()})


def text_input(**extra) -> dict:
    return {"type": "plain_text_input", "action_id": "t", **extra}


# Each family: the documented limit, and a payload holding `n` (characters or items).
FAMILIES: dict[str, tuple[int, Callable[[int], tuple[str, dict]]]] = {
    "modal title": (24, lambda n: modal(title=plain("t" * n))),
    "modal submit": (24, lambda n: modal(submit=plain("s" * n))),
    "modal close": (24, lambda n: modal(close=plain("c" * n))),
    "blocks in a modal": (100, lambda n: modal(*[section()] * n)),
    "blocks in the Home tab": (100, lambda n: home(*[section()] * n)),
    "blocks in a message": (50, lambda n: message(*[section()] * n)),
    "private_metadata": (3000, lambda n: modal(private_metadata="m" * n)),
    "callback_id": (255, lambda n: modal(callback_id="c" * n)),
    "section text": (3000, lambda n: message(section("x" * n))),
    "section fields": (10, lambda n: message({"type": "section", "fields": [mrkdwn("f")] * n})),
    "section field text": (
        2000,
        lambda n: message({"type": "section", "fields": [mrkdwn("f" * n)]}),
    ),
    "header text": (150, lambda n: message({"type": "header", "text": plain("h" * n)})),
    "context elements": (10, lambda n: message({"type": "context", "elements": [mrkdwn("c")] * n})),
    "actions elements": (
        25,
        lambda n: message(actions(*[button(action_id=f"b{i}") for i in range(n)])),
    ),
    "button text": (75, lambda n: message(actions(button(text=plain("b" * n))))),
    "button value": (2000, lambda n: message(actions(button(value="v" * n)))),
    "button url": (3000, lambda n: message(actions(button(url="https://e.x/" + "u" * (n - 12))))),
    "option text": (75, lambda n: in_input(static_select([option(text="o" * n)]))),
    "option description": (
        75,
        lambda n: in_input(
            {
                "type": "checkboxes",
                "action_id": "c",
                "options": [option(description=plain("d" * n))],
            }
        ),
    ),
    "option value": (150, lambda n: in_input(static_select([option(value="v" * n)]))),
    "static_select options": (
        100,
        lambda n: in_input(static_select([option(value=str(i)) for i in range(n)])),
    ),
    "checkboxes options": (
        10,
        lambda n: in_input(
            {
                "type": "checkboxes",
                "action_id": "c",
                "options": [option(value=str(i)) for i in range(n)],
            }
        ),
    ),
    "radio_buttons options": (
        10,
        lambda n: in_input(
            {
                "type": "radio_buttons",
                "action_id": "r",
                "options": [option(value=str(i)) for i in range(n)],
            }
        ),
    ),
    "plain_text_input max_length": (3000, lambda n: in_input(text_input(max_length=n))),
    "plain_text_input min_length": (3000, lambda n: in_input(text_input(min_length=n))),
    "initial_value within max_length": (
        20,
        lambda n: in_input(text_input(max_length=20, initial_value="i" * n)),
    ),
    "placeholder": (150, lambda n: in_input(text_input(placeholder=plain("p" * n)))),
    "input label": (
        2000,
        lambda n: modal(input_block(text_input(), label=plain("l" * n)), submit=plain("Go")),
    ),
    "input hint": (
        2000,
        lambda n: modal(input_block(text_input(), hint=plain("h" * n)), submit=plain("Go")),
    ),
    "action_id": (255, lambda n: message(actions(button(action_id="a" * n)))),
    "block_id": (255, lambda n: message(section(block_id="b" * n))),
    "confirm title": (100, lambda n: message(actions(confirm(title="t" * n)))),
    "confirm text": (300, lambda n: message(actions(confirm(text="t" * n)))),
    "confirm button": (30, lambda n: message(actions(confirm(confirm="c" * n)))),
    "deny button": (30, lambda n: message(actions(confirm(deny="d" * n)))),
}

# Rules that are not a number: (what Slack refuses, what it accepts instead).
SHAPES: dict[str, tuple[tuple[str, dict], tuple[str, dict]]] = {
    "message with blocks needs a text fallback": (
        message(section(), text=""),
        message(section()),
    ),
    "empty text object": (message(section("")), message(section("x"))),
    "plain_text modal title": (modal(title=mrkdwn("Title")), modal(title=plain("Title"))),
    "plain_text input label": (
        modal(input_block(text_input(), label=mrkdwn("L")), submit=plain("Go")),
        modal(input_block(text_input(), label=plain("L")), submit=plain("Go")),
    ),
    "plain_text button text": (
        message(actions(button(text=mrkdwn("Go")))),
        message(actions(button(text=plain("Go")))),
    ),
    "plain_text option text in a select": (
        in_input(static_select([{"text": mrkdwn("One"), "value": "1"}])),
        in_input(static_select([{"text": plain("One"), "value": "1"}])),
    ),
    "plain_text confirm text": (
        message(actions(button(confirm={**confirm()["confirm"], "text": mrkdwn("Really.")}))),
        message(actions(confirm())),
    ),
    "emoji only on plain_text": (
        message({"type": "section", "text": {"type": "mrkdwn", "text": "x", "emoji": True}}),
        message({"type": "section", "text": {"type": "plain_text", "text": "x", "emoji": True}}),
    ),
    "initial_option among the options": (
        in_input(static_select([option()], initial_option=option(text="Two", value="2"))),
        in_input(static_select([option()], initial_option=option())),
    ),
    "initial_options among the options": (
        in_input(
            {
                "type": "checkboxes",
                "action_id": "c",
                "options": [option()],
                "initial_options": [option(value="2")],
            }
        ),
        in_input(
            {
                "type": "checkboxes",
                "action_id": "c",
                "options": [option()],
                "initial_options": [option()],
            }
        ),
    ),
    "block_ids unique in a surface": (
        message(section(block_id="a"), section(block_id="a")),
        message(section(block_id="a"), section(block_id="b")),
    ),
    "action_ids unique in a block": (
        message(actions(button(action_id="x"), button(action_id="x"))),
        message(actions(button(action_id="x"), button(action_id="y"))),
    ),
    "plain_text_input max_length at least 1": (
        in_input(text_input(max_length=0)),
        in_input(text_input(max_length=1)),
    ),
    "submit with input blocks": (
        modal(input_block(text_input())),
        modal(input_block(text_input()), submit=plain("Go")),
    ),
    "rich_text element types": (
        message({"type": "rich_text", "elements": [{"type": "rich_text_box", "elements": []}]}),
        message(
            {
                "type": "rich_text",
                "elements": [
                    {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "x"}]}
                ],
            }
        ),
    ),
    "rich_text list style": (
        message(
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_list",
                        "elements": [
                            {
                                "type": "rich_text_section",
                                "elements": [{"type": "text", "text": "x"}],
                            }
                        ],
                    }
                ],
            }
        ),
        message(
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_list",
                        "style": "bullet",
                        "elements": [
                            {
                                "type": "rich_text_section",
                                "elements": [{"type": "text", "text": "x"}],
                            }
                        ],
                    }
                ],
            }
        ),
    ),
    "ephemeral needs a user": (
        ("chat.postEphemeral", {"channel": "C1", "text": "hi"}),
        ("chat.postEphemeral", {"channel": "C1", "user": "U1", "text": "hi"}),
    ),
    "home tab is a home view": (
        (
            "views.publish",
            {"user_id": "U1", "view": {"type": "modal", "title": plain("T"), "blocks": []}},
        ),
        home(section()),
    ),
}


async def call(fake: FakeSlack, method: str, params: dict) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            fake.api_url + method, json=params, headers={"Authorization": f"Bearer {BOT_TOKEN}"}
        ) as response:
            assert response.status == 200
            return await response.json()


async def assert_refused(fake: FakeSlack, method: str, params: dict) -> list[str]:
    answer = await call(fake, method, params)
    expected = "invalid_blocks" if method.startswith("chat.") else "invalid_arguments"
    assert answer["ok"] is False and answer["error"] == expected, answer
    messages = answer["response_metadata"]["messages"]
    if method.startswith("chat."):
        assert answer["errors"] == [m.removeprefix("[ERROR] ") for m in messages]
    assert messages and all(m.startswith("[ERROR] ") and "[json-pointer:/" in m for m in messages)
    refusals = fake.take_refusals()
    assert [r.method for r in refusals] == [method]
    assert fake.of(method)[-1] == params  # recorded all the same
    return messages


async def assert_accepted(fake: FakeSlack, method: str, params: dict) -> None:
    answer = await call(fake, method, params)
    assert answer["ok"] is True, answer
    assert fake.refused == []


async def test_the_fake_refuses_the_77_character_checkbox_description(fake_slack):
    assert len(SEVENTY_SEVEN) == 77
    view = blocks.share_modal(expiry_choices=(300, 3600), default_ttl=3600, private_metadata="{}")
    view["blocks"][4]["element"]["options"][0]["description"]["text"] = SEVENTY_SEVEN
    messages = await assert_refused(fake_slack, "views.open", {"trigger_id": "t", "view": view})
    assert messages == [
        "[ERROR] must be less than 76 characters "
        "[json-pointer:/view/blocks/4/element/options/0/description/text]"
    ]
    view["blocks"][4]["element"]["options"][0]["description"]["text"] = SEVENTY_SEVEN[:75]
    await assert_accepted(fake_slack, "views.open", {"trigger_id": "t", "view": view})


def test_the_form_the_app_opens_keeps_its_description_within_75():
    view = blocks.share_modal(expiry_choices=(300,), default_ttl=300, private_metadata="{}")
    description = view["blocks"][4]["element"]["options"][0]["description"]["text"]
    assert len(description) <= rules.OPTION_TEXT_MAX
    assert rules.check_view(view) == []


@pytest.mark.parametrize("family", list(FAMILIES))
async def test_just_over_a_limit_is_refused_and_the_limit_itself_accepted(fake_slack, family):
    limit, build = FAMILIES[family]
    assert len(await assert_refused(fake_slack, *build(limit + 1))) == 1  # for this one rule
    await assert_accepted(fake_slack, *build(limit))


@pytest.mark.parametrize("rule", list(SHAPES))
async def test_a_payload_of_the_wrong_shape_is_refused(fake_slack, rule):
    refused, accepted = SHAPES[rule]
    assert len(await assert_refused(fake_slack, *refused)) == 1  # for this one rule
    await assert_accepted(fake_slack, *accepted)


async def test_a_response_url_post_that_breaks_a_rule_gets_400_invalid_blocks(fake_slack):
    _, bad = message(section("x" * 3001))
    async with aiohttp.ClientSession() as http:
        async with http.post(fake_slack.response_url("hook"), json=bad) as response:
            assert (response.status, await response.text()) == (400, "invalid_blocks")
        assert fake_slack.of("response_url") == [bad]
        assert [r.method for r in fake_slack.take_refusals()] == ["response_url"]
        _, good = message(section("x" * 3000))
        async with http.post(fake_slack.response_url("hook"), json=good) as response:
            assert (response.status, await response.text()) == (200, "ok")
    assert fake_slack.refused == []


async def test_a_refusal_nobody_took_fails_the_test_when_the_fake_stops():
    fake = FakeSlack()
    await fake.start()
    await call(fake, *message(section(""), text=""))
    with pytest.raises(AssertionError, match="Slack would have refused"):
        await fake.stop()
