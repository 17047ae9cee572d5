"""An outside person's answer as the upload page (bot/static/outside.js) makes it, in
Python: for tests that need many uploads or exact bodies without a browser."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import aiohttp

from bot import crypto


def sealed_answer(upload_link: str, plaintext: bytes, kind: str = "text") -> bytes:
    """The body outside.js posts: a JSON head line, then the ciphertext."""
    parts = urlsplit(upload_link)
    request_id = parts.path.rsplit("/", 1)[-1]
    keys = crypto.derive_keys(crypto.b64decode(parts.fragment, 32), b"", request_id)
    nonce, ciphertext = crypto.seal(plaintext, keys.enc_key, request_id)
    head = {"version": 1, "kind": kind, "nonce": crypto.b64encode(nonce)}
    return json.dumps(head).encode() + b"\n" + ciphertext


async def post_answer(
    base_url: str, upload_link: str, body: bytes, headers: dict | None = None
) -> tuple[int, dict]:
    path = urlsplit(upload_link).path
    async with aiohttp.ClientSession() as http:
        async with http.post(base_url + path, data=body, headers=headers or {}) as response:
            return response.status, await response.json()
