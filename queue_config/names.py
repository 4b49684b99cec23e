"""Every queue, exchange and Redis key name, derived from the namespace in one place, so nobody spells
``"tg:ticket:"`` twice (arq keeps its keys in one module for the same reason)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Names:
    namespace: str

    # --- RabbitMQ -------------------------------------------------------------------------------
    @property
    def work_exchange(self) -> str:
        return f"{self.namespace}.work"

    @property
    def dead_exchange(self) -> str:
        return f"{self.namespace}.dead"

    def queue(self, kind: str) -> str:
        return f"{self.namespace}.{kind}"

    def delay_queue(self, kind: str, ttl_ms: int) -> str:
        # The TTL is part of the name: two processes configured differently declare two queues
        # instead of failing on a declare with mismatched arguments.
        return f"{self.namespace}.{kind}.delay.{ttl_ms}ms"

    def dead_queue(self, kind: str) -> str:
        return f"{self.namespace}.{kind}.dead"

    # --- Redis ----------------------------------------------------------------------------------
    @property
    def ticket_prefix(self) -> str:
        return f"{self.namespace}:ticket:"

    def ticket(self, ticket_id: str) -> str:
        return f"{self.ticket_prefix}{ticket_id}"

    def idempotency(self, scope: str, key_digest: str) -> str:
        return f"{self.namespace}:idem:{scope}:{key_digest}"

    def dedupe(self, scope: str, body_digest: str) -> str:
        return f"{self.namespace}:dedupe:{scope}:{body_digest}"

    def rate_limit(self, subject: str) -> str:
        return f"{self.namespace}:limit:{subject}"

    @property
    def ticket_secret(self) -> str:
        return f"{self.namespace}:secret:ticket"

    @property
    def events_channel(self) -> str:
        return f"{self.namespace}:events"

    def enqueued_count(self, kind: str) -> str:
        return f"{self.namespace}:count:{kind}:enqueued"

    def finished_count(self, kind: str) -> str:
        return f"{self.namespace}:count:{kind}:finished"

    def finished_bucket(self, kind: str, bucket: int) -> str:
        return f"{self.namespace}:rate:{kind}:{bucket}"
