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


def upload_proof(upload_link: str) -> str:
    """The header value outside.js sends: the proof that it holds the link's key."""
    parts = urlsplit(upload_link)
    request_id = parts.path.rsplit("/", 1)[-1]
    proof = crypto.derive_upload_proof(crypto.b64decode(parts.fragment, 32), request_id)
    return crypto.b64encode(proof)


async def post_answer(
    base_url: str, upload_link: str, body, headers: dict | None = None
) -> tuple[int, dict]:
    """POST an answer as the page does (with the upload proof, unless `headers` say)."""
    path = urlsplit(upload_link).path
    try:
        sent = {"X-Oncelink-Upload-Proof": upload_proof(upload_link), **(headers or {})}
    except ValueError:  # a link made up without a key
        sent = dict(headers or {})
    async with aiohttp.ClientSession() as http:
        async with http.post(base_url + path, data=body, headers=sent) as response:
            return response.status, await response.json()
