"""The operator audit log: every change an operator makes, newest first.

The Protocol every back end implements (``queue_config.stores.redis``, ``queue_config.stores.memory``)
and what it takes and gives.
"""

from __future__ import annotations

from typing import Any, Protocol

KEPT = 1000


class AuditLog(Protocol):
    """The operator audit log."""

    async def record(
        self, *, token: str, action: str, before: Any, after: Any, throttle_changed: bool = False
    ) -> None:
        """Keep one entry (``token`` is the operator token's fingerprint, never the token); with
        ``throttle_changed`` also announce the change to every process, in the same transaction, so no
        reader sees the notice without the entry."""

    async def entries(self) -> list[dict[str, Any]]:
        """Entries as recorded, ``at`` in unix seconds."""
