"""Queue position and ETA of a ticket from the shared counters in Redis.

Every accepted ticket gets a per-kind sequence number; every finished ticket bumps a per-kind counter and
a 5-second rate bucket. Position is the difference. The drain rate is the admission controller's measured
capacity when its plan is fresh (else the last minute's finishes). The ETA treats completions as a
Poisson process at that rate: the k-th completion is Gamma(k, rate), whose median is about k/rate and
whose 90th percentile about (k + 1.28·sqrt(k) + 1)/rate; plus the core call's own latency. The p90 is
then multiplied by the controller's calibration factor: the 92nd percentile, over the last 30 s of
finished tickets, of how long each took over the model's p90 for it (``queue_config.planning.lateness``).

Why a percentile of measured lateness and not a controller steering the hit rate: the hit rate is known
only when tickets finish, a whole wait after their promise, so a controller that keeps raising the factor
while misses arrive overshoots. A step run began with a cold-start batch promised at an assumed rate; the
factor then climbed to its cap of 5 and citizens were promised 330 s for 50 s waits for two minutes.

In a new namespace there is nothing to measure yet: until the plan says the capacity is measured, the
p90 allows each kind a third of ASSUMED_DRAIN_PER_SECOND and carries no model (nothing is learnt from
it); after that, until the calibration has first read a factor, the model's p90 is scored but promised
no narrower than that (``bench/reports/2026-11-29-cold-start-promises.md``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import structlog

from queue_config.kinds import KINDS
from queue_config.planning.admission_plan import PlanReader
from queue_config.planning.throttle import Mode
from queue_config.settings import Settings
from queue_config.stores.tickets import RATE_BUCKET_SECONDS

log = structlog.get_logger("eta")

_WINDOW_BUCKETS = 12  # one minute
_SNAPSHOT_SECONDS = 0.5
RATE_MARGIN = 0.85
# Before capacity is measured, the rate is ASSUMED_DRAIN_PER_SECOND, set per kind; but kinds may share
# one core system, and then each drains only its share. The p90 allows for that; the median keeps the
# assumption. A step run's first batch, promised at the assumption, took up to 4.8 times its promise.
UNMEASURED_RATE_SHARE = 1 / len(KINDS)


@dataclass(frozen=True, slots=True)
class Eta:
    position: int
    eta_seconds: float
    eta_p90_seconds: float
    # The model's p90 before calibration, what a ticket's lateness is measured against; None while the
    # rate is an assumption, since such a promise's lateness says nothing about the model.
    model_p90_seconds: float | None = None

    @property
    def poll_after_seconds(self) -> int:
        """How long a client should wait before polling again: a quarter of the remaining wait, so
        a ticket far back in line is polled rarely, bounded to 1..60 seconds."""
        return max(1, min(60, math.ceil(self.eta_seconds / 4)))


@dataclass(frozen=True, slots=True)
class _Snapshot:
    at: float
    enqueued: int
    finished: int
    rate: float
    measured: bool


class FinishCounts(Protocol):
    """What the ETA reads of the ticket store (``queue_config.stores.tickets.TicketStore``)."""

    async def finishes(self, kind: str, buckets: Sequence[int]) -> tuple[int, int, int]: ...


class EtaEstimator:
    def __init__(
        self,
        store: FinishCounts,
        *,
        assumed_rate: float,
        service_seconds: float = 1.0,
        plan: PlanReader | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._plan = plan
        self._store = store
        self._assumed_rate = assumed_rate
        self._service = service_seconds
        self._clock = clock
        self._snapshots: dict[str, _Snapshot] = {}
        self._placed: dict[str, int] = {}  # places given out since the kind's snapshot
        self._reading: dict[str, asyncio.Future[_Snapshot]] = {}

    @classmethod
    def from_settings(
        cls, store: FinishCounts, settings: Settings, plan: PlanReader | None = None
    ) -> EtaEstimator:
        return cls(store, assumed_rate=settings.assumed_drain_per_second, plan=plan)

    async def estimate(self, kind: str, seq: int | None) -> Eta:
        """The ETA of the ticket with sequence number ``seq``. Never raises: an ETA is advice, and it is
        asked for after a ticket's message is already confirmed, when a Redis error must not turn into
        an error answer for a ticket that will be carried out (see ``_fallback``)."""
        try:
            snap = await self._snapshot(kind)
        except Exception as exc:
            log.warning("eta_counters_unreadable", kind=kind, error=repr(exc))
            snap = self._fallback(kind, seq)
        position = max(0, (seq or 0) - snap.finished - 1)
        planned = self._plan.kind(kind) if self._plan is not None else None
        if planned is not None and planned.capacity > 0:
            rate, service, scale = planned.capacity, planned.service_seconds, planned.eta_scale
            measured, calibrated = planned.capacity_measured, planned.eta_calibrated
        else:
            rate, service, scale = snap.rate, self._service, 1.0
            measured = calibrated = snap.measured
        eta = self.from_position(position, rate, service, scale)
        if not (measured and calibrated):
            # Until measured, the rate is the assumption: nothing is learnt from such a promise. Once
            # measured, the model's promises are scored so that calibration can begin, but they are
            # checked only a whole wait later, and kinds sharing a core drift in their shares (a step
            # run's bare model missed half its promises in the seconds after the measurement): until
            # then the p90 keeps the width it had on the assumption.
            wide = self.from_position(position, rate, service, margin=RATE_MARGIN * UNMEASURED_RATE_SHARE)
            eta = replace(
                eta,
                eta_p90_seconds=max(eta.eta_p90_seconds, wide.eta_p90_seconds),
                model_p90_seconds=eta.model_p90_seconds if measured else None,
            )
        pause = self.maintenance_left()
        if pause > 0:
            # Nothing moves until maintenance ends: the whole wait starts then.
            eta = Eta(
                eta.position,
                round(eta.eta_seconds + pause, 1),
                round(eta.eta_p90_seconds + pause, 1),
                None if eta.model_p90_seconds is None else eta.model_p90_seconds + pause,
            )
        return eta

    async def place(self, kind: str) -> int | None:
        """The place in line of a ticket about to be queued: the counters last read (at most half a
        second old) plus the places this process gave out since; None when they cannot be read.

        With the counters sharded (``queue_config.key_shards``) no one call can hand out a global
        sequence number, so the place is this estimate. What it misses, other doors' tickets since the
        read, is at most half a second of admitted arrivals, and admission keeps those near the drain
        rate: about half a second of ETA."""
        try:
            snap = await self._snapshot(kind)
        except Exception:
            return None
        self._placed[kind] = placed = self._placed.get(kind, 0) + 1
        return snap.enqueued + placed

    def maintenance_left(self) -> float:
        """Seconds until the announced end of maintenance (0 when not in maintenance or none is set)."""
        ends = self._plan.throttle.maintenance_ends_at() if self._plan is not None else None
        return 0.0 if ends is None else max(0.0, ends - self._clock())

    @property
    def maintenance(self) -> bool:
        return self._plan is not None and self._plan.throttle.mode is Mode.MAINTENANCE

    @property
    def maintenance_until(self) -> str | None:
        return self._plan.throttle.maintenance_until if self.maintenance and self._plan else None

    @staticmethod
    def from_position(
        position: int, rate: float, service: float = 1.0, scale: float = 1.0, margin: float = RATE_MARGIN
    ) -> Eta:
        k = position + 1
        median = k / rate + service
        # Beyond the Poisson spread, the rate itself is an estimate: the p90 allows it to be 15 % high.
        model = (k + 1.2816 * math.sqrt(k) + 1) / (rate * margin) + 2 * service
        p90 = max(median, model * scale)
        # Rounded up to a tenth of a second: an ETA is never zero and never rounds below the estimate.
        return Eta(position, math.ceil(median * 10) / 10, math.ceil(p90 * 10) / 10, round(model, 3))

    def _fallback(self, kind: str, seq: int | None) -> _Snapshot:
        """The last snapshot read, however old; with none, the assumed rate and a place at the head of
        the line (unmeasured, so the p90 is the wide one and nothing is learnt from the promise)."""
        last = self._snapshots.get(kind)
        if last is not None:
            return last
        finished = max(0, (seq or 1) - 1)
        return _Snapshot(self._clock(), finished, finished, self._assumed_rate, measured=False)

    async def drain_rate(self, kind: str) -> float:
        return (await self._snapshot(kind)).rate

    async def _snapshot(self, kind: str) -> _Snapshot:
        now = self._clock()
        snap = self._snapshots.get(kind)
        if snap is not None and now - snap.at < _SNAPSHOT_SECONDS:
            return snap
        # One read per kind at a time: at a thousand requests a second, every request that came while
        # the first refresh was on its way used to make its own (9 % of a front door's time).
        reading = self._reading.get(kind)
        if reading is None:
            reading = asyncio.ensure_future(self._read(kind, now))
            self._reading[kind] = reading
            reading.add_done_callback(lambda _: self._reading.pop(kind, None))
        return await asyncio.shield(reading)

    async def _read(self, kind: str, now: float) -> _Snapshot:
        current = int(now // RATE_BUCKET_SECONDS)
        buckets = [current - i for i in range(1, _WINDOW_BUCKETS + 1)]
        enqueued, finished, done = await self._store.finishes(kind, buckets)
        measured = done / (_WINDOW_BUCKETS * RATE_BUCKET_SECONDS)
        # With too few finishes the measurement says more about idleness than about capacity.
        rate = measured if done >= 10 else max(measured, self._assumed_rate)
        snap = _Snapshot(now, enqueued, finished, rate, measured=done >= 10)
        self._snapshots[kind] = snap
        self._placed[kind] = 0
        return snap
