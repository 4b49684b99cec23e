"""Processing one delivered message, from "processing" to an ack, a delay or a dead letter.

The message is acked only after the effect and the ticket's new status are both recorded. A crash
anywhere before that leaves the message unacked, so the broker redelivers it; the core system is called
with the ticket ID as the idempotency key and a finished ticket is recognised before any call, so the
redelivery cannot apply the effect twice.

A bundle (many tickets in one message, see ``queue_config.messages``) is processed in place, its
tickets side by side, each settled on its own: a ticket to retry goes alone to its delay queue, a failed
one alone to the dead-letter queue (published before its record says ``failed``, so no failed ticket
lacks its copy there), and the bundle is acked once every ticket is settled. If Redis stays away for one
of them, the bundle goes back to the queue whole: its finished tickets are recognised on redelivery.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

import structlog
from aio_pika.abc import AbstractIncomingMessage
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from queue_config import resident_id
from queue_config.broker import BrokerLink
from queue_config.errors import MessageRejected, StoreUnavailable
from queue_config.messages import TicketMessage, decode, decode_bundle, encode, is_bundle
from queue_config.observability import metrics
from queue_config.stores.tickets import TicketStore
from workers.core_calls.core_client import CoreError, CoreSystem, PermanentCoreError
from workers.core_calls.handlers import Handler
from workers.retries.retry_policy import RetryPolicy

log = structlog.get_logger("processor")
T = TypeVar("T")

# How long a worker keeps a message while Redis is unreachable before handing it back to the broker.
STORE_OUTAGE_PATIENCE_SECONDS = 30.0
# Attempts begun that ended in no answer from the core (a worker killed, Redis away past our patience):
# past this many the message is poison, not unlucky. The retry budget (MAX_ATTEMPTS) counts only the
# core's own transient answers, so our infrastructure failing spends none of it.
CRASHED_ATTEMPTS_LIMIT = 10
# The broker's count of this message's returns (quorum queues): a worker that died holding it, or a
# requeue. Copies of one ticket delivered side by side (a bundle requeued while its tickets were in
# flight, a front door publishing again after a crash) each begin an attempt in Redis without any crash,
# so the Redis count alone failed a ticket whose effect another copy was applying (CI chaos, 2026-12-05);
# a poison message raises both counts, a copy only the first.
DELIVERY_COUNT = "x-delivery-count"


class Settled(Enum):
    ACK = "ack"  # done, a duplicate, or handed on to a delay queue
    DEAD = "dead"  # failed: its message belongs in the dead-letter queue


class Processor:
    def __init__(
        self,
        *,
        store: TicketStore,
        broker: BrokerLink,
        core: CoreSystem,
        handlers: dict[str, Handler],
        retry: RetryPolicy,
        paused: Callable[[], bool] = lambda: False,
        slots: Mapping[str, asyncio.Semaphore] | None = None,
        retry_overdue_seconds: float = 30.0,
    ) -> None:
        self._store = store
        self._broker = broker
        self._core = core
        self._handlers = handlers
        self._retry = retry
        self._paused = paused
        # Tickets of a kind worked on at once in this process: prefetch bounds messages, and a bundle
        # is many tickets.
        self._slots = slots or {}
        # Beyond its delay, how long a retry's message may take to come back to a worker before the
        # retry sweeper republishes it (``workers.retries.retry_sweeper``): a broker restart, a busy queue.
        self._overdue = retry_overdue_seconds

    async def process(self, message: AbstractIncomingMessage) -> None:
        if self._paused():
            # Maintenance began after the broker sent this: give it back untouched (no attempt counted);
            # the consumer is being cancelled, so it waits in the queue until maintenance ends.
            await message.nack(requeue=True)
            return
        try:
            tickets = decode_bundle(message.body) if is_bundle(message.headers) else [decode(message.body)]
            handlers = [self._handlers[t.kind] for t in tickets]
        except (MessageRejected, KeyError) as exc:
            log.error("message_undecodable", error=str(exc), message_id=message.message_id)
            await message.reject(requeue=False)
            return
        returns = _returns(message)
        if len(tickets) == 1:
            await self._settle_single(tickets[0], handlers[0], message, returns)
            return
        outcomes = await asyncio.gather(
            *(self._one(t, h, None, returns) for t, h in zip(tickets, handlers, strict=True)),
            return_exceptions=True,
        )
        if any(isinstance(o, BaseException) for o in outcomes):
            errors = [repr(o) for o in outcomes if isinstance(o, BaseException)]
            log.warning("bundle_requeued", tickets=len(tickets), errors=errors[:3])
            await message.nack(requeue=True)
            return
        await message.ack()

    async def _settle_single(
        self, ticket: TicketMessage, handler: Handler, message: AbstractIncomingMessage, returns: int
    ) -> None:
        try:
            settled = await self._one(ticket, handler, message.body, returns)
        except StoreUnavailable as exc:
            # Redis stayed away past our patience: give the message back rather than hold it forever.
            log.warning("store_unavailable_requeue", error=str(exc))
            await message.nack(requeue=True)
            return
        if settled is Settled.DEAD:
            # Rejected, not acked, so the broker dead-letters it for operators to inspect and replay.
            await message.reject(requeue=False)
        else:
            await message.ack()

    async def _one(
        self, ticket: TicketMessage, handler: Handler, body: bytes | None, returns: int
    ) -> Settled:
        """Process one ticket; ``body`` is its own message's, or None when it came in a bundle;
        ``returns``: how often the broker had this message back before this delivery."""
        structlog.contextvars.bind_contextvars(ticket_id=ticket.ticket_id, kind=ticket.kind)
        slot = self._slots.get(ticket.kind)
        try:
            if slot is None:
                return await self._process(ticket, handler, body, returns)
            async with slot:
                return await self._process(ticket, handler, body, returns)
        finally:
            structlog.contextvars.unbind_contextvars("ticket_id", "kind")

    async def _process(
        self, ticket: TicketMessage, handler: Handler, body: bytes | None, returns: int
    ) -> Settled:
        attempt = await _patiently(
            lambda: self._store.begin_attempt(
                ticket.ticket_id,
                kind=ticket.kind,
                created_at=ticket.created_at,
                masked_client=resident_id.mask(ticket.citizen_id),
            )
        )
        if attempt.status.terminal:
            log.info("duplicate_delivery_acked", status=attempt.status.value)
            return Settled.ACK
        if attempt.begun - attempt.failures > CRASHED_ATTEMPTS_LIMIT and returns >= CRASHED_ATTEMPTS_LIMIT:
            # Only redeliveries after crashes get here: this message takes its worker down every time.
            error = {"code": "attempts_exhausted", "message": "processing never completed"}
            return await self._fail(ticket, body, error)

        began = time.perf_counter()
        try:
            result = await handler(ticket, self._core)
        except PermanentCoreError as exc:
            metrics.PROCESSING.labels(ticket.kind, "permanent").observe(time.perf_counter() - began)
            return await self._fail(ticket, body, exc.as_dict())
        except CoreError as exc:
            metrics.PROCESSING.labels(ticket.kind, "transient").observe(time.perf_counter() - began)
            return await self._transient(ticket, body, attempt.failures + 1, exc)
        metrics.PROCESSING.labels(ticket.kind, "done").observe(time.perf_counter() - began)
        await _patiently(
            lambda: self._store.finish(ticket.ticket_id, ticket.kind, result=result, batch_id=ticket.batch_id)
        )
        log.info("ticket_done", attempts=attempt.begun)
        return Settled.ACK

    async def _transient(
        self, ticket: TicketMessage, body: bytes | None, failures: int, exc: CoreError
    ) -> Settled:
        """The core answered a transient failure, the ``failures``-th for this ticket."""
        delay = self._retry.delay(ticket.kind, failures)
        if delay is None:
            return await self._fail(ticket, body, {**exc.as_dict(), "attempts": failures})
        message = body if body is not None else encode(ticket)
        due = time.time() + delay.seconds + self._overdue
        await _patiently(
            lambda: self._store.mark_retrying(
                ticket.ticket_id, ticket.kind, exc.as_dict(), due=due, message=message
            )
        )
        await self._broker.publish(
            message,
            routing_key=ticket.kind,
            message_id=ticket.ticket_id,
            delay_ms=delay.ttl_ms,
            headers={"x-attempts": failures},
        )
        metrics.RETRIES.labels(ticket.kind).inc()
        log.info("ticket_retry_scheduled", attempts=failures, delay_queue=delay.queue, error=exc.code)
        return Settled.ACK

    async def _fail(self, ticket: TicketMessage, body: bytes | None, error: dict[str, Any]) -> Settled:
        if body is None:
            # Out of a bundle, which cannot be rejected for one ticket: its own copy, confirmed first.
            await self._broker.dead_letter(ticket)
        await _patiently(
            lambda: self._store.finish(ticket.ticket_id, ticket.kind, error=error, batch_id=ticket.batch_id)
        )
        log.warning("ticket_failed", error=error.get("code"))
        metrics.DEAD_LETTERS.labels(ticket.kind).inc()
        return Settled.DEAD


def _returns(message: AbstractIncomingMessage) -> int:
    count = (message.headers or {}).get(DELIVERY_COUNT)
    return count if isinstance(count, int) else 0


async def _patiently(call: Callable[[], Awaitable[T]]) -> T:
    """Retry a store call through a short Redis outage instead of dropping work on the floor."""
    retrying = AsyncRetrying(
        wait=wait_exponential_jitter(multiplier=0.2, max=3.0, jitter=0.2),
        stop=stop_after_delay(STORE_OUTAGE_PATIENCE_SECONDS),
        retry=retry_if_exception_type(StoreUnavailable),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover
