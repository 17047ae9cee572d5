"""oncelink benchmark: the hot paths against the framework's own ceiling, in ONE run.

Starts everything itself on loopback (a private redis-server, the app, a Slack sink),
drives it with Debian's `wrk`, and writes its report into docs/benchmarks.md (between its
marker comments; `write_report`) as well as printing it, plus bench/results/latest.json. Every
figure is also given as a ratio to two baselines measured in the same run, since the
machines are shared and noisy. Bounded: each load lasts DURATION seconds.

    python -m bench.run            (or: make bench)
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from bot import crypto
from bot.service import seal_record
from storage import redis_record
from storage.base import SecretRecord
from tests.slack_fake import BOT_TOKEN, SIGNING_SECRET, command_body, sign

HERE = Path(__file__).parent
REPORT = HERE.parent / "docs" / "benchmarks.md"
DURATION = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = 64
SLACK_CONNECTIONS = 32
META = '{"c":"C2147483705"}'
CREATOR = "T0001:U2147483697"


# bench.baselines' kinds, as both reports (wrk's and the instruction counts') name them.
BASELINE_NAMES = {"bare": "baseline (a) bare", "redis": "baseline (b) 1 EVALSHA"}


def write_report(section: str, text: str, page: Path = REPORT) -> None:
    """Put `text` between `section`'s marker comments on `page`, replacing the previous run's.

    The page's hand-written parts (the method, the reading of past runs) sit outside the
    markers and are never touched. A page without the section gets it at its end."""
    begin, end = f"<!-- {section}: begin -->", f"<!-- {section}: end -->"
    # Blank lines around the text, so a table at its end is not run into the end marker.
    body = f"{begin}\n\n{text.strip()}\n\n{end}"
    old = page.read_text("utf-8") if page.exists() else "# Benchmarks\n"
    start = old.find(begin)
    stop = old.find(end, start) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        new = old[:start] + body + old[stop + len(end) :]
    else:
        new = old.rstrip("\n") + "\n\n" + body + "\n"
    page.write_text(new, "utf-8")


def this_machine() -> str:
    """What each report says it ran on: architecture, cores and Python."""
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def app_stack() -> str:
    """The versions of what the app's speed rests on, as the default install gives them."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("aiohttp", "uvloop", "hiredis", "redis"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"no {name}")
    return ", ".join(found)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Processes:
    """Every child this run starts, stopped at the end whatever happens."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: list[subprocess.Popen] = []

    def start(self, args: list[str], env: dict | None = None, name: str = "p") -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the child
        child = subprocess.Popen(
            args, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
        self.children.append(child)
        return child

    def stop(self, child: subprocess.Popen) -> None:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def stop_all(self) -> None:
        for child in reversed(self.children):
            self.stop(child)


@dataclass
class Result:
    name: str
    store: str
    processes: int
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    wrk_cpu_share: float  # the load generator's share of the machine's CPU during the run
    # Slack paths only: the share of acked requests whose link reached the sink while the
    # load ran, and how long the rest took after it stopped. Acks are answered first and
    # the link is delivered after, so an ack rate alone could hide a growing backlog.
    delivered_in_run: float | None = None
    backlog_s: float | None = None


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s|m|h)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}[unit]


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (field 3 onwards), which may
    itself hold spaces and parentheses."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _descendants(pid: int) -> list[int]:
    """`pid` and every process under it (the app's workers are its children)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (OSError, ValueError, IndexError):
                continue
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += [child for child, parent in parents.items() if parent == current]
    return found


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, timeout: float = 60.0) -> None:
    """Until the app has finished the work the last load left behind (receipts, link
    deliveries after the ack): a figure or baseline measured meanwhile would share the CPU
    with it."""
    pids = _descendants(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = _cpu_seconds(pids)
        time.sleep(0.5)
        if _cpu_seconds(pids) - before < 0.05:  # under 10% of a core
            return


def warm_up(url: str, path: str, workdir: Path) -> None:
    """One second of load first: connections, pools and scripts are set up before measuring."""
    (workdir / "warm.txt").write_text(line("GET", path) + "\n")
    subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", "-d1s", "-s", str(HERE / "requests.lua"), url,
         "--", str(workdir / "warm.txt")],
        capture_output=True, check=True,
    )  # fmt: skip


def wrk(url: str, lines: list[str], workdir: Path, connections: int, threads: int = 1) -> dict:
    """Load `url` for DURATION seconds with `lines` (bench/requests.lua splits them between
    the `threads`, so no two threads send the same request)."""
    requests_file = workdir / "requests.txt"
    requests_file.write_text("\n".join(lines) + "\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{DURATION}s",
            "--latency",
            "--timeout",
            "5s",
            "-s",
            str(HERE / "requests.lua"),
            url,
            "--",
            str(requests_file),
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    total = int(re.search(r"(\d+) requests in", output).group(1))
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: .*?(\d+) timeout"):
        found = re.search(pattern, output)
        errors += int(found.group(1)) if found else 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+)", output)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1)),
        "p99_ms": _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1)),
        "errors": errors,
        "requests": total,
        "wrk_cpu_share": cpu / wall / (os.cpu_count() or 1),
    }


def _deliveries(figures: dict) -> str:
    if figures.get("delivered_in_run") is None:
        return ""
    return (
        f"  links delivered during the load {figures['delivered_in_run']:.0%}, "
        f"the rest {figures['backlog_s']} s after"
    )


def hook_posts(sink: str) -> int:
    from urllib.request import urlopen

    with urlopen(f"{sink}/count", timeout=5) as answer:  # noqa: S310 - loopback only
        return int(answer.read())


def wait_for_hook_posts(sink: str, before: int, count: int, timeout: float = 300) -> None:
    """Until `count` response_url posts have reached the sink since it had counted `before`:
    the app delivers links after the ack."""
    deadline = time.monotonic() + timeout
    while hook_posts(sink) - before < count and time.monotonic() < deadline:
        time.sleep(0.1)


def wrk_with_deliveries(sink: str, url: str, lines: list[str], workdir: Path, conns: int):
    """wrk, plus whether each acked command's link was delivered during the load."""
    before = hook_posts(sink)
    figures = wrk(url, lines, workdir, conns)
    delivered = hook_posts(sink) - before
    stopped = time.monotonic()
    wait_for_hook_posts(sink, before, figures["requests"])
    figures["delivered_in_run"] = round(delivered / figures["requests"], 3)
    figures["backlog_s"] = round(time.monotonic() - stopped, 1)
    return figures


def line(method: str, path: str, body: str = "", ctype: str = "", headers: dict | None = None):
    extra = ";".join(f"{k}={v}" for k, v in (headers or {}).items())
    return f"{method}\t{path}\t{ctype}\t{extra}\t{body}"


def make_record(text: str, creator: str = CREATOR) -> tuple[SecretRecord, str]:
    """Exactly what SecretService.create stores (same sealing code), minus the store round
    trip, so 100k secrets take seconds; with the JSON body the reveal page would post."""
    secret_id = crypto.new_secret_id()
    link_key = crypto.new_link_key()
    record = seal_record(
        text,
        secret_id=secret_id,
        link_key=link_key,
        pass_key=b"",
        now=time.time(),
        ttl=3600,
        creator=creator,
        metadata=META if creator == CREATOR else "",
    )
    keys = crypto.derive_keys(link_key, b"", secret_id)
    body = json.dumps(
        {
            "link_proof": crypto.b64encode(crypto.derive_link_proof(link_key, secret_id)),
            "auth": crypto.b64encode(keys.auth),
        },
        separators=(",", ":"),
    )
    return record, body


def seed(store: str, target: str, count: int, creator: str = CREATOR) -> list:
    """Put `count` secrets into the store directly; returns (record, reveal body) pairs.
    Secrets made in Slack (the default creator) send a receipt when revealed; those made
    with `oncelink share` (creator "cli") do not."""
    made = [make_record("benchmark secret", creator) for _ in range(count)]
    if store == "redis":
        from redis import Redis

        client = Redis.from_url(target)
        pipe = client.pipeline(transaction=False)
        for n, (record, _) in enumerate(made, 1):
            pipe.set(
                f"oncelink:{{{record.secret_id}}}:s",
                redis_record.pack(record),
                pxat=int(record.expires_at * 1000),
            )
            if n % 2000 == 0:
                pipe.execute()
        pipe.execute()
        client.close()
    else:
        from storage.sqlite_store import SqliteStore

        asyncio.run(_create_schema(SqliteStore(target)))
        conn = sqlite3.connect(target)
        with conn:
            conn.executemany(
                "INSERT INTO secrets (id, version, nonce, ciphertext, link_verifier, verifier, "
                "has_passphrase, created_at, expires_at, creator, metadata) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        r.secret_id,
                        r.version,
                        r.nonce,
                        r.ciphertext,
                        r.link_verifier,
                        r.verifier,
                        0,
                        r.created_at,
                        r.expires_at,
                        r.creator,
                        r.metadata,
                    )
                    for r, _ in made
                ],
            )
        conn.close()
    return made


async def _create_schema(store) -> None:
    await store.open()
    await store.close()


def slack_command_lines(sink: str, count: int) -> list[str]:
    """`count` signed `/secret` commands: Slack's documented slash_command body (every field
    Slack sends, text escaped as Slack escapes it), with only what the bench needs changed."""
    lines = []
    for n in range(count):
        body = command_body(
            text=f"bench secret {n}",
            team_id="T0001",
            user_id=f"U{n % 500:05d}",
            channel_id="C2147483705",
            response_url=f"{sink}/response/{n}",
            trigger_id=f"t{n}",
        )
        headers = sign(body)  # over the exact body that goes into the line, and so is sent
        ctype = headers.pop("Content-Type")
        lines.append(line("POST", "/slack/events", body, ctype, headers))
    return lines


def modal_lines(sink: str, count: int) -> list[str]:
    from tests.slack_fake import payload
    from tests.slack_harness import form_values

    lines = []
    for n in range(count):
        data = payload("view_submission")
        data["user"]["id"] = f"U{n % 500:05d}"
        data["view"]["state"]["values"] = form_values(f"bench modal secret {n}", note="bench")
        data["view"]["private_metadata"] = json.dumps(
            {"response_url": f"{sink}/response/m{n}", "channel": "C1", "shortcut": False}
        )
        body = urlencode({"payload": json.dumps(data, separators=(",", ":"))})
        headers = sign(body)
        ctype = headers.pop("Content-Type")
        lines.append(line("POST", "/slack/events", body, ctype, headers))
    return lines


def rss_kib(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    return 0


def redis_memory(redis_url: str) -> list[dict]:
    """MEMORY USAGE of a stored secret, created by the real service with Slack metadata."""
    from redis.asyncio import Redis as AsyncRedis

    from bot.service import SecretService
    from storage.redis_store import RedisStore, record_key

    async def measure() -> list[dict]:
        store = RedisStore.from_url(redis_url)
        client = AsyncRedis.from_url(redis_url)
        service = SecretService(store, public_url="http://x", max_ttl=86400)
        rows = []
        for size in (32, 1024, 10 * 1024):
            created = await service.create(
                os.urandom(size // 2).hex(), ttl=600, creator=CREATOR, metadata=META
            )
            used = await client.memory_usage(record_key(created.secret_id), samples=0)
            # The floor for any store of it: the bare ciphertext (plaintext + GCM tag) under
            # a key of the same length, with an expiry, and nothing else.
            bare_key = record_key(crypto.new_secret_id())
            await client.set(bare_key, os.urandom(size + 16), px=600_000)
            bare = await client.memory_usage(bare_key, samples=0)
            await client.delete(bare_key)
            rows.append(
                {"plaintext": size, "bytes": used, "overhead": used - size,
                 "ciphertext_only": bare, "ciphertext_only_overhead": bare - size}
            )  # fmt: skip
        await client.aclose()
        await store.close()
        return rows

    return asyncio.run(measure())


def start_redis_and_sink(procs: Processes) -> tuple[int, str, str]:
    """A private redis-server (nothing kept on disk) and the Slack sink: (redis port, redis
    URL, sink URL)."""
    redis_port = free_port()
    procs.start(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(procs.workdir)],
        name="redis",
    )  # fmt: skip
    wait_port(redis_port)
    sink_port = free_port()
    procs.start([sys.executable, "-m", "bench.sink", "--port", str(sink_port)], name="sink")
    wait_port(sink_port)
    return redis_port, f"redis://127.0.0.1:{redis_port}/0", f"http://127.0.0.1:{sink_port}"


def start_baselines(procs: Processes, redis_url: str, processes: int) -> dict[str, str]:
    """Both baseline servers with `processes` processes each, left running (idle between
    measurements) so that (b) can be measured right next to every figure."""
    urls = {}
    for kind in ("bare", "redis"):
        port = free_port()
        for _ in range(processes):
            procs.start(
                [sys.executable, "-m", "bench.baselines", kind, "--port", str(port),
                 "--redis-url", redis_url, "--reuse-port"],
                name=f"baseline-{kind}-{processes}",
            )  # fmt: skip
        wait_port(port)
        urls[kind] = f"http://127.0.0.1:{port}"
    time.sleep(0.5)
    for url in urls.values():
        warm_up(url, "/", procs.workdir)
    return urls


def app_env(store: str, target: str, port: int, sink: str) -> dict[str, str]:
    return {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "REDIS_URL": target if store == "redis" else "",
        "SQLITE_PATH": target if store == "sqlite" else "",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_CREATE": "off",
        "RATE_LIMIT_REVEAL": "off",
        "RECEIPTS": "on",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": f"{sink}/api/",
    }


@dataclass
class Block:
    """The figures of one process count, each with the mean of (b) before and after it."""

    processes: int
    urls: dict[str, str]
    b_before: float
    b_of: dict[int, float] = field(default_factory=dict)
    app_pid: int = 0  # the app being measured, waited for until idle

    def add(self, index: int, b_after: float) -> None:
        self.b_of[index] = (self.b_before + b_after) / 2
        self.b_before = b_after


def main() -> int:
    if shutil.which("wrk") is None or shutil.which("redis-server") is None:
        print("bench: needs wrk and redis-server (apt-get install wrk redis-server)")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="oncelink-bench-"))
    procs = Processes(workdir)
    results: list[Result] = []
    # Per figure: the mean of baseline (b) measured right before and right after it, and of
    # (a) at the start and end of its process count. Adjacent measurements keep the
    # machine's drift (shared, noisy) out of the ratios.
    baselines_of: dict[int, dict[str, float]] = {}
    baseline_runs: dict[tuple[str, int], list[float]] = {}
    try:
        redis_port, redis_url, sink = start_redis_and_sink(procs)

        def show(name: str, store: str, n: int, figures: dict) -> None:
            print(
                f"  {name:<22} {store:<6} x{n}  {figures['rps']:>9.0f} rps  "
                f"p50 {figures['p50_ms']:.2f} ms  p99 {figures['p99_ms']:.2f} ms  "
                f"errors {figures['errors']}" + _deliveries(figures),
                flush=True,
            )

        def baseline(kind: str, urls: dict[str, str], n: int) -> float:
            figures = wrk(urls[kind] + "/", [line("GET", "/")], workdir, CONNECTIONS)
            show(BASELINE_NAMES[kind], "-", n, figures)
            baseline_runs.setdefault((kind, n), []).append(figures["rps"])
            return figures["rps"]

        memory = redis_memory(redis_url)
        rss: dict[str, int] = {}
        for processes in (1, 2):
            urls = start_baselines(procs, redis_url, processes)
            first_a = baseline("bare", urls, processes)
            block = Block(processes, urls, baseline("redis", urls, processes))

            def measure(
                name: str,
                store: str,
                conns: int,
                target: str,
                lines: list[str],
                sink: str = "",
                block=block,
            ) -> None:
                """`sink` for Slack paths: their links' deliveries are counted too."""
                wait_idle(block.app_pid)
                if sink:
                    figures = wrk_with_deliveries(sink, target, lines, workdir, conns)
                else:
                    figures = wrk(target, lines, workdir, conns)
                if name.startswith("reveal POST") and figures["requests"] > len(lines):
                    print(f"  (more requests than secrets: {len(lines)} were prepared)")
                show(name, store, block.processes, figures)
                results.append(Result(name, store, block.processes, conns, **figures))
                wait_idle(block.app_pid)
                block.add(len(results) - 1, baseline("redis", block.urls, block.processes))

            for store in ("redis", "sqlite"):
                target = redis_url if store == "redis" else str(workdir / f"b{processes}.db")
                if store == "redis":
                    subprocess.run(
                        ["redis-cli", "-p", str(redis_port), "FLUSHALL"],
                        check=True,
                        capture_output=True,
                    )
                port = free_port()
                # One distinct secret per reveal: the list repeats once used up, and repeats are
                # answered 410 (counted as errors). It prepares more per second of load than
                # the fastest rate seen on each store; a much longer list only costs wrk more
                # to load.
                many = 30_000 * DURATION if store == "redis" else 3_000 * DURATION
                seeded = seed(store, target, many, creator="cli")
                with_receipts = seed(store, target, many)
                app = procs.start(
                    [sys.executable, "-m", "bot.cli", "serve", "--workers", str(processes)],
                    env=app_env(store, target, port, sink),
                    name=f"app-{store}-{processes}",
                )
                wait_port(port)
                time.sleep(1.5 if processes > 1 else 0.5)
                block.app_pid = app.pid
                url = f"http://127.0.0.1:{port}"
                page = f"/s/{seeded[0][0].secret_id}"
                warm_up(url, page, workdir)
                measure("reveal page GET", store, CONNECTIONS, url + page, [line("GET", page)])
                reveal_lines = [
                    line("POST", f"/s/{r.secret_id}", body, "application/json")
                    for r, body in seeded[1:]
                ]
                measure("reveal POST", store, CONNECTIONS, url + "/", reveal_lines)
                receipt_lines = [
                    line("POST", f"/s/{r.secret_id}", body, "application/json")
                    for r, body in with_receipts
                ]
                measure("reveal POST + receipt", store, CONNECTIONS, url + "/", receipt_lines)
                measure(
                    "/secret command", store, SLACK_CONNECTIONS, url + "/",
                    slack_command_lines(sink, 20_000), sink,
                )  # fmt: skip
                measure(
                    "modal submission", store, SLACK_CONNECTIONS, url + "/",
                    modal_lines(sink, 20_000), sink,
                )  # fmt: skip
                if processes == 1:
                    seed(store, target, 100_000)
                    wrk(url + page, [line("GET", page)], workdir, CONNECTIONS)
                    rss[store] = rss_kib(app.pid)
                procs.stop(app)
            last_a = baseline("bare", urls, processes)
            for index, b in block.b_of.items():
                baselines_of[index] = {"a": (first_a + last_a) / 2, "b": b}
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine = this_machine()
    report = [
        f"Run of {date} on {machine} (`BENCH_SECONDS={DURATION}`; {app_stack()}).",
        "",
        "| path | store | procs | req/s | p50 ms | p99 ms | errors | vs (a) | vs (b) | wrk CPU "
        "| links in load | backlog s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (kind, n), runs in baseline_runs.items():
        mean = sum(runs) / len(runs)
        report.append(
            f"| {BASELINE_NAMES[kind]} | - | {n} | {mean:.0f} "
            f"(mean of {len(runs)}, {min(runs):.0f}-{max(runs):.0f}) | | | | | | | | |"
        )
    table = []
    for index, r in enumerate(results):
        base = baselines_of[index]
        a = r.rps / base["a"]
        b = r.rps / base["b"]
        table.append(
            {**asdict(r), "baseline_a_rps": round(base["a"]), "baseline_b_rps": round(base["b"]),
             "vs_a": round(a, 3), "vs_b": round(b, 3)}
        )  # fmt: skip
        report.append(
            f"| {r.name} | {r.store} | {r.processes} | {r.rps:.0f} | {r.p50_ms:.2f} | "
            f"{r.p99_ms:.2f} | {r.errors} | {a:.0%} | {b:.0%} | {r.wrk_cpu_share:.0%} | "
            + (
                f"{r.delivered_in_run:.0%} | {r.backlog_s} |"
                if r.delivered_in_run is not None
                else "- | - |"
            )
        )
    report += [
        "",
        "Redis memory per stored secret:",
        "",
        "| plaintext | Redis MEMORY USAGE | overhead | ciphertext alone | its overhead |",
        "|---|---|---|---|---|",
    ]
    for row in memory:
        report.append(
            f"| {row['plaintext']} B | {row['bytes']} B | +{row['overhead']} B | "
            f"{row['ciphertext_only']} B | +{row['ciphertext_only_overhead']} B |"
        )
    report += [
        "",
        f"App RSS with 100,000 live secrets: Redis {rss.get('redis', 0) / 1024:.1f} MiB, "
        f"SQLite {rss.get('sqlite', 0) / 1024:.1f} MiB.",
    ]
    print("\n" + "\n".join(report))
    write_report("bench.run", "\n".join(report))
    summary = {
        "date": date,
        "machine": machine,
        "duration_s": DURATION,
        "baselines": {f"{kind} x{n}": runs for (kind, n), runs in baseline_runs.items()},
        "results": table,
        "redis_memory": memory,
        "app_rss_kib_100k_secrets": rss,
    }
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\n{date} on {machine}; written to {REPORT} and {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
