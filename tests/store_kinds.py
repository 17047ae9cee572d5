"""What every store contract file shares: the stores it runs against and a record to save."""

from __future__ import annotations

import os
import time

import pytest

from bot.service import MAX_PASSPHRASE_ATTEMPTS
from storage.base import SecretRecord

LV, VF = b"L" * 32, b"V" * 32
LIMIT = MAX_PASSPHRASE_ATTEMPTS  # the core's policy, which every reveal and status passes


def every_store():
    """The `store` fixture for a contract file (`store = every_store()`): Redis, SQLite, a
    real 3-master Redis Cluster and a Sentinel-managed primary with a replica."""

    @pytest.fixture(params=["redis", "sqlite", "cluster", "sentinel"])
    async def store(request, tmp_path):
        from tests.support.stores import open_test_store

        store = await open_test_store(request.param, request, tmp_path)
        yield store
        await store.close()

    return store


def record(expires_in: float = 60.0, **fields) -> SecretRecord:
    now = time.time()
    base = dict(
        secret_id=os.urandom(8).hex(),
        version=1,
        nonce=os.urandom(12),
        ciphertext=os.urandom(40),
        link_verifier=LV,
        verifier=VF,
        has_passphrase=True,
        created_at=now,
        expires_at=now + expires_in,
        creator="T1:U1",
        metadata='{"note": "n"}',
    )
    base.update(fields)
    return SecretRecord(**base)
