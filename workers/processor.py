"""Processing one delivered ticket message, from "processing" to an ack, a delay or a dead letter.

The message is acked only after the effect and the ticket's new status are both recorded. A crash
anywhere before that leaves the message unacked, so the broker redelivers it; the core system is called
with the ticket ID as the idempotency key and a finished ticket is recognised before any call, so the
redelivery cannot apply the effect twice.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from aio_pika.abc import AbstractIncomingMessage
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from queue_config import metrics, resident_id
from queue_config.broker import BrokerLink
from queue_config.errors import MessageRejected, StoreUnavailable
from queue_config.messages import TicketMessage, decode
from queue_config.ticket_store import TicketStore
from workers.core_client import CoreError, CoreSystem, PermanentCoreError
from workers.handlers import Handler
from workers.retry_policy import RetryPolicy

log = structlog.get_logger("processor")
T = TypeVar("T")

# How long a worker keeps a message while Redis is unreachable before handing it back to the broker.
STORE_OUTAGE_PATIENCE_SECONDS = 30.0


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
    ) -> None:
        self._store = store
        self._broker = broker
        self._core = core
        self._handlers = handlers
        self._retry = retry
        self._paused = paused

    async def process(self, message: AbstractIncomingMessage) -> None:
        if self._paused():
            # Maintenance began after the broker sent this: give it back untouched (no attempt counted);
            # the consumer is being cancelled, so it waits in the queue until maintenance ends.
            await message.nack(requeue=True)
            return
        try:
            ticket = decode(message.body)
            handler = self._handlers[ticket.kind]
        except (MessageRejected, KeyError) as exc:
            log.error("message_undecodable", error=str(exc), message_id=message.message_id)
            await message.reject(requeue=False)
            return
        structlog.contextvars.bind_contextvars(ticket_id=ticket.ticket_id, kind=ticket.kind)
        try:
            await self._process(ticket, handler, message)
        except StoreUnavailable as exc:
            # Redis stayed away past our patience: give the message back rather than hold it forever.
            log.warning("store_unavailable_requeue", error=str(exc))
            await message.nack(requeue=True)
        finally:
            structlog.contextvars.unbind_contextvars("ticket_id", "kind")

    async def _process(
        self, ticket: TicketMessage, handler: Handler, message: AbstractIncomingMessage
    ) -> None:
        status, attempts = await _patiently(
            lambda: self._store.begin_attempt(
                ticket.ticket_id,
                kind=ticket.kind,
                created_at=ticket.created_at,
                masked_client=resident_id.mask(ticket.citizen_id),
            )
        )
        if status.terminal:
            log.info("duplicate_delivery_acked", status=status.value)
            await message.ack()
            return
        if attempts > self._retry.max_attempts:
            # Only redeliveries after crashes get here: the attempt budget is spent.
            await self._fail(ticket, message, {"code": "attempts_exhausted", "message": "too many attempts"})
            return

        began = time.perf_counter()
        try:
            result = await handler(ticket, self._core)
        except PermanentCoreError as exc:
            metrics.PROCESSING.labels(ticket.kind, "permanent").observe(time.perf_counter() - began)
            await self._fail(ticket, message, exc.as_dict())
            return
        except CoreError as exc:
            metrics.PROCESSING.labels(ticket.kind, "transient").observe(time.perf_counter() - began)
            await self._transient(ticket, message, attempts, exc)
            return
        metrics.PROCESSING.labels(ticket.kind, "done").observe(time.perf_counter() - began)
        await _patiently(
            lambda: self._store.finish(ticket.ticket_id, ticket.kind, result=result, batch_id=ticket.batch_id)
        )
        log.info("ticket_done", attempts=attempts)
        await message.ack()

    async def _transient(
        self, ticket: TicketMessage, message: AbstractIncomingMessage, attempts: int, exc: CoreError
    ) -> None:
        delay_queue = self._retry.delay_queue(ticket.kind, attempts)
        if delay_queue is None:
            await self._fail(ticket, message, {**exc.as_dict(), "attempts": attempts})
            return
        await _patiently(lambda: self._store.mark_retrying(ticket.ticket_id, exc.as_dict()))
        await self._broker.publish(
            message.body,
            routing_key=delay_queue,
            message_id=ticket.ticket_id,
            to_queue=True,
            headers={"x-attempts": attempts},
        )
        metrics.RETRIES.labels(ticket.kind).inc()
        log.info("ticket_retry_scheduled", attempts=attempts, delay_queue=delay_queue, error=exc.code)
        await message.ack()

    async def _fail(
        self, ticket: TicketMessage, message: AbstractIncomingMessage, error: dict[str, Any]
    ) -> None:
        await _patiently(
            lambda: self._store.finish(ticket.ticket_id, ticket.kind, error=error, batch_id=ticket.batch_id)
        )
        log.warning("ticket_failed", error=error.get("code"))
        metrics.DEAD_LETTERS.labels(ticket.kind).inc()
        # Rejected, not acked, so the broker dead-letters it for operators to inspect and replay.
        await message.reject(requeue=False)


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
