"""An outside person's answer as the upload page (bot/static/outside.js) makes it, in
Python: for tests that need many uploads or exact bodies without a browser."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import aiohttp

from bot import crypto


def upload_keys(upload_link: str) -> tuple[str, bytes, bytes]:
    """The request id, the upload key `u` and the requester's public key `Q` of an upload
    link `/r/{id}#{u}.{Q}`; ValueError for a link without them."""
    parts = urlsplit(upload_link)
    request_id = parts.path.rsplit("/", 1)[-1]
    upload, _, public = parts.fragment.partition(".")
    return (
        request_id,
        crypto.b64decode(upload, 32),
        crypto.b64decode(public, crypto.PUBLIC_KEY_BYTES),
    )


def sealed_answer(upload_link: str, plaintext: bytes, kind: str = "text") -> bytes:
    """The body outside.js posts: a JSON head line, then `E` and the ciphertext."""
    request_id, _, public = upload_keys(upload_link)
    nonce, sealed = crypto.seal_answer(plaintext, public, request_id)
    head = {"version": 1, "kind": kind, "nonce": crypto.b64encode(nonce)}
    return json.dumps(head).encode() + b"\n" + sealed


def upload_proof(upload_link: str) -> str:
    """The header value outside.js sends: the proof that it holds the link's upload key."""
    request_id, upload, _ = upload_keys(upload_link)
    return crypto.b64encode(crypto.derive_upload_proof(upload, request_id))


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
