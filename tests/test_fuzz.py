"""Property-based fuzzing of the two public edges: never a 5xx, never a stack trace, and the
app stays healthy. Slack requests are validly signed so they get past the signature check."""

from __future__ import annotations

import copy
import json
import os
from urllib.parse import urlencode

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.endpoint import MAX_SLACK_BODY
from tests.slack_fake import payload, sign
from tests.slack_harness import find_link

# In CI the examples are derived from each test's name, so a landing never hinges on luck;
# locally every run explores new ones (FUZZ_EXAMPLES=2000 for a longer hunt).
FUZZ = settings(
    derandomize=bool(os.environ.get("CI")),
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.text(max_size=40),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated(draw, name: str) -> dict:
    """A real Slack payload with some fields deleted or replaced by arbitrary JSON, at any depth."""
    data = copy.deepcopy(payload(name))
    for _ in range(draw(st.integers(0, 6))):
        node = data
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, dict | list) and child and draw(st.booleans()):
                node = child
                continue
            action = draw(st.sampled_from(["delete", "replace"]))
            if action == "delete" and isinstance(node, dict):
                del node[key]
            else:
                node[key] = draw(json_value)
            break
    return data


def interactive(data) -> str:
    return urlencode({"payload": json.dumps(data)})


slack_bodies = st.one_of(
    mutated("view_submission").map(interactive),
    mutated("block_actions").map(interactive),
    mutated("message_action").map(interactive),
    mutated("slash_command").map(
        lambda d: urlencode(
            {k: json.dumps(v) if not isinstance(v, str) else v for k, v in d.items()}
        )
    ),
    st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=6).map(urlencode),
    st.text(max_size=200),
    json_value.map(lambda v: urlencode({"payload": json.dumps(v)})),
    st.builds(
        lambda t: interactive({"type": t}),
        st.sampled_from(
            [
                "view_submission",
                "block_actions",
                "message_action",
                "shortcut",
                "view_closed",
                "block_suggestion",
                "event_callback",
                "url_verification",
                "interactive_message",
            ]
        ),
    ),
)


async def post(url: str, body: str, headers: dict) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=body.encode(), headers=headers) as response:
            return response.status, await response.text()


async def assert_healthy(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/healthz") as response:
            assert response.status == 200


@FUZZ
@given(body=slack_bodies)
async def test_signed_random_slack_payloads_never_get_a_5xx(slack, body):
    status, text = await post(slack.served.url + "/slack/events", body, sign(body))
    assert status < 500, (status, body[:300])
    assert "Traceback" not in text and 'File "' not in text
    await assert_healthy(slack.served.url)
    await slack.settle()
    # A random payload may lack what Slack always sends (a trigger_id), and the app's
    # views.open then lacks it too: the payload's fault. Any other refusal is the app's.
    for refusal in slack.fake.take_refusals():
        assert all("[json-pointer:/trigger_id]" in problem for problem in refusal.problems), (
            refusal.problems,
            body[:300],
        )


@FUZZ
@given(
    timestamp=st.text(max_size=20),
    signature=st.text(max_size=80),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "application/json", "text/plain", ""]
    ),
)
async def test_random_slack_headers_never_get_a_5xx(slack, timestamp, signature, content_type):
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    if content_type:
        headers["Content-Type"] = content_type
    headers = {k: v for k, v in headers.items() if v.isascii() and v.isprintable()}
    status, _ = await post(slack.served.url + "/slack/events", "command=%2Fsecret", headers)
    assert status in (400, 401, 415), status


@FUZZ
@given(
    secret_id=st.text(max_size=40).filter(lambda s: "/" not in s and "?" not in s and "#" not in s),
    body=st.one_of(
        st.text(max_size=300),
        json_value.map(json.dumps),
        st.fixed_dictionaries(
            {"link_proof": st.text(max_size=50), "auth": st.text(max_size=50)}
        ).map(json.dumps),
    ),
)
async def test_random_reveal_requests_never_get_a_5xx(served, secret_id, body):
    from urllib.parse import quote

    url = f"{served.url}/s/{quote(secret_id, safe='')}"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            assert response.status in (200, 404), response.status
            assert "Traceback" not in await response.text()
        async with http.post(url, data=body.encode()) as response:
            assert response.status < 500, response.status
            assert "Traceback" not in await response.text()
    await assert_healthy(served.url)


async def test_oversized_slack_body_is_refused_before_it_is_read_whole(slack):
    body = "payload=" + "x" * MAX_SLACK_BODY
    status, _ = await post(slack.served.url + "/slack/events", body, sign(body))
    assert status == 413
    await assert_healthy(slack.served.url)


async def test_a_response_url_off_slacks_hook_hosts_is_never_posted_to(slack):
    """A signed request names where the answer goes; the app posts only to Slack's hook
    hosts (here: the fake's), so a response_url elsewhere gets the link by DM instead."""
    fake = slack.fake
    foreign = fake.response_url("foreign").replace("127.0.0.1", "localhost")
    status, _ = await slack.command("for a foreign hook", response_url=foreign)
    assert status == 200
    dm = (await fake.wait_for("chat.postMessage"))[-1]
    assert find_link(dm)  # in the blocks: the text, shown in notifications, never holds it
    assert [call for call in fake.calls if call.method == "response_url"] == []
