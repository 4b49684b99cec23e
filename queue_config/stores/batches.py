"""Enterprises' batches, their Idempotency-Keys and their callbacks.

The Protocol every back end implements (``queue_config.stores.redis``, ``queue_config.stores.memory``)
and what it takes and gives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from queue_config.kinds import Status


def batch_state(accepted: bool, counts: Mapping[str, int]) -> str:
    """SPEC's batch ``state``: ``accepted`` while any item is open, then ``done`` when every item is
    done, or ``done_with_failures``; ``accepting`` only while its intake is still under way."""
    if not accepted:
        return "accepting"
    if any(status not in (Status.DONE, Status.FAILED) for status in counts):
        return "accepted"
    return "done_with_failures" if counts.get(Status.FAILED, 0) else "done"


class BatchStore(Protocol):
    """Enterprises' batches, their Idempotency-Keys and their callbacks."""

    async def open(self, batch_id: str, *, enterprise_id: str, total: int, callback_url: str | None) -> bool:
        """Start a batch record; False if it already exists (a retried request resuming it)."""

    async def accepted(
        self, batch_id: str, *, tickets: list[str | None], created: int, response: bytes
    ) -> None:
        """Record the batch's tickets in item order and the answer its client got (kept for retries
        with the same Idempotency-Key), then mark it accepted."""

    async def find_key(self, scope: str, key_digest: str) -> tuple[str, str] | None:
        """The (batch ID, body digest) an enterprise's Idempotency-Key was first used for."""

    async def keep_key(
        self, scope: str, key_digest: str, batch_id: str, body_digest: str, *, ttl_seconds: int
    ) -> bool:
        """Remember the batch of an Idempotency-Key; False when another request's is kept already."""

    async def response(self, batch_id: str) -> bytes | None: ...

    async def meta(self, batch_id: str) -> dict[str, str] | None: ...

    async def status_document(
        self, batch_id: str, meta: dict[str, str], shown: Callable[[Status], Status]
    ) -> dict[str, Any]:
        """SPEC's batch status: counts per status and the failed items, read from the tickets.
        ``shown`` maps a stored status to what clients see (queued tickets are ``held`` in maintenance)."""

    async def claim_callbacks(self, lease_seconds: float, limit: int = 10) -> list[str]: ...

    async def callback_delivered(self, batch_id: str) -> None: ...

    async def forget_callback(self, batch_id: str) -> None: ...

    async def callback_later(self, batch_id: str, *, at: float, attempts: int, error: str) -> None: ...

    async def callback_abandoned(self, batch_id: str, error: str) -> None: ...
