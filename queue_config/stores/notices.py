"""Change notices between processes. Notices are hints: a reader that misses one (a reconnect) finds
the change at its next periodic read.

The Protocol every back end implements (``queue_config.stores.redis``, ``queue_config.stores.memory``)
and what it takes and gives.
"""

from __future__ import annotations

import contextlib
from typing import Protocol


class Subscription(Protocol):
    async def next(self, timeout: float) -> str | None:
        """The next notice's text, or None when none came within ``timeout`` seconds."""


class Notices(Protocol):
    """Change notices between processes (hints: a missed one is found at the next periodic read)."""

    def ticket_changes(self) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Notices carrying the ID of a ticket whose status changed."""

    def throttle_changes(self) -> contextlib.AbstractAsyncContextManager[Subscription]: ...
