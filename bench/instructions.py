"""Instructions per request under callgrind: the same paths as bench.run, without the noise.

Requests per second on a shared 2-core machine move by 20-40% between adjacent runs, which
is wider than the gaps the performance targets are about. The number of instructions the
app executes per request does not move with the neighbours: it is the same for the same code
and inputs to within about 1%. Each server runs under `valgrind --tool=callgrind`, warms up,
then exactly N requests are counted (over 16 connections, like a small load) and divided by
N. Kernel time is not counted, so this complements the wrk figures, it does not replace them.

The reveal POST is also counted against bench.baselines' `reveal-floor`, the least any reveal
POST can do here: what the app costs beyond it is its own code.

Its report goes into docs/benchmarks.md, between its own marker comments (bench.run's
`write_report`), and is printed too.

    python -m bench.instructions        (make bench runs it after bench.run)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.arrivals import from_wrk_line, raw_request
from bench.run import (
    BASELINE_NAMES,
    Processes,
    app_env,
    free_port,
    hook_posts,
    seed,
    slack_command_lines,
    start_redis_and_sink,
    wait_for_hook_posts,
    wait_port,
    write_report,
)

REQUESTS = int(os.environ.get("BENCH_COUNTED_REQUESTS", "1000"))
CONNECTIONS = 16
# valgrind names its control pipe after $HOST; the app's settings use HOST too, so both
# sides are given the same value.
HOST = "127.0.0.1"
FLOOR = "reveal POST floor"


async def _drive(port: int, requests: list[bytes]) -> dict[int, int]:
    """Send every request once, CONNECTIONS at a time on keep-alive connections."""
    todo = list(reversed(requests))
    statuses: dict[int, int] = {}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        while todo:
            writer.write(todo.pop())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            statuses[status] = statuses.get(status, 0) + 1
            length = re.search(rb"(?i)\r\ncontent-length: (\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
        writer.close()

    await asyncio.gather(*(connection() for _ in range(min(CONNECTIONS, len(requests)))))
    return statuses


def drive(port: int, requests: list[bytes]) -> dict[int, int]:
    return asyncio.run(_drive(port, requests))


def control(pid: int, port: int, *args: str) -> None:
    """callgrind_control, with one small request at a time until it is done: valgrind reads
    commands only while the program runs, and an idle server sleeps in epoll."""
    command = subprocess.Popen(
        ["callgrind_control", *args, str(pid)],
        env={**os.environ, "HOST": HOST},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while command.poll() is None:
        drive(port, [raw_request("GET", "/healthz", HOST)])
        time.sleep(0.05)
    if command.returncode != 0:
        raise RuntimeError(f"callgrind_control {' '.join(args)} failed")


def counted(dump_prefix: Path) -> int:
    """Instructions in the dump made by `--dump` (part 1; the last part is the exit)."""
    for line in Path(f"{dump_prefix}.1").read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError("no totals in the callgrind dump")


def measure(
    procs: Processes,
    name: str,
    args: list[str],
    env: dict,
    port: int,
    warm: list[bytes],
    requests: list[bytes],
    settle=None,
) -> tuple[float, dict]:
    """Instructions per request for `requests`, after `warm`. `settle(sent)` is called after
    each batch, with the number of requests sent so far, to wait for work that runs after
    the answer."""
    out = procs.workdir / f"callgrind.{name}"
    server = procs.start(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}.%p",
         *args],
        env={**env, "HOST": HOST},
        name=name,
    )  # fmt: skip
    sent = 0

    def send(batch: list[bytes]) -> dict[int, int]:
        nonlocal sent
        statuses = drive(port, batch)
        sent += len(batch)
        if settle:
            settle(sent)
        return statuses

    try:
        wait_port(port, timeout=300)
        send(warm)
        control(server.pid, port, "--instr=on")
        send(warm[:50])  # the first requests after instrumenting run slower paths
        control(server.pid, port, "--zero")
        statuses = send(requests)
        control(server.pid, port, "--instr=off")
        control(server.pid, port, "--dump")
        return counted(Path(f"{out}.{server.pid}")) / len(requests), statuses
    finally:
        procs.stop(server)


def main() -> int:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("bench.instructions: needs valgrind (apt-get install valgrind)")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="oncelink-instructions-"))
    procs = Processes(workdir)
    rows: list[tuple[str, float, dict]] = []
    try:
        _, redis_url, sink = start_redis_and_sink(procs)
        count = REQUESTS
        # The page's secret, then for the app and for the floor: one per counted reveal, then
        # the warm-up's.
        per_server = count + count // 3
        secrets = seed("redis", redis_url, 1 + 2 * per_server, creator="cli")
        page = f"/s/{secrets[0][0].secret_id}"
        app_secrets, floor_secrets = secrets[1 : 1 + per_server], secrets[1 + per_server :]

        def reveals(chosen: list) -> list[bytes]:
            return [
                raw_request("POST", f"/s/{record.secret_id}", HOST, body.encode(),
                            [("Content-Type", "application/json")])
                for record, body in chosen
            ]  # fmt: skip

        for kind in ("bare", "redis"):
            port = free_port()
            args = [sys.executable, "-m", "bench.baselines", kind, "--port", str(port),
                    "--redis-url", redis_url]  # fmt: skip
            get = [raw_request("GET", "/", HOST)] * count
            rows.append(
                (BASELINE_NAMES[kind], *measure(procs, kind, args, {}, port, get[:300], get))
            )

        app = [sys.executable, "-m", "bot.cli", "serve"]
        port = free_port()
        env = {**app_env("redis", redis_url, port, sink), "HOST": HOST}
        get = [raw_request("GET", page, HOST)] * count
        rows.append(("reveal page GET", *measure(procs, "get", app, env, port, get[:300], get)))
        rows.append(
            ("reveal POST", *measure(procs, "post", app, env, port,
                                     reveals(app_secrets[count:]), reveals(app_secrets[:count])))
        )  # fmt: skip
        floor_port = free_port()
        floor = [sys.executable, "-m", "bench.baselines", "reveal-floor", "--port",
                 str(floor_port), "--redis-url", redis_url]  # fmt: skip
        rows.append(
            (FLOOR, *measure(procs, "floor", floor, {}, floor_port,
                                           reveals(floor_secrets[count:]),
                                           reveals(floor_secrets[:count])))
        )  # fmt: skip

        lines = slack_command_lines(sink, count + count // 3)
        commands = [from_wrk_line(text, HOST) for text in lines]

        posts_before = hook_posts(sink)

        def delivered(sent: int) -> None:
            """The links of the commands sent so far: that work belongs to the command."""
            wait_for_hook_posts(sink, posts_before, sent)

        rows.append(
            ("/secret command", *measure(procs, "command", app, env, port, commands[count:],
                                         commands[:count], settle=delivered))
        )  # fmt: skip
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    base = {name: ir for name, ir, _ in rows}
    a, b = base[BASELINE_NAMES["bare"]], base[BASELINE_NAMES["redis"]]
    floor = base[FLOOR]
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = [
        f"Counted {date}, {count} requests per path under callgrind.",
        "",
        "| path | instructions | × bare aiohttp (a) | × reveal floor | × (b) | answers |",
        "|---|---|---|---|---|---|",
    ]
    for name, ir, statuses in rows:
        answers = ", ".join(f"{n}× {status}" for status, n in sorted(statuses.items()))
        report.append(
            f"| {name} | {ir:,.0f} | {ir / a:.2f} | {ir / floor:.2f} | {ir / b:.2f} | {answers} |"
        )
    report += ["", "Where the time goes, per request:", ""]
    for name, ir, _ in rows:
        if name in (BASELINE_NAMES["bare"], FLOOR):
            continue
        report.append(
            f"- {name}: {ir:,.0f} instructions, {ir / a:.2f}× bare aiohttp "
            f"(+{ir - a:,.0f}) and {ir / floor:.2f}× the reveal floor ({ir - floor:+,.0f})."
        )
    print("\n" + "\n".join(report))
    write_report("bench.instructions", "\n".join(report))
    out = Path(__file__).parent / "results" / "instructions.json"
    out.parent.mkdir(exist_ok=True)
    summary = {
        "date": date,
        "counted_requests": count,
        "rows": [
            {"path": name, "instructions": round(ir), "times_bare": round(ir / a, 3),
             "times_floor": round(ir / floor, 3), "times_b": round(ir / b, 3),
             "statuses": statuses}
            for name, ir, statuses in rows
        ],
    }  # fmt: skip
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\n{date}; written to docs/benchmarks.md and {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
