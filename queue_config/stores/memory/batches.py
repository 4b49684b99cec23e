"""Batches in process memory, mirroring ``queue_config.stores.redis.batches`` for unit tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from queue_config.kinds import Status
from queue_config.stores.batches import batch_state


class MemoryBatchStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._meta: dict[str, dict[str, str]] = {}
        self._tickets: dict[str, list[str | None]] = {}
        self._responses: dict[str, bytes] = {}
        self._finished: dict[str, set[str]] = {}
        self._keys: dict[tuple[str, str], tuple[str, str]] = {}
        self.callbacks_due: dict[str, float] = {}
        # The ticket store's records, which a batch's status is read from (set by ``memory_stores``).
        self.records: Mapping[str, Mapping[str, Any]] = {}

    async def open(self, batch_id: str, *, enterprise_id: str, total: int, callback_url: str | None) -> bool:
        if batch_id in self._meta:
            return False
        self._meta[batch_id] = {
            "enterprise_id": enterprise_id,
            "state": "accepting",
            "total": str(total),
            "callback_url": callback_url or "",
            "created_at": str(self._clock()),
        }
        return True

    async def accepted(
        self, batch_id: str, *, tickets: list[str | None], created: int, response: bytes
    ) -> None:
        self._tickets[batch_id] = list(tickets)
        self._responses[batch_id] = response
        meta = self._meta.setdefault(batch_id, {})
        meta.update(state="accepted", created=str(created), accepted=str(sum(1 for t in tickets if t)))
        self._book_callback(batch_id, self._clock())

    def ticket_finished(self, batch_id: str, ticket_id: str, now: float) -> None:
        """What the ticket store's FINISH does for a batch: its last ticket books the callback."""
        self._finished.setdefault(batch_id, set()).add(ticket_id)
        if self._meta.get(batch_id, {}).get("state") == "accepted":
            self._book_callback(batch_id, now)

    def _book_callback(self, batch_id: str, now: float) -> None:
        meta = self._meta[batch_id]
        done = len(self._finished.get(batch_id, ())) >= int(meta.get("created", "0"))
        if meta.get("callback_url") and "callback_delivered_at" not in meta and done:
            self.callbacks_due.setdefault(batch_id, now)

    async def find_key(self, scope: str, key_digest: str) -> tuple[str, str] | None:
        return self._keys.get((scope, key_digest))

    async def keep_key(
        self, scope: str, key_digest: str, batch_id: str, body_digest: str, *, ttl_seconds: int
    ) -> bool:
        return self._keys.setdefault((scope, key_digest), (batch_id, body_digest)) == (batch_id, body_digest)

    async def response(self, batch_id: str) -> bytes | None:
        return self._responses.get(batch_id)

    async def meta(self, batch_id: str) -> dict[str, str] | None:
        meta = self._meta.get(batch_id)
        return dict(meta) if meta else None

    async def status_document(
        self, batch_id: str, meta: dict[str, str], shown: Callable[[Status], Status]
    ) -> dict[str, Any]:
        tickets = self._tickets.get(batch_id, [])
        counts: dict[str, int] = {}
        failed: list[dict[str, Any]] = []
        live = [(i, t) for i, t in enumerate(tickets) if t]
        for index, ticket_id in live:
            record = self.records.get(ticket_id)
            name = shown(record["status"]).value if record else "unknown"
            counts[name] = counts.get(name, 0) + 1
            if name == Status.FAILED.value and record is not None:
                failed.append({"index": index, "ticket_id": ticket_id, "error": record.get("error")})
        total = int(meta.get("total", len(tickets)))
        accepted = meta.get("state") == "accepted"
        return {
            "batch_id": batch_id,
            "total": total,
            "accepted": len(live),
            "rejected": total - len(live) if accepted else 0,
            "state": batch_state(accepted, counts),
            "counts": counts,
            "failed": failed,
        }

    async def claim_callbacks(self, lease_seconds: float, limit: int = 10) -> list[str]:
        now = self._clock()
        due = sorted((at, b) for b, at in self.callbacks_due.items() if at <= now)[:limit]
        for _, batch_id in due:
            self.callbacks_due[batch_id] = now + lease_seconds
        return [b for _, b in due]

    async def callback_delivered(self, batch_id: str) -> None:
        self._meta[batch_id]["callback_delivered_at"] = str(self._clock())
        self.callbacks_due.pop(batch_id, None)

    async def forget_callback(self, batch_id: str) -> None:
        self.callbacks_due.pop(batch_id, None)

    async def callback_later(self, batch_id: str, *, at: float, attempts: int, error: str) -> None:
        self._meta[batch_id].update(callback_attempts=str(attempts), callback_error=error[:300])
        self.callbacks_due[batch_id] = at

    async def callback_abandoned(self, batch_id: str, error: str) -> None:
        self._meta[batch_id].update(callback_abandoned_at=str(self._clock()), callback_error=error[:300])
        self.callbacks_due.pop(batch_id, None)
