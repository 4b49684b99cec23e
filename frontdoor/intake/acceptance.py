"""Accepting a validated submission: reserve the ticket, publish it with a confirm, commit, answer.

Order matters for "a 202 means durable in RabbitMQ and recorded in Redis": the record is reserved first
(atomically with the idempotency and dedupe keys), the message is published and confirmed, and only then
is the record committed and the 202 sent. A front door that dies between publish and commit leaves a
reserved record whose ID nobody was given; a client retry finds it through its idempotency or dedupe key
and the message is published again, which is harmless because workers are idempotent by ticket ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from frontdoor.intake.publish_bundler import PublishBundler
from frontdoor.intake.validation import Submission
from queue_config import resident_id
from queue_config.broker import BrokerLink
from queue_config.errors import BrokerUnavailable, StoreUnavailable, TicketgateError
from queue_config.key_shards import shard_of_scope
from queue_config.kinds import Status
from queue_config.messages import TicketMessage
from queue_config.observability.metrics import INTAKE_STAGE, labelled
from queue_config.planning.eta import Eta, EtaEstimator
from queue_config.stores.tickets import NewTicket, Reservation, TicketRecord, TicketStore
from queue_config.ticket_ids import TicketIds

log = structlog.get_logger("intake")

_RESERVE, _PUBLISH, _COMMIT = (labelled(INTAKE_STAGE, stage) for stage in ("reserve", "publish", "commit"))


class IdempotencyConflict(TicketgateError):
    def __init__(self, ticket_id: str) -> None:
        super().__init__("idempotency key reused with a different body")
        self.ticket_id = ticket_id


@dataclass(frozen=True, slots=True)
class Accepted:
    created: bool  # 202 for a new ticket, 200 for one found by idempotency key or dedupe
    body: dict[str, Any]


class Intake:
    def __init__(
        self,
        store: TicketStore,
        broker: BrokerLink,
        ids: TicketIds,
        eta: EtaEstimator,
        public_status_url: str,
        publish_timeout: float,
        commit_patience: float = 2.0,
    ) -> None:
        self._store = store
        self._broker = broker
        self._bundler = PublishBundler(broker)
        self._ids = ids
        self._eta = eta
        self._status_base = public_status_url.rstrip("/")
        self._settle_seconds = publish_timeout + 1.0
        self._commit_patience = commit_patience
        self._commits: set[asyncio.Task[None]] = set()

    def status_url(self, ticket_id: str) -> str:
        return f"{self._status_base}/v1/tickets/{ticket_id}"

    async def submit(self, sub: Submission, idempotency_key: str | None) -> Accepted:
        if not self._broker.ready:
            # Fail before touching Redis: nothing may be reserved that cannot be queued.
            raise BrokerUnavailable("RabbitMQ is not connected")
        scope = self._ids.scope("citizen:" + sub.citizen_id)
        digest = sub.digest
        idem = hashlib.sha256(idempotency_key.encode()).hexdigest() if idempotency_key else None
        masked = resident_id.mask(sub.citizen_id)
        ticket = NewTicket(self._ids.mint(shard_of_scope(scope)), sub.kind, scope, digest, idem, masked)
        began = time.perf_counter()
        outcome, ticket_id, seq = await self._store.reserve(
            replace(ticket, place=await self._eta.place(sub.kind))
        )
        reserved = time.perf_counter()
        _RESERVE.observe(reserved - began)
        if outcome is Reservation.CONFLICT:
            raise IdempotencyConflict(ticket_id)
        structlog.contextvars.bind_contextvars(ticket_id=ticket_id)

        if outcome is Reservation.CREATED:
            try:
                await self._publish(sub, ticket_id, time.time())
            except BrokerUnavailable:
                # If Redis is gone too, the reservation expires after PENDING_TTL_SECONDS on its own.
                with contextlib.suppress(StoreUnavailable):
                    await self._store.discard(
                        ticket_id, sub.kind, scope=scope, body_digest=digest, idempotency_digest=idem
                    )
                raise
            committing = time.perf_counter()
            _PUBLISH.observe(committing - reserved)
            # From here on the message is durable in RabbitMQ and a worker will carry the ticket out,
            # so the client must get its ticket ID whatever Redis does now: a 500 or a 503 would make it
            # retry, and without an Idempotency-Key a retry after the ticket is done is a second effect.
            eta = await self._eta.estimate(sub.kind, seq)  # never raises: falls back (see eta.py)
            body = self._body(ticket_id, sub.kind, Status.QUEUED.shown(self._eta.maintenance), eta)
            # The answer does not wait for the commit: the record is stored (reserved) and the message
            # confirmed, which is what a 202 says. The commit (``queued`` and the ETA promise) follows
            # in the background; a status read before it lands shows the reservation as ``queued`` and
            # a repeat of this submission waits for it (``_settled``). Waiting cost every 202 a Redis
            # round trip, four turns of the loop, at half load about a quarter of its latency.
            self._in_background(
                self._commit_after_publish(
                    ticket_id,
                    sub.kind,
                    promised_by=time.time() + eta.eta_p90_seconds,
                    promise_model=eta.model_p90_seconds,
                    began=committing,
                )
            )
            log.info("ticket_accepted", kind=sub.kind, citizen=masked)
            return Accepted(True, body)

        record = await self._settled(ticket_id)
        if record.status is Status.ACCEPTING:
            # Its front door died between reserve and commit: finish its work. A second copy of the
            # message, if the first did reach the broker, is harmless (workers are idempotent).
            await self._publish(sub, ticket_id, record.created_at)
            await self._commit_after_publish(ticket_id, sub.kind)
        log.info("ticket_repeated", outcome=outcome.value, status=record.status.value)
        status = record.status.shown(self._eta.maintenance)
        current = None if status.terminal else await self._eta.estimate(sub.kind, record.seq)
        return Accepted(False, self._body(ticket_id, sub.kind, status, current))

    async def _commit_after_publish(
        self,
        ticket_id: str,
        kind: str,
        promised_by: float | None = None,
        promise_model: float | None = None,
        began: float | None = None,
    ) -> None:
        """Commit a ticket whose message the broker has confirmed, through a short Redis outage; if
        Redis stays away, give up. The reserved record is already stored, and the worker that
        takes the message marks it ``processing`` (or rebuilds it from the message if Redis lost it),
        so the only thing lost is this ticket's ETA promise, which is then not scored."""
        commit = functools.partial(
            self._store.commit, ticket_id, kind, promised_by=promised_by, promise_model=promise_model
        )
        try:
            # Once without tenacity: building its retrying state for every ticket was 8 % of a door's
            # time at saturation (py-spy, 2026-12-05), for the rare commit that meets a Redis outage.
            await commit()
        except StoreUnavailable:
            await self._commit_retrying(commit, kind)
        if began is not None:
            _COMMIT.observe(time.perf_counter() - began)

    async def _commit_retrying(self, commit: Callable[[], Awaitable[None]], kind: str) -> None:
        try:
            async for attempt in AsyncRetrying(
                wait=wait_exponential_jitter(multiplier=0.05, max=0.5, jitter=0.05),
                stop=stop_after_delay(self._commit_patience),
                retry=retry_if_exception_type(StoreUnavailable),
                reraise=True,
            ):
                with attempt:
                    await commit()
        except StoreUnavailable as exc:
            log.warning("commit_deferred_to_worker", kind=kind, error=str(exc))

    def _in_background(self, commit: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(commit)
        self._commits.add(task)
        task.add_done_callback(self._commit_ended)

    def _commit_ended(self, task: asyncio.Task[None]) -> None:
        self._commits.discard(task)
        # No caller awaits it: an error other than Redis being away (which it logs itself) is said here,
        # not left for the loop to report when the task is collected.
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("commit_failed", error=repr(exc))

    async def settle(self) -> None:
        """Wait for the commits still in the background: a door that stops finishes what it answered."""
        while self._commits:
            await asyncio.gather(*self._commits, return_exceptions=True)

    async def _settled(self, ticket_id: str) -> TicketRecord:
        """The record of an existing ticket once its accepting front door is done with it.

        While another request is still publishing this ticket, answering at once would either name a
        ticket that may yet be discarded or publish it a second time; so wait for the owner's commit,
        up to its publish timeout. A reservation older than that belongs to a front door that died."""
        deadline = time.monotonic() + self._settle_seconds
        while True:
            record = await self._store.get(ticket_id)
            if record is None:
                raise BrokerUnavailable("the original submission could not be queued")
            fresh = time.time() - record.created_at < self._settle_seconds
            if record.status is not Status.ACCEPTING or not fresh or time.monotonic() > deadline:
                return record
            await asyncio.sleep(0.02)

    async def _publish(self, sub: Submission, ticket_id: str, created_at: float) -> None:
        message = TicketMessage(
            ticket_id=ticket_id,
            kind=sub.kind,
            citizen_id=sub.citizen_id,
            payload=sub.payload,
            created_at=created_at,
        )
        await self._bundler.publish(message)

    def _body(self, ticket_id: str, kind: str, status: Status, eta: Eta | None) -> dict[str, Any]:
        return {
            "ticket_id": ticket_id,
            "kind": kind,
            "status": status.value,
            "status_url": self.status_url(ticket_id),
            "eta_seconds": None if eta is None else eta.eta_seconds,
            "eta_p90_seconds": None if eta is None else eta.eta_p90_seconds,
            "position": None if eta is None else eta.position,
        }
