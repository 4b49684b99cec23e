"""Worker processes' capacity reports, per kind.

The Protocol every back end implements (``queue_config.stores.redis``, ``queue_config.stores.memory``)
and what it takes and gives.
"""

from __future__ import annotations

from typing import Protocol

from queue_config.planning.capacity import CapacityReport


class CapacityBoard(Protocol):
    """Worker processes' capacity reports, per kind."""

    async def publish(self, worker_id: str, reports: dict[str, CapacityReport]) -> None: ...

    async def fresh(self, kind: str, now: float) -> list[CapacityReport]: ...
