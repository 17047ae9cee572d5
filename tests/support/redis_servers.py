"""Private redis-servers on free ports: one a test may kill -9 and restart, a 3-master
cluster, and a primary with a replica watched by a sentinel. Nothing here skips: a missing
redis-server fails the run."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.ports import cluster_port, free_port


class RedisServer:
    """A private redis-server that a test may kill -9 and start again on the same port."""

    def __init__(self, workdir: Path, *extra: str, port: int | None = None) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        self.port = port or free_port()
        self.workdir = workdir
        self.extra = extra
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            *self.extra,
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process:
            self.process.kill()
            self.process.wait()
            self.process = None

    def command(self, *args: str) -> str:
        return subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, check=True
        ).stdout


class RedisClusterNodes:
    """Three masters with cluster mode on, joined with `redis-cli --cluster create`."""

    def __init__(self, workdir: Path) -> None:
        self.nodes: list[RedisServer] = []
        for n in range(3):
            folder = workdir / f"node{n}"
            folder.mkdir()
            cluster_args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
            self.nodes.append(RedisServer(folder, *cluster_args, port=cluster_port()))

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        subprocess.run(
            ["redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{node.port}" for node in self.nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while "cluster_state:ok" not in self.nodes[0].command("CLUSTER", "INFO"):
            if time.monotonic() > deadline:
                raise RuntimeError("cluster did not become ready")
            time.sleep(0.1)

    def flush(self) -> None:
        for node in self.nodes:
            node.command("FLUSHALL")

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()


class RedisSentinelSetup:
    """A primary, one replica and one sentinel watching them as `oncelink`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        (workdir / "primary").mkdir()
        (workdir / "replica").mkdir()
        self.primary = RedisServer(workdir / "primary")
        self.replica = RedisServer(
            workdir / "replica", "--replicaof", "127.0.0.1", str(self.primary.port)
        )
        self.sentinel_port = free_port()
        self.sentinel: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/oncelink"

    def start(self) -> None:
        self.primary.start()
        self.replica.start()
        config = self.workdir / "sentinel.conf"
        config.write_text(
            f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor oncelink 127.0.0.1 {self.primary.port} 1\n"
            "sentinel down-after-milliseconds oncelink 1000\n"
            "sentinel failover-timeout oncelink 5000\n"
        )
        self.sentinel = subprocess.Popen(
            ["redis-server", str(config), "--sentinel"], stdout=subprocess.DEVNULL
        )
        # A sentinel learns of replicas from the primary's INFO, which it asks every 10 s.
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:  # ready once the sentinel knows the replica
            try:
                out = subprocess.run(
                    ["redis-cli", "-p", str(self.sentinel_port), "SENTINEL", "replicas",
                     "oncelink"], capture_output=True, text=True, timeout=2,
                ).stdout  # fmt: skip
                replication = self.primary.command("INFO", "replication")
                if str(self.replica.port) in out and "state=online" in replication:
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.2)
        raise RuntimeError("sentinel did not see the replica")

    def primary_port(self) -> int:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.sentinel_port), "SENTINEL",
             "get-master-addr-by-name", "oncelink"], capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        return int(out[1]) if len(out) > 1 else 0

    def kill(self) -> None:
        if self.sentinel:
            self.sentinel.kill()
            self.sentinel.wait()
        self.primary.kill()
        self.replica.kill()
