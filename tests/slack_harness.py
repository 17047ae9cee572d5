"""Drives the app as Slack would: signed requests in, recorded Web API calls out."""

from __future__ import annotations

import json
import re
import time

import aiohttp

from handlers import RUNTIME_KEY, blocks
from tests.slack_fake import command_body, interactive_body, payload, sign
from tests.slack_payloads import message_action, typed_message
from tests.slack_rules import check_ack

LINK = re.compile(r"https?://[^\s|>]+/s/[A-Za-z0-9_-]{22}#[A-Za-z0-9_-]{43}")


def find_link(message: dict) -> str:
    """The link in a message's blocks, where people read it. Never in its `text`: Slack
    shows that in push and email notifications."""
    shown = json.dumps(message.get("blocks", []))
    found = LINK.search(shown)
    assert found, f"no link in the blocks of {message.get('text', '')[:80]!r}"
    return found.group(0)


def form_values(
    secret: str = "hunter2",
    ttl: int = 86400,
    passphrase: str | None = None,
    recipient: str | None = None,
    note: str | None = None,
    bound: bool = False,
) -> dict:
    """`view.state.values` exactly as Slack sends it for our modal."""
    chosen = [
        {
            "text": {"type": "plain_text", "text": "Only the person above", "emoji": True},
            "value": blocks.BOUND_OPTION,
        }
    ]
    return {
        blocks.SECRET_BLOCK: {blocks.SECRET_INPUT: {"type": "plain_text_input", "value": secret}},
        blocks.EXPIRY_BLOCK: {
            blocks.EXPIRY_SELECT: {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": str(ttl), "emoji": True},
                    "value": str(ttl),
                },
            }
        },
        blocks.PASSPHRASE_BLOCK: {
            blocks.PASSPHRASE_INPUT: {"type": "plain_text_input", "value": passphrase}
        },
        blocks.RECIPIENT_BLOCK: {
            blocks.RECIPIENT_SELECT: {"type": "users_select", "selected_user": recipient}
        },
        blocks.BOUND_BLOCK: {
            blocks.BOUND_CHECK: {"type": "checkboxes", "selected_options": chosen if bound else []}
        },
        blocks.NOTE_BLOCK: {blocks.NOTE_INPUT: {"type": "plain_text_input", "value": note}},
    }


class SlackHarness:
    def __init__(self, served, fake) -> None:
        self.served = served
        self.fake = fake

    @property
    def service(self):
        return self.served.service

    async def settle(self) -> None:
        """Wait until every piece of work started after an ack has finished, and every step
        the core started in turn (receipts after a reveal or an expiry): after it, a call
        that has not reached the fake Slack will never come, so a test may assert its absence."""
        runtime = self.served.app[RUNTIME_KEY]
        while not (runtime.after_ack.idle and runtime.service.idle):
            await runtime.after_ack.drain()
            await runtime.service.drain()

    async def send(self, body: str, headers: dict | None = None) -> tuple[int, str]:
        """Post as Slack does; an answer Slack would show (a view, a message) must pass
        Slack's rules like any Web API call."""
        async with aiohttp.ClientSession() as http:
            async with http.post(
                self.served.url + "/slack/events", data=body.encode(), headers=headers or sign(body)
            ) as response:
                status, answer = response.status, await response.text()
        if status == 200 and answer.startswith("{"):
            shown = json.loads(answer)
            self.fake.note_refusal("ack", shown, check_ack(shown))
        return status, answer

    async def command(self, text: str = "", response_url: str | None = None, **fields):
        body = command_body(
            text=text, response_url=response_url or self.fake.response_url("cmd"), **fields
        )
        return await self.send(body)

    async def shortcut(
        self, typed: str, response_url: str | None = None, message: dict | None = None
    ):
        """The message shortcut on a message whose author typed `typed`, with the `text` and
        `rich_text` blocks Slack makes of it; or on `message` ({"text", "blocks"}) as given."""
        data = payload("message_action", response_url=response_url or self.fake.response_url("sc"))
        data = message_action(data, **(message or typed_message(typed)))
        return await self.send(interactive_body(data))

    async def submit(self, values: dict, private_metadata: str, user: str = "U2147483697"):
        data = payload("view_submission")
        data["view"]["state"]["values"] = values
        data["view"]["private_metadata"] = private_metadata
        data["user"]["id"] = user
        return await self.send(interactive_body(data))

    async def submit_view(
        self, callback_id: str, values: dict, private_metadata: str, user: str
    ) -> tuple[int, str]:
        data = payload("view_submission")
        data["view"]["callback_id"] = callback_id
        data["view"]["state"]["values"] = values
        data["view"]["private_metadata"] = private_metadata
        data["user"]["id"] = user
        return await self.send(interactive_body(data))

    async def click(
        self,
        action_id: str,
        value: str,
        user: str,
        hook: str = "btn",
        container: str = "message",
        selected: str | None = None,
    ) -> tuple[int, str]:
        """A block_actions request: a button (value) or a select (selected) in a message or
        in a view (the App Home tab), as Slack sends them."""
        data = self.click_payload(action_id, value, user, hook, container, selected)
        return await self.send(interactive_body(data))

    def click_payload(
        self,
        action_id: str,
        value: str,
        user: str,
        hook: str = "btn",
        container: str = "message",
        selected: str | None = None,
    ) -> dict:
        """The payload `click` sends, for tests that dress it further (Grid fields)."""
        data = payload("block_actions", response_url=self.fake.response_url(hook))
        data["user"]["id"] = user
        action = data["actions"][0]
        action.update(action_id=action_id, value=value)
        if selected is not None:
            del action["value"]
            action.update(
                type="static_select",
                selected_option={
                    "text": {"type": "plain_text", "text": selected, "emoji": True},
                    "value": selected,
                },
            )
        if container == "view":
            data["container"] = {"type": "view", "view_id": "VHOME0001"}
            data["view"] = {"id": "VHOME0001", "type": "home", "callback_id": "", "blocks": []}
            del data["response_url"]
        return data

    async def event(self, event: dict, team_id: str = "T0001") -> tuple[int, str]:
        """An Events API callback, JSON in the body, signed like every request."""
        body = json.dumps(
            {
                "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
                "team_id": team_id,
                "api_app_id": "A123456",
                "event": event,
                "type": "event_callback",
                "event_id": "Ev0LAN670R",
                "event_time": int(time.time()),
            }
        )
        headers = {**sign(body), "Content-Type": "application/json"}
        return await self.send(body, headers)

    async def click_burn(self, secret_id: str, user: str = "U2147483697", response_url=None):
        data = payload("block_actions", response_url=response_url or self.fake.response_url("btn"))
        data["actions"][0]["value"] = secret_id
        data["user"]["id"] = user
        return await self.send(interactive_body(data))

    async def open_modal(self, text: str = "") -> dict:
        """`/secret` → views.open; returns the modal view that Slack would show: the one this
        command opened, not one an earlier command did."""
        opened = len(self.fake.of("views.open"))
        status, _ = await self.command(text)
        assert status == 200
        return (await self.fake.wait_for("views.open", opened + 1))[-1]["view"]
