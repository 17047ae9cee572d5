"""Receipts: tell the creator when their secret was revealed, or expired unread. Never the
secret itself. The app's RECEIPTS setting turns them all off; a workspace's admins can turn
them off for their workspace."""

from __future__ import annotations

from bot.service import ExpiryNotice, RevealReceipt, SecretService
from handlers.blocks import expiry_receipt_message, receipt_message
from handlers.delivery import Delivery
from handlers.payloads import string_fields, workspace_in
from handlers.workspace import Workspaces


def register(service: SecretService, delivery: Delivery, workspaces: Workspaces) -> None:
    """The core hands over only secrets with a creator to tell (bot.service.has_creator),
    all made here, so each creator is an identity this edge made (handlers.sharing.creator_of)."""

    async def wanted(creator: str, declared: dict[str, str]) -> tuple[str, str] | None:
        """(where to speak, whom to tell), or None when the workspace turned receipts off.
        Where is the install the secret was made through ("w", handlers.payloads.address),
        else the creator's scope, as secrets made outside Enterprise Grid (or before "w")
        have it."""
        scope, _, user_id = creator.partition(":")
        if declared.get("q"):
            return None  # asked of someone outside Slack: handlers/outside.py tells of it
        where = declared.get("w") or scope
        if not (await workspaces.policy(workspace_in(where))).receipts:
            return None
        return where, user_id

    async def send_receipt(receipt: RevealReceipt) -> None:
        declared = string_fields(receipt.metadata)  # note and channel: declared not secret
        who = await wanted(receipt.creator, declared)
        if who is None:
            return
        message = receipt_message(
            revealed_at=receipt.revealed_at,
            note=declared.get("n", ""),
            channel=declared.get("c", ""),
        )
        await delivery.dm_in_turn(who[1], message, who[0])

    async def send_expiry_receipt(notice: ExpiryNotice) -> None:
        declared = string_fields(notice.metadata)
        who = await wanted(notice.creator, declared)
        if who is None:
            return
        message = expiry_receipt_message(
            expires_at=notice.expires_at,
            note=declared.get("n", ""),
            recipient=declared.get("r", ""),
        )
        # A sweep may hand over thousands at once: they go out in turn, none lost to a 429.
        await delivery.dm_in_turn(who[1], message, who[0])

    service.on_revealed(send_receipt)
    service.on_expired(send_expiry_receipt)
