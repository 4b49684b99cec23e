"""Waiting for a started process to answer, shared by the benchmark harnesses and the tests."""

from __future__ import annotations

import asyncio
import time

import aiohttp


async def wait_http(http: aiohttp.ClientSession, url: str, timeout: float = 60) -> None:
    """Wait until ``url`` answers 200 (a process started and is ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with http.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} never answered 200")
