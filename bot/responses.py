"""The browser edge's answers, shared by the reveal, compose and upload routes: a page, the
JSON the pages' scripts read, and the 429 that tells them when to try again."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web


def html_page(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def json_answer(payload: Mapping[str, object], status: int = 200) -> web.Response:
    # The same bytes as web.json_response builds, at a fraction of its cost: this answers
    # every refused reveal (a success has its own, cheaper still: bot.web._revealed_json).
    return web.Response(text=json.dumps(payload), status=status, content_type="application/json")


def rate_limited(message: str, retry_after: int) -> web.Response:
    """Past a failure limit: the pages show `message` and keep the form for later."""
    response = json_answer({"error": "rate_limited", "message": message}, 429)
    response.headers["Retry-After"] = str(retry_after)
    return response
