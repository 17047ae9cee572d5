"""Protocol v1: the only place that knows how a secret is sealed.

The server must never hold a usable key. A random link key `k` lives only in the link's
#fragment; the server stores ciphertext plus two SHA-256 verifiers, so a copy of the store
can neither decrypt a secret nor test passphrase guesses offline (every guess needs `k`).
The browser repeats `derive_*` with WebCrypto (bot/static/reveal.js); the shared vector in
tests/vectors/v1.json keeps both sides byte-identical. docs/SECURITY.md has the reasoning.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
ID_BYTES = 16
KEY_BYTES = 32
NONCE_BYTES = 12
PBKDF2_ITERATIONS = 600_000
_LABEL = b"oncelink/v1/"
ID_LENGTH = 22  # base64url of 16 bytes, unpadded
KEY_LENGTH = 43  # base64url of 32 bytes, unpadded
PUBLIC_KEY_BYTES = 65  # an uncompressed P-256 point: 0x04, x, y (WebCrypto's "raw" form)


def b64encode(raw: bytes) -> str:
    """Unpadded base64url: safe in paths and fragments, no '=' for links to lose."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64decode(text: str, length: int) -> bytes:
    """Strictly decode unpadded base64url of exactly `length` bytes, else ValueError.

    Strict, so a truncated or mangled link is told apart from a wrong one before any store
    is asked anything: only the canonical encoding passes (see `_canonical`).
    """
    if not isinstance(text, str) or _canonical(length).fullmatch(text) is None:
        raise ValueError("not base64url of that length")
    return binascii.a2b_base64(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4))


@functools.lru_cache(maxsize=64)
def _canonical(length: int) -> re.Pattern[str]:
    """Exactly the unpadded base64url texts of `length` bytes: whole 4-character groups, then
    for a partial group the characters it needs, the last of which carries 2 or 4 bits and
    zeros (A, Q, g, w or every fourth letter), so that no two texts decode alike. A pattern,
    since every reveal checks two proofs and an id, and decoding then re-encoding cost 5x as
    much; tests/test_crypto.py checks it against that definition."""
    whole, rest = divmod(length, 3)
    free = 4 * whole + (0, 1, 2)[rest]
    last = ("", "[AQgw]", "[AEIMQUYcgkosw048]")[rest]
    return re.compile(f"[A-Za-z0-9_-]{{{free}}}{last}")


_SECRET_ID = _canonical(ID_BYTES)


def is_secret_id(text: str) -> bool:
    """Whether `text` is a well-formed id: checked before the store is touched."""
    return isinstance(text, str) and _SECRET_ID.fullmatch(text) is not None


def new_secret_id() -> str:
    return b64encode(os.urandom(ID_BYTES))


def new_link_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _context(secret_id: str) -> bytes:
    return _LABEL + secret_id.encode("ascii")


def passphrase_key(passphrase: str | None, secret_id: str) -> bytes:
    """`p`: slow on purpose (600k PBKDF2 rounds) so guessing costs; empty without a passphrase.

    NFC normalisation makes the same typed passphrase match across keyboards and platforms.
    """
    if not passphrase:
        return b""
    normalized = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return hashlib.pbkdf2_hmac(
        "sha256", normalized, _context(secret_id), PBKDF2_ITERATIONS, dklen=KEY_BYTES
    )


def _hkdf(material: bytes, secret_id: str, label: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=_context(secret_id), info=_LABEL + label
    ).derive(material)


def derive_link_proof(link_key: bytes, secret_id: str) -> bytes:
    """Proves the holder has the whole link: a typo'd link is refused without costing anything."""
    return _hkdf(link_key, secret_id, b"link-proof")


def derive_upload_proof(upload_key: bytes, request_id: str) -> bytes:
    """Proves an upload to a request outside Slack comes from the holder of the upload link,
    not from someone who learned only its id (a proxy's access log keeps whole paths)."""
    return _hkdf(upload_key, request_id, b"upload-proof")


def derive_holder_proof(link_key: bytes, secret_id: str, holder: str, binding_key: bytes) -> bytes:
    """The link proof of a secret bound to one person (`holder`, their Slack identity).

    Slack identities are not secret, so the key alone must not be enough to make this proof:
    the server's binding key goes into it too, and only the server computes it, for the
    person Slack says clicked. The store refuses link reveals of a bound record anyway; the
    binding key keeps a key holder out even of a store that does not (an older process
    during a rolling upgrade)."""
    return _hkdf(link_key + binding_key, secret_id, b"link-proof/bound/" + holder.encode("utf-8"))


def derive_unkeyed_holder_proof(link_key: bytes, secret_id: str, holder: str) -> bytes:
    """The bound proof before the binding key existed: anyone with the key can compute it.
    Only to let a recipient open a bound secret stored before the binding key (such records
    live at most MAX_TTL); never used for a new one."""
    return _hkdf(link_key, secret_id, b"link-proof/holder/" + holder.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Keys:
    enc_key: bytes
    auth: bytes


def derive_keys(link_key: bytes, pass_key: bytes, secret_id: str) -> Keys:
    """`enc_key` and `auth` from k || p: both need the link, and the passphrase when set."""
    material = link_key + pass_key
    return Keys(
        enc_key=_hkdf(material, secret_id, b"enc-key"),
        auth=_hkdf(material, secret_id, b"auth"),
    )


# ---- Answers asked of someone outside Slack: sealed to the requester's public key ----------
# The upload link must let its holder seal an answer but never open one, so the answer is
# sealed to a P-256 key pair (d, Q) drawn for the requester: the link carries Q, only the
# requester's Reveal button carries d. The page draws an ephemeral key e for each answer,
# and the record keeps e's public key in front of the ciphertext. P-256 ECDH because both
# WebCrypto (in every browser) and `cryptography` have it.
_CURVE = ec.SECP256R1()


def new_answer_key() -> bytes:
    """`d`: a P-256 private scalar, 32 bytes big-endian, drawn by the library (1 <= d < n)."""
    private_value = ec.generate_private_key(_CURVE).private_numbers().private_value
    return private_value.to_bytes(KEY_BYTES, "big")


def _private_key(private: bytes) -> ec.EllipticCurvePrivateKey:
    """ValueError for anything but a 32-byte scalar in range."""
    if len(private) != KEY_BYTES:
        raise ValueError("not a P-256 private key")
    return ec.derive_private_key(int.from_bytes(private, "big"), _CURVE)


def _public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def answer_public_key(private: bytes) -> bytes:
    """`Q` (or `E` for `e`): the uncompressed point; ValueError for a malformed `private`."""
    return _public_bytes(_private_key(private).public_key())


def check_public_key(public: bytes) -> None:
    """ValueError unless `public` is an uncompressed point on P-256 (what a page may send)."""
    if len(public) != PUBLIC_KEY_BYTES or public[0] != 4:
        raise ValueError("not an uncompressed P-256 point")
    ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, public)


def derive_answer_key(private: bytes, public: bytes, request_id: str) -> bytes:
    """The answer's `enc_key`: HKDF over the ECDH shared secret (the x coordinate), with
    the request's context as salt, as protocol v1's other keys. Either side computes it: the
    page from (e, Q), the requester from (d, E)."""
    check_public_key(public)
    peer = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, public)
    shared = _private_key(private).exchange(ec.ECDH(), peer)
    return _hkdf(shared, request_id, b"outside/enc-key")


def seal_answer(
    plaintext: bytes,
    public: bytes,
    request_id: str,
    *,
    ephemeral: bytes | None = None,
    nonce: bytes | None = None,
) -> tuple[bytes, bytes]:
    """What the upload page does (bot/static/outside.js): (nonce, E || AES-GCM ciphertext).

    `ephemeral` and `nonce` are for the fixed test vector only; every real answer gets a
    fresh `e` and nonce in the browser."""
    ephemeral = ephemeral or new_answer_key()
    enc_key = derive_answer_key(ephemeral, public, request_id)
    nonce, ciphertext = seal(plaintext, enc_key, request_id, nonce)
    return nonce, answer_public_key(ephemeral) + ciphertext


def open_answer(nonce: bytes, sealed: bytes, private: bytes, request_id: str) -> bytes:
    """The requester's side, with `d`: InvalidTag for anything not sealed to `Q`."""
    ephemeral_public = sealed[:PUBLIC_KEY_BYTES]
    enc_key = derive_answer_key(private, ephemeral_public, request_id)
    return unseal(nonce, sealed[PUBLIC_KEY_BYTES:], enc_key, request_id)


def verifier(value: bytes) -> bytes:
    """What the store keeps instead of a proof: a hash, useless for answering the challenge."""
    return hashlib.sha256(value).digest()


def seal(
    plaintext: bytes, enc_key: bytes, secret_id: str, nonce: bytes | None = None
) -> tuple[bytes, bytes]:
    """AES-256-GCM with AAD bound to the id and version, so ciphertext can't be moved.

    `nonce` is for the fixed test vector only; every real secret gets a fresh random one.
    """
    nonce = nonce or os.urandom(NONCE_BYTES)
    return nonce, AESGCM(enc_key).encrypt(nonce, plaintext, _context(secret_id))


def unseal(nonce: bytes, ciphertext: bytes, enc_key: bytes, secret_id: str) -> bytes:
    """The browser's job in production; here for the CLI's tests and the shared vector."""
    return AESGCM(enc_key).decrypt(nonce, ciphertext, _context(secret_id))


# A file secret's plaintext: FILE_MARK, the header's length (2 bytes, big-endian), the
# header (JSON: name and media type), then the file's bytes. All of it is sealed as one
# message like a text secret, so the file's name and type are ciphertext too. No UTF-8 text
# begins with byte 0xFF, so a text secret never reads as a file, and no stored flag is
# needed that a store dump would show.
FILE_MARK = 0xFF
MAX_FILE_HEADER = 1024  # a name of 255 characters and a media type fit with room to spare


@dataclass(frozen=True, slots=True)
class FileContent:
    name: str
    media_type: str
    data: bytes = field(repr=False)


def file_plaintext(name: str, media_type: str, data: bytes) -> bytes:
    """What a browser seals for one file (bot/static/compose.js builds the same bytes)."""
    header = json.dumps({"name": name, "type": media_type}, separators=(",", ":")).encode()
    if len(header) > MAX_FILE_HEADER:
        raise ValueError("file name too long")
    return bytes([FILE_MARK]) + len(header).to_bytes(2, "big") + header + data


def read_file_plaintext(plaintext: bytes) -> FileContent | None:
    """The file in a decrypted plaintext, or None for a text secret (or a malformed one)."""
    if len(plaintext) < 3 or plaintext[0] != FILE_MARK:
        return None
    length = int.from_bytes(plaintext[1:3], "big")
    try:
        header = json.loads(plaintext[3 : 3 + length].decode("utf-8"))
        return FileContent(str(header["name"]), str(header["type"]), plaintext[3 + length :])
    except (ValueError, KeyError, TypeError):
        return None
