"""Child processes: `oncelink serve` as it runs in production, and snippets in a fresh
interpreter for process-wide settings a test must not change in its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.ports import free_port


class ServerProcess:
    """`oncelink serve` as a real child process, its logs captured to a file."""

    def __init__(
        self, env: dict[str, str], log_path: Path, *args: str, cwd: Path | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PUBLIC_URL": self.url,
            **env,
        }
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", *args],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def logs(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text("utf-8", errors="replace")

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for the process to exit by itself (after a signal sent by the test)."""
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code

    def stop(self, sig: int = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._log.closed:
            self._log.close()
        return self.process.returncode


def run_in_child(script: str) -> str:
    """Run `script` in a fresh interpreter; its stdout, after asserting it exited cleanly."""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
