"""The throttle document, one for every process.

The Protocol every back end implements (``queue_config.stores.redis``, ``queue_config.stores.memory``)
and what it takes and gives.
"""

from __future__ import annotations

from typing import Protocol

from queue_config.planning.throttle import Throttle


class ThrottleStore(Protocol):
    """The throttle document, one for every process."""

    defaults: Throttle

    async def get(self) -> Throttle: ...

    async def put(self, throttle: Throttle) -> None: ...
