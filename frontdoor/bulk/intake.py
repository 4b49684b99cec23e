"""Accepting an enterprise's batch: quota, booking, one pipelined reservation, bundles of items
published with confirms in flight together, one pipelined commit.

The guarantees are the single submission's (``frontdoor.intake.acceptance``), item by item: a ticket
ID is in the answer only once its message is confirmed by RabbitMQ (in a bundle in its kind's staging
queue, from which workers move it to the work queue, or in the queue of the window it is booked into, which
``frontdoor.bulk.window_release`` moves to the staging queue when the window opens) and its record is
committed. Items are reserved with an idempotency digest derived
from the batch's ``Idempotency-Key`` and their index, so a retried batch (after a timeout, a 503, or a
front door that died half-way) finds the same tickets and publishes only what is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from frontdoor.admission.traffic_counter import TrafficCounter
from frontdoor.bulk.booking import Booker
from frontdoor.bulk.items import BatchItem, by_kind, publish_bundles
from frontdoor.intake.validation import Submission
from queue_config import resident_id
from queue_config.broker import BrokerLink
from queue_config.errors import BrokerUnavailable, StoreUnavailable, TicketgateError
from queue_config.key_shards import shard_of_scope
from queue_config.kinds import Status
from queue_config.names import Names
from queue_config.observability import metrics
from queue_config.planning.admission_plan import PlanReader
from queue_config.planning.eta import EtaEstimator
from queue_config.stores import traffic
from queue_config.stores.batches import BatchStore
from queue_config.stores.bulk_windows import BulkWindowStore
from queue_config.stores.enterprises import Enterprise
from queue_config.stores.limiter import Limit, Limiter
from queue_config.stores.tickets import Commit, NewTicket, Reservation, TicketStore
from queue_config.ticket_ids import TicketIds
from queue_config.topology import Topology
from queue_config.web.http import iso_utc

log = structlog.get_logger("bulk_intake")


class BatchConflict(TicketgateError):
    def __init__(self, batch_id: str) -> None:
        super().__init__("idempotency key reused with a different batch")
        self.batch_id = batch_id


class QuotaExceeded(TicketgateError):
    def __init__(self, retry_after_seconds: float) -> None:
        super().__init__("enterprise quota exceeded")
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    created: bool  # 202 for a new batch, 200 for one found by its Idempotency-Key
    body: bytes
    status_url: str


class BulkIntake:
    def __init__(
        self,
        *,
        windows: BulkWindowStore,
        store: TicketStore,
        batches: BatchStore,
        broker: BrokerLink,
        topology: Topology,
        limiter: Limiter,
        booker: Booker,
        plan: PlanReader,
        eta: EtaEstimator,
        counter: TrafficCounter,
        ids: TicketIds,
        public_status_url: str,
        idempotency_ttl: int,
    ) -> None:
        self._windows = windows
        self._store = store
        self._batches = batches
        self._broker = broker
        self._topology = topology
        self._names: Names = topology.names
        self._limiter = limiter
        self._booker = booker
        self._plan = plan
        self._eta = eta
        self._counter = counter
        self._ids = ids
        self._status_base = public_status_url.rstrip("/")
        self._idem_ttl = idempotency_ttl

    async def accept(
        self,
        enterprise: Enterprise,
        valid: list[tuple[int, Submission]],
        rejected: list[dict[str, Any]],
        *,
        total: int,
        idempotency_key: str | None,
        callback_url: str | None,
    ) -> BatchAnswer:
        if not self._broker.ready:
            raise BrokerUnavailable("RabbitMQ is not connected")
        scope = self._ids.scope("enterprise:" + enterprise.enterprise_id)
        digest = _batch_digest(valid, rejected, callback_url)
        batch_id, resuming = await self._claim_batch(enterprise, scope, idempotency_key, digest, len(valid))
        if resuming:
            stored = await self._batches.response(batch_id)
            if stored is not None:
                return BatchAnswer(False, stored, self.status_url(batch_id))
        structlog.contextvars.bind_contextvars(batch_id=batch_id)
        await self._batches.open(
            batch_id, enterprise_id=enterprise.enterprise_id, total=total, callback_url=callback_url
        )
        items = [BatchItem(index, sub) for index, sub in valid]
        began = time.perf_counter()
        await self._book(items)
        booked = time.perf_counter()
        await self._reserve(items, scope, batch_id, idempotency_key)
        if resuming:
            await self._unbook_repeats(items)
        reserved = time.perf_counter()
        created = await self._publish_and_commit(items, batch_id, scope)
        queued = time.perf_counter()
        for kind, group in by_kind(items).items():
            self._counter.count(kind, traffic.ENTERPRISE_ARRIVALS, len(group))
        runs: dict[tuple[str, str], int] = defaultdict(int)
        for item in items:
            runs[(item.sub.kind, "now" if item.window is None else "later")] += 1
        for (kind, when), n in runs.items():
            metrics.BULK_ITEMS.labels(kind, when).inc(n)
        tickets: list[str | None] = [None] * total
        for item in items:
            tickets[item.index] = item.ticket_id
        body = orjson.dumps(self._answer(batch_id, items, rejected, tickets))
        await self._batches.accepted(batch_id, tickets=tickets, created=created, response=body)
        log.info(
            "batch_accepted",
            items=len(items),
            rejected=len(rejected),
            created=created,
            book_ms=round((booked - began) * 1000),
            reserve_ms=round((reserved - booked) * 1000),
            publish_commit_ms=round((queued - reserved) * 1000),
        )
        return BatchAnswer(True, body, self.status_url(batch_id))

    def status_url(self, batch_id: str) -> str:
        return f"{self._status_base}/v1/batches/{batch_id}"

    async def _claim_batch(
        self, enterprise: Enterprise, scope: str, key: str | None, digest: str, items: int
    ) -> tuple[str, bool]:
        """A new batch ID charged to the enterprise's quota, or the batch this Idempotency-Key named."""
        idem = hashlib.sha256(key.encode()).hexdigest() if key else None
        if idem is not None:
            found = await self._existing(scope, idem, digest)
            if found is not None:
                return found, True
        verdict = await self._limiter.acquire(
            [
                Limit.per_minute(
                    self._names.enterprise_quota(enterprise.enterprise_id), enterprise.quota_per_minute
                )
            ],
            cost=max(1, items),
        )
        if not verdict.allowed:
            raise QuotaExceeded(verdict.retry_after_seconds)
        batch_id = self._ids.mint(shard_of_scope(scope))
        if idem is not None and not await self._batches.keep_key(
            scope, idem, batch_id, digest, ttl_seconds=self._idem_ttl
        ):
            # Another request with this key won the race a moment ago: follow it.
            found = await self._existing(scope, idem, digest)
            if found is not None:
                return found, True
        return batch_id, False

    async def _existing(self, scope: str, idem: str, digest: str) -> str | None:
        kept = await self._batches.find_key(scope, idem)
        if kept is None:
            return None
        batch_id, stored_digest = kept
        if stored_digest != digest:
            raise BatchConflict(batch_id)
        return batch_id

    async def _book(self, items: list[BatchItem]) -> None:
        now = time.time()
        for kind, group in by_kind(items).items():
            allotments = await self._booker.book(kind, len(group), self._plan.kind(kind), now)
            position = 0
            for allotment in allotments:
                for item in group[position : position + allotment.count]:
                    item.window = allotment.window_start
                    item.booked_in = allotment.booked_in
                position += allotment.count

    async def _unbook_repeats(self, items: list[BatchItem]) -> None:
        for kind, group in by_kind(items).items():
            counts: dict[int, int] = defaultdict(int)
            for item in group:
                if item.outcome is not Reservation.CREATED:
                    counts[item.booked_in] += 1
            await self._booker.unbook(kind, counts)

    async def _reserve(self, items: list[BatchItem], scope: str, batch_id: str, key: str | None) -> None:
        for kind, group in by_kind(items).items():
            tickets = []
            for item in group:
                item.ticket_id = self._ids.mint(shard_of_scope(scope))
                if key:
                    item.idem = hashlib.sha256(f"{key}\n{item.index}".encode()).hexdigest()
                tickets.append(
                    NewTicket(
                        item.ticket_id,
                        kind,
                        scope,
                        item.sub.digest,
                        item.idem,
                        resident_id.mask(item.sub.citizen_id),
                        batch_id=batch_id,
                        scheduled=item.window is not None,
                    )
                )
            replies = await self._store.reserve_many(kind, scope, batch_id, tickets)
            for item, (outcome, ticket_id, seq) in zip(group, replies, strict=True):
                item.outcome, item.ticket_id, item.seq = outcome, ticket_id, seq
                if outcome is Reservation.CONFLICT:
                    # The same batch key and index with another item: the batch digest already matched,
                    # so this is an older batch's entry; answer with that ticket, as a repeat.
                    item.outcome = Reservation.EXISTING

    async def _publish_and_commit(self, items: list[BatchItem], batch_id: str, scope: str) -> int:
        """Publish every new item (and any a dead front door left unpublished), commit what the broker
        confirmed, and discard the rest. Returns how many tickets this batch created."""
        to_publish = [i for i in items if i.outcome is Reservation.CREATED]
        to_publish += await self._left_unpublished([i for i in items if i.outcome is not Reservation.CREATED])
        windows = {(i.sub.kind, i.window) for i in to_publish if i.window is not None}
        for kind, start in sorted(windows, key=lambda w: (w[0], w[1] or 0)):
            assert start is not None
            await self._broker.declare_queue(
                self._names.window_queue(kind, start), self._topology.window_queue_arguments()
            )
        failed = await publish_bundles(self._broker, self._names, to_publish, batch_id)
        if windows:
            await self._windows.opening({f"{kind}:{start}": start or 0 for kind, start in windows})
        failed_ids = {id(i) for i in failed}
        await self._commit([i for i in to_publish if id(i) not in failed_ids])
        if failed:
            for item in failed:
                with contextlib.suppress(StoreUnavailable):
                    await self._store.discard(
                        item.ticket_id,
                        item.sub.kind,
                        scope=scope,
                        body_digest=item.sub.digest,
                        idempotency_digest=item.idem,
                    )
            raise BrokerUnavailable(f"{len(failed)} items of the batch could not be queued")
        return sum(1 for i in items if i.outcome is Reservation.CREATED)

    async def _left_unpublished(self, repeats: list[BatchItem]) -> list[BatchItem]:
        if not repeats:
            return []
        statuses = await self._store.statuses([i.ticket_id for i in repeats])
        # A repeat still "accepting" belongs to a request that died before its commit; a second copy of
        # its message, should the first have reached the broker, is harmless (workers are idempotent).
        return [i for i, s in zip(repeats, statuses, strict=True) if s == Status.ACCEPTING]

    async def _commit(self, items: list[BatchItem]) -> None:
        now = time.time()
        for kind, group in by_kind(items).items():
            commits: list[Commit] = []
            for item in group:
                if item.window is None:
                    eta = await self._eta.estimate(kind, item.seq)
                    commits.append(Commit(item.ticket_id, now + eta.eta_p90_seconds, eta.model_p90_seconds))
                else:
                    commits.append(Commit(item.ticket_id, scheduled_for=item.window))
            await self._store.commit_many(kind, commits)

    def _answer(
        self,
        batch_id: str,
        items: list[BatchItem],
        rejected: list[dict[str, Any]],
        tickets: list[str | None],
    ) -> dict[str, Any]:
        windows: dict[tuple[str, int], int] = defaultdict(int)
        for item in items:
            if item.window is not None:
                windows[(item.sub.kind, item.window)] += 1
        return {
            "batch_id": batch_id,
            "accepted": len(items),
            "rejected": rejected,
            "tickets": tickets,
            "status_url": self.status_url(batch_id),
            "running_now": len(items) - sum(windows.values()),
            "scheduled": [
                {"kind": kind, "scheduled_for": iso_utc(start), "items": n}
                for (kind, start), n in sorted(windows.items(), key=lambda w: (w[0][1], w[0][0]))
            ],
        }


def _batch_digest(
    valid: list[tuple[int, Submission]], rejected: list[dict[str, Any]], callback_url: str | None
) -> str:
    h = hashlib.sha256()
    h.update((callback_url or "").encode() + b"\n")
    for index, sub in valid:
        h.update(f"{index}:{sub.digest}\n".encode())
    h.update(orjson.dumps(rejected, option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()
