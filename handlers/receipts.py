"""Receipts: tell the creator when their secret was revealed. Never the secret itself."""

from __future__ import annotations

import json
import logging

from bot.service import RevealReceipt, SecretService
from handlers.blocks import receipt_message
from handlers.delivery import Delivery

log = logging.getLogger(__name__)


def register(service: SecretService, delivery: Delivery) -> None:
    async def send_receipt(receipt: RevealReceipt) -> None:
        team_id, _, user_id = receipt.creator.partition(":")
        if not team_id or not user_id:
            return  # made outside Slack (the CLI): nobody to tell
        try:
            metadata = json.loads(receipt.metadata or "{}")
        except ValueError:
            metadata = {}
        if not isinstance(metadata, dict):
            metadata = {}
        await delivery.dm(
            user_id,
            receipt_message(
                revealed_at=receipt.revealed_at,
                note=str(metadata.get("n") or ""),
                channel=str(metadata.get("c") or ""),
            ),
            team_id,
        )

    service.on_revealed(send_receipt)
