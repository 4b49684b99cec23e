"""Free local ports for the harnesses' private systems."""

from __future__ import annotations

import random
import socket


def free_port_block(count: int, low: int = 20_000, high: int = 40_000) -> int:
    """The first of ``count`` consecutive ports on 127.0.0.1 that are free now (a Layout's port_base)."""
    for _ in range(200):
        base = random.randrange(low, high - count)
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no block of free ports found")
