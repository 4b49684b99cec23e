"""When and how long to wait before another attempt.

The wait is tenacity's exponential backoff with jitter; the message then waits in the delay queue
whose TTL is the nearest declared step, so nothing is held unacked in worker memory while it waits.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import RetryCallState, wait_exponential_jitter

from queue_config.topology import Topology


@dataclass(frozen=True, slots=True)
class Delay:
    queue: str
    ttl_ms: int

    @property
    def seconds(self) -> float:
        return self.ttl_ms / 1000


class RetryPolicy:
    def __init__(
        self, topology: Topology, *, max_attempts: int, base_seconds: float, max_seconds: float
    ) -> None:
        self._topology = topology
        self.max_attempts = max_attempts
        self._wait = wait_exponential_jitter(multiplier=base_seconds, max=max_seconds, jitter=base_seconds)

    def delay_queue(self, kind: str, attempts: int) -> str | None:
        """The queue to park the ticket in after ``attempts`` failed attempts, or None: give up."""
        delay = self.delay(kind, attempts)
        return None if delay is None else delay.queue

    def delay(self, kind: str, attempts: int) -> Delay | None:
        """The delay queue and its wait after ``attempts`` failed attempts, or None: give up."""
        if attempts >= self.max_attempts:
            return None
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempts
        ttl = self._topology.delay_ttl_for(attempts, self._wait(state))
        return Delay(self._topology.names.delay_queue(kind, ttl), ttl)
