"""Every view and message the app can build stays within Slack's rules, for edge inputs; and
no notification text ever carries a link or a key.

The builders are pure functions, so each is called directly with the largest and oddest
inputs the app can hand it, and checked with the same rules the fake Slack applies.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from bot.outside import ANSWER_MARK, FILE, WAITING_MARK, OutsideAnswer, OutsideTicket
from bot.service import ExpiryNotice, Outcome, SecretSummary, compact_json
from handlers import blocks, home_blocks, outside
from handlers.workspace import Policy, Prefs
from tests.slack_harness import LINK, SlackHarness, find_link, form_values
from tests.slack_rules import MESSAGE_BLOCKS_MAX, VIEW_BLOCKS_MAX, check_message, check_view
from tests.support.links import post_reveal

CREATOR = "U2147483697"
NOW = 1_800_000_000.0
KEY = "Ab-_" * 10 + "x_-"  # 43 base64url characters, with the two that mrkdwn could read
LINK_URL = "https://secrets.example.com/s/AAAAAAAAAAAAAAAAAAAAAA#" + KEY
SECRET_3000 = ("p&ss<w>rd *_~` 🔐 " * 200)[:3000]
NOTE = ("&<>*_~`" * 30)[: blocks.NOTE_MAX]  # at its longest, all Slack control characters
EMOJI_NOTE = ("🔐🗝️👩‍💻" * 60)[: blocks.NOTE_MAX]
WHAT_FOR_200 = ("the *prod* DB <root> & `admin` " * 10)[:200]
LONG_USER = "W" + "0123456789ABCDEFGHIJ"  # Grid user ids are longer than U…
CHOICES_100 = tuple(300 * (n + 1) for n in range(100))
REVEAL_VALUE = compact_json({"s": "A" * 22, "k": KEY, "r": LONG_USER, "c": LONG_USER})
# A key or a whole link's fragment: 43 base64url characters in a row.
KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def summaries(count: int, note: str = NOTE) -> list[SecretSummary]:
    outcomes = [Outcome.WAITING, Outcome.REVEALED, Outcome.BURNED, Outcome.EXPIRED]
    return [
        SecretSummary(
            f"{n:022d}",
            compact_json({"c": "C1", "n": note, "r": LONG_USER}),
            NOW - n,
            NOW + 86400,
            outcomes[n % 4],
            NOW if n % 4 else 0.0,
        )
        for n in range(count)
    ]


TICKET = OutsideTicket(
    "A" * 22, "https://secrets.example.com/r/" + "A" * 22 + "#" + KEY + "." + "B" * 87, KEY, NOW
)


def outside_summaries(note: str = NOTE) -> list[SecretSummary]:
    """Requests to someone outside Slack in every state the list shows."""
    rows = [
        (WAITING_MARK, Outcome.WAITING),
        (WAITING_MARK, Outcome.EXPIRED),
        (WAITING_MARK, Outcome.CANCELLED),
        (ANSWER_MARK, Outcome.WAITING),
        (ANSWER_MARK, Outcome.REVEALED),
        (ANSWER_MARK, Outcome.BURNED),
    ]
    return [
        SecretSummary(f"{n:022d}", compact_json({"n": note, "q": mark}), NOW, NOW, outcome, NOW)
        for n, (mark, outcome) in enumerate(rows * 3)
    ]


def details(**extra) -> blocks.LinkDetails:
    return blocks.LinkDetails(secret_id="A" * 22, link=LINK_URL, expires_at=NOW, note=NOTE, **extra)


def admin_settings() -> list[dict]:
    policy = Policy(CHOICES_100, CHOICES_100[10], CHOICES_100[-1], True)
    return home_blocks.settings_blocks(Prefs(), policy, CHOICES_100)


MESSAGES = {
    "link": lambda: blocks.link_message(details(has_passphrase=True)),
    "link, sent to a recipient": lambda: blocks.link_message(
        details(recipient=LONG_USER, recipient_sent=True, from_shortcut=True)
    ),
    "link, recipient unreachable": lambda: blocks.link_message(details(recipient=LONG_USER)),
    "link, generated password": lambda: blocks.link_message(
        details(generated_password="&<>*_~`" * 18 + "xx")  # 128, the longest generated
    ),
    "link, bound": lambda: blocks.link_message(
        details(recipient=LONG_USER, recipient_sent=True, bound=True)
    ),
    "recipient DM": lambda: blocks.recipient_message(
        creator=LONG_USER, link=LINK_URL, note=NOTE, expires_at=NOW
    ),
    "recipient DM, emoji note": lambda: blocks.recipient_message(
        creator=LONG_USER, link=LINK_URL, note=EMOJI_NOTE, expires_at=NOW
    ),
    "bound DM": lambda: blocks.bound_message(
        creator=LONG_USER, reveal_value=REVEAL_VALUE, note=NOTE, expires_at=NOW, has_passphrase=True
    ),
    "revealed in Slack": lambda: blocks.revealed_in_slack_message(NOW),
    "receipt": lambda: blocks.receipt_message(revealed_at=NOW, note=NOTE, channel="C1"),
    "receipt, made in a DM": lambda: blocks.receipt_message(
        revealed_at=NOW, note=EMOJI_NOTE, channel="D024BE91L"
    ),
    "expiry receipt": lambda: blocks.expiry_receipt_message(
        expires_at=NOW, note=NOTE, recipient=LONG_USER
    ),
    "request DM": lambda: blocks.request_message(
        requester=LONG_USER, request_id="A" * 22, what_for=WHAT_FOR_200, expires_at=NOW
    ),
    "notice": lambda: blocks.notice("&<>*_~` " * 300),
    "help": lambda: blocks.notice(blocks.help_text("/secret", CHOICES_100, CHOICES_100[0])),
    "list, 500 secrets": lambda: home_blocks.list_message(summaries(500)),
    "list, none": lambda: home_blocks.list_message([]),
    "list, emoji notes": lambda: home_blocks.list_message(summaries(60, EMOJI_NOTE)),
    "list, outside requests": lambda: home_blocks.list_message(outside_summaries()),
    "outside upload link": lambda: outside.link_message(TICKET, NOTE),
    "outside request DM": lambda: outside.request_dm(
        TICKET, NOTE, outside.reveal_value(TICKET, LONG_USER, "E" + "0" * 10)
    ),
    "outside answered DM": lambda: outside.answered_dm(
        OutsideAnswer("A" * 22, "T1:" + LONG_USER, NOTE, FILE, NOW, "T1")
    ),
    "outside file link": lambda: outside.file_link_message(LINK_URL + "." + KEY),
    "outside cancelled": outside.cancelled_message,
    "outside expired unanswered": lambda: outside.expired_dm(
        ExpiryNotice("A" * 22, "T1:U1", compact_json({"n": NOTE, "q": WAITING_MARK}), NOW, NOW),
        WAITING_MARK,
    ),
    "outside answer expired": lambda: outside.expired_dm(
        ExpiryNotice("A" * 22, "T1:U1", compact_json({"n": EMOJI_NOTE}), NOW, NOW), ANSWER_MARK
    ),
}

VIEWS = {
    "share form, 100 expiry choices": lambda: blocks.share_modal(
        expiry_choices=CHOICES_100,
        default_ttl=CHOICES_100[50],
        private_metadata=json.dumps({"response_url": "https://hooks.slack.com/" + "x" * 200}),
        prefill=SECRET_3000,
    ),
    "share form, a prefill over 3000": lambda: blocks.share_modal(
        expiry_choices=(300,), default_ttl=300, private_metadata="{}", prefill="x" * 5000
    ),
    "share form, a default not offered": lambda: blocks.share_modal(
        expiry_choices=(300, 3600), default_ttl=7, private_metadata="{}"
    ),
    "opening": blocks.opening_modal,
    "passphrase": lambda: blocks.passphrase_modal(
        compact_json({"s": "A" * 22, "k": KEY, "u": "https://hooks.slack.com/" + "x" * 300}),
        LONG_USER,
    ),
    "secret, 3000 characters": lambda: blocks.secret_modal(SECRET_3000),
    "secret, 32 KiB": lambda: blocks.secret_modal("🔐" * 8192),
    "secret, one character": lambda: blocks.secret_modal("x"),
    "sorry": lambda: blocks.sorry_modal("&<>*_~` " * 300),
    "request form, 200-character what-for": lambda: blocks.request_modal(
        private_metadata="{}", asked=LONG_USER, what_for=WHAT_FOR_200
    ),
    "answer form": lambda: blocks.answer_modal(
        private_metadata="{}", requester=LONG_USER, what_for=WHAT_FOR_200
    ),
}

HOMES = {
    "500 secrets and admin settings": lambda: home_blocks.home_view(
        summaries(500), admin_settings()
    ),
    "none": lambda: home_blocks.home_view([], None),
}


@pytest.mark.parametrize("name", list(MESSAGES))
def test_every_message_passes_slack_rules_for_edge_inputs(name):
    message = MESSAGES[name]()
    assert check_message(message) == []


@pytest.mark.parametrize("name", list(VIEWS))
def test_every_modal_passes_slack_rules_for_edge_inputs(name):
    assert check_view(VIEWS[name]()) == []


@pytest.mark.parametrize("name", list(HOMES))
def test_the_home_tab_passes_slack_rules_for_edge_inputs(name):
    assert check_view(HOMES[name](), ("home",)) == []


def test_500_secrets_fit_a_message_and_the_home_tab_and_say_how_many_more():
    listed = home_blocks.list_message(summaries(500))
    home = home_blocks.home_view(summaries(500), admin_settings())
    assert len(listed["blocks"]) <= MESSAGE_BLOCKS_MAX and len(home["blocks"]) <= VIEW_BLOCKS_MAX
    entries = [block for block in listed["blocks"] if block["type"] == "section"]
    assert len(entries) == home_blocks.LISTED_AT_MOST
    more = f"and {500 - home_blocks.LISTED_AT_MOST} older ones"
    assert more in json.dumps(listed) and more in json.dumps(home)


@pytest.mark.parametrize("name", list(MESSAGES))
def test_no_notification_text_holds_a_link_or_a_key(name):
    message = MESSAGES[name]()
    assert "/s/" not in message["text"] and KEY not in message["text"]
    assert KEY_SHAPE.search(message["text"]) is None


def test_links_are_written_as_mrkdwn_links_so_no_part_of_a_key_is_formatting():
    for message in (MESSAGES["link"](), MESSAGES["recipient DM"]()):
        shown = json.dumps(message["blocks"])
        assert f"<{LINK_URL}>" in shown
        assert shown.count(LINK_URL) == 1


def test_help_escapes_text_that_slack_would_read_as_a_link():
    help_text = blocks.help_text("/secret", (300,), 300)
    assert "&lt;text&gt;" in help_text and "<text>" not in help_text
    # Only Slack's own markup may use < and >: here, none at all.
    assert "<" not in help_text and ">" not in help_text


@pytest.mark.parametrize(
    ("channel", "named"),
    [
        ("D024BE91L", "you created in a direct message"),
        ("directmessage", "you created in a direct message"),
        ("C2147483705", "you created in <#C2147483705>"),
        ("G0PRIVATE1", "you created in <#G0PRIVATE1>"),
    ],
)
def test_a_receipt_names_where_the_secret_was_made(channel, named):
    receipt = blocks.receipt_message(revealed_at=NOW, note="", channel=channel)
    assert named in json.dumps(receipt["blocks"])


def _sent_messages(slack: SlackHarness) -> list[dict]:
    kinds = ("chat.postMessage", "chat.postEphemeral", "chat.update", "response_url")
    return [call.params for call in slack.fake.calls if call.method in kinds]


async def test_no_message_sent_in_any_flow_has_a_link_or_key_in_its_text(slack):
    """Every flow that sends a link, a key or a Reveal button, then every message sent."""
    fake = slack.fake
    await slack.command("inline p&ss")  # the link, where the person asked
    inline = (await fake.wait_for("response_url"))[-1]
    view = await slack.open_modal()
    await slack.submit(form_values(recipient="UBOB", note="n"), view["private_metadata"])
    view = await slack.open_modal()
    await slack.submit(form_values(recipient="UBOB", bound=True), view["private_metadata"])
    await slack.command("generate")
    await fake.wait_for("response_url", 4)
    fake.fail("response_url", status=404, text="expired_url")  # so the link goes by DM
    await slack.command("by dm")
    sent = await fake.wait_for("chat.postMessage", 3)  # recipient, bound, the fallback DM
    assert find_link(sent[-1]) and sent[-1]["channel"] == CREATOR
    assert (await post_reveal(slack.served.url, find_link(inline)))[0] == 200
    view = await slack.open_modal()
    await slack.submit(form_values(ttl=300, note="expiring"), view["private_metadata"])
    await fake.wait_for("response_url", 6)
    assert await slack.service.sweep_expired(time.time() + 400) == 1
    await slack.service.drain()
    await slack.command("request <@UALICE001|alice> the DB")
    request_form = (await fake.wait_for("views.open", 4))[-1]["view"]
    asked = {
        blocks.ASK_BLOCK: {
            blocks.ASK_SELECT: {"type": "users_select", "selected_user": "UALICE001"}
        }
    }
    await slack.submit_view(blocks.REQUEST_MODAL, asked, request_form["private_metadata"], CREATOR)
    await fake.wait_for("response_url", 7)  # "Asked <@UALICE001>…"
    await slack.command("list")
    await fake.wait_for("response_url", 8)
    await slack.command('request --outside "vendor key"')  # an upload link and a Reveal DM
    await fake.wait_for("response_url", 9)
    await slack.settle()

    messages = _sent_messages(slack)
    everything = json.dumps(messages)
    assert len(LINK.findall(everything)) >= 4  # links were sent, in blocks
    assert '"action_id": "reveal_bound_secret"' in everything  # and a Reveal button
    assert f'"action_id": "{outside.REVEAL_ACTION}"' in everything
    assert "/r/" in everything  # and an upload link
    assert any("expired unread" in m["text"] for m in messages)
    assert any("was revealed" in m["text"] for m in messages)
    assert any("asks you for a secret" in m["text"] for m in messages)
    for message in messages:
        assert "/s/" not in message["text"], message["text"]
        assert KEY_SHAPE.search(message["text"]) is None, message["text"]
