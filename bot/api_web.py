"""The JSON API for terminals: `POST /api/v1/secrets` with `Authorization: Bearer olk_…`.

It takes what a compose page uploads (bot/compose_web.py: a JSON head line, then the raw
ciphertext), sealed on the caller's machine, and stores it as the token's person's. Every
answer is JSON, every refusal a stable `error` code beside a sentence (docs/api.md):
`unauthorized`, `too_large`, `rate_limited`, `invalid`, `unavailable`, `busy`, `too_slow`,
`cut_off`. No HTML and no stack trace ever: anything unexpected is logged here and answered
as `internal`.

The token is checked before a byte of the body is read, so only a token's holder can make
the server take in a file; the creation limit (RATE_LIMIT_CREATE) is the same count the
Slack commands and compose links of that person use. The body is read under the deadlines
and the one gate every upload route shares (bot/uploads.py).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from bot import crypto
from bot.compose_web import MAX_UPLOAD_HEAD, parse_upload
from bot.config import Settings
from bot.errors import InvalidSecret, StoreUnavailable
from bot.ratelimit import RateLimited
from bot.service import CreatedSecret, SecretService
from bot.tokens import SEED_BYTES, ApiUpload, TokenGrant, Unauthorized
from bot.uploads import Refused, UploadGate, read_body, refuse_too_large

log = logging.getLogger(__name__)

SECRETS_PATH = "/api/v1/secrets"

UNAUTHORIZED = (
    "This token is not valid: it was revoked, replaced by a newer one, turned off by your "
    "workspace's admins, or never made. Get a new one with /secret token in Slack."
)
UNAVAILABLE = "The secret store did not answer; nothing was stored. Try again."
INTERNAL = "Something went wrong on the server; nothing may have been stored."


def _json(payload: dict[str, Any], status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        text=json.dumps(payload),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store", **headers},
    )


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return _json({"error": code, "message": message}, status, **headers)


def bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def api_upload(head: dict[str, Any], upload: Any) -> ApiUpload:
    """The API's fields beside the sealed values; InvalidSecret when malformed."""
    try:
        seed = crypto.b64decode(str(head["seed"]), SEED_BYTES)
    except (KeyError, ValueError):
        raise InvalidSecret("seed is 16 random bytes, base64url without padding.") from None
    fields = {name: head.get(name) or "" for name in ("kind", "note", "to", "pass_on_key")}
    if not all(isinstance(value, str) for value in fields.values()):
        raise InvalidSecret("kind, note, to and pass_on_key are strings.")
    return ApiUpload(
        sealed=upload,
        seed=seed,
        kind=fields["kind"] or "text",
        note=fields["note"].strip(),
        recipient=fields["to"].strip(),
        pass_on_key=fields["pass_on_key"],
    )


async def create_secret(
    request: web.Request,
    service: SecretService,
    settings: Settings,
    gate: UploadGate,
) -> web.Response:
    """Every refusal is mapped here, in one place, to a status and a stable code."""
    try:
        token = bearer(request)
        grant = await service.tokens.authenticate(token)
        await service.creation.check(grant.creator)
        refuse_too_large(request, MAX_UPLOAD_HEAD + 1 + service.compose.max_upload)
        # One place among every upload route's, per process, and one person's uploads run
        # one at a time: a token cannot make the server hold many buffers at once.
        with gate.enter(grant.creator):
            created = await _store(request, service, grant, token)
    except Unauthorized:
        return _error(401, "unauthorized", UNAUTHORIZED, **{"WWW-Authenticate": "Bearer"})
    except RateLimited as exc:
        return _error(
            429,
            "rate_limited",
            f"Too many secrets at once; try again in {exc.retry_after}s.",
            **{"Retry-After": str(exc.retry_after)},
        )
    except Refused as exc:
        return _error(exc.status, exc.error, exc.message)
    except InvalidSecret as exc:
        return _error(400, "invalid", str(exc))
    except StoreUnavailable:
        log.warning("store unavailable while storing a secret from the API")
        return _error(503, "unavailable", UNAVAILABLE)
    except Exception:
        log.exception("unexpected error in the API")
        return _error(500, "internal", INTERNAL)
    return _json(
        {
            "secret_id": created.secret_id,
            "url": f"{settings.public_url.rstrip('/')}/s/{created.secret_id}",
            "expires_at": created.expires_at,
        },
        201,
    )


async def _store(
    request: web.Request, service: SecretService, grant: TokenGrant, token: str
) -> CreatedSecret:
    body = await read_body(request, MAX_UPLOAD_HEAD + 1 + service.compose.max_upload)
    # Again after the body, which may have taken minutes: a token revoked, turned off or
    # uninstalled meanwhile stores nothing.
    grant = await service.tokens.authenticate(token)
    try:
        head, sealed = parse_upload(body)
    except Refused as exc:
        raise InvalidSecret(exc.message) from None
    upload = api_upload(head, sealed)
    service.tokens.validate(upload, await service.tokens.longest_expiry(grant))
    if len(sealed.ciphertext) > service.tokens.max_upload(upload.kind):
        raise Refused(413, "too_large", "The secret is larger than this app allows.")
    return await service.tokens.create(grant, token, upload)


async def not_found(request: web.Request) -> web.Response:
    return _error(404, "not_found", "No such API endpoint.")


async def method_not_allowed(request: web.Request) -> web.Response:
    return _error(405, "method_not_allowed", "Use POST.", Allow="POST")


def add_routes(
    app: web.Application,
    service: SecretService,
    settings: Settings,
    gate: UploadGate,
) -> None:
    async def create(request: web.Request) -> web.Response:
        return await create_secret(request, service, settings, gate)

    app.router.add_post(SECRETS_PATH, create)
    app.router.add_route("*", SECRETS_PATH, method_not_allowed)
    app.router.add_route("*", "/api/{rest:.*}", not_found)
