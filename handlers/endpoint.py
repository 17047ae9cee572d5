"""`POST /slack/events`: hands the raw request to bolt, after guarding what bolt mishandles.

Bolt verifies the signature (`v0:{timestamp}:{body}` HMAC-SHA256 with the signing secret,
at most 5 minutes old) before any listener runs. A non-numeric timestamp header makes bolt
raise instead of refuse, so it is refused here with a 401 first.
"""

from __future__ import annotations

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp


def _refused(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


def slack_endpoint(slack_app: AsyncApp):
    async def handle(request: web.Request) -> web.Response:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not timestamp.isdigit() or not request.headers.get("X-Slack-Signature"):
            return _refused(401, "invalid request\n")
        bolt_request = await to_bolt_request(request)
        bolt_response = await slack_app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    return handle
