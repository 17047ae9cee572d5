"""The browser edge of compose links: the compose page and the sealed upload.

`GET /c/{token}` shows the page and uses nothing up (previews and reloads are harmless);
`POST /c/{token}` takes the token and stores what the browser sealed.

What one upload can cost the server is bounded before its body is read: the compose link is
taken first, in one atomic step (so one link feeds one upload at a time, and a stranger's
made-up link none), a few uploads at most run at once in a process, counted with the upload
page's and the API's (bot/uploads.py; the rest are told to try again), and each chunk and the
whole body have a deadline. The body is read into one
buffer, refused unread when it says it is too large, or as soon as it grows past the limit.
An upload that stores nothing gives its link back, so the page can simply try again.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from bot import crypto, pages
from bot.compose import (
    ComposeLinkGone,
    ComposeLinkInUse,
    SealedUpload,
    secret_id_for,
)
from bot.config import Settings
from bot.errors import InvalidSecret, StoreUnavailable
from bot.responses import html_page, json_answer
from bot.service import SecretService
from bot.uploads import (
    IN_USE_MESSAGE,
    Refused,
    UploadGate,
    read_body,
    receive,
    refuse_too_large,
)

log = logging.getLogger(__name__)

MAX_UPLOAD_HEAD = 4096  # the JSON line before the ciphertext: proofs, expiry, a link


async def compose_page(
    request: web.Request, service: SecretService, settings: Settings
) -> web.Response:
    """GET and HEAD: the compose page, or a calm page for a used, expired or forged link."""
    token = request.match_info["token"]
    try:
        grant = await service.compose.look(token)
    except ComposeLinkGone:
        return html_page(pages.COMPOSE_GONE_PAGE, 404)
    except StoreUnavailable:
        log.warning("store unavailable while showing a compose page")
        return html_page(pages.UNAVAILABLE_PAGE, 503)
    secret_id = secret_id_for(token)
    return html_page(
        pages.compose_page(
            secret_id,
            f"{settings.public_url.rstrip('/')}/s/{secret_id}",
            expiry_choices=grant.expiry_choices,
            default_ttl=grant.default_ttl,
            max_file_size=service.compose.max_file_size,
            recipient_label=grant.recipient_label,
        )
    )


def _integer(value: object) -> int:
    """A JSON integer, strictly: not 3600.9, not true, not "3600"."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def parse_upload(buffer: bytearray) -> tuple[dict[str, Any], SealedUpload]:
    """The head line (as JSON) and the sealed values; Refused when malformed."""
    end = buffer.find(b"\n", 0, MAX_UPLOAD_HEAD + 1)
    if end < 0:
        raise Refused(400, "bad_request", "That upload was malformed.")
    try:
        head = json.loads(bytes(buffer[:end]).decode("utf-8"))
        pass_on_link = head.get("pass_on_link") or ""
        if not isinstance(pass_on_link, str) or not isinstance(head["has_passphrase"], bool):
            raise TypeError("field types")
        upload = SealedUpload(
            version=_integer(head["version"]),
            nonce=crypto.b64decode(head["nonce"], crypto.NONCE_BYTES),
            # The one copy made (for a moment the upload is held twice): the buffer is
            # dropped when the caller returns.
            ciphertext=bytes(memoryview(buffer)[end + 1 :]),
            link_verifier=crypto.b64decode(head["link_verifier"], 32),
            verifier=crypto.b64decode(head["verifier"], 32),
            has_passphrase=head["has_passphrase"],
            ttl=_integer(head["ttl"]),
            pass_on_link=pass_on_link,
        )
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise Refused(400, "bad_request", "That upload was malformed.") from None
    return head, upload


async def _read_upload(request: web.Request, max_upload: int) -> SealedUpload:
    """The head line and the ciphertext after it."""
    buffer = await read_body(request, MAX_UPLOAD_HEAD + 1 + max_upload)
    return parse_upload(buffer)[1]


async def compose_upload(
    request: web.Request, service: SecretService, gate: UploadGate
) -> web.Response:
    """POST: store what the browser sealed, once per compose link. Every refusal is
    mapped here, in one place, to a status and a sentence the page shows."""
    token = request.match_info["token"]
    try:
        refuse_too_large(request, MAX_UPLOAD_HEAD + 1 + service.compose.max_upload)
        # Taken before a byte of the body is read: a made-up or used link is refused
        # unread (410), and a second upload to a link in use is refused at once (409, to
        # try again: the first may give it back).
        lease = await service.compose.take(token)

        async def read() -> SealedUpload:
            upload = await _read_upload(request, service.compose.max_upload)
            service.compose.validate(lease.grant, upload, lease.secret_id)
            return upload

        # One place among every upload route's, per process; one for the link's creator.
        created = await receive(
            gate,
            lease.grant.creator,
            read,
            lambda upload: service.compose.fill(lease, upload),
            lambda: service.compose.give_back(lease),
        )
    except Refused as exc:
        return json_answer({"error": exc.error, "message": exc.message}, exc.status)
    except ComposeLinkGone:
        return json_answer({"error": "gone", "message": _GONE_MESSAGE}, 410)
    except ComposeLinkInUse:
        return json_answer({"error": "in_use", "message": IN_USE_MESSAGE}, 409)
    except InvalidSecret as exc:
        return json_answer({"error": "invalid", "message": str(exc)}, 400)
    except StoreUnavailable:
        log.warning("store unavailable while storing a composed secret")
        return json_answer({"error": "unavailable", "message": _UNAVAILABLE_MESSAGE}, 503)
    return json_answer({"secret_id": created.secret_id, "expires_at": created.expires_at})


_GONE_MESSAGE = (
    "This compose link has been used already, has expired, or was never made. Nothing was "
    "stored. Ask for a new one with /secret compose in Slack."
)
_UNAVAILABLE_MESSAGE = (
    "The secret store did not answer. Nothing may have been stored: if this link says it "
    "is used up when you try again, ask for a new one."
)


def add_routes(
    app: web.Application, service: SecretService, settings: Settings, gate: UploadGate
) -> None:
    async def page(request: web.Request) -> web.Response:
        return await compose_page(request, service, settings)

    async def upload(request: web.Request) -> web.Response:
        return await compose_upload(request, service, gate)

    app.router.add_get("/c/{token}", page)
    app.router.add_post("/c/{token}", upload)
