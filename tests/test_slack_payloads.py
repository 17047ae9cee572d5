"""Text as Slack sends it comes back as the person typed it: slash-command text is unescaped
once at the edge, and a message shortcut prefills the form with the author's own text."""

from __future__ import annotations

import json

import pytest

from handlers import blocks
from handlers.message_text import from_markup, typed_text
from handlers.payloads import command_text, slack_unescape
from tests.slack_fake import payload
from tests.slack_harness import find_link, form_values
from tests.slack_payloads import (
    emoji,
    link,
    plain,
    preformatted,
    rich_text,
    section,
    slack_escaped,
    typed_message,
    user,
)
from tests.support.links import decrypt_answer, post_reveal

TYPED = "p&ss<w>rd &amp; &lt;b&gt; <@U0001> <https://x.example>"
RICH_TYPED = (
    "@U0BOB0001 staging db: https://db.example.com:5432/app?a=1&b=2 user ops@example.com "
    "pw p&ss<w>rd :key:\npsql -U ops -h <host>\nexit"
)


def test_slack_unescape_undoes_exactly_one_level():
    assert slack_unescape(slack_escaped(TYPED)) == TYPED
    assert slack_unescape("&amp;lt; &quot; &#60;") == "&lt; &quot; &#60;"
    assert command_text({"text": "p&amp;ss&lt;w&gt;rd"}) == "p&ss<w>rd"


async def test_inline_secret_with_control_characters_reveals_as_typed(slack):
    await slack.command(TYPED)
    link_ = find_link((await slack.fake.wait_for("response_url"))[0])
    _, answer = await post_reveal(slack.served.url, link_)
    assert decrypt_answer(link_, answer) == TYPED


async def test_request_what_for_is_unescaped_once(slack):
    await slack.command("request @alice the R&D <prod> key")
    modal = (await slack.fake.wait_for("views.open"))[0]["view"]
    assert modal["callback_id"] == blocks.REQUEST_MODAL
    assert modal["blocks"][1]["element"]["initial_value"] == "the R&D <prod> key"


async def test_generate_arguments_survive_escaping(slack):
    status, body = await slack.command("generate 5 <x>")
    assert status == 200
    assert "at most a length" in json.loads(body)["text"]


def test_rich_message_fixture_prefill_is_what_the_author_typed():
    message = payload("message_action_rich")["message"]
    assert typed_text(message) == RICH_TYPED
    # Without blocks, the markup gives the same text except for formatting marks it cannot
    # tell from typed ones (the backticks and fences stay).
    fallback = from_markup(message["text"])
    assert fallback == (
        "@U0BOB0001 staging db: https://db.example.com:5432/app?a=1&b=2 user ops@example.com "
        "pw `p&ss<w>rd` :key:\n```psql -U ops -h <host>\nexit```"
    )


@pytest.mark.parametrize(
    ("elements", "expected"),
    [
        ([link("https://a.example/x?y=1&z=2")], "https://a.example/x?y=1&z=2"),
        ([link("https://a.example", "the docs")], "the docs"),
        ([link("mailto:a@b.c", "a@b.c")], "a@b.c"),
        ([link("mailto:a@b.c")], "a@b.c"),
        ([user("U0123ABCD"), plain(" hi")], "@U0123ABCD hi"),
        ([emoji("lock"), plain("<&>")], ":lock:<&>"),
        ([emoji("+1", "1f44d-1f3fc", skin_tone=3), plain("!")], ":+1::skin-tone-3:!"),
        ([plain("x", code=True), plain("y", bold=True)], "xy"),
        ([{"type": "broadcast", "range": "here"}], "@here"),
        ([{"type": "channel", "channel_id": "C0001"}], "#C0001"),
    ],
)
def test_rich_text_elements_become_their_typed_text(elements, expected):
    assert typed_text({"text": "ignored", "blocks": [rich_text(section(*elements))]}) == expected


def test_code_blocks_lists_and_quotes_stand_on_their_own_lines():
    message = {
        "blocks": [
            rich_text(
                section(plain("before")),
                preformatted("a  b\n\tc"),
                section(plain("after")),
                {
                    "type": "rich_text_list",
                    "style": "ordered",
                    "indent": 0,
                    "elements": [section(plain("one")), section(plain("two"))],
                },
                {"type": "rich_text_quote", "elements": [plain("q1\nq2")]},
            )
        ]
    }
    assert typed_text(message) == "before\na  b\n\tc\nafter\n1. one\n2. two\n> q1\n> q2"


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<https://a.example|label &amp; more>", "label & more"),
        ("<https://a.example/?q=1&amp;r=2>", "https://a.example/?q=1&r=2"),
        ("<mailto:a@b.c|a@b.c>", "a@b.c"),
        ("<@U0001> and <@U0002|bob>", "@U0001 and @bob"),
        ("<#C0001|general>", "#general"),
        ("<!here> <!channel> <!here|here>", "@here @channel @here"),
        ("<!subteam^S0001|@ops> <!subteam^S0002>", "@ops @S0002"),
        ("<!date^1700000000^{date}|Nov 14>", "Nov 14"),
        ("a &amp;lt; b", "a &lt; b"),
    ],
)
def test_markup_fallback_is_plain_text(markup, expected):
    assert typed_text({"text": markup}) == expected


def test_an_unknown_element_falls_back_to_the_markup_rather_than_drop_text():
    message = {
        "text": "secret &lt;3 <https://x.example>",
        "blocks": [rich_text(section(plain("secret <3 "), {"type": "mystery", "x": 1}))],
    }
    assert typed_text(message) == "secret <3 https://x.example"


async def test_shortcut_prefills_the_authors_text_and_it_reveals_as_typed(slack):
    message = payload("message_action_rich")["message"]
    await slack.shortcut("", message={"text": message["text"], "blocks": message["blocks"]})
    view = (await slack.fake.wait_for("views.open"))[0]["view"]
    assert view["blocks"][0]["element"]["initial_value"] == RICH_TYPED
    await slack.submit(form_values(secret=RICH_TYPED), view["private_metadata"])
    link_ = find_link((await slack.fake.wait_for("response_url"))[0])
    _, answer = await post_reveal(slack.served.url, link_)
    assert decrypt_answer(link_, answer) == RICH_TYPED


async def test_a_message_longer_than_the_field_is_refused_not_cut(slack):
    long_text = "&" * blocks.SLACK_INPUT_MAX + "tail"
    status, _ = await slack.shortcut(long_text)
    assert status == 200
    told = (await slack.fake.wait_for("response_url"))[0]
    assert "3,004 characters" in told["text"] and "Nothing was shared" in told["text"]
    assert told["response_type"] == "ephemeral"
    await slack.settle()
    assert slack.fake.of("views.open") == []


async def test_a_message_of_exactly_the_field_size_is_prefilled_whole(slack):
    whole = "<" * blocks.SLACK_INPUT_MAX
    await slack.shortcut(whole)
    view = (await slack.fake.wait_for("views.open"))[0]["view"]
    assert view["blocks"][0]["element"]["initial_value"] == whole


async def test_control_characters_reveal_as_typed_in_chromium(slack, page):
    """`&`, `<`, `>` typed after /secret and in a shared message, revealed in a browser."""
    await slack.command(TYPED)
    first = find_link((await slack.fake.wait_for("response_url"))[0])
    typed = "message p&ss<w>rd &gt; x"
    await slack.shortcut("", message=typed_message(typed))
    view = (await slack.fake.wait_for("views.open"))[0]["view"]
    prefilled = view["blocks"][0]["element"]["initial_value"]
    assert prefilled == typed
    await slack.submit(form_values(secret=prefilled), view["private_metadata"])
    second = find_link((await slack.fake.wait_for("response_url", 2))[1])
    for link_, expected in ((first, TYPED), (second, typed)):
        tab = await page.context.new_page()
        await tab.goto(link_)
        await tab.get_by_role("button", name="Reveal secret").click()
        await tab.locator("#secret").wait_for(state="visible")
        assert await tab.locator("#secret").input_value() == expected
