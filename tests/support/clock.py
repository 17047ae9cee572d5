"""A clock a test moves by hand, for the app's `clock=` and SecretService's: expiry and rate
windows are then decided by the test, not by how fast a busy machine runs it."""

from __future__ import annotations

import time


class FakeClock:
    """Starts at the real time (Redis keys and signed requests still look fresh) and moves
    only when told; called like `time.time`. Left alone it is stopped: every rate count
    lands in one window, so a test crossing a minute boundary cannot get a fresh limit."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
