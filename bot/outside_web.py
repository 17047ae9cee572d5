"""The browser edge of requests to someone outside Slack: the upload page and the answer.

`GET /r/{id}` shows the page (the requester's note, escaped) and uses nothing up, so link
previews and mail scanners are harmless. `POST /r/{id}` takes the request and stores what the
browser sealed. A used, withdrawn, expired or made-up link is refused before a byte of the
body is read; so is an upload to a link another upload holds (409 `in_use`, to try again,
never counted against the sender), and one past the process's uploads at once
(bot/uploads.py, shared with compose links and the API: 503 `busy`). A body
past the limit is refused unread (or cut off as it grows), a stalled one cut off; an upload
that stores nothing gives the request back, so the page can simply try again. Failed
uploads count against the client address's limit; a valid upload is never counted, so the
limit can never refuse the person with a live link.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from bot import crypto, pages
from bot.errors import BrokenLink, InvalidSecret, StoreUnavailable
from bot.outside import (
    OutsideRequestGone,
    OutsideRequestInUse,
    SealedAnswer,
)
from bot.ratelimit import RateLimited
from bot.responses import html_page, json_answer, rate_limited
from bot.service import SecretService
from bot.uploads import (
    IN_USE_MESSAGE,
    Refused,
    UploadGate,
    read_body,
    receive,
    refuse_too_large,
)
from bot.web import LIMITER_KEY, SETTINGS_KEY, client_address_of

log = logging.getLogger(__name__)

MAX_HEAD = 1024  # the JSON line before the ciphertext: version, kind, nonce
# The upload proof rides in a header, so it is checked before the body is read.
PROOF_HEADER = "X-Oncelink-Upload-Proof"


async def upload_page(request: web.Request, service: SecretService) -> web.Response:
    """GET and HEAD: the upload page, or one calm page for a used, expired or forged link."""
    request_id = request.match_info["request_id"]
    try:
        waiting = await service.outside.look(request_id)
    except OutsideRequestGone:
        return html_page(pages.OUTSIDE_GONE_PAGE, 404)
    except StoreUnavailable:
        log.warning("store unavailable while showing an upload page")
        return html_page(pages.UNAVAILABLE_PAGE, 503)
    return html_page(
        pages.outside_page(request_id, waiting.note, max_file_size=service.outside.max_file_size)
    )


async def _read_answer(request: web.Request, max_upload: int) -> SealedAnswer:
    buffer = await read_body(request, MAX_HEAD + 1 + max_upload)
    end = buffer.find(b"\n", 0, MAX_HEAD + 1)
    if end < 0:
        raise Refused(400, "bad_request", "That upload was malformed.")
    try:
        head = json.loads(bytes(buffer[:end]).decode("utf-8"))
        kind = head["kind"]
        if not isinstance(kind, str):
            raise TypeError("kind")
        return SealedAnswer(
            version=int(head["version"]),
            kind=kind,
            nonce=crypto.b64decode(head["nonce"], crypto.NONCE_BYTES),
            ciphertext=bytes(memoryview(buffer)[end + 1 :]),
        )
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise Refused(400, "bad_request", "That upload was malformed.") from None


async def _refusal(request: web.Request, status: int, error: str, message: str) -> web.Response:
    """A failed upload, counted against its client address: past the limit it is a 429 that
    says nothing of why it failed."""
    try:
        await request.app[LIMITER_KEY].count_failure(
            "upload", client_address_of(request), request.app[SETTINGS_KEY].rate_limit_reveal
        )
    except RateLimited as exc:
        return rate_limited(
            "Too many failed uploads from your network. Check the link and try again in "
            f"{exc.retry_after} seconds.",
            exc.retry_after,
        )
    return json_answer({"error": error, "message": message}, status)


async def upload_answer(
    request: web.Request, service: SecretService, gate: UploadGate
) -> web.Response:
    """POST: store what the browser sealed, once per link. Every refusal is mapped here,
    in one place, to a status and a sentence the page shows."""
    request_id = request.match_info["request_id"]
    try:
        refuse_too_large(request, MAX_HEAD + 1 + service.outside.max_upload)
        # Refused before a byte of the body is read: only the holder of a live link (its
        # key, not just its id) can make the server take in a file, and the request is
        # taken first, so one link feeds one upload at a time.
        try:
            proof = crypto.b64decode(request.headers.get(PROOF_HEADER, ""), 32)
        except ValueError:
            proof = b""
        lease = await service.outside.take(request_id, proof)

        async def read() -> SealedAnswer:
            answer = await _read_answer(request, service.outside.max_upload)
            service.outside.validate(answer)
            return answer

        # One place among every upload route's, per process; one for the requester.
        await receive(
            gate,
            lease.request.requester,
            read,
            lambda answer: service.outside.answer(lease, answer),
            lambda: service.outside.give_back(lease),
        )
    except Refused as exc:
        if exc.error == "busy":  # not the sender's failure: never counted against them
            return json_answer({"error": exc.error, "message": exc.message}, exc.status)
        return await _refusal(request, exc.status, exc.error, exc.message)
    except OutsideRequestInUse:  # the sender's own other upload: never counted against them
        return json_answer({"error": "in_use", "message": IN_USE_MESSAGE}, 409)
    except OutsideRequestGone:
        return await _refusal(request, 410, "gone", _GONE_MESSAGE)
    except BrokenLink:
        return await _refusal(request, 403, "broken_link", _BROKEN_MESSAGE)
    except InvalidSecret as exc:
        return await _refusal(request, 400, "invalid", str(exc))
    except StoreUnavailable:
        log.warning("store unavailable while storing an answer")
        return json_answer({"error": "unavailable", "message": _UNAVAILABLE_MESSAGE}, 503)
    return json_answer({"delivered": True})


_BROKEN_MESSAGE = (
    "This link is incomplete or mistyped. Copy the whole link, including everything after "
    "the #, and open it again. Nothing was sent."
)
_GONE_MESSAGE = (
    "This link has been used already, was withdrawn, has expired, or was never made. "
    "Nothing was sent. Ask the person who asked for a new link."
)
_UNAVAILABLE_MESSAGE = (
    "The secret store did not answer. It may not have been delivered: if this link says "
    "it is used up when you try again, it was."
)


def add_routes(app: web.Application, service: SecretService, gate: UploadGate) -> None:
    async def page(request: web.Request) -> web.Response:
        return await upload_page(request, service)

    async def upload(request: web.Request) -> web.Response:
        return await upload_answer(request, service, gate)

    app.router.add_get("/r/{request_id}", page)
    app.router.add_post("/r/{request_id}", upload)
