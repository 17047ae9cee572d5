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

import ipaddress
import json
import os
import re
import stat
import sys
import tempfile
import urllib.error
import urllib.parse
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
    # Never through a symlink: a link planted there would make us read (and trust) a
    # server and token somebody else chose.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise RemoteError(f"cannot read {path} (not a plain file?): {exc.strerror}") from None
    with os.fdopen(descriptor, "r", encoding="utf-8") as opened:
        mode = os.fstat(opened.fileno()).st_mode
        raw = opened.read()
    if sys.platform != "win32" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise RemoteError(f"{path} holds your token and others can read it; run `chmod 600 {path}`")
    try:
        data = json.loads(raw)
    except ValueError:
        raise RemoteError(f"{path} is not what `oncelink login` writes; run it again") from None
    if not isinstance(data, dict):
        return {}
    return {key: value for key, value in data.items() if isinstance(value, str)}


def _check_folder(folder: Path) -> None:
    """The folder must be this user's and closed to others: in a folder someone else can
    write, they could swap the file or plant a link where the token is written."""
    if sys.platform == "win32":
        return
    found = os.lstat(folder)
    if stat.S_ISLNK(found.st_mode) or not stat.S_ISDIR(found.st_mode):
        raise RemoteError(f"{folder} is not a plain folder; the token was not saved")
    if found.st_uid != os.getuid() or found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RemoteError(
            f"{folder} belongs to someone else or others can write to it; the token was not "
            f"saved (run `chmod 700 {folder}`)"
        )


def write_config(server: str, token: str) -> Path:
    """Written 0600 from the first byte, into a new file of a random name that nothing
    else can have made (mkstemp: O_EXCL, so a planted link is never followed), then moved
    into place in one step."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _check_folder(folder)
    path = folder / CONFIG_NAME
    descriptor, partial = tempfile.mkstemp(dir=folder, prefix=".config-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump({"server": server, "token": token}, out)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return path


def resolve(server: str | None, token: str | None, insecure: bool = False) -> Remote | None:
    """The server and token to use, or None when none is configured anywhere (then share
    works on this machine's store, as before)."""
    config: dict[str, str] = {}
    server = server or os.environ.get("ONCELINK_SERVER") or None
    token = token or os.environ.get("ONCELINK_TOKEN") or None
    if not (server and token):
        config = read_config()
    if not token and config.get("token"):
        # The saved token goes only to the server it was saved for: another --server
        # (a typo, a look-alike, a hostile ONCELINK_SERVER) never receives it.
        saved = config.get("server", "")
        if server and normal_server(server, insecure) != saved:
            raise RemoteError(
                f"your saved token is for {saved}, not {server}: run `oncelink login "
                "--server URL` for that server, or give --token"
            )
        server, token = saved, config["token"]
    server = server or config.get("server")
    if not server and not token:
        return None
    if not server:
        raise RemoteError("a token needs a server: give --server URL or set ONCELINK_SERVER")
    if not token:
        raise RemoteError(
            "no token for the server: run `oncelink login --server URL`, or give --token "
            "or ONCELINK_TOKEN (get one with /secret token in Slack)"
        )
    return Remote(normal_server(server, insecure), token.strip())


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normal_server(server: str, insecure: bool = False) -> str:
    """https:// only, but for this machine itself (or with --insecure): over plain http
    anyone on the way reads the token and the ciphertext, and can answer in the server's
    place."""
    server = server.strip().rstrip("/")
    parts = urllib.parse.urlsplit(server)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise RemoteError(f"--server {server!r} is not a URL; use e.g. https://secrets.example.com")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise RemoteError(f"--server {server!r} is not a server's address (no ?, # or user@)")
    if parts.scheme == "http" and not (insecure or _is_loopback(parts.hostname)):
        raise RemoteError(
            f"--server {server!r} is plain http: your token would cross the network readable. "
            "Use https:// (or --insecure if you really mean it)"
        )
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
        # The app DMs the link, so the key passes through Slack: the command said so first.
        # Only the key: the server builds the link with its own public address.
        head["pass_on_key"] = key
    body = json.dumps(head, separators=(",", ":")).encode() + b"\n" + ciphertext
    return Sealed(body, secret_id, key)


# C0 and C1 controls (escape sequences that can hide, recolour or rewrite what the
# terminal shows) and the bidi overrides and isolates (text that reads in another order).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """What the server said, safe to print: the server's words never drive the terminal."""
    return _CONTROLS.sub("", text)


def _explain(status: int, answer: dict[str, Any]) -> RemoteError:
    code = str(answer.get("error", ""))
    message = printable(str(answer.get("message", ""))) or f"the server answered {status}"
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


class _Redirected(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect with the Authorization header, to any host and
    scheme: the token would go wherever the answer points. No redirect is followed."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        raise _Redirected(newurl)


_OPENER = urllib.request.build_opener(_RefuseRedirects())


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
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            status, raw = response.status, response.read()
    except _Redirected as exc:
        raise RemoteError(
            f"{remote.server} answered with a redirect to {printable(exc.location)!r}; the "
            "token was not sent there and nothing was stored. Give that address as --server "
            "if you trust it",
            2,
        ) from None
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
    return f"{link_base(remote, sealed.secret_id, answer.get('url'))}#{sealed.key}"


_URL_TEXT = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no space


def link_base(remote: Remote, secret_id: str, url: object) -> str:
    """The link (without its key) to print: the server's public address when it answered
    one that is plainly a link to this secret, else built from --server. A server's
    answer is printed to a terminal and pasted to people, so it must be https (or the
    scheme of a server on this machine), plain printable ASCII, and end in the path
    /s/{secret_id}, with no query or fragment of its own."""
    fallback = f"{remote.server}/s/{secret_id}"
    if not isinstance(url, str) or not _URL_TEXT.match(url):
        return fallback
    parts = urllib.parse.urlsplit(url)
    allowed = {"https", urllib.parse.urlsplit(remote.server).scheme}
    if (
        parts.scheme not in allowed
        or (parts.scheme == "http" and not _is_loopback(parts.hostname or ""))
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
        or "?" in url
        or "#" in url
        or not parts.path.endswith("/s/" + secret_id)
    ):
        return fallback
    return url


def check_login(remote: Remote) -> None:
    """Ask the server whether it knows the token, before saving it: an empty upload is
    refused as `invalid` for a good token and `unauthorized` for any other."""
    if not is_token(remote.token):
        raise RemoteError("that is not an oncelink token (they start with olk_)")
    status, answer = _post(remote, b"")
    if answer.get("error") != "invalid":
        raise _explain(status, answer)
