"""The byte layout of one secret in Redis: a single string, packed.

One string instead of a hash of eleven fields: Redis keeps a hash this size as a hashtable
with an allocation per field, which cost ~800 bytes of overhead per secret; a packed string
costs one allocation. The Lua scripts read the fixed-offset head (failed count, verifiers,
creator) with GETRANGE and update the failed count in place with SETRANGE, which keeps the TTL.

    offset  size  field
    0       1     failed passphrase attempts
    1       32    link verifier
    33      32    verifier
    65      2     creator length (big-endian)
    67      1     version
    68      1     flags: 1 has a passphrase, 2 bound to one person
    69      8     created at, ms since epoch
    77      8     expires at, ms since epoch
    85      2     metadata length
    87      12    nonce
    99      ..    creator, metadata, ciphertext

Flag 2 came after the layout: a record stored before it has 0 or 1 there and reads as not
bound, as it was then (docs/SECURITY.md, "Secrets bound to one person", says what that
means for such records). The layout is otherwise unchanged, so old records stay readable.
"""

from __future__ import annotations

import struct

from storage.base import SecretRecord

# The head, field by field, in the table's order. The offsets below, and through them the
# positions the Lua scripts read and write (storage/redis_store.py), are computed from this
# one list, so a change here moves them all.
_FIELDS = (
    ("failed", "B"),
    ("link_verifier", "32s"),
    ("verifier", "32s"),
    ("creator_length", "H"),
    ("version", "B"),
    ("flags", "B"),
    ("created_at", "Q"),
    ("expires_at", "Q"),
    ("metadata_length", "H"),
    ("nonce", "12s"),
)
_HEAD = struct.Struct(">" + "".join(code for _, code in _FIELDS))
OFFSETS = {
    name: struct.calcsize(">" + "".join(code for _, code in _FIELDS[:n]))
    for n, (name, _) in enumerate(_FIELDS)
}
SIZES = {name: struct.calcsize(">" + code) for name, code in _FIELDS}
HEAD_SIZE = _HEAD.size  # 99: the creator starts here
FAILED_OFFSET = OFFSETS["failed"]
LINK_VERIFIER_OFFSET = OFFSETS["link_verifier"]
VERIFIER_OFFSET = OFFSETS["verifier"]
CREATOR_LENGTH_OFFSET = OFFSETS["creator_length"]
FLAGS_OFFSET = OFFSETS["flags"]
EXPIRES_AT_OFFSET = OFFSETS["expires_at"]
HAS_PASSPHRASE, BOUND = 1, 2


def pack(record: SecretRecord) -> bytes:
    creator = record.creator.encode("utf-8")
    metadata = record.metadata.encode("utf-8")
    head = _HEAD.pack(
        0,
        record.link_verifier,
        record.verifier,
        len(creator),
        record.version,
        (HAS_PASSPHRASE if record.has_passphrase else 0) | (BOUND if record.bound else 0),
        round(record.created_at * 1000),
        round(record.expires_at * 1000),
        len(metadata),
        record.nonce,
    )
    return head + creator + metadata + record.ciphertext


def unpack(secret_id: str, raw: bytes) -> tuple[SecretRecord, int]:
    """The record and its failed-attempt count."""
    (failed, link_verifier, verifier, creator_len, version, flags, created, expires,
     metadata_len, nonce) = _HEAD.unpack_from(raw)  # fmt: skip
    creator_end = HEAD_SIZE + creator_len
    metadata_end = creator_end + metadata_len
    record = SecretRecord(
        secret_id=secret_id,
        version=version,
        nonce=nonce,
        ciphertext=raw[metadata_end:],
        link_verifier=link_verifier,
        verifier=verifier,
        has_passphrase=bool(flags & HAS_PASSPHRASE),
        created_at=created / 1000,
        expires_at=expires / 1000,
        creator=raw[HEAD_SIZE:creator_end].decode("utf-8"),
        metadata=raw[creator_end:metadata_end].decode("utf-8"),
        bound=bool(flags & BOUND),
    )
    return record, failed


def unpack_head(raw: bytes) -> tuple[int, bool, float]:
    """(failed attempts, has passphrase, expires at) from the first HEAD_SIZE bytes."""
    fields = _HEAD.unpack_from(raw)
    return fields[0], bool(fields[5] & HAS_PASSPHRASE), fields[7] / 1000
