"""Batch callbacks: when every ticket of a batch is ``done`` or ``failed``, one signed POST of the batch
status document to the enterprise's ``callback_url``.

Due callbacks sit in a Redis sorted set (booked by the worker that finished the batch's last ticket);
every worker process claims due ones under a lease, so each is delivered by one process at a time. A
receiver that fails (no answer, a non-2xx) is tried again with exponential backoff and jitter, up to
``CALLBACK_MAX_ATTEMPTS``; once a 2xx is received the batch is marked delivered and never sent again.
A receiver should still dedupe on ``Ticketgate-Batch``: a worker that dies between the receiver's 2xx
and marking the batch delivered makes the next claimant send it once more.

The signature (SPEC): ``Ticketgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(webhook_secret,
"<t>." + raw body)>``; the README shows how to verify it.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time

import aiohttp
import orjson
import structlog

from queue_config.aio.periodic import Periodic
from queue_config.kinds import Status
from queue_config.observability import metrics
from queue_config.stores.batches import BatchStore
from queue_config.stores.enterprises import EnterpriseStore
from queue_config.web.callback_urls import CallbackPolicy, PublicOnlyResolver

log = structlog.get_logger("batch_callbacks")

UNFINISHED_RECHECK_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 3600.0


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def backoff(attempts: int, first: float) -> float:
    """Delay before the next try after ``attempts`` failed ones. Computed here rather than by tenacity:
    the retries outlive any one call stack (and process), so the schedule lives in Redis."""
    base = min(MAX_BACKOFF_SECONDS, first * 2.0 ** (attempts - 1))
    return base + random.uniform(0, base / 2)


class BatchCallbacks:
    def __init__(
        self,
        batches: BatchStore,
        enterprises: EnterpriseStore,
        *,
        max_attempts: int,
        first_delay: float,
        timeout: float,
        policy: CallbackPolicy | None = None,
        interval: float = 0.5,
    ) -> None:
        self._batches = batches
        self._enterprises = enterprises
        self._max_attempts = max_attempts
        self._first_delay = first_delay
        self._timeout = timeout
        self._policy = policy or CallbackPolicy()
        self._session: aiohttp.ClientSession | None = None
        self._loop = Periodic("batch-callbacks", interval, self.step)
        self.delivered = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            connector=aiohttp.TCPConnector(resolver=PublicOnlyResolver(self._policy)),
        )
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        if self._session is not None:
            await self._session.close()

    async def step(self) -> None:
        for batch_id in await self._batches.claim_callbacks(lease_seconds=self._timeout + 5):
            await self._deliver(batch_id)

    async def _deliver(self, batch_id: str) -> None:
        meta = await self._batches.meta(batch_id)
        if meta is None or meta.get("callback_delivered_at") or not meta.get("callback_url"):
            await self._batches.forget_callback(batch_id)  # expired, already delivered, or none wanted
            return
        doc = await self._batches.status_document(batch_id, meta, lambda s: s.public)
        if any(status not in (Status.DONE.value, Status.FAILED.value) for status in doc["counts"]):
            # Some item repeats a ticket of another batch (or was replayed) and is not finished yet.
            await self._batches.callback_later(
                batch_id,
                at=time.time() + UNFINISHED_RECHECK_SECONDS,
                attempts=int(meta.get("callback_attempts", 0)),
                error="batch not finished",
            )
            return
        enterprise = await self._enterprises.get(meta["enterprise_id"])
        if enterprise is None:
            await self._batches.callback_abandoned(batch_id, "enterprise record is gone")
            return
        body = orjson.dumps(doc)
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Ticketgate-Signature": signature(enterprise.webhook_secret, stamp, body),
            "Ticketgate-Batch": batch_id,
            "User-Agent": "ticketgate-callbacks/1",
        }
        assert self._session is not None
        error = ""
        try:
            refused = self._policy.problem(meta["callback_url"])
            if refused is not None:  # the batch predates the policy, or the allow-list has shrunk
                raise OSError(f"callback URL {refused}")
            # Never follow a redirect: it would carry the signed body to a target nobody checked.
            async with self._session.post(
                meta["callback_url"], data=body, headers=headers, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    await self._batches.callback_delivered(batch_id)
                    self.delivered += 1
                    metrics.CALLBACKS.labels("delivered").inc()
                    log.info("callback_delivered", batch_id=batch_id, status=response.status)
                    return
                error = f"receiver answered {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"receiver unreachable: {exc!r}"
        metrics.CALLBACKS.labels("failed").inc()
        attempts = int(meta.get("callback_attempts", 0)) + 1
        if attempts >= self._max_attempts:
            log.warning("callback_abandoned", batch_id=batch_id, attempts=attempts, error=error)
            await self._batches.callback_abandoned(batch_id, error)
            return
        delay = backoff(attempts, self._first_delay)
        log.info("callback_retry", batch_id=batch_id, attempts=attempts, delay=round(delay, 1), error=error)
        await self._batches.callback_later(batch_id, at=time.time() + delay, attempts=attempts, error=error)
