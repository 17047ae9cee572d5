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
from pathlib import Path

import aiohttp
import pytest

from bot import crypto
from bot.config import Limit
from bot.errors import SecretGone
from bot.tokens import secret_id_for
from handlers.home_blocks import PREF_MAX_TTL
from handlers.tokens import PREF_TOKENS
from tests.slack_fake import ADMIN, sign
from tests.slack_harness import SlackHarness
from tests.support.links import decrypt_answer, post_reveal
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
    seed = os.urandom(16)
    secret_id = secret_id_for(token, seed)
    head = {
        "version": 1,
        "seed": crypto.b64encode(seed),
        "nonce": crypto.b64encode(os.urandom(12)),
        "link_verifier": crypto.b64encode(os.urandom(32)),
        "verifier": crypto.b64encode(os.urandom(32)),
        "has_passphrase": False,
        "ttl": 3600,
    }
    sent = json.dumps(head).encode() + b"\nciphertext"
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


def test_a_busy_stalled_or_cut_off_upload_exits_1_so_scripts_try_again():
    from bot.remote import _explain

    for code in ("busy", "too_slow", "cut_off", "unavailable"):
        error = _explain(503, {"error": code, "message": "Try again."})
        assert error.code == 1 and "Nothing was stored" in str(error)
    assert _explain(400, {"error": "invalid", "message": "Bad."}).code == 2
