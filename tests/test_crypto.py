"""Protocol v1 in Python: the shared vector, an independent HKDF, strict link parsing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
import string
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from bot import crypto

VECTOR = json.loads((Path(__file__).parent / "vectors" / "v1.json").read_text("utf-8"))


def _b(text: str, length: int) -> bytes:
    return crypto.b64decode(text, length)


def _hkdf_by_hand(material: bytes, salt: bytes, info: bytes) -> bytes:
    """RFC 5869 written out with hmac, so the vector is not only checked against itself."""
    prk = hmac.new(salt, material, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_shared_vector_with_passphrase_matches_python():
    sid = VECTOR["secret_id"]
    link_key = _b(VECTOR["link_key"], 32)
    expected = VECTOR["with_passphrase"]
    pass_key = crypto.passphrase_key(VECTOR["passphrase"], sid)
    keys = crypto.derive_keys(link_key, pass_key, sid)
    assert crypto.b64encode(pass_key) == expected["passphrase_key"]
    assert crypto.b64encode(crypto.derive_link_proof(link_key, sid)) == expected["link_proof"]
    assert crypto.b64encode(keys.enc_key) == expected["enc_key"]
    assert crypto.b64encode(keys.auth) == expected["auth"]
    nonce = _b(VECTOR["nonce"], 12)
    _, ciphertext = crypto.seal(VECTOR["plaintext"].encode(), keys.enc_key, sid, nonce=nonce)
    assert crypto.b64encode(ciphertext) == expected["ciphertext"]


def test_shared_vector_matches_rfc_constructions_written_by_hand():
    sid = VECTOR["secret_id"]
    link_key = _b(VECTOR["link_key"], 32)
    context = b"oncelink/v1/" + sid.encode()
    import unicodedata

    normalized = unicodedata.normalize("NFC", VECTOR["passphrase"]).encode()
    pass_key = hashlib.pbkdf2_hmac("sha256", normalized, context, 600_000, 32)
    assert crypto.b64encode(pass_key) == VECTOR["with_passphrase"]["passphrase_key"]
    auth = _hkdf_by_hand(link_key + pass_key, context, b"oncelink/v1/auth")
    assert crypto.b64encode(auth) == VECTOR["with_passphrase"]["auth"]
    proof = _hkdf_by_hand(link_key, context, b"oncelink/v1/link-proof")
    assert crypto.b64encode(proof) == VECTOR["with_passphrase"]["link_proof"]
    enc = _hkdf_by_hand(link_key, context, b"oncelink/v1/enc-key")
    assert crypto.b64encode(enc) == VECTOR["without_passphrase"]["enc_key"]


def test_passphrase_is_nfc_normalised_so_composed_and_decomposed_forms_agree():
    sid = crypto.new_secret_id()
    assert crypto.passphrase_key("caf\u00e9 latte", sid) == crypto.passphrase_key(
        "cafe\u0301 latte", sid
    )


def test_ciphertext_is_bound_to_its_id():
    sid, other = crypto.new_secret_id(), crypto.new_secret_id()
    keys = crypto.derive_keys(crypto.new_link_key(), b"", sid)
    nonce, ciphertext = crypto.seal(b"moved", keys.enc_key, sid)
    assert crypto.unseal(nonce, ciphertext, keys.enc_key, sid) == b"moved"
    with pytest.raises(InvalidTag):
        crypto.unseal(nonce, ciphertext, keys.enc_key, other)


def test_keys_and_ids_are_fresh_and_well_formed():
    ids = {crypto.new_secret_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == crypto.ID_LENGTH and crypto.is_secret_id(i) for i in ids)
    assert len(crypto.b64encode(crypto.new_link_key())) == crypto.KEY_LENGTH


@pytest.mark.parametrize(
    "text",
    [
        "",
        "AAECAwQFBgcICQoLDA0OD",  # truncated by one character
        "AAECAwQFBgcICQoLDA0ODw==",  # padded
        "AAECAwQFBgcICQoLDA0ODx",  # non-canonical last character
        "AAECAwQFBgcICQoLDA0OD+",  # not url-safe alphabet
        "AAECAwQFBgcICQoLDA0ODwAA",  # too long
        "ÀAECAwQFBgcICQoLDA0ODw",
    ],
)
def test_malformed_base64_is_refused(text):
    assert not crypto.is_secret_id(text)


def _strictly_decodable(text: str, length: int) -> bool:
    """The definition the fast patterns must keep: decodes to `length` bytes, and encoding
    those bytes gives `text` back (so no other spelling of the same bytes passes)."""
    if not text.isascii() or "=" in text:
        return False
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return False
    return len(raw) == length and crypto.b64encode(raw) == text


@pytest.mark.parametrize("length", [crypto.ID_BYTES, 32, crypto.NONCE_BYTES, 1, 2, 3, 31, 0])
def test_decoding_accepts_exactly_the_canonical_encodings(length):
    """b64decode and is_secret_id are patterns for speed; strict decoding is the definition."""
    rng = random.Random(length)
    alphabet = string.ascii_letters + string.digits + "-_+/=À \n"
    for _ in range(5_000):
        text = list(crypto.b64encode(rng.randbytes(length)))
        for _ in range(rng.choice((0, 1, 1, 2))):
            if text:
                text[rng.randrange(len(text))] = rng.choice(alphabet)
        size = len(text) + rng.choice((0, 0, 0, -1, 1, 4))
        candidate = "".join(text)[: max(size, 0)] + ("A" * 4 if size > len(text) else "")
        expected = _strictly_decodable(candidate, length)
        try:
            decoded = crypto.b64decode(candidate, length)
        except ValueError:
            assert not expected, candidate
        else:
            assert expected and crypto.b64encode(decoded) == candidate, candidate
        if length == crypto.ID_BYTES:
            assert crypto.is_secret_id(candidate) == expected, candidate
    assert not crypto.is_secret_id(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        crypto.b64decode(None, length)  # type: ignore[arg-type]


def test_no_passphrase_means_empty_passphrase_key():
    assert crypto.passphrase_key(None, crypto.new_secret_id()) == b""
    assert crypto.passphrase_key("", crypto.new_secret_id()) == b""


def test_the_holder_proof_is_the_documented_construction_and_needs_the_binding_key():
    """docs/SECURITY.md: HKDF-SHA256(ikm = k ‖ B, salt = ctx,
    info = "oncelink/v1/link-proof/bound/" ‖ team:user), by hand."""
    sid = VECTOR["secret_id"]
    link_key = _b(VECTOR["link_key"], 32)
    binding_key = bytes(range(32))
    context = b"oncelink/v1/" + sid.encode()
    proof = crypto.derive_holder_proof(link_key, sid, "T1:UB", binding_key)
    assert proof == _hkdf_by_hand(
        link_key + binding_key, context, b"oncelink/v1/link-proof/bound/T1:UB"
    )
    others = {
        crypto.derive_link_proof(link_key, sid),
        crypto.derive_unkeyed_holder_proof(link_key, sid, "T1:UB"),
        crypto.derive_holder_proof(link_key, sid, "T1:UC", binding_key),
        crypto.derive_holder_proof(link_key, sid, "T1:UB", bytes(32)),
    }
    assert proof not in others and len(others) == 4
    assert crypto.derive_unkeyed_holder_proof(link_key, sid, "T1:UB") == _hkdf_by_hand(
        link_key, context, b"oncelink/v1/link-proof/holder/T1:UB"
    )


def test_shared_outside_vector_matches_python_and_the_rfc_constructions():
    """An answer asked of someone outside Slack: sealed to the requester's P-256 key `Q`
    with an ephemeral key `e`; either side's ECDH gives the same `enc_key`."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sid = VECTOR["secret_id"]
    o = VECTOR["outside"]
    d, e = _b(o["answer_key"], 32), _b(o["ephemeral_key"], 32)
    public, ephemeral_public = _b(o["public_key"], 65), _b(o["ephemeral_public_key"], 65)
    plaintext = VECTOR["plaintext"].encode()
    sealed = _b(o["sealed"], 65 + len(plaintext) + 16)  # E, ciphertext, tag
    nonce = _b(VECTOR["nonce"], 12)
    assert crypto.answer_public_key(d) == public
    assert crypto.answer_public_key(e) == ephemeral_public
    enc_key = _b(o["enc_key"], 32)
    assert crypto.derive_answer_key(e, public, sid) == enc_key
    assert crypto.derive_answer_key(d, ephemeral_public, sid) == enc_key
    _, made = crypto.seal_answer(plaintext, public, sid, ephemeral=e, nonce=nonce)
    assert made == sealed
    assert crypto.open_answer(nonce, sealed, d, sid) == plaintext
    # By hand: the x coordinate of d·E, HKDF with ctx as salt, AES-GCM with ctx as AAD.
    curve = ec.SECP256R1()
    shared = ec.derive_private_key(int.from_bytes(d, "big"), curve).exchange(
        ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(curve, sealed[:65])
    )
    context = b"oncelink/v1/" + sid.encode()
    assert _hkdf_by_hand(shared, context, b"oncelink/v1/outside/enc-key") == enc_key
    assert AESGCM(enc_key).decrypt(nonce, sealed[65:], context) == plaintext


def test_an_outside_answer_opens_only_with_the_requesters_private_key():
    sid = crypto.new_secret_id()
    d = crypto.new_answer_key()
    nonce, sealed = crypto.seal_answer(b"only for d", crypto.answer_public_key(d), sid)
    assert crypto.open_answer(nonce, sealed, d, sid) == b"only for d"
    with pytest.raises(InvalidTag):
        crypto.open_answer(nonce, sealed, crypto.new_answer_key(), sid)
    with pytest.raises(InvalidTag):
        crypto.open_answer(nonce, sealed, d, crypto.new_secret_id())
    for bad in (b"\x04" + b"\x00" * 64, b"\x02" + b"\x01" * 64, b"\x04" * 10):
        with pytest.raises(ValueError):
            crypto.check_public_key(bad)
    with pytest.raises(ValueError):
        crypto.answer_public_key(b"\x00" * 32)  # zero is no private key
