"""Capacity reports: each worker process tells, once a second and per kind, how much it can push to the
core systems right now (its adaptive concurrency limit and the latency it measures). The admission
controller adds them up; a report older than a few seconds is a worker that is gone."""

from __future__ import annotations

import msgspec
from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.stores.ticket_store import store_call

REPORT_FRESH_SECONDS = 5.0
REPORTS_TTL_SECONDS = 60


class CapacityReport(msgspec.Struct, frozen=True, kw_only=True):
    at: float
    limit: float  # concurrent core calls the adaptive limit allows
    inflight: int  # core calls in progress
    held: int  # messages delivered to this process and not yet acked (queued inside the worker)
    latency: float  # recent core-call latency, seconds
    baseline: float  # the no-load latency the limit compares against
    completed: int  # core calls finished since the process started

    @property
    def potential(self) -> float:
        """Tickets a second this process could finish at its limit (Little's law)."""
        return self.limit / self.latency if self.latency > 0 else 0.0


_decoder = msgspec.json.Decoder(CapacityReport)


class CapacityBoard:
    def __init__(self, redis: Redis, names: Names) -> None:
        self._redis = redis
        self._names = names

    @store_call
    async def publish(self, worker_id: str, reports: dict[str, CapacityReport]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for kind, report in reports.items():
                key = self._names.capacity_reports(kind)
                pipe.hset(key, worker_id, msgspec.json.encode(report))
                pipe.expire(key, REPORTS_TTL_SECONDS)
            await pipe.execute()

    @store_call
    async def fresh(self, kind: str, now: float) -> list[CapacityReport]:
        key = self._names.capacity_reports(kind)
        raw = await self._redis.hgetall(key)
        reports, gone = [], []
        for worker, value in raw.items():
            try:
                report = _decoder.decode(value)
            except msgspec.DecodeError:
                gone.append(worker)
                continue
            if now - report.at <= REPORT_FRESH_SECONDS:
                reports.append(report)
            elif now - report.at > REPORTS_TTL_SECONDS:
                gone.append(worker)  # a worker that stopped: forget it
        if gone:
            await self._redis.hdel(key, *gone)
        return reports
