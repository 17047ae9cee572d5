"""Socket Mode: with SLACK_APP_TOKEN, Slack's requests come over a WebSocket the app opens,
in the same process and loop as the reveal page."""

from __future__ import annotations

import aiohttp

from tests.slack_fake import APP_TOKEN, BOT_TOKEN, payload
from tests.slack_harness import find_link, form_values
from tests.support.app import make_settings, serve
from tests.support.links import decrypt_answer, post_reveal


async def test_slash_command_and_modal_over_socket_mode(store, fake_slack):
    settings = make_settings(
        slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN, slack_api_url=fake_slack.api_url
    )
    served = await serve(settings, store=store)
    try:
        assert len(fake_slack.of("apps.connections.open")) == 1
        command = payload("slash_command", text="over the socket")
        command["response_url"] = fake_slack.response_url("sm")
        ack = await fake_slack.send_envelope("slash_commands", command)
        assert ack["envelope_id"]
        link = find_link((await fake_slack.wait_for("response_url"))[0])
        _, answer = await post_reveal(served.url, link)
        assert decrypt_answer(link, answer) == "over the socket"
        async with aiohttp.ClientSession() as http:
            # No signing secret is configured: the HTTP endpoint is not there at all.
            async with http.post(served.url + "/slack/events", data="x") as response:
                assert response.status == 404

        # A modal submission with an error comes back in the envelope's ack payload.
        command = payload("slash_command", text="")
        await fake_slack.send_envelope("slash_commands", command)
        view = (await fake_slack.wait_for("views.open"))[0]["view"]
        submission = payload("view_submission")
        submission["view"]["private_metadata"] = view["private_metadata"]
        submission["view"]["state"]["values"] = form_values(secret="")
        ack = await fake_slack.send_envelope("interactive", submission)
        assert ack["payload"]["response_action"] == "errors"
    finally:
        await served.runner.cleanup()
