"""oncelink against a peer, snappass (Pinterest's Flask one-time-secret app), in ONE run.

Both serve from 2 processes on this machine, against the same private redis-server, loaded
by the same `wrk -t2 -c32` with the same kinds of request: the reveal POST of a distinct
waiting secret each time, and the page GET that does not burn. Runs go ABBA for
BENCH_PEER_ROUNDS rounds (round 1 snappass then oncelink, round 2 oncelink then snappass,
...), and each round's ratio pairs the two runs next to each other, so the shared machine's
drift cancels as far as it can. Each side's rate counts good (2xx/3xx) answers only; a round
with errors on either side is shown but left out of the median.

snappass and gunicorn live in their own venv under bench/.work/ (made on the first run,
reused after), never in the app's: it is the peer as its users install it.

    python -m bench.peer
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import Request, urlopen

from bench.run import (
    DURATION,
    HERE,
    REPORT,
    Processes,
    app_env,
    app_stack,
    free_port,
    line,
    seed,
    start_redis_and_sink,
    this_machine,
    wait_idle,
    wait_port,
    warm_up,
    write_report,
    wrk,
)

ROUNDS = int(os.environ.get("BENCH_PEER_ROUNDS", "3"))
PROCESSES = 2
THREADS = 2
CONNECTIONS = 32
TARGET = 5.0
PEER_VENV = HERE / ".work" / "peer-venv"
# The versions measured. With snappass 1.6.2 pip resolves Flask 3.1, Werkzeug 3.1 and
# redis 8, which serve it as they are; snappass imports distutils, so the venv needs
# Python 3.11 or older (distutils left the standard library in 3.12).
PEER_PACKAGES = ["snappass==1.6.2", "gunicorn"]
SERVERS = ("snappass", "oncelink")
PATHS = ("reveal POST", "page GET")
# Reveals per second of load to prepare on the first round, before any rate is known; later
# rounds prepare twice the fastest rate seen. A repeat would be answered 404/410 (an error).
FIRST_GUESS = {"snappass": 5_000, "oncelink": 30_000}
SECRET = "benchmark secret"

# Run with the peer venv's python: snappass's own set_password (Fernet key, storage key,
# SETEX), pipelined so that tens of thousands take seconds; prints the tokens as its links
# carry them (quote_plus).
SEED_PEER = """
import sys
from urllib.parse import quote_plus
import snappass.main as snappass
client = snappass.redis_client
count = int(sys.argv[1])
for start in range(0, count, 2000):
    snappass.redis_client = client.pipeline(transaction=False)
    tokens = [snappass.set_password(sys.argv[2], 3600) for _ in range(min(2000, count - start))]
    snappass.redis_client.execute()
    print("\\n".join(quote_plus(token) for token in tokens))
"""


def peer_python() -> Path:
    """The peer venv's python, with snappass and gunicorn installed in it (once)."""
    python = PEER_VENV / "bin" / "python"
    check = "import importlib.util as u, sys; sys.exit(not u.find_spec('snappass.main'))"
    if python.exists() and (PEER_VENV / "bin" / "gunicorn").exists():
        if subprocess.run([python, "-c", check]).returncode == 0:
            return python
    print(f"installing {' '.join(PEER_PACKAGES)} into {PEER_VENV}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", PEER_VENV], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return python


def peer_versions(python: Path) -> dict[str, str]:
    wanted = {"snappass", "flask", "werkzeug", "redis", "gunicorn"}
    frozen = subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout
    pairs = (row.split("==", 1) for row in frozen.splitlines() if "==" in row)
    return {name: version for name, version in pairs if name.lower() in wanted}


def seed_peer(python: Path, redis_url: str, count: int) -> list[str]:
    tokens = subprocess.run(
        [python, "-c", SEED_PEER, str(count), SECRET],
        env={**os.environ, "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if len(tokens) != count:
        raise RuntimeError(f"snappass seeding made {len(tokens)} tokens of {count}")
    return tokens


def check_peer_reveal(url: str, token: str) -> None:
    """One reveal by hand: a 200 that shows the seeded text, so the load measures reveals
    and not snappass's 404 'expired' page."""
    with urlopen(Request(f"{url}/{token}", method="POST"), timeout=5) as answer:  # noqa: S310
        page = answer.read().decode()
    if answer.status != 200 or SECRET not in page:
        raise RuntimeError("snappass did not reveal the seeded secret")


def reveal_lines(server: str, python: Path, redis_url: str, count: int) -> list[str]:
    """`count` reveal requests, each of a distinct waiting secret."""
    if server == "snappass":
        return [line("POST", f"/{token}") for token in seed_peer(python, redis_url, count)]
    return [
        line("POST", f"/s/{record.secret_id}", body, "application/json")
        for record, body in seed("redis", redis_url, count, creator="cli")
    ]


def page_path(server: str, python: Path, redis_url: str) -> str:
    """A waiting secret's page, which a GET shows without burning it."""
    if server == "snappass":
        return f"/{seed_peer(python, redis_url, 1)[0]}"
    return f"/s/{seed('redis', redis_url, 1, creator='cli')[0][0].secret_id}"


def good_rps(figures: dict) -> float:
    """wrk's Requests/sec counts error answers too, and a reveal that found its secret gone
    is a fast 404/410: only the good answers' share of the rate is the server's."""
    if not figures["requests"]:
        return 0.0
    good = max(0, figures["requests"] - figures["errors"])
    return figures["rps"] * good / figures["requests"]


def server_order(n: int) -> tuple[str, ...]:
    """ABBA: round 1 snappass then oncelink, round 2 the other way round, and so on, so a
    machine getting steadily faster or slower favours neither."""
    return SERVERS if n % 2 else SERVERS[::-1]


def counted(rounds: list[dict]) -> list[dict]:
    """The rounds without errors on either side: only they enter the median."""
    return [r for r in rounds if r["counted"]]


def median_ratio(rounds: list[dict]) -> tuple[float, float, float] | None:
    ratios = [r["ratio"] for r in counted(rounds)]
    if not ratios:
        return None
    return statistics.median(ratios), min(ratios), max(ratios)


def report(rounds: dict[str, list[dict]], versions: dict[str, str], date: str) -> str:
    machine = this_machine()
    peer = ", ".join(f"{name} {version}" for name, version in sorted(versions.items()))
    text = [
        f"Run of {date} on {machine} (`BENCH_SECONDS={DURATION}`, "
        f"`BENCH_PEER_ROUNDS={ROUNDS}`; oncelink: {app_stack()}; peer venv: {peer}).",
        "",
        "| path | round | first | oncelink good req/s | snappass good req/s | ratio "
        "| oncelink p50 / p99 ms | snappass p50 / p99 ms | errors oncelink / snappass |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path, runs in rounds.items():
        for n, r in enumerate(runs, 1):
            o, s = r["oncelink"], r["snappass"]
            ratio = f"{r['ratio']:.2f}×" if r["counted"] else f"({r['ratio']:.2f}×, not counted)"
            text.append(
                f"| {path} | {n} | {r['first']} | {o['good_rps']:.0f} | {s['good_rps']:.0f} "
                f"| {ratio} | {o['p50_ms']:.2f} / {o['p99_ms']:.2f} "
                f"| {s['p50_ms']:.2f} / {s['p99_ms']:.2f} | {o['errors']} / {s['errors']} |"
            )
    text.append("")
    for path, runs in rounds.items():
        bad = [n for n, r in enumerate(runs, 1) if not r["counted"]]
        note = "".join(f" Round {n} had errors: not counted." for n in bad)
        spread = median_ratio(runs)
        if spread is None:
            text.append(
                f"- {path}: every round had errors, so there is no ratio; target ≥ "
                f"{TARGET:.0f}×: **not measured**.{note}"
            )
            continue
        mid, low, high = spread
        good = counted(runs)
        met = "met" if mid >= TARGET else "not met"
        reached = sum(r["ratio"] >= TARGET for r in good)
        text.append(
            f"- {path}: oncelink/snappass median **{mid:.2f}×** (spread {low:.2f}–{high:.2f}× "
            f"over {len(good)} rounds without errors, of {len(runs)}); target ≥ "
            f"{TARGET:.0f}×: **{met}** by the median, reached in {reached} of {len(good)} "
            f"counted rounds.{note}"
        )
    return "\n".join(text)


def main() -> int:
    if shutil.which("wrk") is None or shutil.which("redis-server") is None:
        print("bench.peer: needs wrk and redis-server (apt-get install wrk redis-server)")
        return 2
    python = peer_python()
    versions = peer_versions(python)
    workdir = Path(tempfile.mkdtemp(prefix="oncelink-peer-"))
    procs = Processes(workdir)
    rounds: dict[str, list[dict]] = {path: [] for path in PATHS}
    fastest = dict(FIRST_GUESS)  # reveals per second to prepare, per server
    try:
        _, redis_url, sink = start_redis_and_sink(procs)
        ports = {server: free_port() for server in SERVERS}
        urls = {server: f"http://127.0.0.1:{ports[server]}" for server in SERVERS}
        peer = procs.start(
            [str(PEER_VENV / "bin" / "gunicorn"), "--workers", str(PROCESSES),
             "--bind", f"127.0.0.1:{ports['snappass']}", "snappass.main:app"],
            env={"REDIS_URL": redis_url, "NO_SSL": "True"},
            name="snappass",
        )  # fmt: skip
        # Rate limits off (app_env), as in bench.run: snappass has none.
        app = procs.start(
            [sys.executable, "-m", "bot.cli", "serve", "--workers", str(PROCESSES)],
            env=app_env("redis", redis_url, ports["oncelink"], sink),
            name="oncelink",
        )
        pids = {"snappass": peer.pid, "oncelink": app.pid}
        for server in SERVERS:
            wait_port(ports[server])
        time.sleep(1.5)
        check_peer_reveal(urls["snappass"], seed_peer(python, redis_url, 1)[0])
        pages = {server: page_path(server, python, redis_url) for server in SERVERS}
        for server in SERVERS:
            warm_up(urls[server], pages[server], workdir)

        for n in range(1, ROUNDS + 1):
            for path in PATHS:
                pair: dict = {"first": server_order(n)[0]}
                for server in server_order(n):
                    if path == "reveal POST":
                        lines = reveal_lines(server, python, redis_url, fastest[server] * DURATION)
                    else:
                        lines = [line("GET", pages[server])]
                    for pid in pids.values():  # the other's leftovers would share the CPU
                        wait_idle(pid)
                    figures = wrk(urls[server] + "/", lines, workdir, CONNECTIONS, THREADS)
                    if path == "reveal POST":
                        if figures["requests"] > len(lines):
                            print(f"  ({server}: more requests than the {len(lines)} secrets)")
                        fastest[server] = max(fastest[server], int(2 * figures["rps"]))
                    figures["good_rps"] = good_rps(figures)
                    pair[server] = figures
                    print(
                        f"round {n} {path:<12} {server:<9} {figures['good_rps']:>8.0f} good/s  "
                        f"p50 {figures['p50_ms']:.2f} ms  p99 {figures['p99_ms']:.2f} ms  "
                        f"errors {figures['errors']}",
                        flush=True,
                    )
                o, s = pair["oncelink"], pair["snappass"]
                pair["ratio"] = round(o["good_rps"] / s["good_rps"], 3) if s["good_rps"] else 0.0
                pair["counted"] = o["errors"] == 0 and s["errors"] == 0
                rounds[path].append(pair)
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = report(rounds, versions, date)
    print("\n" + text)
    write_report("bench.peer", text)
    out = HERE / "results" / "peer.json"
    out.parent.mkdir(exist_ok=True)
    summary = {
        "date": date,
        "duration_s": DURATION,
        "processes": PROCESSES,
        "wrk": f"-t{THREADS} -c{CONNECTIONS}",
        "peer_versions": versions,
        "rounds": rounds,
        "ratio": {
            path: dict(zip(("median", "min", "max"), spread, strict=True)) if spread else None
            for path, runs in rounds.items()
            for spread in [median_ratio(runs)]
        },
    }
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwritten to {REPORT} and {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
