"""Prometheus text-format metrics, kept in process memory.

Counters of what happened and request latency per route pattern; never an id, a user or
anything secret in a label. Served only when METRICS says so (see bot/app.py).
"""

from __future__ import annotations

import bisect
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

COUNTERS = {
    "oncelink_secrets_created_total": "Secrets created.",
    "oncelink_secrets_revealed_total": "Secrets revealed (each at most once).",
    "oncelink_secrets_burned_total": "Secrets burned by their creator.",
    "oncelink_secrets_expired_total": "Expired secrets purged (SQLite; Redis expires keys itself).",
    "oncelink_secrets_expired_unread_total": "Tracked secrets that expired unread (receipts).",
    "oncelink_passphrase_failures_total": "Wrong passphrase attempts that left tries.",
    "oncelink_broken_links_total": "Reveal attempts with a link that does not match.",
    "oncelink_rate_limited_total": "Requests refused by a rate limit.",
    "oncelink_slack_api_errors_total": "Slack API or response_url calls that failed after retries.",
}


class Metrics:
    def __init__(self) -> None:
        self._counters: dict[tuple[str, str], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)

    def inc(self, name: str, kind: str = "", amount: int = 1) -> None:
        self._counters[(name, kind)] += amount

    def observe(self, route: str, seconds: float) -> None:
        counts = self._buckets.setdefault(route, [0] * len(BUCKETS))
        index = bisect.bisect_left(BUCKETS, seconds)
        if index < len(BUCKETS):
            counts[index] += 1
        self._sums[route] += seconds
        self._counts[route] += 1

    def render(self) -> str:
        lines: list[str] = []
        for name, help_text in COUNTERS.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
            kinds = sorted(kind for (counter, kind) in self._counters if counter == name)
            for kind in kinds or [""]:
                label = f'{{kind="{kind}"}}' if kind else ""
                lines.append(f"{name}{label} {self._counters.get((name, kind), 0)}")
        name = "oncelink_request_duration_seconds"
        lines += [f"# HELP {name} Request latency by route.", f"# TYPE {name} histogram"]
        for route in sorted(self._buckets):
            running = 0
            for bound, count in zip(BUCKETS, self._buckets[route], strict=True):
                running += count
                lines.append(f'{name}_bucket{{route="{route}",le="{bound}"}} {running}')
            lines.append(f'{name}_bucket{{route="{route}",le="+Inf"}} {self._counts[route]}')
            lines.append(f'{name}_sum{{route="{route}"}} {self._sums[route]:.6f}')
            lines.append(f'{name}_count{{route="{route}"}} {self._counts[route]}')
        return "\n".join(lines) + "\n"
