"""Slack installations and OAuth states, kept in the app's own store (Redis or SQLite).

Installs are kept the way bolt and slack_sdk's own stores keep them, so bolt's authorize
finds them for every request: a workspace install under (enterprise id, team id), the
enterprise id empty outside Enterprise Grid; an org-wide install (`is_enterprise_install`)
under its enterprise id alone, for every workspace of the org. Work that starts without a
request (receipts, DMs after the ack) knows only a person's workspace, so the store also
remembers which org each workspace belongs to, whenever Slack names the two together (a
Grid workspace install, or a request bolt authorizes): `find_bot_for_team` then finds the
right install from the team id alone.

Bot tokens are the one thing worth stealing from this app's store, so each installation is
sealed with AES-256-GCM under TOKEN_ENCRYPTION_KEY, bound to its key name: a store dump
shows no token. OAuth states are consumed with an atomic take, so a state works once.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from storage.interfaces import KeyValues

log = logging.getLogger(__name__)

STATE_TTL = 600  # seconds a person has between "Add to Slack" and Slack's redirect


class TokenCipher:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes | None:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], context.encode())
        except (InvalidTag, ValueError):
            return None  # another key, or tampered with: as good as not installed


def _bot_key(enterprise_id: str | None, team_id: str | None, is_enterprise: bool) -> str:
    # An org-wide install is found by its enterprise id alone, a workspace by its team.
    if is_enterprise:
        return f"slack-bot:{enterprise_id or '-'}:-"
    return f"slack-bot:{enterprise_id or '-'}:{team_id or '-'}"


def _org_key(team_id: str) -> str:
    return f"slack-team-org:{team_id}"


ORGS_REMEMBERED = 10_000  # workspaces whose org this process knows it has stored


def _plain(value):
    return value.timestamp() if isinstance(value, datetime) else value


class StoreInstallationStore(AsyncInstallationStore):
    """Bot installations only: oncelink acts as its bot and never asks for user tokens."""

    def __init__(self, store: KeyValues, cipher: TokenCipher) -> None:
        self._store = store
        self._cipher = cipher
        # (team, enterprise, org-wide) already written to the store by this process: bolt
        # finds the install on every request, and one write per workspace is enough.
        self._orgs_stored: set[tuple[str, str, bool]] = set()

    @property
    def logger(self) -> logging.Logger:  # the base class wants one; nothing here logs tokens
        return log

    async def _remember_org(self, team_id: str, enterprise_id: str, org_wide: bool) -> None:
        known = (team_id, enterprise_id, org_wide)
        if known in self._orgs_stored:
            return
        await self._store.put(_org_key(team_id), json.dumps([enterprise_id, org_wide]).encode())
        if len(self._orgs_stored) >= ORGS_REMEMBERED:
            self._orgs_stored.clear()
        self._orgs_stored.add(known)

    async def _org_of(self, team_id: str) -> tuple[str, bool] | None:
        raw = await self._store.get(_org_key(team_id), time.time())
        try:
            enterprise_id, org_wide = json.loads(raw or b"null")
        except (TypeError, ValueError):
            return None
        if not isinstance(enterprise_id, str) or not enterprise_id:
            return None
        return enterprise_id, bool(org_wide)

    async def find_bot_for_team(self, team_id: str) -> Bot | None:
        """The install that speaks in workspace `team_id`, knowing nothing else of it: its
        own install, else (in Enterprise Grid) its org's, as learnt from Slack. An org's own
        id (E…), which Slack gives as a person's team in some Grid payloads, finds the
        org-wide install."""
        if not team_id:
            return None
        if team_id.startswith("E"):
            return await self.async_find_bot(
                enterprise_id=team_id, team_id=None, is_enterprise_install=True
            )
        bot = await self.async_find_bot(enterprise_id=None, team_id=team_id)
        if bot is not None:
            return bot
        org = await self._org_of(team_id)
        if org is None:
            return None
        enterprise_id, org_wide = org
        # The kind Slack named last first; the other one too, for an org that moved from
        # workspace installs to an org-wide one (or back) since.
        for is_enterprise_install in (org_wide, not org_wide):
            bot = await self.async_find_bot(
                enterprise_id=enterprise_id,
                team_id=team_id,
                is_enterprise_install=is_enterprise_install,
            )
            if bot is not None:
                return bot
        return None

    async def find_bot_at(self, place: str) -> Bot | None:
        """The install that speaks at `place`, a handlers.payloads.address: "E…/T…" in
        Enterprise Grid, a workspace (or an org) alone outside it, as older secrets stored
        it. In Grid the workspace's own install is tried first, then the org-wide one: the
        payload said which org, so nothing has to be remembered to find either."""
        enterprise_id, _, team_id = place.rpartition("/")
        if not enterprise_id:
            return await self.find_bot_for_team(team_id)
        if team_id:
            bot = await self.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
            if bot is not None:
                return bot
        bot = await self.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id or None, is_enterprise_install=True
        )
        if bot is not None:
            return bot
        return await self.find_bot_for_team(team_id) if team_id else None

    async def async_save(self, installation: Installation) -> None:
        await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        key = _bot_key(bot.enterprise_id, bot.team_id, bool(bot.is_enterprise_install))
        fields = {name: _plain(value) for name, value in bot.to_dict().items()}
        await self._store.put(key, self._cipher.seal(json.dumps(fields).encode(), key))
        if bot.enterprise_id and bot.team_id and not bot.is_enterprise_install:
            await self._remember_org(bot.team_id, bot.enterprise_id, False)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        key = _bot_key(enterprise_id, team_id, bool(is_enterprise_install))
        sealed = await self._store.get(key, time.time())
        if sealed is None:
            return None
        plain = self._cipher.open(sealed, key)
        if plain is None:
            return None
        fields = json.loads(plain)
        fields["bot_scopes"] = fields.get("bot_scopes") or ""
        if fields.get("bot_token_expires_at") is not None:  # Bot wants whole seconds here
            fields["bot_token_expires_at"] = int(fields["bot_token_expires_at"])
        if enterprise_id and team_id:
            # bolt asks with both for every request from a Grid workspace: the moment to
            # learn (once) which org, and which kind of install, serves that workspace.
            await self._remember_org(team_id, enterprise_id, bool(is_enterprise_install))
        return Bot(**fields)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        bot = await self.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        if bot is None:
            return None
        return Installation(
            app_id=bot.app_id,
            enterprise_id=bot.enterprise_id,
            team_id=bot.team_id,
            bot_token=bot.bot_token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_scopes=bot.bot_scopes,
            is_enterprise_install=bot.is_enterprise_install,
            user_id=user_id or "",
            installed_at=bot.installed_at,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        for is_enterprise in (False, True):
            await self._store.delete(_bot_key(enterprise_id, team_id, is_enterprise))

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is None:  # a user's own installation holds nothing here
            await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None):
        await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)


class StoreOAuthStateStore(AsyncOAuthStateStore):
    def __init__(self, store: KeyValues) -> None:
        self._store = store

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args, **kwargs) -> str:
        state = secrets.token_urlsafe(24)
        await self._store.put(f"oauth-state:{state}", b"1", time.time() + STATE_TTL)
        return state

    async def async_consume(self, state: str) -> bool:
        return await self._store.take(f"oauth-state:{state}", time.time()) is not None
