"""Getting messages to people: the response_url first, a DM from the app as the fallback.

The link goes back through the command's or shortcut's `response_url`: it posts an
ephemeral message in the very conversation the person asked from, even one the bot is not a
member of (where chat.postEphemeral fails with `not_in_channel`). Transient Slack failures
(429 with Retry-After, 5xx, resets, timeouts) are retried by slack_sdk's retry handlers.
Failures are logged by kind only: messages carry links.

Receipts are sent in turn (`dm_in_turn`): a sweep may find thousands of secrets expired at
once, and Slack answers a burst of chat.postMessage with 429. A few at a time go out, and a
429's Retry-After holds back every receipt, not just the one refused; then it is sent again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import logs
from bot.metrics import Metrics

log = logging.getLogger(__name__)
# Handed to every slack_sdk client this app builds; bot.logs gives it an explicit level.
SDK_LOGGER = logging.getLogger(logs.SDK_LOGGER_NAME)

MAX_RETRIES = 2
REQUEST_TIMEOUT = 5  # seconds per attempt; retries keep the whole delivery bounded
# Receipts in flight at once. Slack's chat.postMessage tier allows bursts of a few; beyond
# them, 429s. Enough to keep up with a busy sweep, few enough not to start a storm.
RECEIPTS_IN_FLIGHT = 4
RATE_LIMITED_TRIES = 10  # 429s one receipt waits out before it is given up (and logged)
_TRANSIENT = (
    aiohttp.ServerConnectionError,
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientOSError,
    asyncio.TimeoutError,
)


def retry_handlers(*, rate_limits: bool = True) -> list[AsyncRetryHandler]:
    """slack_sdk's retries. Without `rate_limits`, a 429 comes back to the caller, who
    paces many calls at once better than each call alone can."""
    handlers: list[AsyncRetryHandler] = [
        AsyncServerErrorRetryHandler(max_retry_count=MAX_RETRIES),
        AsyncConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES, error_types=[*_TRANSIENT]),
    ]
    if rate_limits:
        handlers.insert(0, AsyncRateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES))
    return handlers


def retry_after(headers: object) -> float:
    """Seconds Slack asks us to wait after a 429 (at least 1, as Slack counts in seconds)."""
    value: Any = headers.get("Retry-After") if hasattr(headers, "get") else None
    if isinstance(value, list):  # some slack_sdk responses hold each header as a list
        value = value[0] if value else None
    try:
        return max(1.0, float(value))
    except (TypeError, ValueError):
        return 1.0


def refused_by_hook(body: str) -> str:
    """Slack's error when a response_url answered 200 and still refused (`{"ok": false,
    "error": ...}`); "" when the body says it was posted ("ok", or `{"ok": true}`)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return ""
    if isinstance(answer, dict) and answer.get("ok") is False:
        return str(answer.get("error") or "refused")
    return ""


SLACK_CALL_FAILURES = (SlackApiError, TimeoutError, aiohttp.ClientError)


def failure_kind(exc: BaseException) -> str:
    """What went wrong with a Slack call, for a log line: Slack's error code or the transport
    error's type, never the request (it may carry a link)."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "unknown error"))
    return type(exc).__name__


def _as_dm(message: dict) -> dict:
    return {k: v for k, v in message.items() if k not in ("response_type", "replace_original")}


SLACK_HOOK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})


class MissingScope(Exception):
    """The install was granted fewer scopes than the app asks for now: only a reinstall
    (Add to Slack again) grants the missing one."""

    def __init__(self, scope: str) -> None:
        super().__init__(scope)
        self.scope = scope


class Delivery:
    def __init__(
        self,
        client: AsyncWebClient,
        extra_hook_hosts: frozenset[str] = frozenset(),
        metrics: Metrics | None = None,
        token_for: Callable[[str], Awaitable[str | None]] | None = None,
    ):
        self._client = client
        # Which bot token speaks in a workspace: the one SLACK_BOT_TOKEN, or its install's.
        self._token_for = token_for
        self._metrics = metrics or Metrics()
        # response_urls arrive inside payloads; posting only to Slack's hook hosts (and the
        # configured API host, for a local fake) means no payload can aim this server at
        # anything else.
        self._hook_hosts = SLACK_HOOK_HOSTS | extra_hook_hosts
        self._session: aiohttp.ClientSession | None = None
        # Stateless (each call's retry state lives in the call), so one set serves every
        # response_url post, as the Web API client's serve all its calls.
        self._hook_retries = retry_handlers()
        # Receipts: the same Slack, but 429s come back here, to hold back all of them.
        self._paced_client = AsyncWebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=REQUEST_TIMEOUT,
            retry_handlers=retry_handlers(rate_limits=False),
            logger=SDK_LOGGER,
        )
        self._in_turn = asyncio.Semaphore(RECEIPTS_IN_FLIGHT)
        self._resume_at = 0.0  # event loop time before which no receipt leaves (Retry-After)

    async def open(self) -> None:
        """One HTTP session (and connection pool) for all Slack calls of this process.

        Without it slack_sdk opens a new session, and new connections, for every call, which
        cost more than the rest of a request together (see bench/)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._client.session = self._session
            self._paced_client.session = self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _is_slack_hook(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        return (
            parts.scheme in ("https", "http")
            and parts.hostname in self._hook_hosts
            and (parts.scheme == "https" or parts.hostname not in SLACK_HOOK_HOSTS)
        )

    async def respond(self, response_url: str | None, message: dict) -> bool:
        """Post to a response_url; False when it is missing, expired or Slack refused."""
        if not isinstance(response_url, str) or not self._is_slack_hook(response_url):
            return False
        webhook = AsyncWebhookClient(
            response_url,
            timeout=REQUEST_TIMEOUT,
            retry_handlers=self._hook_retries,
            session=self._session,
            logger=SDK_LOGGER,
        )
        try:
            response = await webhook.send_dict(message)
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._failed("response_url delivery failed", type(exc).__name__)
            return False
        # Slack answers 404 once a response_url has expired (30 minutes, 5 posts), 400 for
        # blocks it refuses, and sometimes 200 with {"ok": false}: none of them delivered.
        if response.status_code != 200:
            self._failed("response_url delivery refused", f"HTTP {response.status_code}")
            return False
        refusal = refused_by_hook(response.body or "")
        if refusal:
            self._failed("response_url delivery refused", refusal)
            return False
        return True

    async def _token(self, team_id: str) -> dict | None:
        """The token argument for a call in this workspace; None when it has no install."""
        token = await self._token_for(team_id) if self._token_for else None
        if self._token_for and not token:
            log.warning("DM skipped: the workspace has no installation")
            return None
        return {"token": token} if token else {}

    async def dm(self, user_id: str, message: dict, team_id: str = "") -> bool:
        """A message from the app to one person (its App Home messages tab)."""
        token = await self._token(team_id)
        if token is None:
            return False
        try:
            await self._client.chat_postMessage(channel=user_id, **token, **_as_dm(message))
        except SLACK_CALL_FAILURES as exc:
            self._failed("DM failed", failure_kind(exc))
            return False
        return True

    async def find_by_email(self, email: str, team_id: str = "") -> str:
        """The member id Slack knows `email` by (users.lookupByEmail, users:read.email);
        "" when nobody has it, it is a deactivated account or a bot (a link DMed there
        reaches nobody who should have it), or Slack did not answer. MissingScope when the
        workspace's install predates the app's asking for users:read.email."""
        token = await self._token(team_id)
        if token is None:
            return ""
        try:
            answer = await self._client.users_lookupByEmail(email=email, **token)
        except SLACK_CALL_FAILURES as exc:
            self._failed("users.lookupByEmail failed", failure_kind(exc))
            if isinstance(exc, SlackApiError) and exc.response.get("error") == "missing_scope":
                raise MissingScope("users:read.email") from None
            return ""
        user = answer.get("user") or {}
        if not isinstance(user, dict) or user.get("deleted") or user.get("is_bot"):
            return ""
        return str(user.get("id") or "")

    async def dm_in_turn(self, user_id: str, message: dict, team_id: str = "") -> bool:
        """A DM that can wait its turn (receipts): at most RECEIPTS_IN_FLIGHT at once, and
        after a 429 none leaves before its Retry-After has passed; the refused one is sent
        again. False when it could not be delivered."""
        token = await self._token(team_id)
        if token is None:
            return False
        async with self._in_turn:
            for _ in range(RATE_LIMITED_TRIES):
                await self._wait_out_rate_limit()
                try:
                    await self._paced_client.chat_postMessage(
                        channel=user_id, **token, **_as_dm(message)
                    )
                    return True
                except SlackApiError as exc:
                    if exc.response.status_code != 429:
                        self._failed("DM failed", failure_kind(exc))
                        return False
                    self._hold_back(retry_after(exc.response.headers))
                except (TimeoutError, aiohttp.ClientError) as exc:
                    self._failed("DM failed", failure_kind(exc))
                    return False
        self._failed("DM failed", f"still rate limited after {RATE_LIMITED_TRIES} tries")
        return False

    def _failed(self, what: str, kind: str) -> None:
        """A Slack call that failed after its retries: logged by kind (a message holds links,
        so never its content) and counted in oncelink_slack_api_errors_total."""
        log.warning("%s: %s", what, kind)
        self._metrics.inc("oncelink_slack_api_errors_total")

    def _hold_back(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._resume_at = max(self._resume_at, loop.time() + seconds)

    async def _wait_out_rate_limit(self) -> None:
        delay = self._resume_at - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)
            await self._wait_out_rate_limit()  # another 429 may have pushed the time further

    async def to_person(
        self, response_url: str | None, user_id: str, message: dict, team_id: str = ""
    ) -> bool:
        """Where they asked if possible, else a DM. False only when both failed."""
        if await self.respond(response_url, message):
            return True
        return await self.dm(user_id, message, team_id)
