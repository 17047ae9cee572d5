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
        try:
            metadata = json.loads(receipt.metadata or "{}")
        except ValueError:
            return
        if not isinstance(metadata, dict) or not metadata.get("user"):
            return  # made outside Slack (the CLI): nobody to tell
        await delivery.dm(
            str(metadata["user"]),
            receipt_message(
                revealed_at=receipt.revealed_at,
                note=str(metadata.get("note") or ""),
                channel=str(metadata.get("channel") or ""),
            ),
        )

    service.on_revealed(send_receipt)
