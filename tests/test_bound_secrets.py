"""Secrets bound to one person: only their Reveal click in Slack opens one. Whoever else holds
the key (a forwarded message's blocks, an export, another app reading the DM) computes every
proof docs/SECURITY.md describes and is refused by the store itself, with nothing counted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys

import pytest

from bot import crypto
from bot.config import ConfigError, Settings
from handlers import blocks
from tests.slack_harness import SlackHarness
from tests.support.app import serve, slack_settings
from tests.support.links import post_reveal
from tests.test_slack_extras import BOB, bound_secret, button, shown_secret

TEAM = "T0001"  # the workspace of every payload in tests/payloads
BINDING_KEY = os.urandom(32)


def hkdf(material: bytes, secret_id: str, info: bytes) -> bytes:
    """HKDF-SHA256 with a 32-byte output, from RFC 5869 with hmac: the documented protocol
    rebuilt outside bot/crypto.py, as an attacker would."""
    salt = b"oncelink/v1/" + secret_id.encode()
    prk = hmac.new(salt, material, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def holder_proofs(secret_id: str, key: bytes, holder: str) -> dict[str, bytes]:
    """Every proof for `holder` that the protocol has had: the one computed from the key and
    the Slack identity alone (before the store refused web reveals of bound secrets), and
    today's, which needs the server's binding key too (given here, as if it had leaked)."""
    return {
        "unkeyed": hkdf(key, secret_id, b"oncelink/v1/link-proof/holder/" + holder.encode()),
        "keyed": hkdf(
            key + BINDING_KEY, secret_id, b"oncelink/v1/link-proof/bound/" + holder.encode()
        ),
    }


async def test_a_key_holder_computing_the_holder_proof_is_refused_in_a_browser(store, fake_slack):
    served = await serve(slack_settings(fake_slack, binding_key=BINDING_KEY), store=store)
    try:
        slack = SlackHarness(served, fake_slack)
        dm, _ = await bound_secret(slack, secret="for bob's eyes")
        value = json.loads(button(dm, blocks.REVEAL_ACTION)["value"])
        secret_id, key = value["s"], crypto.b64decode(value["k"], crypto.KEY_BYTES)
        auth = crypto.derive_keys(key, b"", secret_id).auth
        link = f"{served.url}/s/{secret_id}#{value['k']}"
        for name, proof in holder_proofs(secret_id, key, f"{TEAM}:{BOB}").items():
            body = {"link_proof": crypto.b64encode(proof), "auth": crypto.b64encode(auth)}
            status, answer = await post_json(served.url + f"/s/{secret_id}", body)
            assert status == 403 and answer["error"] == "broken_link", (name, status)
            assert "ciphertext" not in answer
        status, answer = await post_reveal(served.url, link)  # the page's own, plain proof
        assert (status, answer["error"]) == (403, "broken_link")
        assert (await served.service.status(secret_id)).attempts_left == 5  # nothing counted

        # Bob, in Slack, still opens it: once.
        await slack.click(blocks.REVEAL_ACTION, json.dumps(value), BOB, "bob")
        update = (await fake_slack.wait_for("views.update"))[0]
        assert shown_secret(update["view"]) == "for bob's eyes"
        status, answer = await post_reveal(served.url, link)
        assert (status, answer["error"]) == (410, "gone")
    finally:
        await served.runner.cleanup()


async def post_json(url: str, body: dict) -> tuple[int, dict]:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body) as response:
            return response.status, await response.json()


def test_the_binding_key_is_binding_key_else_derived_from_the_signing_secret():
    key = os.urandom(32)
    given = Settings.from_env({"BINDING_KEY": base64.b64encode(key).decode()})
    assert given.binding_key == key and "binding_key" not in repr(given)
    urlsafe = base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert Settings.from_env({"BINDING_KEY": urlsafe}).binding_key == key
    derived = Settings.from_env({"SLACK_SIGNING_SECRET": "s3", "SLACK_BOT_TOKEN": "xoxb-1"})
    assert derived.binding_key == hmac.digest(b"s3", b"oncelink/v1/binding-key", "sha256")
    assert Settings.from_env({}).binding_key is None  # no Slack: no bound secrets
    with pytest.raises(ConfigError, match="BINDING_KEY must be 32 random bytes"):
        Settings.from_env({"BINDING_KEY": "c2hvcnQ="})


def test_socket_mode_without_a_binding_key_stops_with_one_line_naming_it(tmp_path):
    env = {
        **os.environ,
        "SLACK_APP_TOKEN": "xapp-1",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "",
        "BINDING_KEY": "",
        "SQLITE_PATH": str(tmp_path / "x.sqlite3"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("oncelink: BINDING_KEY")
