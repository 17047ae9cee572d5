"""`oncelink share --server`: seal a secret on this machine and upload it with a personal
token (`/secret token` in Slack), so the server only ever holds ciphertext.

Sealed with protocol v1, the same code (bot/crypto.py) as the server and the compose page;
uploaded to `POST /api/v1/secrets` (docs/api.md) with nothing but the standard library's
urllib. The link's key never leaves this machine, unless `--to` asks the app to pass the
link on in Slack, which this command says before it sends anything.

Where the server and token come from, first found wins: `--server`/`--token`, the
ONCELINK_SERVER/ONCELINK_TOKEN environment variables, then the file `oncelink login`
writes (readable by its owner alone).
"""

from __future__ import annotations

import json
import os
import stat
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import crypto
from bot.tokens import SEED_BYTES, is_token, secret_id_for

API_PATH = "/api/v1/secrets"
TIMEOUT = 60.0
CONFIG_NAME = "config.json"
MAX_TEXT_BYTES = 32 * 1024  # bot.service.MAX_SECRET_BYTES, said before anything is sent


class RemoteError(Exception):
    """A refusal to tell the user in one line, with the exit code it means."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Remote:
    server: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class Sealed:
    body: bytes = field(repr=False)
    secret_id: str
    key: str = field(repr=False)


def config_dir(env: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    """Where `oncelink login` keeps the server and token: the user's config directory."""
    if sys.platform == "win32" and env.get("APPDATA"):
        return Path(env["APPDATA"]) / "oncelink"
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "oncelink"


def config_path() -> Path:
    return config_dir() / CONFIG_NAME


def read_config() -> dict[str, str]:
    path = config_path()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise RemoteError(f"cannot read {path}: {exc.strerror}") from None
    if sys.platform != "win32" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise RemoteError(f"{path} holds your token and others can read it; run `chmod 600 {path}`")
    try:
        data = json.loads(raw)
    except ValueError:
        raise RemoteError(f"{path} is not what `oncelink login` writes; run it again") from None
    if not isinstance(data, dict):
        return {}
    return {key: value for key, value in data.items() if isinstance(value, str)}


def write_config(server: str, token: str) -> Path:
    """Written 0600 from the first byte: never a moment when others could read it."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / CONFIG_NAME
    partial = path.with_suffix(".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump({"server": server, "token": token}, out)
    os.chmod(partial, 0o600)
    os.replace(partial, path)
    return path


def resolve(server: str | None, token: str | None) -> Remote | None:
    """The server and token to use, or None when none is configured anywhere (then share
    works on this machine's store, as before)."""
    config: dict[str, str] = {}
    server = server or os.environ.get("ONCELINK_SERVER") or None
    token = token or os.environ.get("ONCELINK_TOKEN") or None
    if not (server and token):
        config = read_config()
    server = server or config.get("server")
    token = token or config.get("token")
    if not server and not token:
        return None
    if not server:
        raise RemoteError("a token needs a server: give --server URL or set ONCELINK_SERVER")
    if not token:
        raise RemoteError(
            "no token for the server: run `oncelink login --server URL`, or give --token "
            "or ONCELINK_TOKEN (get one with /secret token in Slack)"
        )
    return Remote(normal_server(server), token.strip())


def normal_server(server: str) -> str:
    server = server.strip().rstrip("/")
    if not server.startswith(("https://", "http://")):
        raise RemoteError(f"--server {server!r} is not a URL; use e.g. https://secrets.example.com")
    return server


def seal(
    remote: Remote,
    plaintext: bytes,
    *,
    ttl: int,
    passphrase: str | None,
    kind: str,
    note: str,
    to: str,
) -> Sealed:
    """The upload's body (head line, then ciphertext) and the pieces of the link."""
    seed = os.urandom(SEED_BYTES)
    secret_id = secret_id_for(remote.token, seed)
    link_key = crypto.new_link_key()
    keys = crypto.derive_keys(link_key, crypto.passphrase_key(passphrase, secret_id), secret_id)
    nonce, ciphertext = crypto.seal(plaintext, keys.enc_key, secret_id)
    key = crypto.b64encode(link_key)
    head: dict[str, Any] = {
        "version": crypto.VERSION,
        "seed": crypto.b64encode(seed),
        "nonce": crypto.b64encode(nonce),
        "link_verifier": crypto.b64encode(
            crypto.verifier(crypto.derive_link_proof(link_key, secret_id))
        ),
        "verifier": crypto.b64encode(crypto.verifier(keys.auth)),
        "has_passphrase": bool(passphrase),
        "ttl": ttl,
        "kind": kind,
        "note": note,
        "to": to,
    }
    if to:
        # The app DMs this link, so it passes through Slack: the command said so first.
        head["pass_on_link"] = f"{remote.server}/s/{secret_id}#{key}"
    body = json.dumps(head, separators=(",", ":")).encode() + b"\n" + ciphertext
    return Sealed(body, secret_id, key)


def _explain(status: int, answer: dict[str, Any]) -> RemoteError:
    code = str(answer.get("error", ""))
    message = str(answer.get("message", "")) or f"the server answered {status}"
    if code == "unauthorized":
        return RemoteError(
            "the server refused your token (revoked, replaced, turned off, or never "
            "made). Get a new one with /secret token in Slack, then run oncelink login. "
            "Nothing was stored.",
            2,
        )
    if code in ("rate_limited", "unavailable", "internal", "busy", "too_slow", "cut_off"):
        return RemoteError(f"{message} Nothing was stored.", 1)
    return RemoteError(f"{message} Nothing was stored.", 2)


def _post(remote: Remote, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST to the API; the status and the JSON answer (empty when it was not JSON)."""
    request = urllib.request.Request(  # noqa: S310 (normal_server allows http(s) alone)
        remote.server + API_PATH,
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {remote.token}",
            "Content-Type": "application/octet-stream",
            "Accept": "application/json",
            "User-Agent": "oncelink-cli",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteError(
            f"cannot reach {remote.server} ({reason}); nothing was stored", 1
        ) from None
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = {}
    return status, answer if isinstance(answer, dict) else {}


def upload(remote: Remote, sealed: Sealed) -> dict[str, Any]:
    status, answer = _post(remote, sealed.body)
    if status >= 400:
        raise _explain(status, answer)
    if answer.get("secret_id") != sealed.secret_id:
        raise RemoteError("the server's answer is not oncelink's; the link is not safe", 1)
    return answer


def share(
    remote: Remote,
    plaintext: bytes,
    *,
    ttl: int,
    passphrase: str | None = None,
    kind: str = "text",
    note: str = "",
    to: str = "",
) -> str:
    """Seal, upload, and return the link (the server's public address, this key)."""
    if kind == "text" and len(plaintext) > MAX_TEXT_BYTES:
        raise RemoteError(
            f"the secret is too long (at most {MAX_TEXT_BYTES} bytes); use --file for a "
            "file. Nothing was stored."
        )
    if not is_token(remote.token):
        raise _explain(401, {"error": "unauthorized"})
    sealed = seal(remote, plaintext, ttl=ttl, passphrase=passphrase, kind=kind, note=note, to=to)
    answer = upload(remote, sealed)
    url = str(answer.get("url") or f"{remote.server}/s/{sealed.secret_id}")
    return f"{url}#{sealed.key}"


def check_login(remote: Remote) -> None:
    """Ask the server whether it knows the token, before saving it: an empty upload is
    refused as `invalid` for a good token and `unauthorized` for any other."""
    if not is_token(remote.token):
        raise RemoteError("that is not an oncelink token (they start with olk_)")
    status, answer = _post(remote, b"")
    if answer.get("error") != "invalid":
        raise _explain(status, answer)
