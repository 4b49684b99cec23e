"""Every queue, exchange and Redis key name, derived from the namespace in one place, so nobody spells
``"tg:ticket:"`` twice (arq keeps its keys in one module for the same reason)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from queue_config.key_shards import KEY_SHARDS, shard_of_scope, shard_tag
from queue_config.ticket_ids import shard_of


@dataclass(frozen=True, slots=True)
class Names:
    namespace: str
    # What the ticket store writes (``STORE_FORMAT``, ``queue_config.stores.redis.record_fields``): 2,
    # or 1 as versions before 2026-12-06 wrote it, while a rolling upgrade still runs some of them.
    store_format: int = 2

    # --- RabbitMQ -------------------------------------------------------------------------------
    @property
    def work_exchange(self) -> str:
        return f"{self.namespace}.work"

    @property
    def dead_exchange(self) -> str:
        return f"{self.namespace}.dead"

    def queue(self, kind: str, shard: int = 0) -> str:
        """``kind``'s work queue number ``shard`` (``QUEUE_SHARDS``); the first keeps the unsharded name,
        so one shard is exactly the topology before sharding."""
        return f"{self.namespace}.{kind}" if shard == 0 else f"{self.namespace}.{kind}.q{shard}"

    @staticmethod
    def work_route(kind: str, shard: int = 0) -> str:
        """The work exchange's routing key of ``kind``'s work queue number ``shard``."""
        return kind if shard == 0 else f"{kind}.q{shard}"

    @property
    def delay_exchange(self) -> str:
        """The headers exchange retries are published to: it routes on the kind and delay headers, so
        the routing key stays free to name the work shard the message returns to."""
        return f"{self.namespace}.delay"

    def delay_queue(self, kind: str, ttl_ms: int) -> str:
        # The TTL is part of the name: two processes configured differently declare two queues
        # instead of failing on a declare with mismatched arguments. "retry", not the "delay" of the
        # queues that sent every retry to the first shard: their arguments differ, and a declare with
        # other arguments than the queue's fails, so a rolling upgrade gets new queues beside the old.
        return f"{self.namespace}.{kind}.retry.{ttl_ms}ms"

    def legacy_delay_queue(self, kind: str, ttl_ms: int) -> str:
        """The delay queues before retries kept their shard; they drain into the first shard, still
        consumed, and an operator deletes them once empty."""
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
    # Every key is in one of three kinds of hash slot (see ``queue_config.key_shards``): a ticket's key
    # shard (its record, its client's idempotency, dedupe and limiter keys, and that shard's share of
    # the per-kind counters); the namespace's control slot (throttle, plan, lease, traffic, enterprises:
    # keys read or written together at a low rate); or a slot of its own (the limits every request
    # charges, which must not all land on one primary).
    @property
    def ticket_prefix(self) -> str:
        """The start of every ticket key (for a scan); ``ticket_prefix_in`` is a shard's."""
        return f"{self.namespace}:ticket:"

    def ticket_prefix_in(self, shard: int) -> str:
        return f"{self.namespace}:ticket:{shard_tag(shard)}:"

    def ticket(self, ticket_id: str) -> str:
        return f"{self.ticket_prefix_in(shard_of(ticket_id))}{ticket_id}"

    # A client's idempotency and dedupe keys are named by an 84-bit digest of its scope and the key's or
    # body's digest: 14 characters, so that the whole name fits Redis's 32-byte allocation, on one key of
    # each per open ticket (issue 17: bytes per open ticket). 84 bits: two live keys' names collide
    # with a chance of about n² / 2^85, 3e-12 for ten million live keys, and nobody can aim at another
    # client's name (the scope is keyed with the server secret). Store format 1 wrote the names before
    # (22 characters). Each format writes its own names and reads both (``other_*``): idempotency keys
    # live a day, so a day after the last format-1 process stops no format-1 name is left.
    def idempotency(self, scope: str, key_digest: str) -> str:
        return self._client_key("i", scope, key_digest, self.store_format)

    def dedupe(self, scope: str, body_digest: str) -> str:
        return self._client_key("d", scope, body_digest, self.store_format)

    def other_idempotency(self, scope: str, key_digest: str) -> str:
        return self._client_key("i", scope, key_digest, 3 - self.store_format)

    def other_dedupe(self, scope: str, body_digest: str) -> str:
        return self._client_key("d", scope, body_digest, 3 - self.store_format)

    def _client_key(self, what: str, scope: str, digest: str, store_format: int) -> str:
        raw = hashlib.sha256(f"{scope}:{digest}".encode()).digest()
        # Format 1: the first 128 bits (22 characters); format 2: the first 84.
        name = (
            base64.urlsafe_b64encode(raw[:16]).decode()[:22]
            if store_format == 1
            else base64.urlsafe_b64encode(raw).decode()[:14]
        )
        return f"{self.namespace}:{what}:{shard_tag(shard_of_scope(scope))}:{name}"

    def citizen_limit(self, scope: str) -> str:
        """A citizen's own rate limit, in the shard of its scope (with its tickets)."""
        return f"{self.namespace}:limit:{shard_tag(shard_of_scope(scope))}:citizen:{scope}"

    def rate_limit(self, subject: str) -> str:
        return f"{self.namespace}:limit:{subject}"

    def spent_proof(self, proof_id: str) -> str:
        """A proof-of-work solution already used (``frontdoor.defense``)."""
        return f"{self.namespace}:pow:{proof_id}"

    @property
    def ticket_secret(self) -> str:
        return self._control("secret:ticket")

    def events_channel(self, shard: int) -> str:
        """Where a ticket of key shard ``shard`` announces its changes: a shard channel (SPUBLISH), so
        that on Redis Cluster a notice travels only within the ticket's own primary and its replica
        instead of to every node."""
        return f"{self.namespace}:events:{shard_tag(shard)}"

    # --- per-kind counters, one of each per key shard: read by summing over ``shards`` --------------
    @property
    def shards(self) -> range:
        return range(KEY_SHARDS)

    def enqueued_count(self, kind: str, shard: int) -> str:
        return f"{self.namespace}:count:{shard_tag(shard)}:{kind}:enqueued"

    def finished_count(self, kind: str, shard: int) -> str:
        return f"{self.namespace}:count:{shard_tag(shard)}:{kind}:finished"

    def finished_bucket(self, kind: str, bucket: int, shard: int) -> str:
        return f"{self.namespace}:rate:{shard_tag(shard)}:{kind}:{bucket}"

    def eta_outcomes(self, kind: str, shard: int) -> str:
        """Hash of ``hit`` / ``miss`` counts: finished tickets within / beyond their promised p90."""
        return f"{self.namespace}:eta:{shard_tag(shard)}:{kind}"

    def eta_lateness(self, kind: str, bucket: int, shard: int) -> str:
        """Hash of lateness bucket -> tickets of the kind that finished in this rate bucket (5 s)."""
        return f"{self.namespace}:lateness:{shard_tag(shard)}:{kind}:{bucket}"

    def done_index(self, shard: int) -> str:
        """Sorted set of the shard's done tickets, scored by when they finished: the archive mover's
        list of what to move (``workers.upkeep.archive_mover``)."""
        return f"{self.namespace}:done:{shard_tag(shard)}"

    def archive_claim(self, shard: int) -> str:
        """The lease of the one worker process moving the shard's done tickets to the archive."""
        return f"{self.namespace}:archiving:{shard_tag(shard)}"

    def retrying(self, kind: str, shard: int) -> str:
        """Sorted set of ``kind``'s tickets waiting in a delay queue, scored by when their message should
        be back at a worker (``workers.retries.retry_sweeper`` republishes those that are overdue)."""
        return f"{self.namespace}:retrying:{shard_tag(shard)}:{kind}"

    def dead_letters(self, kind: str, shard: int) -> str:
        """Sorted set of failed ticket IDs of ``kind`` (their messages are in the dead-letter queue)."""
        return f"{self.namespace}:dead:{shard_tag(shard)}:{kind}"

    # --- traffic accounting, admission and capacity ------------------------------------------------
    def _control(self, rest: str) -> str:
        return f"{self.namespace}:{{{self.namespace}.ctl}}:{rest}"

    def traffic_second(self, kind: str, metric: str, second: int) -> str:
        return self._control(f"traffic:{kind}:{metric}:s{second}")

    def traffic_minute(self, kind: str, metric: str, minute: int) -> str:
        return self._control(f"traffic:{kind}:{metric}:m{minute}")

    def admission_limit(self, kind: str) -> str:
        return self.rate_limit(f"admit:{kind}")

    @property
    def admission_plan(self) -> str:
        return self._control("admission:plan")

    @property
    def admission_plan_kept(self) -> str:
        """The last plan, kept for days: where a controller starting cold resumes capacity and calibration."""
        return self._control("admission:plan:kept")

    @property
    def controller_lease(self) -> str:
        return self._control("admission:lease")

    def forecast_state(self, kind: str) -> str:
        return self._control(f"forecast:{kind}")

    def capacity_reports(self, kind: str) -> str:
        return self._control(f"capacity:{kind}")

    @property
    def throttle(self) -> str:
        return self._control("throttle")

    @property
    def throttle_changed(self) -> str:
        return f"{self.namespace}:throttle:changed"

    @property
    def audit_log(self) -> str:
        return self._control("audit")

    # --- enterprises, batches, bulk scheduling ------------------------------------------------------
    @property
    def enterprises(self) -> str:
        return self._control("enterprises")

    def enterprise(self, enterprise_id: str) -> str:
        return self._control(f"enterprise:{enterprise_id}")

    def enterprise_key(self, key_hash: str) -> str:
        return self._control(f"enterprise-key:{key_hash}")

    def enterprise_quota(self, enterprise_id: str) -> str:
        return self.rate_limit(f"enterprise:{enterprise_id}")

    # A batch lives in its key shard, which is its enterprise's (its ID is minted there, as its tickets).
    def batch(self, batch_id: str) -> str:
        return f"{self.namespace}:batch:{shard_tag(shard_of(batch_id))}:{batch_id}"

    def batch_tickets(self, batch_id: str) -> str:
        return f"{self.batch(batch_id)}:tickets"

    def batch_finished(self, batch_id: str) -> str:
        return f"{self.batch(batch_id)}:finished"

    def batch_response(self, batch_id: str) -> str:
        return f"{self.batch(batch_id)}:response"

    def batch_callbacks(self, shard: int) -> str:
        """Sorted set of the shard's batch IDs whose callback is due, scored by when."""
        return f"{self.namespace}:callbacks:{shard_tag(shard)}"

    def bulk_calendar(self, kind: str) -> str:
        return self._control(f"bulk:calendar:{kind}")

    def bulk_booked(self, kind: str) -> str:
        return self._control(f"bulk:booked:{kind}")

    @property
    def bulk_windows(self) -> str:
        """Sorted set of ``kind:window_start`` whose window queue still holds items, scored by start."""
        return self._control("bulk:windows")

    def outlook(self, kind: str) -> str:
        """The controller's per-minute view for operators: recent arrivals and the forecast ahead."""
        return self._control(f"outlook:{kind}")
