"""The one boundary we cannot reach: a local fake of Slack's Web API and response_urls.

It records every call, answers like Slack, and can be told to fail (429 + Retry-After, 5xx,
slow answers, dropped connections). Requests *to* the app are signed exactly as Slack signs
them: `v0=` + HMAC-SHA256(signing secret, `v0:{timestamp}:{raw body}`).

It is as strict as Slack: every view and message goes through tests/slack_rules.py, and one
that breaks a documented limit is refused as Slack refuses it (`invalid_arguments` from
`views.*`, `invalid_blocks` from `chat.*`, HTTP 400 `invalid_blocks` from a response_url).
The call is still recorded. A refusal nobody took with `take_refusals()` fails the test when
the fake stops, so no test passes while the app sends something a real workspace would
refuse.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from tests.slack_payloads import slack_escaped
from tests.slack_rules import FULL_SCOPES, NEEDED_SCOPES, check_ack, check_call

PAYLOADS = Path(__file__).parent / "payloads"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
TEAM2_TOKEN = "xoxb-20000000002-20000000002-TeamTwoBotTokenValue00"
OAUTH_CODE = "4724469134.4644010092847.232b46ed7474fb2d5d57"
ROTATED_TOKEN = "xoxe.xoxb-1-RotatedTeamTwoBotTokenValue000000"
REFRESH_TOKEN = "xoxe-1-My0xLTIwMDAwMDAwMDAyLVJlZnJlc2hUb2tlbg"
# An Enterprise Grid org E0001 installing in its workspace T0003, and org E0002 installing
# org-wide (every workspace of it, no team of its own in the answer).
GRID_CODE = "4724469134.4644010092847.0a1e3ff7d00c2a9b8e61"
GRID_TOKEN = "xoxb-30000000003-30000000003-GridWorkspaceBotToken0"
ORG_CODE = "4724469134.4644010092847.9b0c44e1f5a06d7e2c38"
ORG_TOKEN = "xoxb-40000000004-40000000004-OrgWideInstallBotToken"
ADMIN = "UADMIN0001"
APP_TOKEN = "xapp-1-A123456-2045587139414-5b8c5d8e3a6b8c9c5b2a4e3d1f7e9a0c"


def payload(name: str, **overrides) -> dict:
    """A documented Slack payload shape from tests/payloads, with fields replaced.

    The documented response_urls point at hooks.slack.com; they are moved to a host that
    does not exist, so no test can ever make the app talk to the real Slack."""
    raw = (PAYLOADS / f"{name}.json").read_text("utf-8")
    data = json.loads(raw.replace("https://hooks.slack.com/", "https://hooks.slack.invalid/"))
    data.update(copy.deepcopy(overrides))
    return data


def outside_window(direction: int) -> int:
    """A timestamp a full minute past Slack's 5-minute window, behind (-1) or ahead (+1).

    Not 301 s: `int()` drops up to a second of the clock, so now + 301 can land inside
    the window by the time the server reads it, and the refusal test would pass a
    signature it means to refuse."""
    return int(time.time()) + direction * (5 * 60 + 60)


def sign(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def command_body(**fields) -> str:
    """A slash command as Slack posts it: `text` is what the person typed, and it leaves
    escaped as Slack escapes it (tests/slack_payloads.py), so every test sends what Slack
    sends."""
    if "text" in fields:
        fields["text"] = slack_escaped(fields["text"])
    return urlencode(payload("slash_command", **fields))


def interactive_body(data: dict) -> str:
    """Interactive payloads arrive as JSON in the `payload` form field."""
    return urlencode({"payload": json.dumps(data)})


def refusal(method: str, problems: list[str]) -> dict:
    """Slack's answer to a view or message that breaks a Block Kit rule: `views.*` answer
    `invalid_arguments` with the problems in `response_metadata.messages`; `chat.*` answer
    `invalid_blocks` (chat.postMessage's error table), listing them in `errors` as well, as
    Slack's SDK maintainers show real answers (slackapi/java-slack-sdk#1017)."""
    answer: dict = {"ok": False, "error": "invalid_arguments"}
    if method.startswith("chat."):
        answer = {
            "ok": False,
            "error": "invalid_blocks",
            "errors": [problem.removeprefix("[ERROR] ") for problem in problems],
        }
    return {**answer, "response_metadata": {"messages": problems}}


@dataclass
class Call:
    method: str  # Web API method, or "response_url"
    params: dict
    path: str
    token: str = ""
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    status: int = 500
    headers: dict = field(default_factory=dict)
    body: dict | None = None
    text: str | None = None  # a plain body, as response_urls answer ("expired_url")
    delay: float = 0.0
    drop: bool = False


@dataclass
class Refusal:
    method: str  # Web API method, "response_url", or "ack" (an answer the app gave Slack)
    params: dict
    problems: list[str]


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {}
        self.runner: web.AppRunner | None = None
        self.url = ""
        self._changed = asyncio.Event()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_open = asyncio.Event()
        self.socket_acks: dict[str, dict] = {}
        self.bot_tokens = {BOT_TOKEN: "T0001"}  # token -> the workspace it speaks for
        self.admins: set[str] = {ADMIN}  # users.info says these are workspace admins
        # user id -> what users.info says of them beyond the defaults: their own `team_id`
        # and, in Enterprise Grid, `enterprise_user` {"enterprise_id", "teams": [...]}
        # (https://api.slack.com/methods/users.info, https://api.slack.com/types/user).
        self.people: dict[str, dict] = {}
        # email -> member id, for users.lookupByEmail (users_not_found for any other); what
        # `people` says of that id (`deleted`, `is_bot`) is in the answer too.
        self.emails: dict[str, str] = {}
        # token -> the scopes its install was granted (oauth.v2.access `scope`); a method
        # needing one it lacks answers missing_scope, as Slack does. `install_scopes` is
        # what the next install grants: an older install made before a scope was added
        # to the app is one without it.
        self.install_scopes = FULL_SCOPES
        self.scopes: dict[str, set[str]] = {BOT_TOKEN: set(FULL_SCOPES.split(","))}
        # Grid tokens -> (org, workspace): users.info through them answers for a person of
        # that org, with `enterprise_user` as Slack adds it for every Grid user.
        self.orgs: dict[str, tuple[str, str]] = {}
        self.rotating = 0  # > 0: installs get tokens that expire in this many seconds
        self.refused: list[Refusal] = []
        self.latency: dict[str, float] = {}  # method -> seconds every call of it takes
        self.in_flight: dict[str, int] = {}  # method -> requests being answered right now
        self.peak_in_flight: dict[str, int] = {}  # method -> the most ever at once
        self.answered: dict[str, int] = {}  # method -> calls so far, counting from 1
        self.throttled: dict[str, tuple[set[int], int]] = {}  # method -> (call numbers, wait)
        self.rate_limited: list[Call] = []  # the calls answered 429 by `throttle`
        # view id -> its current hash, for every view views.open/push/publish handed out.
        # views.update answers not_found for any other id and hash_conflict for a stale
        # hash (docs.slack.dev/reference/methods/views.update), so a test must click in a
        # view the app really opened, as Slack's own payloads do.
        self.views: dict[str, str] = {}
        self.opened: list[str] = []  # ids views.open handed out, in order

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "cmd") -> str:
        return f"{self.url}/response/{name}"

    def fail(self, method: str, times: int = 1, **fault) -> None:
        """The next `times` calls of `method` ("response_url" for hooks) fail this way."""
        self.faults.setdefault(method, []).extend(Fault(**fault) for _ in range(times))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk reads some (users.info)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/socket", self._socket)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def slow(self, method: str, seconds: float) -> None:
        """Every call of `method` takes this long, so concurrent calls overlap."""
        self.latency[method] = seconds

    def throttle(self, method: str, calls: set[int], retry_after: int = 1) -> None:
        """Slack's rate limiting: these calls of `method` (the n-th, counting from 1) are
        answered 429 with Retry-After, as Slack answers a burst beyond a method's tier."""
        self.throttled[method] = (set(calls), retry_after)

    def take_refusals(self) -> list[Refusal]:
        """What was refused so far (a test that provokes refusals takes them)."""
        taken, self.refused = self.refused, []
        return taken

    def note_refusal(self, method: str, params: dict, problems: list[str]) -> bool:
        if problems:
            self.refused.append(Refusal(method, params, problems))
        return bool(problems)

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()
        if self.refused:
            lines = [f"{r.method}: {problem}" for r in self.refused for problem in r.problems]
            self.refused = []
            raise AssertionError("Slack would have refused:\n" + "\n".join(lines))

    def of(self, method: str) -> list[dict]:
        return [call.params for call in self.calls if call.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.of(method)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"expected {count} {method} call(s), got {len(self.of(method))}: "
                    f"{[c.method for c in self.calls]}"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass
        return self.of(method)

    async def _params(self, request: web.Request) -> dict:
        if request.method == "GET":
            return dict(request.query)
        raw = await request.text()
        if request.content_type == "application/json":
            return json.loads(raw or "{}")
        params = dict(parse_qsl(raw))
        for key, value in params.items():
            if key in ("view", "blocks") and value.startswith(("{", "[")):
                params[key] = json.loads(value)
        return params

    async def _fault(self, method: str, request: web.Request) -> web.StreamResponse | None:
        queue = self.faults.get(method)
        if not queue:
            return None
        fault = queue.pop(0)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            request.transport.close()
            return web.Response(status=500)
        if fault.text is not None:
            return web.Response(text=fault.text, status=fault.status, headers=fault.headers)
        return web.json_response(
            fault.body or {"ok": False, "error": "fatal_error"},
            status=fault.status,
            headers=fault.headers,
        )

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._changed.set()

    async def _counted(self, method: str, answer) -> web.StreamResponse:
        """Answer one request, counting how many of `method` are answered at once."""
        self.in_flight[method] = self.in_flight.get(method, 0) + 1
        self.peak_in_flight[method] = max(
            self.peak_in_flight.get(method, 0), self.in_flight[method]
        )
        try:
            if self.latency.get(method):
                await asyncio.sleep(self.latency[method])
            return await answer
        finally:
            self.in_flight[method] -= 1

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        return await self._counted(method, self._answer_api(method, request))

    async def _answer_api(self, method: str, request: web.Request) -> web.StreamResponse:
        params = await self._params(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        call = Call(method, params, request.path, token)
        self._record(call)
        problems = check_call(method, params)
        self.note_refusal(method, params, problems)
        failed = await self._fault(method, request)
        if failed is not None:
            return failed
        self.answered[method] = number = self.answered.get(method, 0) + 1
        throttled, wait = self.throttled.get(method, (set(), 0))
        if number in throttled:
            self.rate_limited.append(call)
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(wait)},
            )
        if problems:
            return web.json_response(refusal(method, problems))
        if method == "oauth.v2.access":
            return web.json_response(self._exchange(params))
        if method == "apps.connections.open":
            if token != APP_TOKEN:
                return web.json_response({"ok": False, "error": "invalid_auth"})
            return web.json_response({"ok": True, "url": f"ws://{request.host}/socket"})
        if token not in self.bot_tokens:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        answers = {
            "auth.test": {
                "ok": True,
                "url": "https://example.slack.com/",
                "team": "Example",
                "user": "oncelink",
                "team_id": self.bot_tokens[token],
                "user_id": "UBOT0001",
                "bot_id": "BA13894H",
            },
            "views.open": lambda: self._view_shown("VNHU13V36", opened=True),
            "views.push": lambda: self._view_shown("VPUSHED01"),
            "views.update": lambda: self._view_updated(params),
            "views.publish": lambda: self._view_shown("VHOME0001"),
            "users.info": {
                "ok": True,
                "user": {
                    "id": params.get("user", ""),
                    "team_id": self.bot_tokens[token],
                    "is_admin": params.get("user") in self.admins,
                    "is_owner": False,
                    "is_primary_owner": False,
                    **self._grid_user(token),
                    **self.people.get(params.get("user", ""), {}),
                },
            },
            "chat.postMessage": {
                "ok": True,
                "channel": "D0001",
                "ts": f"{time.time():.6f}",
            },
            "chat.postEphemeral": {"ok": True, "message_ts": f"{time.time():.6f}"},
            "chat.update": {
                "ok": True,
                "channel": params.get("channel", ""),
                "ts": params.get("ts", ""),
            },
        }
        needed = NEEDED_SCOPES.get(method, "")
        if needed and needed not in self.scopes.get(token, set()):
            granted = ",".join(sorted(self.scopes.get(token, set())))
            return web.json_response(
                {"ok": False, "error": "missing_scope", "needed": needed, "provided": granted}
            )
        if method == "users.lookupByEmail":
            found = self.emails.get(params.get("email", ""))
            if found is None:
                return web.json_response({"ok": False, "error": "users_not_found"})
            answers[method] = {
                "ok": True,
                "user": {
                    "id": found,
                    "team_id": self.bot_tokens[token],
                    "deleted": False,
                    "is_bot": False,
                    **self.people.get(found, {}),
                },
            }
        answer = answers.get(method, {"ok": False, "error": "unknown_method"})
        return web.json_response(answer() if callable(answer) else answer)

    def _view_shown(self, first_id: str, *, opened: bool = False) -> dict:
        """A new view: the first of a kind keeps the id Slack's documented example has (tests
        name it), later ones get ids of their own, as every view Slack opens does."""
        view_id = first_id
        number = 1
        while view_id in self.views:
            number += 1
            view_id = f"{first_id[:-2]}{number:02d}"
        self.views[view_id] = new_hash = f"1712345678.{secrets.token_hex(4)}"
        if opened:
            self.opened.append(view_id)
        return {"ok": True, "view": {"id": view_id, "hash": new_hash}}

    def _view_updated(self, params: dict) -> dict:
        view_id = params.get("view_id", "")
        if view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        if params.get("hash") and params["hash"] != self.views[view_id]:
            return {"ok": False, "error": "hash_conflict"}
        self.views[view_id] = new_hash = f"1712345678.{secrets.token_hex(4)}"
        return {"ok": True, "view": {"id": view_id, "hash": new_hash}}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode, as Slack speaks it: a hello, then envelopes; the app acks each."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A123456"}}
        )
        self._sockets.append(socket)
        self._socket_open.set()
        async for message in socket:
            data = json.loads(message.data)
            if "envelope_id" in data:
                self.socket_acks[data["envelope_id"]] = data
                self._changed.set()
        self._sockets.remove(socket)
        return socket

    async def send_envelope(self, kind: str, payload: dict, timeout: float = 10.0) -> dict:
        """Deliver one envelope over the app's socket and return the app's ack."""
        await asyncio.wait_for(self._socket_open.wait(), timeout)
        envelope_id = f"env-{len(self.socket_acks)}-{time.monotonic_ns()}"
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        deadline = time.monotonic() + timeout
        while envelope_id not in self.socket_acks:
            if time.monotonic() > deadline:
                raise AssertionError("the app did not ack the envelope")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                pass
        ack = self.socket_acks[envelope_id]
        self.note_refusal("ack", ack, check_ack(ack.get("payload")))
        return ack

    def _exchange(self, params: dict) -> dict:
        """oauth.v2.access: a code from the consent screen becomes workspace T0002's token.

        With `rotating` set (an app with token rotation), tokens come with a refresh token
        and expire; `grant_type=refresh_token` trades the refresh token for new ones."""
        if params.get("grant_type") == "refresh_token":
            return self._refresh(params)
        if params.get("code") in (GRID_CODE, ORG_CODE):
            return self._grid_exchange(params["code"] == ORG_CODE)
        if params.get("code") != OAUTH_CODE:
            return {"ok": False, "error": "invalid_code"}
        self.bot_tokens[TEAM2_TOKEN] = "T0002"
        rotation = (
            {"refresh_token": REFRESH_TOKEN, "expires_in": self.rotating} if self.rotating else {}
        )
        return {
            **rotation,
            "ok": True,
            "app_id": "A123456",
            "authed_user": {"id": "U0002"},
            "scope": self._granted(TEAM2_TOKEN),
            "token_type": "bot",
            "access_token": TEAM2_TOKEN,
            "bot_user_id": "UBOT0002",
            "team": {"id": "T0002", "name": "Second"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _granted(self, token: str) -> str:
        """An install grants `install_scopes` to its new token."""
        self.scopes[token] = set(self.install_scopes.split(","))
        return self.install_scopes

    def _grid_user(self, token: str) -> dict:
        if token not in self.orgs:
            return {}
        enterprise, workspace = self.orgs[token]
        return {
            "team_id": workspace,
            "enterprise_user": {
                "id": "W0000001",
                "enterprise_id": enterprise,
                "enterprise_name": "Example Org",
                "is_admin": False,
                "is_owner": False,
                "teams": [workspace],
            },
        }

    def _grid_exchange(self, org_wide: bool) -> dict:
        """oauth.v2.access in Enterprise Grid (https://api.slack.com/methods/oauth.v2.access,
        https://api.slack.com/enterprise/apps): `enterprise` is the org; an org-wide install
        has `is_enterprise_install` true and `team` null."""
        token, enterprise = (ORG_TOKEN, "E0002") if org_wide else (GRID_TOKEN, "E0001")
        self.bot_tokens[token] = enterprise if org_wide else "T0003"
        # The org-wide install's people are of T0004 in the tests' payloads.
        self.orgs[token] = (enterprise, "T0004" if org_wide else "T0003")
        return {
            "ok": True,
            "app_id": "A123456",
            "authed_user": {"id": "UGRID0001"},
            "scope": self._granted(token),
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": "UBOTGRID1",
            "team": None if org_wide else {"id": "T0003", "name": "Grid workspace"},
            "enterprise": {"id": enterprise, "name": "Example Org"},
            "is_enterprise_install": org_wide,
        }

    def _refresh(self, params: dict) -> dict:
        if params.get("refresh_token") != REFRESH_TOKEN:
            return {"ok": False, "error": "invalid_refresh_token"}
        self.bot_tokens.pop(TEAM2_TOKEN, None)  # the old token stops working
        self.bot_tokens[ROTATED_TOKEN] = "T0002"
        # A refreshed token keeps its install's scopes.
        self.scopes[ROTATED_TOKEN] = self.scopes.get(TEAM2_TOKEN, set(FULL_SCOPES.split(",")))
        return {
            "ok": True,
            "app_id": "A123456",
            "scope": ",".join(sorted(self.scopes[ROTATED_TOKEN])),
            "token_type": "bot",
            "access_token": ROTATED_TOKEN,
            "bot_user_id": "UBOT0002",
            "refresh_token": REFRESH_TOKEN,
            "expires_in": 43200,
            "team": {"id": "T0002", "name": "Second"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        return await self._counted("response_url", self._answer_hook(request))

    async def _answer_hook(self, request: web.Request) -> web.StreamResponse:
        params = await self._params(request)
        self._record(Call("response_url", params, request.path))
        problems = check_call("response_url", params)
        self.note_refusal("response_url", params, problems)
        failed = await self._fault("response_url", request)
        if failed is not None:
            return failed
        if problems:
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(text="ok")
