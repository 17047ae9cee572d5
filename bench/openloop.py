"""oncelink's latency at fixed arrival rates (open loop), against the issue's targets.

wrk's closed loop at saturation only measures queueing (p99 = connections / throughput), so
it cannot say whether a `/secret` ack comes back in 50 ms when 200 a second arrive. This
sends the `/secret` command and the reveal POST (a distinct waiting secret each time) at
fixed rates with bench/arrivals.py, in its own process, and counts each request's latency
from when it was due. Everything else is bench.run's: a private redis-server, the Slack
sink, the app as `oncelink serve --workers N` on Redis, the report between its markers in
docs/benchmarks.md, plus bench/results/openloop.json.

    python -m bench.openloop     (BENCH_SECONDS, OPENLOOP_RATES="50,200,500,1000")
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.arrivals import from_wrk_line, raw_request
from bench.run import (
    DURATION,
    HERE,
    REPORT,
    Processes,
    app_env,
    app_stack,
    free_port,
    hook_posts,
    seed,
    slack_command_lines,
    start_redis_and_sink,
    this_machine,
    wait_for_hook_posts,
    wait_idle,
    wait_port,
    write_report,
)

RATES = [int(r) for r in os.environ.get("OPENLOOP_RATES", "50,200,500,1000").split(",")]
WARMUP_SECONDS = 1  # at the same rate, before the counted requests, on the same connections
PATHS = ("/secret ack", "reveal POST")
# The issue's targets, on one process: (path, rate, p99 ms).
TARGETS = [("/secret ack", 200, 50.0), ("reveal POST", 1000, 10.0)]
# Slack's signature holds for five minutes, and each rate's requests are signed before its
# first is sent: a longer run would send its last commands with stale signatures (401s).
LONGEST_SECONDS = 240


def requests_for(path: str, host: str, count: int, sink: str, redis_url: str) -> list[bytes]:
    """`count` requests of `path`, built just before they are sent (Slack's signature
    holds for five minutes); each reveal is of its own freshly stored secret."""
    if path == "/secret ack":
        return [from_wrk_line(row, host) for row in slack_command_lines(sink, count)]
    ctype = [("Content-Type", "application/json")]
    return [
        raw_request("POST", f"/s/{record.secret_id}", host, body.encode(), ctype)
        for record, body in seed("redis", redis_url, count, creator="cli")
    ]


def drive(port: int, requests: list[bytes], rate: int, warmup: int, workdir: Path) -> dict:
    """bench.arrivals in its own process (it is partly CPU-bound: the app's process should
    not share an interpreter with it)."""
    listing = workdir / "openloop.txt"
    listing.write_bytes(b"\n".join(base64.b64encode(r) for r in requests) + b"\n")
    output = subprocess.run(
        [sys.executable, "-m", "bench.arrivals", "--port", str(port), "--rate", str(rate),
         "--warmup", str(warmup), "--requests", str(listing)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(output)


def measure(path: str, processes: int, rate: int, port: int, sink: str, redis_url: str,
            workdir: Path) -> dict:  # fmt: skip
    warmup = rate * WARMUP_SECONDS
    total = warmup + rate * DURATION
    requests = requests_for(path, f"127.0.0.1:{port}", total, sink, redis_url)
    before = hook_posts(sink)
    figures = drive(port, requests, rate, warmup, workdir)
    # The 1-minute load average after the run: the cores are shared, and a busy neighbour
    # shows in the send lag and the tail.
    row = {"path": path, "processes": processes, "rate": rate, **figures,
           "load_avg": round(os.getloadavg()[0], 1)}  # fmt: skip
    if path == "/secret ack":
        # The link is delivered after the ack: did the deliveries keep up with the acks?
        delivered = hook_posts(sink) - before
        stopped = time.monotonic()
        acked = total - figures["errors"]  # the warm-up's acks too: all were delivered
        wait_for_hook_posts(sink, before, acked, timeout=120)
        row["delivered_in_run"] = round(min(1.0, delivered / acked), 3) if acked else None
        row["backlog_s"] = round(time.monotonic() - stopped, 1)
    return row


def ms(value: float) -> str:
    """A latency for the report: a row with a request that got no 2xx answer has an
    infinite one in its percentiles."""
    return "∞" if math.isinf(value) else f"{value:.2f}"


def verdicts(rows: list[dict]) -> list[str]:
    lines = []
    for path, rate, limit in TARGETS:
        found = [r for r in rows if (r["path"], r["processes"], r["rate"]) == (path, 1, rate)]
        if not found:
            lines.append(f"- {path} p99 < {limit:g} ms at {rate}/s, one process: not measured.")
            continue
        row = found[0]
        met = row["p99_ms"] < limit and row["errors"] == 0
        lines.append(
            f"- {path} p99 < {limit:g} ms at {rate}/s, one process: {ms(row['p99_ms'])} ms, "
            f"{row['errors']} errors. **{'Met' if met else 'Not met'}.**"
            + ("" if met else " " + reason(row, limit))
        )
    return lines


def reason(row: dict, limit: float) -> str:
    """What the row itself shows about a missed target: errors first, then saturation, then
    a late generator, then the app's own tail."""
    if row["errors"]:
        return (
            f"{row['errors']} of {row['requests']} requests got no 2xx answer "
            f"(statuses {row['statuses']}); they count as infinitely slow."
        )
    if row["achieved_rps"] < 0.9 * row["rate"] and row["in_flight_end"] > row["in_flight_half"]:
        return (
            f"The app answered {row['achieved_rps']:.0f}/s and the unanswered requests grew "
            f"from {row['in_flight_half']} to {row['in_flight_end']}: past saturation, the "
            f"queue grew."
        )
    if row["send_lag_max_ms"] > limit:
        return (
            f"The generator itself was up to {row['send_lag_max_ms']:.0f} ms late (load "
            f"average {row['load_avg']}): the cores were busy, not only with the app."
        )
    return (
        f"The app kept up on average; its slowest answers queued behind each other "
        f"({row['connections']} connections open at most)."
    )


def report(rows: list[dict], date: str, machine: str) -> str:
    lines = [
        f"Run of {date} on {machine} (`BENCH_SECONDS={DURATION}` per rate after "
        f"{WARMUP_SECONDS} s of warm-up; {app_stack()}).",
        "",
        "| path | procs | rate /s | achieved /s | in flight at end | p50 ms | p99 ms | max ms "
        "| errors | send lag ms | conns | gen CPU | load avg | links in load | backlog s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        links = (
            f"{r['delivered_in_run']:.0%} | {r['backlog_s']} |"
            if r.get("delivered_in_run") is not None
            else "- | - |"
        )
        lines.append(
            f"| {r['path']} | {r['processes']} | {r['rate']} | {r['achieved_rps']:.0f} | "
            f"{r['in_flight_end']} | {ms(r['p50_ms'])} | {ms(r['p99_ms'])} | {ms(r['max_ms'])} | "
            f"{r['errors']} | "
            f"{r['send_lag_max_ms']:.2f} | {r['connections']} | "
            f"{r['generator_cpu_share']:.0%} | {r['load_avg']} | {links}"
        )
    lines += ["", "Against the targets:", "", *verdicts(rows)]
    return "\n".join(lines)


def main() -> int:
    if shutil.which("redis-server") is None:
        print("bench.openloop: needs redis-server (apt-get install redis-server)")
        return 2
    if DURATION > LONGEST_SECONDS:
        print(
            f"bench.openloop: BENCH_SECONDS={DURATION} is too long: each rate's Slack "
            f"commands are signed before the first is sent, and Slack's signatures hold for "
            f"five minutes. Use at most {LONGEST_SECONDS}."
        )
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="oncelink-openloop-"))
    procs = Processes(workdir)
    rows: list[dict] = []
    try:
        _, redis_url, sink = start_redis_and_sink(procs)
        for processes in (1, 2):
            port = free_port()
            app = procs.start(
                [sys.executable, "-m", "bot.cli", "serve", "--workers", str(processes)],
                env=app_env("redis", redis_url, port, sink),
                name=f"app-{processes}",
            )
            wait_port(port)
            time.sleep(1.5 if processes > 1 else 0.5)
            for path in PATHS:
                for rate in RATES:
                    wait_idle(app.pid)
                    row = measure(path, processes, rate, port, sink, redis_url, workdir)
                    print(
                        f"  {path:<12} x{processes} {rate:>5}/s  achieved "
                        f"{row['achieved_rps']:>6.0f}/s  in flight {row['in_flight_end']}  "
                        f"p50 {ms(row['p50_ms'])} ms  p99 {ms(row['p99_ms'])} ms  "
                        f"max {ms(row['max_ms'])} ms  "
                        f"errors {row['errors']}  send lag {row['send_lag_max_ms']:.2f} ms",
                        flush=True,
                    )
                    rows.append(row)
            procs.stop(app)
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine = this_machine()
    text = report(rows, date, machine)
    print("\n" + text)
    write_report("bench.openloop", text)
    out = HERE / "results" / "openloop.json"
    out.parent.mkdir(exist_ok=True)
    summary = {"date": date, "machine": machine, "duration_s": DURATION, "results": rows}
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwritten to {REPORT} and {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
