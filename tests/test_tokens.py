"""Personal API tokens end to end: `/secret token` through the strict fake Slack, then the
`oncelink` command run as its own process from another directory against the served app,
and the link it prints revealed once in Chromium. The server's log and store never hold
the token or the secret; refused tokens get `unauthorized`; `--to` is a DM."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot import crypto
from bot.config import Limit
from bot.errors import SecretGone
from bot.tokens import secret_id_for
from bot.web import SERVICE_KEY
from handlers.home_blocks import PREF_MAX_TTL
from handlers.tokens import PREF_TOKENS
from tests.slack_fake import ADMIN, sign
from tests.slack_harness import SlackHarness
from tests.support.links import decrypt_answer, post_reveal
from tests.support.ports import free_port
from tests.test_at_rest import store_bytes
from tests.test_compose import reveal_in_page
from tests.test_compose_slack import debug_everywhere

TOKEN = re.compile(r"olk_[A-Za-z0-9_-]{43}")
CREATOR = "U2147483697"
ONCELINK = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "oncelink")
CANARY = "TOKEN-CANARY-typed-in-a-terminal"


async def ask_for_token(slack: SlackHarness, text: str = "token", user: str = CREATOR) -> str:
    """`/secret token`: the answer is ephemeral, the token in its blocks and never in
    `text` (which notifications show); returns the token ("" when none was shown)."""
    hooks = len(slack.fake.of("response_url"))
    status, _ = await slack.command(text, user_id=user)
    assert status == 200
    told = (await slack.fake.wait_for("response_url", hooks + 1))[-1]
    assert told.get("response_type", "ephemeral") == "ephemeral"
    assert not TOKEN.search(told.get("text", ""))
    found = TOKEN.search(json.dumps(told.get("blocks", [])))
    return found.group(0) if found else told.get("text", "")


async def oncelink(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """The installed command in its own process, from `cwd`, with no server settings of
    its own: it knows the server only from its arguments (or `env`)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ONCELINK_", "SQLITE"))}
    cwd.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        ONCELINK,
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**clean, "XDG_CONFIG_HOME": str(cwd / "config"), **(env or {})},
        start_new_session=True,  # no terminal: getpass reads stdin, as in a pipe
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def api_post(url: str, body: bytes, token: str) -> tuple[int, str, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            url + "/api/v1/secrets", data=body, headers={"Authorization": f"Bearer {token}"}
        ) as response:
            text = await response.text()
            return response.status, response.content_type, json.loads(text)


def api_body(size: int, kind: str = "text", **head: object) -> bytes:
    """An API upload's body with random (well-formed) sealed values: `size` bytes of
    ciphertext after the head line."""
    fields = {
        "version": 1,
        "seed": crypto.b64encode(os.urandom(16)),
        "nonce": crypto.b64encode(os.urandom(12)),
        "link_verifier": crypto.b64encode(os.urandom(32)),
        "verifier": crypto.b64encode(os.urandom(32)),
        "has_passphrase": False,
        "ttl": 3600,
        "kind": kind,
        **head,
    }
    return json.dumps(fields).encode() + b"\n" + os.urandom(size)


async def test_secret_token_then_oncelink_share_from_elsewhere_reveals_once_in_chromium(
    slack, store, page, tmp_path, caplog
):
    debug_everywhere(caplog)
    token = await ask_for_token(slack)
    server = slack.served.url
    code, out, err = await oncelink(
        "share", "--server", server, "--token", token, "--note", "staging db",
        cwd=tmp_path / "elsewhere", stdin=CANARY + "\n",
    )  # fmt: skip
    assert code == 0, err
    link = out.strip()
    assert link.startswith(server + "/s/") and "#" in link
    assert not list((tmp_path / "elsewhere").glob("*.sqlite3"))  # nothing local was made
    # The token's person made it: it is on their list (with Burn), and they hear of the
    # reveal.
    secret_id = link.split("#")[0].rsplit("/", 1)[-1]
    hooks = len(slack.fake.of("response_url"))
    await slack.command("list")
    listed = (await slack.fake.wait_for("response_url", hooks + 1))[-1]
    assert secret_id in json.dumps(listed["blocks"]) and "staging db" in json.dumps(listed)
    assert await reveal_in_page(page, link) == CANARY
    status, _ = await post_reveal(server, link)
    assert status == 410  # once
    await slack.settle()
    receipts = [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == CREATOR]
    assert any("revealed" in m.get("text", "") for m in receipts)
    # Neither the log nor the store ever held the token, the text or the link's key.
    dump = await store_bytes(store, tmp_path)
    key = link.split("#", 1)[1]
    for forbidden in (token, token.removeprefix("olk_"), CANARY, key):
        assert forbidden not in caplog.text
        assert forbidden.encode() not in dump
    assert logging_ran(caplog)


def logging_ran(caplog) -> bool:
    return any(record.name == "bot.tokens" for record in caplog.records)


async def test_a_file_shared_with_a_token_downloads_with_its_bytes_and_name(
    slack, store, page, tmp_path, caplog
):
    debug_everywhere(caplog)
    token = await ask_for_token(slack)
    original = b"FILE-CANARY-" + os.urandom(200 * 1024)
    path = tmp_path / "elsewhere" / "deploy key.pem"
    path.parent.mkdir()
    path.write_bytes(original)
    code, out, err = await oncelink(
        "share", "--server", slack.served.url, "--token", token, "--file", "deploy key.pem",
        cwd=tmp_path / "elsewhere",
    )  # fmt: skip
    assert code == 0, err
    reveal = page
    await reveal.goto(out.strip())
    await reveal.get_by_role("button", name="Reveal secret").click()
    await reveal.locator("#file-result").wait_for(state="visible", timeout=60_000)
    assert await reveal.locator("#file-name").inner_text() == "deploy key.pem"
    async with reveal.expect_download() as waiting:
        await reveal.get_by_role("button", name="Download").click()
    saved = tmp_path / "saved"
    await (await waiting.value).save_as(str(saved))
    assert saved.read_bytes() == original
    dump = await store_bytes(store, tmp_path)
    for forbidden in (b"FILE-CANARY", b"deploy key", original[-48:], token.encode()):
        assert forbidden not in dump
        assert forbidden not in caplog.text.encode()


async def test_a_revoked_replaced_or_forged_token_is_unauthorized_with_a_clear_cli_message(
    slack, tmp_path
):
    server = slack.served.url
    first = await ask_for_token(slack)
    second = await ask_for_token(slack)  # replaces the first
    assert first != second
    forged = "olk_" + crypto.b64encode(os.urandom(32))
    for refused in (first, forged, "olk_short", "not-a-token"):
        status, content_type, answer = await api_post(server, b"{}\n", refused)
        assert (status, content_type, answer["error"]) == (
            401,
            "application/json",
            "unauthorized",
        )
        code, out, err = await oncelink(
            "share", "--server", server, "--token", refused, cwd=tmp_path / "x", stdin="s3cret"
        )
        assert code == 2 and out == ""
        assert "refused your token" in err and "/secret token" in err
        assert "Traceback" not in err
    code, out, _ = await oncelink(
        "share", "--server", server, "--token", second, cwd=tmp_path / "x", stdin="works"
    )
    assert code == 0 and "/s/" in out
    assert "revoked" in await ask_for_token(slack, "token revoke")
    code, _, err = await oncelink(
        "share", cwd=tmp_path / "x", stdin="s3cret",
        env={"ONCELINK_SERVER": server, "ONCELINK_TOKEN": second},
    )  # fmt: skip
    assert code == 2 and "refused your token" in err
    assert "no API token" in await ask_for_token(slack, "token revoke")


async def test_api_errors_are_json_with_stable_codes_never_html(slack, store, tmp_path):
    from tests.support.app import serve, slack_settings

    served = await serve(
        slack_settings(slack.fake, max_file_size=64 * 1024, rate_limit_create=Limit(4, 60)),
        store=store,
    )
    try:
        harness = SlackHarness(served, slack.fake)
        token = await ask_for_token(harness)
        url = served.url

        body = api_body
        cases = [
            (body(100 * 1024, "file"), 413, "too_large"),
            (body(33 * 1024), 413, "too_large"),
            (body(10, ttl=30 * 86400), 400, "invalid"),
            (b"not json\n", 400, "invalid"),
        ]
        for sent, status, error in cases:
            got = await api_post(url, sent, token)
            assert (got[0], got[1], got[2]["error"]) == (status, "application/json", error)
            assert got[2]["message"] and "Traceback" not in got[2]["message"]
        # The creation limit counts these as it counts /secret: the fifth is refused.
        got = await api_post(url, body(10), token)
        assert (got[0], got[2]["error"]) == (429, "rate_limited")
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/api/v1/secrets") as response:
                assert response.status == 405 and response.content_type == "application/json"
            async with http.post(url + "/api/v1/nothing") as response:
                assert response.status == 404 and response.content_type == "application/json"
    finally:
        await served.runner.cleanup()


async def test_an_upload_cannot_name_another_secret_or_reuse_its_seed(slack):
    token = await ask_for_token(slack)
    secret_id, sent = sealed_head(token)
    status, _, answer = await api_post(slack.served.url, sent, token)
    assert status == 201 and answer["secret_id"] == secret_id
    status, _, answer = await api_post(slack.served.url, sent, token)
    assert (status, answer["error"]) == (400, "invalid")
    # The secret is the token's person's: their Burn works on it.
    await slack.click_burn(secret_id, user=CREATOR)
    await slack.settle()
    with pytest.raises(SecretGone):
        await slack.service.status(secret_id)


async def test_share_to_an_email_or_member_id_delivers_a_dm(slack, tmp_path):
    slack.fake.emails["bob@example.com"] = "UBOB"
    token = await ask_for_token(slack)
    for to, dm_to in (("bob@example.com", "UBOB"), ("UCAROL", "UCAROL")):
        code, out, err = await oncelink(
            "share", "--server", slack.served.url, "--token", token, "--to", to,
            "--note", "for you", cwd=tmp_path / "x", stdin="over slack",
        )  # fmt: skip
        assert code == 0, err
        assert "passes through Slack" in err
        link = out.strip()
        await slack.settle()
        dms = [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == dm_to]
        assert dms and link in json.dumps(dms[-1]["blocks"])
        assert link not in dms[-1]["text"]
    # Nobody by that address: the creator is told, the secret waits for them to send it.
    code, out, _ = await oncelink(
        "share", "--server", slack.served.url, "--token", token, "--to", "nobody@example.com",
        cwd=tmp_path / "x", stdin="over slack",
    )  # fmt: skip
    assert code == 0
    await slack.settle()
    told = [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == CREATOR]
    assert any("Couldn't send" in json.dumps(m) for m in told)


async def test_only_them_is_refused_without_storing_anything(slack, tmp_path):
    token = await ask_for_token(slack)
    code, out, err = await oncelink(
        "share", "--server", slack.served.url, "--token", token, "--to", "UBOB", "--only-them",
        cwd=tmp_path / "x", stdin="bound",
    )  # fmt: skip
    assert code == 2 and out == "" and "--only-them" in err and "Nothing was stored" in err


async def test_login_saves_server_and_token_readable_by_the_owner_alone(slack, tmp_path):
    token = await ask_for_token(slack)
    home = tmp_path / "laptop"
    code, _, err = await oncelink(
        "login", "--server", slack.served.url, cwd=home, stdin="olk_not-a-real-token\n"
    )
    assert code == 2 and "not an oncelink token" in err
    code, _, err = await oncelink("login", "--server", slack.served.url, cwd=home, stdin=token)
    assert code == 0, err
    saved = home / "config" / "oncelink" / "config.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    code, out, err = await oncelink("share", cwd=home, stdin="from the saved login")
    assert code == 0, err
    status, _ = await post_reveal(slack.served.url, out.strip())
    assert status == 200
    saved.chmod(0o644)
    code, _, err = await oncelink("share", cwd=home, stdin="refused")
    assert code == 2 and "chmod 600" in err


async def test_admins_turn_tokens_off_and_on_for_their_workspace(slack, tmp_path):
    token = await ask_for_token(slack)
    body = b"{}\n"
    # Someone who is not an admin changes nothing.
    await slack.click(PREF_TOKENS, "", CREATOR, container="view", selected="off")
    await slack.settle()
    assert (await api_post(slack.served.url, body, token))[0] == 400  # invalid, not refused
    await slack.click(PREF_TOKENS, "", ADMIN, container="view", selected="off")
    await slack.settle()
    home = slack.fake.of("views.publish")[-1]["view"]
    assert PREF_TOKENS in json.dumps(home)
    status, _, answer = await api_post(slack.served.url, body, token)
    assert (status, answer["error"]) == (401, "unauthorized")
    assert "turned personal API tokens off" in await ask_for_token(slack)
    await slack.click(PREF_TOKENS, "", ADMIN, container="view", selected="on")
    await slack.settle()
    assert (await api_post(slack.served.url, body, token))[0] == 400


async def test_the_workspaces_longest_expiry_holds_for_api_uploads(slack):
    token = await ask_for_token(slack)
    await slack.click(PREF_MAX_TTL, "", ADMIN, container="view", selected="3600")
    await slack.settle()

    def upload(ttl: int) -> bytes:
        head = {
            "version": 1,
            "seed": crypto.b64encode(os.urandom(16)),
            "nonce": crypto.b64encode(os.urandom(12)),
            "link_verifier": crypto.b64encode(os.urandom(32)),
            "verifier": crypto.b64encode(os.urandom(32)),
            "has_passphrase": False,
            "ttl": ttl,
        }
        return json.dumps(head).encode() + b"\nciphertext"

    status, _, answer = await api_post(slack.served.url, upload(86400), token)
    assert (status, answer["error"]) == (400, "invalid")
    assert (await api_post(slack.served.url, upload(3600), token))[0] == 201


async def test_uninstalling_the_app_deletes_the_workspaces_tokens(slack, store, tmp_path):
    token = await ask_for_token(slack)
    before = await store_bytes(store, tmp_path)
    status, _ = await slack.event(
        {"type": "app_uninstalled", "event_ts": "1700000000.000100"}, team_id="T0001"
    )
    assert status == 200
    await slack.settle()
    status, _, answer = await api_post(slack.served.url, b"{}\n", token)
    assert (status, answer["error"]) == (401, "unauthorized")
    from bot.tokens import token_hash

    assert token_hash(token).encode() in before
    assert token_hash(token).encode() not in await store_bytes(store, tmp_path)


async def test_of_two_tokens_made_at_once_for_one_person_only_one_works(store):
    from bot.service import SecretService
    from bot.tokens import TokenGrant, Unauthorized

    service = SecretService(store, public_url="http://127.0.0.1:1", max_ttl=86400)
    grant = TokenGrant("T1:U1", "T1")
    made = await asyncio.gather(*(service.tokens.issue(grant) for _ in range(5)))
    working = []
    for token in made:
        try:
            await service.tokens.authenticate(token)
        except Unauthorized:
            continue
        working.append(token)
    assert len(set(made)) == 5 and len(working) == 1
    assert await service.tokens.revoke("T1:U1")
    with pytest.raises(Unauthorized):
        await service.tokens.authenticate(working[0])


async def test_the_api_md_example_makes_a_secret_that_reveals_once(slack, tmp_path):
    """docs/api.md's upload: its Python, as written, seals the body."""
    docs = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    script = docs.split("python3 - <<'PY' > body\n", 1)[1].split("\nPY\n", 1)[0]
    token = await ask_for_token(slack)
    env = {**os.environ, "ONCELINK_TOKEN": token, "ONCELINK_SERVER": slack.served.url}
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    body, said = await asyncio.wait_for(writer.communicate(), 60)
    assert writer.returncode == 0, said
    # Sent with the curl command's method and headers (curl itself is not part of the
    # test stack scripts/test_stack.sh guarantees).
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{slack.served.url}/api/v1/secrets",
            data=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/octet-stream",
            },
        ) as response:
            assert response.status == 201
            answer = await response.json()
    key = said.decode().split("key: ", 1)[1].strip()
    link = f"{answer['url']}#{key}"
    status, revealed = await post_reveal(slack.served.url, link)
    assert status == 200 and decrypt_answer(link, revealed) == "hunter2"
    assert (await post_reveal(slack.served.url, link))[0] == 410


async def test_share_help_names_every_option_and_what_the_server_sees(tmp_path):
    code, out, _ = await oncelink("share", "--help", cwd=tmp_path)
    assert code == 0
    for said in ("--server", "--token", "--ttl", "--passphrase", "--file", "--note", "--to",
                 "--only-them", "ONCELINK_SERVER", "oncelink login", "only ciphertext",
                 "exit status"):  # fmt: skip
        assert said in out


async def test_a_large_upload_refused_unread_still_reaches_the_cli_as_its_reason(slack, tmp_path):
    """The server answers before reading a refused body (a bad token, over MAX_FILE_SIZE):
    the command still reads that answer, not a broken connection."""
    token = await ask_for_token(slack)
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "huge.bin").write_bytes(os.urandom(12 * 1024 * 1024))
    share = ("share", "--server", slack.served.url, "--file", "huge.bin")
    code, _, err = await oncelink(*share, "--token", token, cwd=folder)
    assert code == 2 and "larger than this app allows" in err
    await ask_for_token(slack, "token revoke")
    code, _, err = await oncelink(*share, "--token", token, cwd=folder)
    assert code == 2 and "refused your token" in err


async def test_an_org_wide_uninstall_deletes_the_orgs_tokens_and_a_workspaces_only_its_own(slack):
    """Enterprise Grid: a token made in a workspace of an org stops when the org-wide install
    is removed; a workspace-level uninstall elsewhere in the org leaves it working."""
    hooks = len(slack.fake.of("response_url"))
    await slack.command("token", enterprise_id="E0001", team_id="T0001")
    told = (await slack.fake.wait_for("response_url", hooks + 1))[-1]
    token = TOKEN.search(json.dumps(told["blocks"])).group(0)

    async def uninstall(**body: object) -> None:
        event = {"type": "app_uninstalled", "event_ts": "1700000000.000100"}
        raw = json.dumps(
            {"token": "x", "api_app_id": "A123456", "event": event, "type": "event_callback",
             "event_id": "Ev0PV52K21", "event_time": 1700000000, **body}
        )  # fmt: skip
        status, _ = await slack.send(raw, {**sign(raw), "Content-Type": "application/json"})
        assert status == 200
        await slack.settle()

    await uninstall(team_id="T0002", enterprise_id="E0001", is_enterprise_install=False)
    assert (await api_post(slack.served.url, b"{}\n", token))[0] == 400  # still works
    await uninstall(team_id="E0001", enterprise_id="E0001", is_enterprise_install=True)
    status, _, answer = await api_post(slack.served.url, b"{}\n", token)
    assert (status, answer["error"]) == (401, "unauthorized")


def sealed_head(token: str, **head: object) -> tuple[str, bytes]:
    """An upload's body as the CLI would send it (random sealed values) and its id."""
    seed = os.urandom(16)
    fields = {
        "version": 1,
        "seed": crypto.b64encode(seed),
        "nonce": crypto.b64encode(os.urandom(12)),
        "link_verifier": crypto.b64encode(os.urandom(32)),
        "verifier": crypto.b64encode(os.urandom(32)),
        "has_passphrase": False,
        "ttl": 3600,
        **head,
    }
    return secret_id_for(token, seed), json.dumps(fields).encode() + b"\nciphertext"


async def test_a_pass_on_link_with_anything_but_this_apps_link_is_refused(slack):
    """The app posts the passed-on link in Slack in its own name: a link elsewhere, or
    anything after the key (`|label`, `>` and words), would let a token's holder make the
    app DM any member any words behind any link."""
    token = await ask_for_token(slack)
    key = crypto.b64encode(os.urandom(32))
    seed = os.urandom(16)
    secret_id = secret_id_for(token, seed)
    own = f"{slack.served.url}/s/{secret_id}#{key}"
    for link in (
        f"https://evil.example/sso|Your SSO session expired: sign in again> /s/{secret_id}#",
        f"https://evil.example/s/{secret_id}#{key}",
        own + "|Open your payslip",
        own + "> and sign in at https://evil.example",
        own + "=",
    ):
        _, sent = sealed_head(token, to="UVICTIM", pass_on_link=link)
        head, _, rest = sent.partition(b"\n")
        fields = {**json.loads(head), "seed": crypto.b64encode(seed)}
        status, _, answer = await api_post(
            slack.served.url, json.dumps(fields).encode() + b"\n" + rest, token
        )
        assert (status, answer["error"]) == (400, "invalid"), link
    for key_sent in (key + "|x", key + "=", "short"):
        _, sent = sealed_head(token, to="UVICTIM", pass_on_key=key_sent)
        status, _, answer = await api_post(slack.served.url, sent, token)
        assert (status, answer["error"]) == (400, "invalid"), key_sent
    await slack.settle()
    assert not [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == "UVICTIM"]
    # The key alone: the server builds the link from its own PUBLIC_URL and DMs that.
    secret_id, sent = sealed_head(token, to="UVICTIM", pass_on_key=key)
    status, _, answer = await api_post(slack.served.url, sent, token)
    assert status == 201
    await slack.settle()
    dms = [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == "UVICTIM"]
    assert f"{slack.served.url}/s/{secret_id}#{key}" in json.dumps(dms[-1]["blocks"])


async def test_a_token_in_a_malformed_header_never_reaches_the_log(slack, caplog):
    """A token file saved with a CR at its end, or a stray control byte: aiohttp refuses the
    request, and its error line must not quote the header."""
    debug_everywhere(caplog)
    token = await ask_for_token(slack)
    port = int(slack.served.url.rsplit(":", 1)[1])
    for tail in (b"\r", b"\x01"):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /api/v1/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + token.encode()
            + tail
            + b"\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 400") or answer.startswith(b"HTTP/1.0 400")
    assert any(r.name == "aiohttp.server" for r in caplog.records)  # it was logged ...
    for forbidden in (token, token.removeprefix("olk_")):  # ... without the header
        assert forbidden not in caplog.text
    assert "Traceback" not in caplog.text


async def test_the_token_is_checked_before_a_byte_of_the_body_is_read(slack):
    """A forged token declaring 10 MB and sending nothing is refused at once."""
    port = int(slack.served.url.rsplit(":", 1)[1])
    forged = "olk_" + crypto.b64encode(os.urandom(32))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/v1/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + forged.encode()
        + b"\r\nContent-Length: 10000000\r\n\r\n"
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    writer.close()
    assert head.startswith(b"HTTP/1.1 401")


async def test_a_token_revoked_during_its_upload_stores_nothing(slack):
    """The body may take minutes: a revoke (or tokens off, or an uninstall) meanwhile wins."""
    token = await ask_for_token(slack)
    secret_id, sent = sealed_head(token)
    desk = slack.service.tokens
    checked = asyncio.Event()
    authenticate = desk.authenticate

    async def counting(given: str):  # the first check, before the body, has passed
        grant = await authenticate(given)
        checked.set()
        return grant

    desk.authenticate = counting
    rest = asyncio.Event()

    async def body():
        yield sent[:10]
        await rest.wait()
        yield sent[10:]

    async def post() -> tuple[int, dict]:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                slack.served.url + "/api/v1/secrets",
                data=body(),
                headers={"Authorization": f"Bearer {token}", "Content-Length": str(len(sent))},
            ) as response:
                return response.status, await response.json()

    posting = asyncio.create_task(post())
    await asyncio.wait_for(checked.wait(), 30)
    assert "revoked" in await ask_for_token(slack, "token revoke")
    rest.set()
    status, answer = await asyncio.wait_for(posting, 30)
    assert (status, answer["error"]) == (401, "unauthorized")
    with pytest.raises(SecretGone):
        await slack.service.status(secret_id)


async def start_web(handler) -> tuple[web.AppRunner, str, list]:
    """A tiny server on a free loopback port that records every request it sees."""
    seen: list = []

    async def record(request: web.Request) -> web.StreamResponse:
        seen.append((request.method, request.path, dict(request.headers)))
        return await handler(request)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_route("*", "/{rest:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}", seen


async def test_the_cli_never_follows_a_redirect_with_the_token(tmp_path):
    async def elsewhere(request: web.Request) -> web.Response:
        return web.json_response({"error": "invalid", "message": "got it"}, status=400)

    target, target_url, reached = await start_web(elsewhere)

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound(target_url + "/api/v1/secrets")

    first, first_url, _ = await start_web(moved)
    try:
        token = "olk_" + crypto.b64encode(os.urandom(32))
        for command in (("share", "--token", token), ("login",)):
            code, out, err = await oncelink(
                *command, "--server", first_url, cwd=tmp_path / "x", stdin=token + "\n"
            )
            assert code == 2 and out == "" and "redirect" in err and target_url in err
        assert reached == []  # the token never went there
    finally:
        await first.cleanup()
        await target.cleanup()


async def test_the_cli_sends_a_token_over_plain_http_only_to_this_machine(tmp_path):
    token = "olk_" + crypto.b64encode(os.urandom(32))
    for server in ("http://secrets.example.com", "http://10.0.0.1:8080", "ftp://x.example"):
        code, out, err = await oncelink(
            "share", "--server", server, "--token", token, cwd=tmp_path / "x", stdin="s"
        )
        assert code == 2 and out == "" and ("http" in err or "not a URL" in err), server
    code, _, err = await oncelink("login", "--server", "http://secrets.example.com",
                                  cwd=tmp_path / "x", stdin=token)  # fmt: skip
    assert code == 2 and "plain http" in err


async def test_a_saved_token_goes_only_to_the_server_it_was_saved_for(tmp_path):
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"error": "unauthorized", "message": "no"}, status=401)

    other, other_url, reached = await start_web(answer)
    try:
        home = tmp_path / "laptop"
        folder = home / "config" / "oncelink"
        folder.mkdir(parents=True, mode=0o700)
        saved = folder / "config.json"
        token = "olk_" + crypto.b64encode(os.urandom(32))
        saved.write_text(json.dumps({"server": "https://secrets.example.com", "token": token}))
        saved.chmod(0o600)
        for how in (["--server", other_url], []):
            env = {} if how else {"ONCELINK_SERVER": other_url}
            code, out, err = await oncelink("share", *how, cwd=home, stdin="s", env=env)
            assert code == 2 and out == "" and "saved token is for" in err
        assert reached == []
    finally:
        await other.cleanup()


async def test_the_cli_prints_no_control_bytes_and_only_a_plain_link_from_the_server(tmp_path):
    """A hostile or broken server's words are printed without escape sequences or bidi
    controls, and its `url` is used only when it is plainly a link to this secret."""
    token = "olk_" + crypto.b64encode(os.urandom(32))
    answers: list = []

    async def answer(request: web.Request) -> web.Response:
        head = json.loads((await request.read()).split(b"\n", 1)[0])
        secret_id = secret_id_for(token, crypto.b64decode(head["seed"], 16))
        return web.json_response(answers.pop(0)(secret_id), status=201)

    runner, url, _ = await start_web(answer)
    try:
        bad_urls = [
            lambda s: f"https://evil.example/s/{s}\x1b[8m",
            lambda s: f"https://evil.example/s/{s}?x=1",
            lambda s: f"https://evil.example/s/{s}\u202e",
            lambda s: f"javascript:alert(1)//s/{s}",
            lambda s: f"http://evil.example/s/{s}",
            lambda s: f"https://evil.example/s/other{s}x",
        ]
        for make in bad_urls:
            answers.append(lambda s, make=make: {"secret_id": s, "url": make(s)})
            code, out, err = await oncelink(
                "share", "--server", url, "--token", token, cwd=tmp_path / "x", stdin="s"
            )
            assert code == 0, err
            assert out.startswith(url + "/s/") and "evil" not in out
        answers.append(lambda s: {"secret_id": s, "url": f"https://secrets.example.com/s/{s}"})
        code, out, _ = await oncelink(
            "share", "--server", url, "--token", token, cwd=tmp_path / "x", stdin="s"
        )
        assert out.startswith("https://secrets.example.com/s/")  # its public address
    finally:
        await runner.cleanup()

    async def refuse(request: web.Request) -> web.Response:
        message = "Refused\x1b]8;;https://evil.example\x07 click\x1b]8;;\x07\u202e \x9b2J"
        return web.json_response({"error": "invalid", "message": message}, status=400)

    runner, url, _ = await start_web(refuse)
    try:
        code, out, err = await oncelink(
            "share", "--server", url, "--token", token, cwd=tmp_path / "x", stdin="s"
        )
        assert code == 2 and "Refused" in err
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", err)
    finally:
        await runner.cleanup()


def test_login_never_writes_through_a_planted_link_or_into_a_folder_others_can_write(
    tmp_path, monkeypatch
):
    from bot.remote import RemoteError, read_config, write_config

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = tmp_path / "config" / "oncelink"
    folder.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("theirs")
    (folder / "config.tmp").symlink_to(victim)
    token = "olk_" + crypto.b64encode(os.urandom(32))
    path = write_config("https://secrets.example.com", token)
    assert victim.read_text() == "theirs"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_config()["token"] == token
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "config.tmp"]
    # A config that is a link is not read; a folder others can write is not written.
    path.unlink()
    path.symlink_to(victim)
    with pytest.raises(RemoteError):
        read_config()
    path.unlink()
    folder.chmod(0o777)
    with pytest.raises(RemoteError, match="others can write"):
        write_config("https://secrets.example.com", token)
    assert not path.exists()


async def test_a_token_slack_would_not_show_ephemerally_is_revoked_never_dmed(slack):
    """A DM stays in history, search and exports: when the command's response_url refuses
    (expired, 404), the token must not fall back to one. The token nobody saw is revoked."""
    slack.fake.fail("response_url", times=5, status=404, text="expired_url")
    status, _ = await slack.command("token", user_id=CREATOR)
    assert status == 200
    await slack.settle()
    sent = slack.fake.of("chat.postMessage") + slack.fake.of("chat.postEphemeral")
    assert not any(TOKEN.search(json.dumps(m)) for m in sent)
    told = [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == CREATOR]
    assert told and "/secret token" in json.dumps(told[-1]) and "revoked" in json.dumps(told[-1])
    assert "no API token" in await ask_for_token(slack, "token revoke")


async def test_a_token_that_could_not_be_shown_never_takes_a_newer_shown_one_with_it(slack):
    """Two `/secret token` in quick succession: the first one's answer fails after the
    second was shown. Only the first (unseen, already replaced) token is revoked; the shown
    one keeps working."""
    slack.fake.fail("response_url", status=404, text="expired_url", delay=1.0)
    status, _ = await slack.command("token", user_id=CREATOR)
    assert status == 200
    await slack.fake.wait_for("response_url")  # the first answer, held back, then refused
    shown = await ask_for_token(slack)
    await slack.settle()
    told = [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == CREATOR]
    assert told and "revoked" in json.dumps(told[-1])  # the first was refused, and said so
    assert await works(slack, shown)


async def test_revoking_an_unseen_token_leaves_its_persons_newer_one(store):
    from bot.service import SecretService
    from bot.tokens import TokenGrant, Unauthorized

    service = SecretService(store, public_url="http://127.0.0.1:1", max_ttl=86400)
    grant = TokenGrant(creator="T0001:U1", scope="T0001")
    first = await service.tokens.issue(grant)
    second = await service.tokens.issue(grant)
    assert not await service.tokens.revoke_if_current(first)  # replaced already
    assert (await service.tokens.authenticate(second)).creator == grant.creator
    assert await service.tokens.revoke_if_current(second)
    with pytest.raises(Unauthorized):
        await service.tokens.authenticate(second)
    assert not await service.tokens.revoke(grant.creator)  # nothing left behind


async def grid_token(slack: SlackHarness, team_id: str, user: str = CREATOR) -> str:
    hooks = len(slack.fake.of("response_url"))
    await slack.command("token", enterprise_id="E0001", team_id=team_id, user_id=user)
    told = (await slack.fake.wait_for("response_url", hooks + 1))[-1]
    return TOKEN.search(json.dumps(told["blocks"])).group(0)


async def send_event(slack: SlackHarness, payload: dict) -> None:
    raw = json.dumps(payload)
    status, _ = await slack.send(raw, {**sign(raw), "Content-Type": "application/json"})
    assert status == 200
    await slack.settle()


async def works(slack: SlackHarness, token: str) -> bool:
    status, _, answer = await api_post(slack.served.url, b"{}\n", token)
    assert status in (400, 401)
    return status == 400


@pytest.mark.parametrize("nested", [False, True])
async def test_an_org_app_removed_from_some_workspaces_deletes_their_tokens(slack, nested):
    """team_access_revoked, not app_uninstalled, is what Slack sends when an org-wide app
    loses some of the org's workspaces; both its shapes: the flat event Slack's SDKs type,
    and the docs' example that nests it one level deeper."""
    gone_1 = await grid_token(slack, "T1XX3", "U0000000001")
    gone_2 = await grid_token(slack, "TXX34", "U0000000002")
    kept = await grid_token(slack, "T0001", "U0000000003")
    event = {"type": "team_access_revoked", "team_ids": ["T1XX3", "TXX34"], "event_ts": "1.2"}
    if nested:
        event = {"team_id": None, "enterprise_id": "E0001", "api_app_id": "A123456",
                 "event": event}  # fmt: skip
    await send_event(slack, {
        "token": "XXYYZZ", "team_id": "T0001", "enterprise_id": "E0001", "api_app_id": "A123456",
        "event": event, "type": "event_callback",
        "authorizations": [{"enterprise_id": "E0001", "team_id": "T0001", "is_bot": True,
                            "is_enterprise_install": True}],
        "event_id": "Ev123ABC456", "event_time": 123456789,
    })  # fmt: skip
    assert not await works(slack, gone_1) and not await works(slack, gone_2)
    assert await works(slack, kept)
    for user in ("U0000000001", "U0000000002"):  # deleted, not only stopped
        hooks = len(slack.fake.of("response_url"))
        await slack.command("token revoke", enterprise_id="E0001", team_id="T0001", user_id=user)
        told = (await slack.fake.wait_for("response_url", hooks + 1))[-1]
        assert "no API token" in json.dumps(told)


async def test_the_docs_nested_team_access_revoked_reaches_us_with_oauth_on(store, fake_slack):
    """With OAuth on, bolt looks the install up before any middleware, and skips that only
    for the flat event: the docs' nested example, naming a workspace of an org-wide install
    (stored under the org), found no install and bolt answered it without us."""
    from tests.slack_fake import ORG_CODE
    from tests.support.app import serve
    from tests.test_oauth import install, oauth_settings

    served = await serve(oauth_settings(fake_slack), store=store)
    slack = SlackHarness(served, fake_slack)
    try:
        status, page, _ = await install(served, ORG_CODE)
        assert status == 200, page

        async def org_token(team_id: str, user: str) -> str:
            hooks = len(fake_slack.of("response_url"))
            await slack.command(
                "token", enterprise_id="E0002", team_id=team_id, user_id=user,
                is_enterprise_install="true",
            )  # fmt: skip
            told = (await fake_slack.wait_for("response_url", hooks + 1))[-1]
            return TOKEN.search(json.dumps(told["blocks"])).group(0)

        gone_1 = await org_token("T1XX3", "U0000000001")
        gone_2 = await org_token("TXX34", "U0000000002")
        kept = await org_token("T0004", "U0000000003")
        # https://docs.slack.dev/reference/events/team_access_revoked/, verbatim
        await send_event(slack, {
            "token": "XXYYZZ",
            "team_id": "T123ABC456",
            "api_app_id": "A123ABC456",
            "event": {
                "team_id": None,
                "enterprise_id": "E0002",
                "api_app_id": "AXXXX",
                "event": {"type": "team_access_revoked", "team_ids": ["T1XX3", "TXX34"]},
            },
            "type": "event_callback",
            "authorizations": [{"enterprise_id": "E0002", "team_id": "T123ABC456",
                                "is_bot": False, "is_enterprise_install": False}],
            "event_id": "Ev123ABC456",
            "event_time": 123456789,
        })  # fmt: skip
        assert not await works(slack, gone_1) and not await works(slack, gone_2)
        assert await works(slack, kept)
    finally:
        await served.runner.cleanup()


@pytest.mark.parametrize("bot", [True, False])
async def test_revoking_the_bots_tokens_deletes_the_workspaces_api_tokens(slack, bot):
    """tokens_revoked for the bot cuts the app off as an uninstall does: the workspace's API
    tokens go with it. Only user tokens revoked leaves them working."""
    token = await ask_for_token(slack)
    tokens = {"oauth": [], "bot": ["UBOT00001"]} if bot else {"oauth": ["U2147483697"], "bot": []}
    await send_event(slack, {
        "token": "x", "team_id": "T0001", "api_app_id": "A123456", "type": "event_callback",
        "event": {"type": "tokens_revoked", "tokens": tokens, "event_ts": "1700000000.000100"},
        "event_id": "Ev0TR1", "event_time": 1700000000,
    })  # fmt: skip
    assert await works(slack, token) is not bot


@pytest.mark.parametrize(
    "envelope",
    [
        {"team_id": "E0001", "enterprise_id": "E0001"},  # the org itself, no authorizations
        {"enterprise_id": "E0001"},  # no workspace at all
    ],
)
async def test_an_org_wide_uninstall_without_authorizations_deletes_the_orgs_tokens(
    slack, envelope
):
    token = await grid_token(slack, "T0001")
    await send_event(slack, {
        "token": "x", "api_app_id": "A123456", "type": "event_callback",
        "event": {"type": "app_uninstalled", "event_ts": "1700000000.000100"},
        "event_id": "Ev0PV52K22", "event_time": 1700000000, **envelope,
    })  # fmt: skip
    assert not await works(slack, token)


async def test_an_uninstall_deletes_the_install_even_when_forgetting_tokens_fails(
    store, fake_slack
):
    from handlers.install import INSTALLATIONS_KEY
    from tests.support.app import serve
    from tests.test_oauth import install, oauth_settings

    served = await serve(oauth_settings(fake_slack), store=store)
    try:
        status, page, _ = await install(served)
        assert status == 200, page

        async def broken(scope: str) -> None:
            raise RuntimeError("the store hiccuped")

        desk = served.app[SERVICE_KEY].tokens
        desk.close_scope = desk.forget_scope = broken
        raw = json.dumps({
            "token": "x", "team_id": "T0002", "api_app_id": "A123456", "type": "event_callback",
            "event": {"type": "app_uninstalled", "event_ts": "1700000000.000100"},
            "event_id": "Ev0PV52K23", "event_time": 1700000000,
        })  # fmt: skip
        async with aiohttp.ClientSession() as http:
            headers = {**sign(raw), "Content-Type": "application/json"}
            async with http.post(served.url + "/slack/events", data=raw, headers=headers):
                pass  # answered after the listener ran (process_before_response)
        installations = served.app[INSTALLATIONS_KEY]
        assert await installations.async_find_bot(enterprise_id=None, team_id="T0002") is None
    finally:
        await served.runner.cleanup()


async def test_one_token_holder_cannot_hold_many_upload_buffers_at_once(
    store, fake_slack, monkeypatch, caplog
):
    """The token is checked before the body is read, and then one person's uploads run one
    at a time, each cut off when it stalls: a token cannot pin the server's memory."""
    import logging

    from bot import uploads
    from tests.support.app import serve, slack_settings
    from tests.test_compose import _stall

    caplog.set_level(logging.INFO)
    monkeypatch.setattr(uploads, "CHUNK_SECONDS", 0.5)
    served = await serve(slack_settings(fake_slack), store=store)
    harness = SlackHarness(served, fake_slack)
    try:
        token = await ask_for_token(harness)
        other = await ask_for_token(harness, user="UOTHER0001")
        url = served.url + "/api/v1/secrets"
        reader, writer = await _stall(url, {"Authorization": f"Bearer {token}"})
        for _ in range(500):  # until the stalled upload holds its place
            if served.app[uploads.GATE_KEY].running:
                break
            await asyncio.sleep(0.02)
        status, _, answer = await api_post(served.url, api_body(10), token)
        assert (status, answer["error"]) == (503, "busy")
        assert (await api_post(served.url, api_body(10), other))[0] == 201  # someone else
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408")
        assert (await api_post(served.url, api_body(10), token))[0] == 201
        # Hanging up mid-body: one calm line, no traceback, no 500.
        _, writer = await _stall(url, {"Authorization": f"Bearer {token}"})
        writer.close()
        for _ in range(500):
            if "upload cut off" in caplog.text:
                break
            await asyncio.sleep(0.02)
        lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
        assert "upload cut off: the sender hung up before the end of its body" in lines
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert token not in caplog.text
    finally:
        await served.runner.cleanup()


async def test_to_an_email_needs_users_read_email_and_a_live_human_member(slack):
    """users.lookupByEmail needs users:read.email, which an install made before the app
    asked for it lacks (missing_scope): the creator is told a reinstall grants it. A
    deactivated account or a bot with that email is nobody to DM a secret to."""
    from tests.slack_fake import BOT_TOKEN

    slack.fake.emails.update({"gone@example.com": "UGONE0001", "bot@example.com": "UBOTX0001"})
    slack.fake.people.update({"UGONE0001": {"deleted": True}, "UBOTX0001": {"is_bot": True}})
    token = await ask_for_token(slack)
    key = crypto.b64encode(os.urandom(32))
    for email in ("gone@example.com", "bot@example.com"):
        _, sent = sealed_head(token, to=email, pass_on_key=key)
        assert (await api_post(slack.served.url, sent, token))[0] == 201
        await slack.settle()
        told = [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == CREATOR]
        assert "Couldn't send" in json.dumps(told[-1])
    for member in ("UGONE0001", "UBOTX0001"):
        assert not [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == member]
    slack.fake.emails["bob@example.com"] = "UBOB"
    slack.fake.scopes[BOT_TOKEN] = {"commands", "chat:write", "users:read"}  # an older install
    _, sent = sealed_head(token, to="bob@example.com", pass_on_key=key)
    assert (await api_post(slack.served.url, sent, token))[0] == 201
    await slack.settle()
    assert slack.fake.of("users.lookupByEmail")  # asked, and refused as Slack refuses
    assert not [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == "UBOB"]
    told = [m for m in slack.fake.of("chat.postMessage") if m.get("channel") == CREATOR]
    assert "users:read.email" in json.dumps(told[-1]) and "reinstall" in json.dumps(told[-1])


async def test_an_org_admin_in_grid_turns_a_workspaces_tokens_off(slack):
    """Enterprise Grid: an org admin or owner (users.info's enterprise_user) is no admin of
    the workspace by its own flags, yet governs it."""
    token = await ask_for_token(slack)
    org_admin = "W0000ORG1"
    slack.fake.people[org_admin] = {
        "enterprise_user": {"id": org_admin, "enterprise_id": "E0001", "is_admin": True,
                            "is_owner": False, "teams": ["T0001"]},
    }  # fmt: skip
    await slack.click(PREF_TOKENS, "", org_admin, container="view", selected="off")
    await slack.settle()
    status, _, answer = await api_post(slack.served.url, b"{}\n", token)
    assert (status, answer["error"]) == (401, "unauthorized")


def test_api_md_lists_every_code_the_api_can_answer():
    """Every `error` the API can answer, its own and those of the body reader it shares
    with the upload pages, is in docs/api.md's table with its status."""
    import inspect

    from bot import api_web, uploads

    docs = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    sources = inspect.getsource(api_web) + inspect.getsource(uploads)
    found = set(re.findall(r'(?:_error|Refused)\(\s*(\d{3}),\s*"(\w+)"', sources))
    assert {code for _, code in found} >= {
        "unauthorized", "too_slow", "cut_off", "internal", "busy", "too_large"
    }  # fmt: skip
    for status, code in found:
        assert re.search(rf"\|[^|\n]*\b{status}\b[^|\n]*\|[^|\n]*`{code}`", docs), (status, code)
    for code in ("rate_limited", "invalid"):  # answered through a variable status
        assert f"`{code}`" in docs


async def test_of_uploads_racing_with_one_seed_one_is_kept_and_never_replaced(slack):
    """Ten uploads with one seed at once, on each store: one is stored, the others are
    refused (`invalid` for the seed, or `busy` while the person's one upload runs), a
    later one with the seed is refused as `invalid`, and the one stored is the one whose
    answer said so."""
    token = await ask_for_token(slack)
    seed = crypto.b64encode(os.urandom(16))
    bodies = [
        sealed_head(token, seed=seed, link_verifier=crypto.b64encode(bytes([n]) * 32))[1]
        for n in range(10)
    ]
    answers = await asyncio.gather(*(api_post(slack.served.url, b, token) for b in bodies))
    stored = [n for n, (status, _, _) in enumerate(answers) if status == 201]
    assert len(stored) == 1
    refused = {a[2]["error"] for n, a in enumerate(answers) if n != stored[0]}
    assert refused <= {"invalid", "busy"}
    status, _, late = await api_post(slack.served.url, bodies[(stored[0] + 1) % 10], token)
    assert (status, late["error"]) == (400, "invalid")
    secret_id = answers[stored[0]][2]["secret_id"]
    assert secret_id == secret_id_for(token, crypto.b64decode(seed, 16))
    # The record kept is the winner's: its link verifier, not a later one's.
    kept = await slack.service._store.reveal(
        secret_id,
        crypto.b64decode(json.loads(bodies[stored[0]].split(b"\n")[0])["link_verifier"], 32),
        b"\0" * 32,
        time.time(),
        max_attempts=5,
    )
    assert kept.outcome.name == "WRONG_PASSPHRASE"  # the link verified: the winner's record


def test_a_busy_stalled_or_cut_off_upload_exits_1_so_scripts_try_again():
    from bot.remote import _explain

    for code in ("busy", "too_slow", "cut_off", "unavailable"):
        error = _explain(503, {"error": code, "message": "Try again."})
        assert error.code == 1 and "Nothing was stored" in str(error)
    assert _explain(400, {"error": "invalid", "message": "Bad."}).code == 2
