"""`POST /slack/events`: checks Slack's signature itself, then hands the request to bolt.

The signature (`v0:{timestamp}:{body}` HMAC-SHA256 with the signing secret, at most 5
minutes old) is checked here, before bolt sees the request, and bolt's own check is off.
Bolt's check logs the whole raw body at INFO when a signature fails: the text of
`/secret <text>`, modal secrets and passphrases, keys in button values, from a rotated
signing secret, a skewed clock or a delayed request; and anyone could write forged log lines
with newlines in a body. A refusal here logs one fixed line, nothing of the request.

Some malformed requests make bolt raise instead of refuse (a `payload` field that is not a
JSON object, a `view` that is not an object); they are refused here with a 4xx and cause
nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import ClientPayloadError, web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

# The largest request a person's own message can cause is a message shortcut on the longest
# message, whose text the payload carries twice: in `message.text` and in `message.blocks`.
# - Slack cuts message text at 40,000 characters.
# - JSON-escaped (`\uXXXX`, as Slack escapes non-ASCII), a character outside the BMP (emoji,
#   rare CJK) is a surrogate pair: `\ud83d\ude00`, 12 bytes. No character takes more.
# - Form-urlencoded (`payload=...`), a byte becomes at most 3 (`\` -> `%5C`): at most 36
#   bytes a character (the pair is in fact `%5Cud83d%5Cude00`, 16; raw UTF-8 would be 12).
# - So one copy is at most 40,000 x 36 = 1,440,000 bytes, two copies 2,880,000 (2.75 MiB).
# - The rest (ids, response_url, trigger_id) is a few KiB; rich_text's structure grows with
#   the number of styled runs (a style change on every character of such a message measured
#   about 1.4 MB in all). 4 MiB leaves room for that.
# Not covered: a shortcut on an app's or bot's message with dozens of full section blocks of
# non-ASCII text can pass 4 MiB; Slack then shows the person its own failure, and no secret
# that large would fit the form's 3000 characters anyway.
MAX_SLACK_BODY = 4 * 1024 * 1024
# A body is read before its signature can be checked, so unsigned senders could make the app
# hold MAX_SLACK_BODY per connection. Bodies over SMALL_SLACK_BODY (every ordinary command,
# click and form is far smaller) are read a few at a time, each within a deadline; Slack sends
# its body at once, so only a stalling sender waits.
SMALL_SLACK_BODY = 256 * 1024
LARGE_READS_AT_ONCE = 8
BODY_READ_SECONDS = 3.0  # Slack itself gives up on an answer after 3 seconds
SIGNATURE_WINDOW = 5 * 60  # Slack's own: a request older (or newer) than this is refused
SIGNATURE_REFUSED = "Slack request refused: signature missing, wrong or older than 5 minutes"
BODY_TOO_SLOW = "Slack request refused: its body did not arrive in time"
BODY_CUT_OFF = "Slack request refused: the connection closed before its body arrived"


def _refused(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


def slack_endpoint(slack_app: AsyncApp, signing_secret: str):
    verifier = SignatureVerifier(signing_secret)
    large_reads = asyncio.Semaphore(LARGE_READS_AT_ONCE)

    async def read_body(request: web.Request) -> bytes:
        length = request.content_length
        async with asyncio.timeout(BODY_READ_SECONDS):
            if length is not None and length <= SMALL_SLACK_BODY:
                return await request.read()
            async with large_reads:
                return await request.read()

    async def handle(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_SLACK_BODY:
            return _refused(413, "request too large\n")  # refused before reading a byte
        if not _fresh_headers(request):
            # Refused before reading a byte: a stale or malformed timestamp can never verify.
            log.info(SIGNATURE_REFUSED)
            return _refused(401, "invalid request\n")
        # This route's own limit: the app's is far smaller (no other route reads a body this
        # big), and a body sent without a length is cut off at it (413) as it is read.
        request = request.clone(client_max_size=MAX_SLACK_BODY)
        try:
            body = await read_body(request)
        except TimeoutError:
            log.info(BODY_TOO_SLOW)
            return _refused(408, "request body too slow\n")
        except (ConnectionError, ClientPayloadError):
            # The sender hung up mid-body: nobody is left to answer, and it is no error of
            # ours (an unsigned sender could otherwise fill the log with tracebacks).
            log.info(BODY_CUT_OFF)
            return _refused(400, "request body incomplete\n")
        if not _signed_by_slack(verifier, request, body):
            log.info(SIGNATURE_REFUSED)  # never the body nor a header: both are the sender's
            return _refused(401, "invalid request\n")
        try:
            bolt_request = await to_bolt_request(request)
        except (AttributeError, LookupError, TypeError, ValueError, RecursionError) as exc:
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


def _fresh_headers(request: web.Request) -> bool:
    """A timestamp Slack could have sent now (digits, within the window) and a v0 signature:
    checked before the body is read. Also keeps int() away from a 5,000-digit timestamp."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if not (signature.isascii() and signature.startswith("v0=")):
        return False
    return abs(time.time() - int(timestamp)) <= SIGNATURE_WINDOW


def _signed_by_slack(verifier: SignatureVerifier, request: web.Request, body: bytes) -> bool:
    timestamp = request.headers["X-Slack-Request-Timestamp"]
    signature = request.headers["X-Slack-Signature"]
    try:
        return verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except UnicodeDecodeError:
        return False  # the verifier decodes the body as UTF-8; Slack's bodies always are
