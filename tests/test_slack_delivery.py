"""Getting messages to people as Slack really answers: response_urls that refuse with a 200
or have expired, and receipts sent in turn when Slack rate-limits."""

from __future__ import annotations

import json
import re
import time

import pytest

from bot.service import compact_json
from handlers.delivery import RECEIPTS_IN_FLIGHT, refused_by_hook, retry_after
from tests.slack_harness import find_link
from tests.support.links import decrypt_answer, post_reveal

CREATOR = "U2147483697"


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 200, "body": {"ok": False, "error": "expired_url"}},
        {"status": 404, "text": "expired_url"},
        {"status": 404, "text": "used_url"},
    ],
    ids=["200-ok-false", "404-expired", "404-used"],
)
async def test_a_response_url_that_did_not_post_falls_back_to_a_dm(slack, answer):
    slack.fake.fail("response_url", **answer)
    await slack.command("via dm")
    dm = (await slack.fake.wait_for("chat.postMessage"))[0]
    assert dm["channel"] == CREATOR
    link = find_link(dm)
    _, revealed = await post_reveal(slack.served.url, link)
    assert decrypt_answer(link, revealed) == "via dm"
    await slack.settle()
    assert len(slack.fake.of("response_url")) == 1  # refused for good: not retried
    counted = slack.service.metrics.render()
    assert "oncelink_slack_api_errors_total 1\n" in counted  # the refused post, not the DM


def test_what_a_response_url_answer_means():
    assert refused_by_hook("ok") == ""
    assert refused_by_hook('{"ok": true}') == ""
    assert refused_by_hook('{"ok": false, "error": "expired_url"}') == "expired_url"
    assert refused_by_hook('{"ok": false}') == "refused"
    assert refused_by_hook("") == ""


def test_retry_after_is_read_as_slack_sends_it():
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"Retry-After": ["3"]}) == 3.0
    assert retry_after({}) == 1.0
    assert retry_after({"Retry-After": "soon"}) == 1.0
    assert retry_after({"Retry-After": "0"}) == 1.0


async def test_200_expiry_receipts_go_out_in_turn_and_none_is_lost_to_429(slack):
    service, fake = slack.service, slack.fake
    for n in range(200):
        await service.create(
            f"secret {n}",
            ttl=300,
            creator=f"T0001:{CREATOR}",
            metadata=compact_json({"n": f"note {n}"}),
            track=True,
        )
    fake.slow("chat.postMessage", 0.02)  # so calls sent at once overlap at the fake
    fake.throttle("chat.postMessage", {5, 60, 150}, retry_after=1)

    assert await service.sweep_expired(time.time() + 400) == 200
    await service.drain()  # every receipt's work, including waiting out the 429s

    calls = [call for call in fake.calls if call.method == "chat.postMessage"]
    assert len(fake.rate_limited) == 3
    limited = {id(call) for call in fake.rate_limited}
    delivered = [call for call in calls if id(call) not in limited]
    notes = [re.search(r"\*Note:\* (note \d+)", json.dumps(c.params)).group(1) for c in delivered]
    assert sorted(notes) == sorted(f"note {n}" for n in range(200))  # all, and each once
    # Never more than the bound at once, and more than one (pacing, not one by one).
    assert 1 < fake.peak_in_flight["chat.postMessage"] <= RECEIPTS_IN_FLIGHT
    # Retry-After is honoured by all of them: in the second after a 429, only receipts
    # already on their way arrive (without pacing, dozens would).
    for refused in fake.rate_limited:
        soon = [call for call in calls if refused.at < call.at < refused.at + 1.0]
        assert len(soon) <= RECEIPTS_IN_FLIGHT, len(soon)
