"""What the admission controller keeps: its lease, the plan it writes every second (and a copy kept for
a week), the forecasters' state, the outlook and bulk calendar, and the counters it reads.

The Protocol every back end implements (``queue_config.stores.redis``, ``queue_config.stores.memory``)
and what it takes and gives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol


class ControlStore(Protocol):
    """What the admission controller keeps: its lease, the plan, forecasters' state, the outlook."""

    async def hold_lease(self, identity: str, ms: int) -> bool:
        """Take or renew the one controller lease; False while another identity holds it."""

    async def write_plan(self, encoded: bytes, *, ttl_ms: int, kept_seconds: int) -> None: ...

    async def last_plan(self) -> bytes | None:
        """The current plan, else the copy kept after it expired."""

    async def plan_and_throttle(self) -> tuple[bytes | None, bytes | None]:
        """The current admission plan and throttle document, as stored, in one round trip."""

    async def forecast_state(self, kind: str) -> Any: ...

    async def save_forecast_state(self, kind: str, state: Any, *, ttl_seconds: int) -> None: ...

    async def lateness(self, kind: str, slots: Sequence[int]) -> Counter[int]:
        """The lateness buckets (``queue_config.planning.lateness``) of ``slots``, added up."""

    async def unfinished(self, kind: str) -> int:
        """Tickets queued and not yet finished, from the ticket store's counters."""

    async def write_outlook(
        self, kind: str, *, outlook: dict[str, Any], calendar: dict[str, Any], ttl_seconds: int
    ) -> None: ...

    async def outlooks(self, kinds: Sequence[str]) -> list[dict[str, Any] | None]: ...
