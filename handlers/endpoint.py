"""`POST /slack/events`: hands the raw request to bolt, after guarding what bolt mishandles.

Bolt verifies the signature (`v0:{timestamp}:{body}` HMAC-SHA256 with the signing secret,
at most 5 minutes old) before any listener runs. Some malformed requests make bolt raise
instead of refuse (a non-numeric timestamp header, a `payload` field that is not a JSON
object, a `view` that is not an object); they are refused here with a 4xx and cause
nothing.
"""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)

MAX_SLACK_BODY = 256 * 1024  # a filled modal is a few KiB; anything this big is not Slack


def _refused(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


def slack_endpoint(slack_app: AsyncApp):
    async def handle(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_SLACK_BODY:
            return _refused(413, "request too large\n")  # refused before reading a byte
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not timestamp.isdigit() or not request.headers.get("X-Slack-Signature"):
            return _refused(401, "invalid request\n")
        try:
            bolt_request = await to_bolt_request(request)
        except (AttributeError, LookupError, TypeError, ValueError) as exc:
            # bolt parses the body while building the request and raises on a `payload`
            # that is not a JSON object, and (a bolt bug) on a view_submission with more than
            # one entry in `response_urls`; no listener has run, so nothing happened.
            log.info("malformed Slack request refused: %s", type(exc).__name__)
            return _refused(400, "malformed request\n")
        try:
            bolt_response = await slack_app.async_dispatch(bolt_request)
        except (AttributeError, LookupError, TypeError, ValueError) as exc:
            # Listener errors never get here (bolt hands them to our error reporter); what
            # escapes is bolt's own matching choking on an odd shape, e.g. a view_submission
            # whose `view` is not an object. The signature was checked before matching.
            log.info("malformed Slack payload refused: %s", type(exc).__name__)
            return _refused(400, "malformed request\n")
        return await to_aiohttp_response(bolt_response)

    return handle
