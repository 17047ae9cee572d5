"""The browser edge of compose links: the compose page and the sealed upload.

`GET /c/{token}` shows the page and uses nothing up (previews and reloads are harmless);
`POST /c/{token}` takes the token and stores what the browser sealed. The upload is read
as a stream into one buffer, and refused unread when it says it is too large, or as soon
as it grows past the limit: a stranger cannot make the server hold more than one file's
worth per request.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from bot import crypto, pages
from bot.compose import ComposeLinkGone, SealedUpload, secret_id_for
from bot.config import Settings
from bot.errors import InvalidSecret, StoreUnavailable
from bot.service import SecretService

log = logging.getLogger(__name__)

MAX_UPLOAD_HEAD = 4096  # the JSON line before the ciphertext: proofs, expiry, a link
READ_CHUNK = 256 * 1024


class Refused(Exception):
    """An upload refused before the core saw it: its status, code and sentence."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.message = message


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _json(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(payload), status=status, content_type="application/json")


async def compose_page(
    request: web.Request, service: SecretService, settings: Settings
) -> web.Response:
    """GET and HEAD: the compose page, or a calm page for a used, expired or forged link."""
    token = request.match_info["token"]
    try:
        grant = await service.compose.look(token)
    except ComposeLinkGone:
        return _html(pages.COMPOSE_GONE_PAGE, 404)
    except StoreUnavailable:
        log.warning("store unavailable while showing a compose page")
        return _html(pages.UNAVAILABLE_PAGE, 503)
    secret_id = secret_id_for(token)
    return _html(
        pages.compose_page(
            secret_id,
            f"{settings.public_url.rstrip('/')}/s/{secret_id}",
            expiry_choices=grant.expiry_choices,
            default_ttl=grant.default_ttl,
            max_file_size=service.compose.max_file_size,
            recipient_label=grant.recipient_label,
        )
    )


async def read_body(request: web.Request, limit: int) -> bytearray:
    """The whole body, read a chunk at a time into one buffer; too_large, unread when the
    declared length says so, or as soon as it grows past `limit`. Also the reader of the
    upload page (bot/outside_web.py) and the API (bot/api_web.py)."""
    too_large = Refused(413, "too_large", "The file is larger than this app allows.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large  # refused unread: the length said enough
    # One buffer, sized at once when the length is declared: growing it would copy it
    # (and hold two) every time it outgrew its room.
    declared = request.content_length
    buffer = bytearray(declared or 0)
    filled = 0
    content = request.content
    while chunk := await content.read(READ_CHUNK):
        if filled + len(chunk) > limit:
            raise too_large
        if filled + len(chunk) <= len(buffer):
            buffer[filled : filled + len(chunk)] = chunk
        else:
            buffer[filled:] = chunk
        filled += len(chunk)
    del buffer[filled:]
    return buffer


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
            version=int(head["version"]),
            nonce=crypto.b64decode(head["nonce"], crypto.NONCE_BYTES),
            # The one copy made: the buffer is dropped when the caller returns.
            ciphertext=bytes(memoryview(buffer)[end + 1 :]),
            link_verifier=crypto.b64decode(head["link_verifier"], 32),
            verifier=crypto.b64decode(head["verifier"], 32),
            has_passphrase=head["has_passphrase"],
            ttl=int(head["ttl"]),
            pass_on_link=pass_on_link,
        )
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise Refused(400, "bad_request", "That upload was malformed.") from None
    return head, upload


async def _read_upload(request: web.Request, max_upload: int) -> SealedUpload:
    """The head line and the ciphertext after it."""
    buffer = await read_body(request, MAX_UPLOAD_HEAD + 1 + max_upload)
    return parse_upload(buffer)[1]


async def compose_upload(request: web.Request, service: SecretService) -> web.Response:
    """POST: store what the browser sealed, once per compose link. Every refusal is
    mapped here, in one place, to a status and a sentence the page shows."""
    token = request.match_info["token"]
    try:
        # A stranger's made-up token is refused before a byte of the body is read: only the
        # holder of a live compose link can make the server take in a file.
        await service.compose.look(token)
        upload = await _read_upload(request, service.compose.max_upload)
        created = await service.compose.create(token, upload)
    except Refused as exc:
        return _json({"error": exc.error, "message": exc.message}, exc.status)
    except ComposeLinkGone:
        return _json({"error": "gone", "message": _GONE_MESSAGE}, 410)
    except InvalidSecret as exc:
        return _json({"error": "invalid", "message": str(exc)}, 400)
    except StoreUnavailable:
        log.warning("store unavailable while storing a composed secret")
        return _json({"error": "unavailable", "message": _UNAVAILABLE_MESSAGE}, 503)
    return _json({"secret_id": created.secret_id, "expires_at": created.expires_at})


_GONE_MESSAGE = (
    "This compose link has been used already, has expired, or was never made. Nothing was "
    "stored. Ask for a new one with /secret compose in Slack."
)
_UNAVAILABLE_MESSAGE = (
    "The secret store did not answer. Nothing may have been stored: if this link says it "
    "is used up when you try again, ask for a new one."
)


def add_routes(app: web.Application, service: SecretService, settings: Settings) -> None:
    async def page(request: web.Request) -> web.Response:
        return await compose_page(request, service, settings)

    async def upload(request: web.Request) -> web.Response:
        return await compose_upload(request, service)

    app.router.add_get("/c/{token}", page)
    app.router.add_post("/c/{token}", upload)
