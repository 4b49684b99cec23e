"""Process-level runtime choices shared by every entry point."""

from __future__ import annotations

import asyncio


def install_event_loop() -> None:
    """uvloop where it exists (the design card's choice: faster I/O on the hot path)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
