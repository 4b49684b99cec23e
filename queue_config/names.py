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

    # --- traffic accounting, admission and capacity ------------------------------------------------
    def traffic_second(self, kind: str, metric: str, second: int) -> str:
        return f"{self.namespace}:traffic:{kind}:{metric}:s{second}"

    def traffic_minute(self, kind: str, metric: str, minute: int) -> str:
        return f"{self.namespace}:traffic:{kind}:{metric}:m{minute}"

    def admission_limit(self, kind: str) -> str:
        return self.rate_limit(f"admit:{kind}")

    @property
    def admission_plan(self) -> str:
        return f"{self.namespace}:admission:plan"

    @property
    def controller_lease(self) -> str:
        return f"{self.namespace}:admission:lease"

    def forecast_state(self, kind: str) -> str:
        return f"{self.namespace}:forecast:{kind}"

    def capacity_reports(self, kind: str) -> str:
        return f"{self.namespace}:capacity:{kind}"

    def eta_outcomes(self, kind: str) -> str:
        """Hash of ``hit`` / ``miss`` counts: finished tickets within / beyond their promised p90."""
        return f"{self.namespace}:eta:{kind}"

    @property
    def throttle(self) -> str:
        return f"{self.namespace}:throttle"

    @property
    def throttle_changed(self) -> str:
        return f"{self.namespace}:throttle:changed"

    @property
    def audit_log(self) -> str:
        return f"{self.namespace}:audit"
