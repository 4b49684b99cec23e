"""The simulator's capacity model and ledger, free of HTTP so it can be reasoned about and tested alone.

Capacity: ``slots`` parallel executions. A call waits for a slot, then takes about ``service_ms``,
stretched by contention: each call's service time grows with the number of callers waiting behind it,
as a database's does when it thrashes, up to ``max_latency_ms``. So latency climbs from ~0.8 s toward
28 s under overload and throughput falls, which is what ticketgate must protect the core systems from.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import math
import os
import random
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from queue_config.kinds import REGISTRY

_BY_OPERATION = {spec.core_operation: spec for spec in REGISTRY.values()}


@dataclass(frozen=True, slots=True)
class CoreSettings:
    port: int = 8090
    host: str = "127.0.0.1"
    slots: int = 8
    service_ms: float = 800.0
    max_latency_ms: float = 28_000.0
    failure_rate: float = 0.0
    permanent_failure_rate: float = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CoreSettings:
        e = os.environ if env is None else env
        d = cls()
        return cls(
            port=int(e.get("CORE_PORT", d.port)),
            host=e.get("CORE_HOST", d.host),
            slots=int(e.get("CORE_SLOTS", d.slots)),
            service_ms=float(e.get("CORE_SERVICE_MS", d.service_ms)),
            max_latency_ms=float(e.get("CORE_MAX_LATENCY_MS", d.max_latency_ms)),
            failure_rate=float(e.get("CORE_FAILURE_RATE", d.failure_rate)),
            permanent_failure_rate=float(e.get("CORE_PERMANENT_FAILURE_RATE", d.permanent_failure_rate)),
        )


class TransientFailure(Exception):
    """Answered 503: the same call may succeed later."""


class PermanentFailure(Exception):
    """Answered 422: no retry can fix it. ``code`` says why (``rejected`` when nothing more is known)."""

    def __init__(self, message: str, code: str = "rejected") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class LedgerEntry:
    effects: int = 0
    calls: int = 0
    result: dict[str, Any] | None = None


@dataclass
class FaultRule:
    """Scripted faults for tests: calls whose payload contains ``match`` fail; transient ones only for
    the first ``transient`` calls of each idempotency key."""

    match: dict[str, Any]
    transient: int = 0
    permanent: bool = False

    def applies(self, payload: Mapping[str, Any]) -> bool:
        return all(payload.get(k) == v for k, v in self.match.items())


class _Slots:
    """Parallel executions, resizable while calls wait (a degraded database loses capacity live)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.busy = 0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.busy < self.n)
            self.busy += 1

    async def release(self) -> None:
        async with self._changed:
            self.busy -= 1
            self._changed.notify()

    async def resize(self, n: int) -> None:
        async with self._changed:
            self.n = n
            self._changed.notify_all()


@dataclass
class CoreModel:
    settings: CoreSettings
    ledger: dict[str, LedgerEntry] = field(default_factory=dict)
    faults: list[FaultRule] = field(default_factory=list)
    waiting: int = 0
    in_service: int = 0
    # (finished at, latency) of recent calls
    latencies: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=50_000))

    def __post_init__(self) -> None:
        self._slots = _Slots(self.settings.slots)
        self._key_locks: dict[str, asyncio.Lock] = {}
        # (operation, values of its unique fields) -> the idempotency key that claimed them
        self._claims: dict[tuple[Any, ...], str] = {}
        self._rng = random.Random()

    async def reconfigure(self, *, slots: int | None = None, service_ms: float | None = None) -> None:
        """Change capacity live, as a core system under maintenance or a slow disk would."""
        if slots is not None:
            self.settings = dataclasses.replace(self.settings, slots=slots)
            await self._slots.resize(slots)
        if service_ms is not None:
            self.settings = dataclasses.replace(self.settings, service_ms=service_ms)

    async def execute(self, kind: str, key: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        entry = self.ledger.setdefault(key, LedgerEntry())
        entry.calls += 1
        lock = self._key_locks.setdefault(key, asyncio.Lock())
        started = time.monotonic()
        try:
            # One call per key at a time: two concurrent retries of one ticket must not both apply it.
            async with lock:
                if entry.result is not None:
                    return entry.result
                claim = self._claim(kind, key, payload)
                try:
                    await self._occupy_slot(payload, entry)
                except PermanentFailure:
                    if claim is not None:
                        self._claims.pop(claim, None)
                    raise
                entry.effects += 1
                entry.result = _result(kind, key, payload)
                return entry.result
        finally:
            now = time.monotonic()
            self.latencies.append((now, now - started))
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._key_locks.pop(key, None)

    def _claim(self, kind: str, key: str, payload: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Claim the values the kind accepts once (``KindSpec.unique``) for ``key``; a claim another
        key holds is a permanent refusal, as a core system refuses a second claim for one invoice."""
        spec = _BY_OPERATION.get(kind)
        if spec is None or not spec.unique:
            return None
        claim = (kind, *(payload.get(f) for f in spec.unique))
        owner = self._claims.setdefault(claim, key)
        if owner != key:
            raise PermanentFailure(f"already claimed: {', '.join(spec.unique)}", spec.duplicate_error)
        return claim

    async def _occupy_slot(self, payload: Mapping[str, Any], entry: LedgerEntry) -> None:
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.in_service += 1
        try:
            s = self.settings
            contention = 1 + self.waiting / s.slots
            service = min(s.service_ms * contention, s.max_latency_ms)
            service *= self._rng.uniform(0.8, 1.2)
            for rule in self.faults:
                if rule.applies(payload):
                    if rule.permanent:
                        raise PermanentFailure("rejected by scripted fault")
                    if entry.calls <= rule.transient:
                        await asyncio.sleep(service / 2000)
                        raise TransientFailure("scripted transient fault")
            roll = self._rng.random()
            if roll < s.permanent_failure_rate:
                raise PermanentFailure("core system rejected the request")
            if roll < s.permanent_failure_rate + s.failure_rate:
                await asyncio.sleep(service / 2000)
                raise TransientFailure("core system temporarily unavailable")
            await asyncio.sleep(service / 1000)
        finally:
            self.in_service -= 1
            await self._slots.release()

    def totals(self) -> dict[str, int]:
        return {
            "keys": len(self.ledger),
            "effects": sum(e.effects for e in self.ledger.values()),
            "calls": sum(e.calls for e in self.ledger.values()),
        }

    def stats(self, window_seconds: float | None = None) -> dict[str, Any]:
        """Latency percentiles of the calls finished in the last ``window_seconds`` (all kept if None)."""
        since = time.monotonic() - window_seconds if window_seconds is not None else -math.inf
        ordered = sorted(latency for at, latency in self.latencies if at >= since)

        def pct(q: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else None

        return {
            "slots": self.settings.slots,
            "in_service": self.in_service,
            "waiting": self.waiting,
            "service_ms": self.settings.service_ms,
            "latency_p50_seconds": pct(0.5),
            "latency_p99_seconds": pct(0.99),
            "samples": len(ordered),
        }


def _result(kind: str, key: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    ref = hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()[:16]
    if kind == "payment":
        return {"receipt_id": f"PAY-{ref}", "amount_cents": payload.get("amount_cents")}
    if kind == "transfer":
        return {"transfer_id": f"TRF-{ref}", "to_region": payload.get("to_region")}
    if kind != "pension":
        spec = _BY_OPERATION.get(kind)
        prefix = spec.receipt if spec is not None else kind[:3].upper()
        return {"receipt_id": f"{prefix}-{ref}", "amount_cents": payload.get("amount_cents")}
    if payload.get("action") == "claim":
        return {"claim_id": f"PEN-{ref}"}
    monthly = 150_000 + int(ref[:6], 16) % 350_000
    return {"estimate_id": f"EST-{ref}", "monthly_amount_cents": monthly}
