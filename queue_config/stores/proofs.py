"""Spent proof-of-work solutions (``frontdoor.defense.proof_of_work``): each is good once, on any door.

The Protocol every back end implements (``queue_config.stores.redis``, ``queue_config.stores.memory``).
"""

from __future__ import annotations

from typing import Protocol


class SpentProofs(Protocol):
    async def spend(self, proof_id: str, ttl_seconds: int) -> bool:
        """Mark the solution spent; False when it was spent before (a replay)."""
