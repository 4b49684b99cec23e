"""The ticket store in process memory: the same transitions as the Redis scripts
(``queue_config/stores/redis/lua/ticket_*.lua``), for unit tests. Each method runs without awaiting in
between, which is what makes it atomic on one event loop, as a script is on one Redis."""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from queue_config.kinds import Status
from queue_config.planning import lateness
from queue_config.stores.memory.batches import MemoryBatchStore
from queue_config.stores.tickets import (
    RATE_BUCKET_SECONDS,
    Attempt,
    Commit,
    NewTicket,
    Reservation,
    TicketRecord,
)

_FINAL = (Status.DONE, Status.FAILED)


class MemoryTicketStore:
    def __init__(
        self,
        batches: MemoryBatchStore,
        announce: Callable[[str], None] = lambda _: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._batches = batches
        self._announce_to = announce
        self._clock = clock
        self.records: dict[str, dict[str, Any]] = {}
        self._idempotency: dict[tuple[str, str], tuple[str, str]] = {}  # -> (ticket, body digest)
        self._dedupe: dict[tuple[str, str], str] = {}
        self._enqueued: Counter[str] = Counter()
        self._finished: Counter[str] = Counter()
        self._finished_buckets: Counter[tuple[str, int]] = Counter()
        self._outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        self.lateness: dict[tuple[str, int], Counter[int]] = defaultdict(Counter)
        self._dead: dict[str, dict[str, float]] = defaultdict(dict)
        self._retrying: dict[str, dict[str, float]] = defaultdict(dict)
        self.announced: list[str] = []  # ticket IDs whose change was announced, in order

    def _announce(self, ticket_id: str) -> None:
        self.announced.append(ticket_id)
        self._announce_to(ticket_id)

    # --- front door ------------------------------------------------------------------------------
    async def reserve(self, new: NewTicket) -> tuple[Reservation, str, int | None]:
        return self._reserve(new, self._clock())

    async def reserve_many(
        self, kind: str, scope: str, batch_id: str, tickets: Sequence[NewTicket]
    ) -> list[tuple[Reservation, str, int | None]]:
        now = self._clock()
        return [self._reserve(t, now) for t in tickets]

    def _reserve(self, new: NewTicket, now: float) -> tuple[Reservation, str, int | None]:
        idem = (new.scope, new.idempotency_digest) if new.idempotency_digest else None
        if idem is not None and idem in self._idempotency:
            ticket_id, digest = self._idempotency[idem]
            if digest != new.body_digest:
                return Reservation.CONFLICT, ticket_id, None
            if ticket_id in self.records:
                return Reservation.EXISTING, ticket_id, None
        prior = self._dedupe.get((new.scope, new.body_digest))
        if prior is not None and prior in self.records and self.records[prior]["status"] not in _FINAL:
            if idem is not None:
                self._idempotency[idem] = (prior, new.body_digest)
            return Reservation.DUPLICATE, prior, None
        record: dict[str, Any] = {
            "status": Status.ACCEPTING,
            "kind": new.kind,
            "citizen": new.masked_client,
            "owner": new.scope,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        seq = None
        if not new.scheduled:
            self._enqueued[new.kind] += 1
            seq = record["seq"] = self._enqueued[new.kind]
        if new.batch_id:
            record["batch"] = new.batch_id
        self.records[new.ticket_id] = record
        self._dedupe[(new.scope, new.body_digest)] = new.ticket_id
        if idem is not None:
            self._idempotency[idem] = (new.ticket_id, new.body_digest)
        return Reservation.CREATED, new.ticket_id, seq

    async def commit(
        self,
        ticket_id: str,
        kind: str,
        promised_by: float | None = None,
        *,
        promise_model: float | None = None,
        scheduled_for: float | None = None,
    ) -> None:
        self._commit(kind, Commit(ticket_id, promised_by, promise_model, scheduled_for), self._clock())

    async def commit_many(self, kind: str, tickets: Sequence[Commit]) -> None:
        now = self._clock()
        for commit in tickets:
            self._commit(kind, commit, now)

    def _commit(self, kind: str, c: Commit, now: float) -> None:
        record = self.records.get(c.ticket_id)
        if record is None:
            return
        if record["status"] is Status.ACCEPTING:
            if c.scheduled_for is not None:
                record.update(status=Status.SCHEDULED, scheduled_for=c.scheduled_for, updated_at=now)
            else:
                record.update(status=Status.QUEUED, updated_at=now)
        if c.promised_by is None:
            return
        if record["status"] in _FINAL:
            # A worker finished it before its front door committed: the promise is scored now.
            finished = record["updated_at"]
            self._outcomes[kind]["hit" if finished <= c.promised_by else "miss"] += 1
            self._score(kind, now, finished - now, c.promise_model)
        else:
            record["promised_by"] = c.promised_by
            if c.promise_model is not None:
                record.update(promised_at=now, promise_model=c.promise_model)

    def _score(self, kind: str, now: float, took: float, unit: float | None) -> None:
        if not unit or unit <= 0:
            return
        b = math.ceil(math.log(max(took, 0.001) / unit) / math.log(lateness.STEP))
        self.lateness[(kind, int(now // RATE_BUCKET_SECONDS))][
            max(-lateness.LIMIT, min(lateness.LIMIT, b))
        ] += 1

    async def release(self, ticket_ids: Sequence[str], kind: str) -> None:
        for ticket_id in ticket_ids:
            record = self.records.get(ticket_id)
            if record is not None and record["status"] is Status.SCHEDULED:
                self._enqueued[kind] += 1
                record.update(status=Status.QUEUED, seq=self._enqueued[kind], updated_at=self._clock())
                record.pop("scheduled_for", None)
                self._announce(ticket_id)

    async def replay(self, ticket_id: str, kind: str) -> bool:
        record = self.records.get(ticket_id)
        if record is None or record["status"] is not Status.FAILED:
            return False
        self._enqueued[kind] += 1
        now = self._clock()
        record.update(status=Status.QUEUED, seq=self._enqueued[kind], attempts=0, updated_at=now)
        record["replayed_at"] = now
        for name in ("error", "promised_by", "promised_at", "promise_model", "failures"):
            record.pop(name, None)
        self._dead[kind].pop(ticket_id, None)
        self._announce(ticket_id)
        return True

    async def discard(
        self, ticket_id: str, kind: str, *, scope: str, body_digest: str, idempotency_digest: str | None
    ) -> None:
        record = self.records.get(ticket_id)
        if record is None or record["status"] is not Status.ACCEPTING:
            return
        if "seq" in record:
            self._finished[kind] += 1  # its place in line counts as finished: queued - finished = waiting
        del self.records[ticket_id]
        idem = (scope, idempotency_digest) if idempotency_digest else None
        if idem is not None and self._idempotency.get(idem, ("",))[0] == ticket_id:
            del self._idempotency[idem]
        if self._dedupe.get((scope, body_digest)) == ticket_id:
            del self._dedupe[(scope, body_digest)]

    # --- everyone -------------------------------------------------------------------------------
    async def eta_outcomes(self, kind: str) -> tuple[int, int]:
        return self._outcomes[kind]["hit"], self._outcomes[kind]["miss"]

    async def get(self, ticket_id: str) -> TicketRecord | None:
        record = self.records.get(ticket_id)
        if record is None:
            return None
        return TicketRecord(
            ticket_id=ticket_id,
            kind=record["kind"],
            status=record["status"],
            attempts=record["attempts"],
            seq=record.get("seq"),
            created_at=record["created_at"],
            updated_at=record["updated_at"],
            result=record.get("result"),
            error=record.get("error"),
            batch=record.get("batch"),
            scheduled_for=record.get("scheduled_for"),
            owner=record.get("owner"),
            citizen=record.get("citizen"),
            promised_by=record.get("promised_by"),
        )

    async def statuses(self, ticket_ids: Sequence[str]) -> list[Status | None]:
        return [self.records[t]["status"] if t in self.records else None for t in ticket_ids]

    async def dead_letters(self, kind: str, limit: int) -> tuple[int, list[tuple[str, float]]]:
        newest = sorted(self._dead[kind].items(), key=lambda row: (-row[1], row[0]))
        return len(newest), newest[:limit]

    async def failed_at(self, kind: str, ticket_id: str) -> float | None:
        return self._dead[kind].get(ticket_id)

    async def finishes(self, kind: str, buckets: Sequence[int]) -> tuple[int, int, int]:
        return (
            self._enqueued[kind],
            self._finished[kind],
            sum(self._finished_buckets[(kind, b)] for b in buckets),
        )

    # --- workers --------------------------------------------------------------------------------
    async def begin_attempt(
        self, ticket_id: str, *, kind: str, created_at: float, masked_client: str
    ) -> Attempt:
        now = self._clock()
        record = self.records.get(ticket_id)
        if record is None:
            # The record is gone (Redis restored from an older state): rebuilt from the message.
            record = self.records[ticket_id] = {
                "kind": kind,
                "created_at": created_at,
                "citizen": masked_client,
                "attempts": 0,
                "status": Status.QUEUED,
                "updated_at": now,
            }
        failures = record.get("failures", 0)
        if record["status"] in _FINAL:
            return Attempt(record["status"], record["attempts"], failures)
        record["attempts"] += 1
        record.update(status=Status.PROCESSING, updated_at=now)
        self._retrying[kind].pop(ticket_id, None)
        record.pop("parcel", None)
        record.pop("swept", None)
        self._announce(ticket_id)
        return Attempt(Status.PROCESSING, record["attempts"], failures)

    async def mark_retrying(
        self, ticket_id: str, kind: str, error: Any, *, due: float, message: bytes
    ) -> None:
        record = self.records.get(ticket_id)
        if record is None or record["status"] in _FINAL:
            return
        record.update(status=Status.RETRYING, updated_at=self._clock(), error=error, parcel=message)
        record.pop("swept", None)
        record["failures"] = record.get("failures", 0) + 1
        self._retrying[kind][ticket_id] = due
        self._announce(ticket_id)

    async def sweep_retries(self, kind: str, *, limit: int, rearm_seconds: float) -> list[tuple[str, bytes]]:
        now = self._clock()
        index = self._retrying[kind]
        due = sorted((at, t) for t, at in index.items() if at <= now)[:limit]
        out = []
        for _, ticket_id in due:
            record = self.records.get(ticket_id)
            if record is None or record["status"] is not Status.RETRYING or "parcel" not in record:
                del index[ticket_id]
                continue
            swept = record.get("swept", 0)
            record["swept"] = swept + 1
            index[ticket_id] = now + rearm_seconds * 2 ** min(swept, 6)
            out.append((ticket_id, record["parcel"]))
        return out

    async def finish(
        self,
        ticket_id: str,
        kind: str,
        *,
        result: Any = None,
        error: Any = None,
        batch_id: str | None = None,
    ) -> bool:
        record = self.records.get(ticket_id)
        if record is None:
            return False
        if record["status"] in _FINAL:
            return False
        now = self._clock()
        if "promised_by" in record:
            self._outcomes[kind]["hit" if now <= record["promised_by"] else "miss"] += 1
            if "promised_at" in record:
                self._score(kind, now, now - record["promised_at"], record.get("promise_model"))
        status = Status.FAILED if error is not None else Status.DONE
        record.update(status=status, updated_at=now)
        if status is Status.DONE:
            record["result"] = result
            record.pop("error", None)
        else:
            record["error"] = error
            self._dead[kind][ticket_id] = now
        record.pop("parcel", None)
        record.pop("swept", None)
        self._retrying[kind].pop(ticket_id, None)
        self._finished[kind] += 1
        self._finished_buckets[(kind, int(now // RATE_BUCKET_SECONDS))] += 1
        if batch_id:
            self._batches.ticket_finished(batch_id, ticket_id, now)
        self._announce(ticket_id)
        return True
