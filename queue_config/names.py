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

    def staging_queue(self, kind: str) -> str:
        """Holds bundles of bulk items that may run now, until a front door moves them to the work queue."""
        return f"{self.namespace}.{kind}.bulk"

    def window_queue(self, kind: str, window_start: int) -> str:
        """Holds bulk items booked into the window that opens at ``window_start`` (unix seconds)."""
        return f"{self.namespace}.{kind}.window.{window_start}"

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
    def admission_plan_kept(self) -> str:
        """The last plan, kept for days: where a controller starting cold resumes capacity and calibration."""
        return f"{self.namespace}:admission:plan:kept"

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

    def eta_lateness(self, kind: str, bucket: int) -> str:
        """Hash of lateness bucket -> tickets of the kind that finished in this rate bucket (5 s)."""
        return f"{self.namespace}:lateness:{kind}:{bucket}"

    @property
    def throttle(self) -> str:
        return f"{self.namespace}:throttle"

    @property
    def throttle_changed(self) -> str:
        return f"{self.namespace}:throttle:changed"

    @property
    def audit_log(self) -> str:
        return f"{self.namespace}:audit"

    # --- enterprises, batches, bulk scheduling, dead letters ---------------------------------------
    @property
    def enterprises(self) -> str:
        return f"{self.namespace}:enterprises"

    def enterprise(self, enterprise_id: str) -> str:
        return f"{self.namespace}:enterprise:{enterprise_id}"

    def enterprise_key(self, key_hash: str) -> str:
        return f"{self.namespace}:enterprise-key:{key_hash}"

    def enterprise_quota(self, enterprise_id: str) -> str:
        return self.rate_limit(f"enterprise:{enterprise_id}")

    def batch(self, batch_id: str) -> str:
        return f"{self.namespace}:batch:{batch_id}"

    def batch_tickets(self, batch_id: str) -> str:
        return f"{self.namespace}:batch:{batch_id}:tickets"

    def batch_finished(self, batch_id: str) -> str:
        return f"{self.namespace}:batch:{batch_id}:finished"

    def batch_response(self, batch_id: str) -> str:
        return f"{self.namespace}:batch:{batch_id}:response"

    @property
    def batch_callbacks(self) -> str:
        """Sorted set of batch IDs whose callback is due, scored by when."""
        return f"{self.namespace}:callbacks"

    def bulk_calendar(self, kind: str) -> str:
        return f"{self.namespace}:bulk:calendar:{kind}"

    def bulk_booked(self, kind: str) -> str:
        return f"{self.namespace}:bulk:booked:{kind}"

    @property
    def bulk_windows(self) -> str:
        """Sorted set of ``kind:window_start`` whose window queue still holds items, scored by start."""
        return f"{self.namespace}:bulk:windows"

    def retrying(self, kind: str) -> str:
        """Sorted set of ``kind``'s tickets waiting in a delay queue, scored by when their message should
        be back at a worker (``workers.retry_sweeper`` republishes those that are overdue)."""
        return f"{self.namespace}:retrying:{kind}"

    def dead_letters(self, kind: str) -> str:
        """Sorted set of failed ticket IDs of ``kind`` (their messages are in the dead-letter queue)."""
        return f"{self.namespace}:dead:{kind}"

    def outlook(self, kind: str) -> str:
        """The controller's per-minute view for operators: recent arrivals and the forecast ahead."""
        return f"{self.namespace}:outlook:{kind}"
