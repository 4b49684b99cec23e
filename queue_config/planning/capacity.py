"""Capacity reports: each worker process tells, once a second and per kind, how much it can push to the
core systems right now (its adaptive concurrency limit and the latency it measures). The admission
controller adds them up; a report older than a few seconds is a worker that is gone."""

from __future__ import annotations

import msgspec

REPORT_FRESH_SECONDS = 5.0
REPORTS_TTL_SECONDS = 60


class CapacityReport(msgspec.Struct, frozen=True, kw_only=True):
    at: float
    limit: float  # concurrent core calls the adaptive limit allows
    inflight: int  # core calls in progress
    held: int  # messages delivered to this process and not yet acked (queued inside the worker)
    latency: float  # recent core-call latency, seconds; 0 before the first call (the process is there)
    baseline: float  # the no-load latency the limit compares against
    completed: int  # core calls finished since the process started

    @property
    def measured(self) -> bool:
        return self.latency > 0

    @property
    def potential(self) -> float:
        """Tickets a second this process could finish at its limit (Little's law)."""
        return self.limit / self.latency if self.latency > 0 else 0.0


decoder = msgspec.json.Decoder(CapacityReport)
