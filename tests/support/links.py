"""What a browser computes from a link, done in Python: the proofs a Reveal click posts, and
the plaintext it decrypts from the answer."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from bot import crypto


@dataclass(frozen=True)
class LinkParts:
    secret_id: str
    link_key: bytes
    path: str


def parse_link(link: str) -> LinkParts:
    parts = urlsplit(link)
    secret_id = parts.path.rsplit("/", 1)[-1]
    return LinkParts(secret_id, crypto.b64decode(parts.fragment, 32), parts.path)


def reveal_body(link: str, passphrase: str | None = None) -> dict[str, str]:
    """The JSON the reveal page posts, derived exactly as reveal.js does."""
    parts = parse_link(link)
    keys = crypto.derive_keys(
        parts.link_key, crypto.passphrase_key(passphrase, parts.secret_id), parts.secret_id
    )
    return {
        "link_proof": crypto.b64encode(crypto.derive_link_proof(parts.link_key, parts.secret_id)),
        "auth": crypto.b64encode(keys.auth),
    }


def proofs(link: str, passphrase: str | None = None) -> tuple[bytes, bytes]:
    """The two proofs of a reveal, as SecretService.reveal takes them (decoded)."""
    body = reveal_body(link, passphrase)
    return crypto.b64decode(body["link_proof"], 32), crypto.b64decode(body["auth"], 32)


def decrypt_answer(link: str, answer: dict, passphrase: str | None = None) -> str:
    parts = parse_link(link)
    keys = crypto.derive_keys(
        parts.link_key, crypto.passphrase_key(passphrase, parts.secret_id), parts.secret_id
    )
    nonce = crypto.b64decode(answer["nonce"], 12)
    text = answer["ciphertext"]
    ciphertext = crypto.b64decode(text, len(text) * 3 // 4)
    return crypto.unseal(nonce, ciphertext, keys.enc_key, parts.secret_id).decode("utf-8")


async def post_reveal(base_url: str, link: str, passphrase: str | None = None) -> tuple[int, dict]:
    """Click Reveal as the page would: POST the proofs, return the status and JSON answer."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            base_url + parse_link(link).path, json=reveal_body(link, passphrase)
        ) as response:
            return response.status, await response.json()
