"""Per-workspace defaults, set by the workspace's admins from the App Home tab.

The app's own settings (DEFAULT_TTL, MAX_TTL, TTL_CHOICES, RECEIPTS) are the outer bounds:
a workspace can narrow them (a shorter maximum, receipts off), never widen them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.errors import StoreUnavailable
from storage.interfaces import KeyValues

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Prefs:
    """What an admin chose; None means "the app's setting"."""

    default_ttl: int | None = None
    max_ttl: int | None = None
    receipts: bool | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """What applies in a workspace: the app's settings narrowed by the workspace's prefs."""

    expiry_choices: tuple[int, ...]
    default_ttl: int
    max_ttl: int
    receipts: bool


def prefs_key(team_id: str) -> str:
    return f"workspace:{team_id}"


PREFS_CACHED_FOR = 30.0  # seconds an admin's change may take to reach other processes


class Workspaces:
    def __init__(
        self,
        store: KeyValues,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        # Every command and modal needs its workspace's prefs, and they almost never change:
        # remembered briefly, they cost no store round trip per request.
        self._cache: dict[str, tuple[float, Prefs]] = {}
        # What each distinct choice of prefs comes to: the same few, asked for by every
        # command and modal, so worked out once each.
        self._policies: dict[Prefs, Policy] = {}

    async def prefs(self, team_id: str) -> Prefs:
        cached = self._cache.get(team_id)
        now = self._clock()
        if cached and now - cached[0] < PREFS_CACHED_FOR:
            return cached[1]
        prefs = await self._load(team_id)
        if prefs is None:  # the store did not answer: the app's settings, just this once
            return Prefs()
        if len(self._cache) > 10_000:  # a provider's many workspaces: start afresh
            self._cache.clear()
        self._cache[team_id] = (now, prefs)
        return prefs

    async def _load(self, team_id: str) -> Prefs | None:
        try:
            raw = await self._store.get(prefs_key(team_id), time.time()) if team_id else None
        except StoreUnavailable:
            log.warning("workspace defaults unavailable; using the app's")
            return None
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            return Prefs()
        default_ttl, max_ttl, receipts = data.get("d"), data.get("m"), data.get("r")
        return Prefs(
            default_ttl if isinstance(default_ttl, int) else None,
            max_ttl if isinstance(max_ttl, int) else None,
            receipts if isinstance(receipts, bool) else None,
        )

    async def save(self, team_id: str, prefs: Prefs) -> None:
        fields = {"d": prefs.default_ttl, "m": prefs.max_ttl, "r": prefs.receipts}
        data = {key: value for key, value in fields.items() if value is not None}
        await self._store.put(prefs_key(team_id), json.dumps(data).encode())
        self._cache[team_id] = (self._clock(), prefs)

    def apply(self, prefs: Prefs) -> Policy:
        settings = self._settings
        max_ttl = min(settings.max_ttl, prefs.max_ttl or settings.max_ttl)
        choices = tuple(ttl for ttl in settings.expiry_choices if ttl <= max_ttl) or (max_ttl,)
        default_ttl = prefs.default_ttl or settings.default_ttl
        if default_ttl > max_ttl:
            default_ttl = max(choices)
        receipts = settings.receipts and prefs.receipts is not False
        return Policy(choices, default_ttl, max_ttl, receipts)

    async def policy(self, team_id: str) -> Policy:
        prefs = await self.prefs(team_id)
        policy = self._policies.get(prefs)
        if policy is None:
            if len(self._policies) > 1_000:  # bounded: prefs are a few small numbers
                self._policies.clear()
            policy = self._policies[prefs] = self.apply(prefs)
        return policy


async def is_admin(client: AsyncWebClient, user_id: str) -> bool:
    """Only workspace admins and owners, or the org's in Enterprise Grid, may change the
    workspace's defaults (Slack says who they are: users.info, with the users:read scope)."""
    try:
        response = await client.users_info(user=user_id)
    except SlackApiError as exc:
        log.warning("users.info failed: %s", exc.response.get("error", "unknown error"))
        return False
    user = response.get("user") or {}
    # In Enterprise Grid the org's admins and owners govern every workspace of the org;
    # Slack says so in `enterprise_user`, not in the workspace's own flags.
    org = user.get("enterprise_user") or {}
    org_admin = isinstance(org, dict) and bool(org.get("is_admin") or org.get("is_owner"))
    return org_admin or bool(
        user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
    )
