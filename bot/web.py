"""The browser edge: reveal page, reveal POST, health, static files, security headers.

Only `POST /s/{id}` can burn a secret. GET and HEAD (link-preview bots, mail scanners,
prefetchers) only read whether a waiting secret has a passphrase, and answer the same page
whether one waits or not.
"""

from __future__ import annotations

import json
import logging
import re
import time
from importlib import resources
from typing import NotRequired, TypedDict
from urllib.parse import quote, unquote

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict, istr

from bot import crypto, pages
from bot.config import Settings
from bot.errors import BrokenLink, SecretGone, StoreUnavailable, WrongPassphrase
from bot.ratelimit import ClientAddresses, RateLimited, RateLimiter
from bot.responses import html_page, json_answer, rate_limited
from bot.service import RevealedSecret, SecretService, short_id

log = logging.getLogger(__name__)

SERVICE_KEY: web.AppKey[SecretService] = web.AppKey("service", SecretService)
LIMITER_KEY: web.AppKey[RateLimiter] = web.AppKey("limiter", RateLimiter)
SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("settings", Settings)
CLIENTS_KEY: web.AppKey[ClientAddresses] = web.AppKey("clients", ClientAddresses)
MAX_REVEAL_BODY = 1024  # two base64url proofs in JSON need ~120 bytes

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_SECURITY_HEADER_VALUES = {
    "Content-Security-Policy": _CSP,
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "interest-cohort=(), browsing-topics=()",
    "Server": "oncelink",
}
# Merged into every response. Names as istr, which aiohttp's header dict would otherwise fold
# from plain strings on every request.
_SECURITY_HEADERS = CIMultiDict(
    (istr(name), value) for name, value in _SECURITY_HEADER_VALUES.items()
)
_HSTS = "max-age=63072000; includeSubDomains"
_STATIC_TYPES = {
    "reveal.js": "text/javascript",
    "reveal.css": "text/css",
    "compose.js": "text/javascript",
    "outside.js": "text/javascript",
}
# A secret's id (/s/), a compose token (/c/) or a request's id (/r/): logs keep six
# characters of each.
_SECRET_IN_PATH = re.compile(r"(/[scr]/)([^/]+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _short_id(match: re.Match[str]) -> str:
    # Routing decodes the path, so `/s/%61PQ…` reaches the same secret as `/s/aPQ…`: the id
    # is decoded before it is cut, then quoted again so nothing in it acts on the log line.
    return match.group(1) + quote(unquote(match.group(2))[:6], safe="") + "…"


def redact_path(raw_path: str) -> str:
    """The path as it came in (still percent-encoded: a `%0A` stays three characters and
    cannot start a forged log line), without its query, with ids shortened so logs never
    hold a whole id, and any raw control character escaped."""
    path = _SECRET_IN_PATH.sub(_short_id, raw_path.partition("?")[0])
    return _CONTROL.sub(lambda match: f"%{ord(match.group()):02X}", path)


class RedactingAccessLogger(AbstractAccessLogger):
    """aiohttp's access log, minus query strings and whole ids."""

    @property
    def enabled(self) -> bool:
        # Checked once per connection: below INFO the per-request log call is skipped whole.
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1fms",
            request.method,
            redact_path(request.raw_path),
            response.status,
            time * 1000,
        )


def _forwarded_for(request: web.BaseRequest) -> str | None:
    """Every X-Forwarded-For line, joined in order. Some proxies (HAProxy's `forwardfor`) add
    a line of their own instead of appending to the client's; reading only the first line
    would then believe what the client wrote, and each forged value would buy a fresh limit."""
    lines = request.headers.getall("X-Forwarded-For", ())
    return ",".join(lines) if lines else None


def client_address_of(request: web.Request) -> str:
    """The client's address for a per-address limit (bot.ratelimit.ClientAddresses)."""
    return request.app[CLIENTS_KEY].of(request.remote, _forwarded_for(request))


class _Refusal(TypedDict):
    """A refused reveal's JSON (and a too-large request's): the page's script tells the cases
    apart by `error` and shows `message` to the reader."""

    error: str
    attempts_left: NotRequired[int]  # a wrong passphrase: how many tries the secret has left
    message: str


def _json(payload: _Refusal, status: int = 200) -> web.Response:
    return json_answer(payload, status)  # typed: every refusal has an error and a message


def _security_headers(public_url: str) -> Middleware:
    hsts = public_url.startswith("https://")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
            if exc.status == 404 and exc.text and exc.text.startswith("404"):
                response = html_page(pages.NOT_FOUND_PAGE, 404)
            elif exc.status == 413:
                response = _json(
                    {"error": "too_large", "message": "That request is too large."}, 413
                )
        except Exception:
            # One place for the unexpected: logged (without the request), calm page out.
            log.exception("unhandled error on %s %s", request.method, redact_path(request.raw_path))
            response = html_page(pages.ERROR_PAGE, 500)
        response.headers.update(_SECURITY_HEADERS)
        if hsts:
            response.headers["Strict-Transport-Security"] = _HSTS
        # The route's pattern (/s/{secret_id}), never the path: no id reaches a label.
        route = request.match_info.route.resource
        request.app[SERVICE_KEY].metrics.observe(
            route.canonical if route is not None else "other", time.perf_counter() - started
        )
        return response

    return middleware


async def secret_page(request: web.Request) -> web.Response:
    """GET and HEAD: the reveal page. Never burns, whoever asks.

    A well-formed id that holds nothing gets the page of a secret without a passphrase:
    a preview bot or a stranger guessing ids learns nothing from the answer, and the person
    who clicks Reveal is told it is gone then."""
    secret_id = request.match_info["secret_id"]
    if not crypto.is_secret_id(secret_id):
        return html_page(pages.GONE_PAGE, 404)  # not a link we make: the store is not asked
    try:
        status = await request.app[SERVICE_KEY].status(secret_id)
    except SecretGone:
        return html_page(pages.secret_page(secret_id, has_passphrase=False))
    except StoreUnavailable:
        log.warning("store unavailable while showing secret %s", short_id(secret_id))
        return html_page(pages.UNAVAILABLE_PAGE, 503)
    return html_page(pages.secret_page(secret_id, status.has_passphrase))


async def _read_reveal_body(request: web.Request) -> tuple[bytes, bytes]:
    if request.content_length is not None and request.content_length > MAX_REVEAL_BODY:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_REVEAL_BODY, actual_size=request.content_length
        )
    # read(n) returns what has arrived so far: a body split across segments (proxies, slow
    # networks) comes in several reads. Never more than the limit is held. at_eof() spares
    # the usual case, a body that arrived whole, a second read that only finds the end.
    content = request.content
    raw = b""
    while chunk := await content.read(MAX_REVEAL_BODY + 1 - len(raw)):
        raw += chunk
        if len(raw) > MAX_REVEAL_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_REVEAL_BODY, actual_size=len(raw))
        if content.at_eof():
            break
    try:
        body = json.loads(raw.decode("utf-8"))  # a third cheaper than json's own detection
        return (
            crypto.b64decode(body["link_proof"], 32),
            crypto.b64decode(body["auth"], 32),
        )
    except (ValueError, KeyError, TypeError, RecursionError):
        # RecursionError: the parser recurses per nesting level, and a kilobyte of `[` is
        # deeper than Python's limit. Malformed is malformed: a 400, not a traceback.
        raise _BadRequest() from None


class _BadRequest(Exception):
    pass


async def reveal(request: web.Request) -> web.StreamResponse:
    """POST: the explicit Reveal click. Exactly one caller ever gets the ciphertext."""
    secret_id = request.match_info["secret_id"]
    if not crypto.is_secret_id(secret_id):
        return _json({"error": "gone", "message": _GONE_MESSAGE}, 404)
    try:
        link_proof, auth = await _read_reveal_body(request)
        try:
            revealed = await request.app[SERVICE_KEY].reveal(secret_id, link_proof, auth)
        except (BrokenLink, WrongPassphrase, SecretGone):
            # The limit applies to failures, and only once the store has told a failure from
            # a success: a right link is never refused, however many failures its address
            # made (behind an untrusted proxy that address is everyone's). Past the limit a
            # failure is answered 429 whatever it was, so guessing learns nothing more; a
            # wrong passphrase still cost the secret one of its attempts in the store (see
            # docs/SECURITY.md), else being limited would buy unlimited guesses.
            settings = request.app[SETTINGS_KEY]
            client = request.app[CLIENTS_KEY].of(request.remote, _forwarded_for(request))
            await request.app[LIMITER_KEY].count_failure(
                "reveal", client, settings.rate_limit_reveal
            )
            raise
    except _BadRequest:
        return _json({"error": "bad_request", "message": "That request was malformed."}, 400)
    except RateLimited as exc:
        return rate_limited(
            "Too many failed attempts from your network. Check the link and the passphrase, "
            f"and try again in {exc.retry_after} seconds.",
            exc.retry_after,
        )
    except BrokenLink:
        return _json(
            {
                "error": "broken_link",
                "message": "This link is incomplete or mistyped. Copy the whole link and "
                "open it again. The secret is still safe.",
            },
            403,
        )
    except WrongPassphrase as exc:
        plural = "s" if exc.attempts_left != 1 else ""
        return _json(
            {
                "error": "wrong_passphrase",
                "attempts_left": exc.attempts_left,
                "message": f"Wrong passphrase. {exc.attempts_left} attempt{plural} left "
                "before the secret is destroyed.",
            },
            403,
        )
    except SecretGone:
        return _json({"error": "gone", "message": _GONE_MESSAGE}, 410)
    except StoreUnavailable:
        log.warning("store unavailable while revealing secret %s", short_id(secret_id))
        # Not "nothing was revealed": the store may have run the reveal (and deleted the
        # secret) just before its answer was lost or cut off by the deadline.
        return _json({"error": "unavailable", "message": _UNAVAILABLE_MESSAGE}, 503)
    if len(revealed.ciphertext) > STREAMED_REVEAL:
        return await _stream_revealed(request, revealed)
    return web.Response(body=_revealed_json(revealed), content_type="application/json")


STREAMED_REVEAL = 256 * 1024  # above this (files), the answer is encoded as it is sent
_B64_STEP = 3 * 64 * 1024  # a multiple of 3: each piece encodes without padding


async def _stream_revealed(request: web.Request, revealed: RevealedSecret) -> web.StreamResponse:
    """The same JSON as `_revealed_json`, written a piece at a time: a 10 MiB file encoded
    whole would hold the ciphertext and three 13 MiB copies of its text at once."""
    ciphertext = revealed.ciphertext
    head = (
        f'{{"version": {int(revealed.version)}, "nonce": "{crypto.b64encode(revealed.nonce)}", '
        '"ciphertext": "'
    ).encode("ascii")
    size = len(head) + (len(ciphertext) * 4 + 2) // 3 + 2
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = size
    await response.prepare(request)
    await response.write(head)
    for start in range(0, len(ciphertext), _B64_STEP):
        await response.write(crypto.b64encode(ciphertext[start : start + _B64_STEP]).encode())
    await response.write(b'"}')
    await response.write_eof()
    return response


def _revealed_json(revealed: RevealedSecret) -> bytes:
    """The answer to a reveal, as json.dumps would write it: an int and two base64url texts
    need no escaping, and formatting them directly costs a third of json.dumps."""
    return (
        f'{{"version": {int(revealed.version)}, "nonce": "{crypto.b64encode(revealed.nonce)}", '
        f'"ciphertext": "{crypto.b64encode(revealed.ciphertext)}"}}'
    ).encode("ascii")


_UNAVAILABLE_MESSAGE = (
    "The secret store did not answer in time. Please try again in a minute. If the secret "
    "is gone then, the store deleted it just as it stopped answering, and nobody saw it: ask "
    "the person who shared it for a new link."
)
_GONE_MESSAGE = (
    "This secret is not here: it has already been viewed, was deleted, has expired, or was "
    "destroyed after too many wrong passphrases."
)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process serves requests, whatever the store does. A liveness probe must
    not restart every healthy process during a Redis outage (readiness is /readyz)."""
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    """Readiness, for load balancers and orchestrators: 200 when the store answers."""
    try:
        await request.app[SERVICE_KEY].ping()
    except StoreUnavailable:
        return web.Response(text="store unavailable\n", status=503)
    return web.Response(text="ok\n")


def _static_files() -> dict[str, bytes]:
    folder = resources.files("bot") / "static"
    return {name: (folder / name).read_bytes() for name in _STATIC_TYPES}


def add_routes(app: web.Application, settings: Settings) -> None:
    files = _static_files()  # read once: the files are tiny and never change at run time

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in files:
            return html_page(pages.NOT_FOUND_PAGE, 404)
        return web.Response(body=files[name], content_type=_STATIC_TYPES[name], charset="utf-8")

    app[SETTINGS_KEY] = settings
    app[CLIENTS_KEY] = ClientAddresses(settings.trusted_proxies, settings.trusted_proxy_depth)
    app.middlewares.append(_security_headers(settings.public_url))
    app.router.add_get("/s/{secret_id}", secret_page)
    app.router.add_post("/s/{secret_id}", reveal)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/static/{name}", static)
