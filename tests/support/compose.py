"""What a compose page does, done in Python: seal with protocol v1 and upload to /c/{token}."""

from __future__ import annotations

import json
import os

import aiohttp

from bot import crypto
from bot.compose import secret_id_for


def sealed_upload(
    compose_link: str,
    public_url: str,
    plaintext: bytes,
    *,
    ttl: int,
    passphrase: str | None = None,
    pass_on: bool = False,
) -> tuple[bytes, str]:
    """The body compose.js posts for `plaintext`, and the secret's link."""
    secret_id = secret_id_for(compose_link.rsplit("/", 1)[-1])
    link_key = os.urandom(crypto.KEY_BYTES)
    keys = crypto.derive_keys(link_key, crypto.passphrase_key(passphrase, secret_id), secret_id)
    nonce, ciphertext = crypto.seal(plaintext, keys.enc_key, secret_id)
    link = f"{public_url}/s/{secret_id}#{crypto.b64encode(link_key)}"
    head = {
        "version": 1,
        "nonce": crypto.b64encode(nonce),
        "link_verifier": crypto.b64encode(
            crypto.verifier(crypto.derive_link_proof(link_key, secret_id))
        ),
        "verifier": crypto.b64encode(crypto.verifier(keys.auth)),
        "has_passphrase": bool(passphrase),
        "ttl": ttl,
        "pass_on_link": link if pass_on else "",
    }
    return json.dumps(head).encode() + b"\n" + ciphertext, link


async def upload(
    compose_link: str, public_url: str, plaintext: bytes, *, ttl: int, **options: object
) -> tuple[int, dict[str, object], str]:
    """POST as the page would: the status, the JSON answer and the secret's link."""
    body, link = sealed_upload(compose_link, public_url, plaintext, ttl=ttl, **options)  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as http:
        async with http.post(compose_link, data=body) as response:
            return response.status, await response.json(), link
