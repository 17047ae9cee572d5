"""The Redis scripts read the packed record where storage/redis_record.py puts each field:
their byte positions are built from the layout's constants, not written out by hand."""

from __future__ import annotations

import os
import re

from storage import redis_record
from storage.base import SecretRecord
from storage.redis_store import _BURN, LUA_POSITIONS, REVEAL_SCRIPT


def _record() -> SecretRecord:
    return SecretRecord(
        secret_id="id",
        version=7,
        nonce=os.urandom(12),
        ciphertext=b"ciphertext",
        link_verifier=b"L" * 32,
        verifier=b"V" * 32,
        has_passphrase=True,
        created_at=1_700_000_000.5,
        expires_at=1_700_003_600.25,
        creator="E1:T1:U1",
        metadata='{"m": 1}',
        bound=True,
    )


def test_the_offsets_are_where_pack_puts_each_field():
    rec = _record()
    packed = redis_record.pack(rec)

    def field(name: str) -> bytes:
        start = redis_record.OFFSETS[name]
        return packed[start : start + redis_record.SIZES[name]]

    assert field("link_verifier") == rec.link_verifier
    assert field("verifier") == rec.verifier
    assert field("failed") == b"\x00"
    assert int.from_bytes(field("creator_length"), "big") == len(rec.creator)
    assert field("flags")[0] == redis_record.HAS_PASSPHRASE | redis_record.BOUND
    assert int.from_bytes(field("expires_at"), "big") == round(rec.expires_at * 1000)
    assert field("nonce") == rec.nonce
    assert packed[redis_record.HEAD_SIZE :].startswith(rec.creator.encode())
    assert redis_record.OFFSETS["nonce"] + 12 == redis_record.HEAD_SIZE
    named = {
        "failed": redis_record.FAILED_OFFSET,
        "link_verifier": redis_record.LINK_VERIFIER_OFFSET,
        "verifier": redis_record.VERIFIER_OFFSET,
        "creator_length": redis_record.CREATOR_LENGTH_OFFSET,
        "flags": redis_record.FLAGS_OFFSET,
        "expires_at": redis_record.EXPIRES_AT_OFFSET,
    }
    assert named == {name: redis_record.OFFSETS[name] for name in named}


def test_the_scripts_positions_pick_out_the_fields_of_a_packed_record():
    """Read a packed record the way the scripts do: Lua's 1-based inclusive positions and
    GETRANGE's 0-based inclusive ones."""
    rec = _record()
    packed = redis_record.pack(rec)
    at = LUA_POSITIONS
    head = packed[: at["expires_at_last"] + 1]  # GETRANGE 0..expires_at_last
    assert head[at["link_verifier_from"] - 1 : at["link_verifier_to"]] == rec.link_verifier
    assert head[at["verifier_from"] - 1 : at["verifier_to"]] == rec.verifier
    assert head[at["failed_at"] - 1] == packed[at["failed_offset"]] == 0
    assert head[at["flags_at"] - 1] // at["bound"] % 2 == 1
    head = packed[: at["expires_at_last"] + 1]  # what both scripts read first
    start = at["creator_length_at"] - 1
    length = int.from_bytes(head[start : start + 2], "big")
    expires = int.from_bytes(head[at["expires_at_from"] - 1 : at["expires_at_to"]], "big")
    assert expires == round(rec.expires_at * 1000)
    creator = packed[at["creator_offset"] : at["creator_before"] + length + 1]
    assert creator == rec.creator.encode()


def test_the_scripts_text_holds_the_positions_built_from_the_layout():
    for script in (REVEAL_SCRIPT, _BURN):
        assert "$" not in script
    flags, link = redis_record.FLAGS_OFFSET, redis_record.LINK_VERIFIER_OFFSET
    verifier, failed = redis_record.VERIFIER_OFFSET, redis_record.FAILED_OFFSET
    assert f"string.byte(head, {flags + 1})" in REVEAL_SCRIPT
    assert f"string.sub(head, {link + 1}, {link + 32})" in REVEAL_SCRIPT
    assert f"string.sub(head, {verifier + 1}, {verifier + 32})" in REVEAL_SCRIPT
    assert f"string.byte(head, {failed + 1}) + 1" in REVEAL_SCRIPT
    assert f"SETRANGE', KEYS[1], {failed}," in REVEAL_SCRIPT
    expires = redis_record.EXPIRES_AT_OFFSET
    for script in (REVEAL_SCRIPT, _BURN):
        assert f"GETRANGE', KEYS[1], 0, {expires + 7})" in script
        assert f"for i = {expires + 1}, {expires + 8} do" in script
    length = redis_record.CREATOR_LENGTH_OFFSET
    assert f"string.byte(head, {length + 1}, {length + 1} + 1)" in _BURN
    assert f"GETRANGE', KEYS[1], {redis_record.HEAD_SIZE}, {redis_record.HEAD_SIZE - 1} +" in _BURN
    # Besides ARGV indexes, return codes and a byte's base, every number is a built position.
    numbers = set(re.findall(r"\b\d+\b", REVEAL_SCRIPT + _BURN))
    built = {str(n) for n in LUA_POSITIONS.values()} | {"0", "1", "2", "3", "4", "5", "256"}
    assert numbers <= built
