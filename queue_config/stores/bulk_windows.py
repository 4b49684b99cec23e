"""Bulk bookings per window, the calendar of windows, and the window queues waiting to open.

The Protocol every back end implements (``queue_config.stores.redis``, ``queue_config.stores.memory``)
and what it takes and gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class BulkWindowStore(Protocol):
    """Bulk bookings per window, the calendar, and window queues waiting to open."""

    async def book(
        self, kind: str, items: int, *, forget_before: int, windows: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Book ``items`` into ``windows`` ((start, budget) in order), each up to its budget less what
        is booked there already; returns (start, count) in booking order. Windows that start before
        ``forget_before`` are forgotten."""

    async def unbook(self, kind: str, counts: Mapping[int, int]) -> None: ...

    async def calendar(self, kind: str) -> dict[str, Any] | None:
        """The outlook's calendar for ``kind``: ``{"at", "window_seconds", "windows": [[start, budget]]}``."""

    async def opening(self, windows: Mapping[str, int]) -> None:
        """Window queues (``"<kind>:<start>"`` -> start) that hold items and must be released."""

    async def due(self, limit: int) -> list[str]: ...

    async def lock(self, member: str, ms: int) -> bool:
        """Only one door releases a window at a time; the lock ends on its own should that door die."""

    async def unlock(self, member: str) -> None: ...

    async def opened(self, member: str) -> None:
        """The window queue is gone: nothing is left to release."""
