"""Free loopback ports for the servers tests start."""

from __future__ import annotations

import random
import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too, outside the ephemeral range
    that free_port() draws from, so neither can collide with another test's server."""
    while True:
        port = random.randint(20000, 29999)
        if port_is_free(port) and port_is_free(port + 10000):
            return port
