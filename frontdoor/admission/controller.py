"""The admission controller: once a second, turn measurements into the admission plan every door obeys.

Every front door runs one, but only the holder of a short lease in Redis acts, so there is one
forecaster per kind and one writer of the plan however many doors there are; if that door dies, another
takes the lease within a few seconds and resumes from the forecast state kept in Redis.

Each step reads, per kind: arrivals a second (summed over all doors by ``queue_config.stores.redis.traffic``),
completions (the ticket store's finish buckets), the workers' capacity reports, the backlog (tickets
queued and unfinished by the store's counters, or RabbitMQ's queue depth plus what workers hold, if
more), and how late recent tickets finished against their promised p90; it feeds whole minutes of
arrivals to the forecaster, and writes rates, capacity, shedding advice and ETA calibration as the plan.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aio_pika.abc import AbstractChannel

from frontdoor.admission import policy as admission
from frontdoor.admission.forecast import Forecaster
from frontdoor.admission.outlook import Outlook
from queue_config.aio.periodic import Periodic
from queue_config.broker import BrokerLink
from queue_config.kinds import KINDS
from queue_config.planning import lateness
from queue_config.planning.admission_plan import AdmissionPlan, KindPlan, encode
from queue_config.planning.admission_plan import decode as decode_plan
from queue_config.planning.throttle import Mode, Throttle
from queue_config.settings import Settings
from queue_config.stores import traffic
from queue_config.stores.backend import Stores
from queue_config.stores.tickets import RATE_BUCKET_SECONDS
from queue_config.topology import Topology

log = structlog.get_logger("controller")

LEASE_MS = 3000
PLAN_TTL_MS = 10_000
KEPT_PLAN_SECONDS = 8 * 24 * 3600
FORECAST_KEPT_SECONDS = 8 * 24 * 3600
# Arrivals of the last seconds that every door has flushed (they flush once a second).
DEMAND_WINDOW = range(2, 12)
# ETA calibration: the p90 promise should hold for 90 % of tickets; aim a little above.
ETA_HIT_TARGET = 0.92
ETA_MIN_SAMPLES = 20
# The last 30 s of finishes, in the ticket store's 5-second slots. Lateness is known only a whole wait
# after the promise, so a longer memory only keeps stale promises' errors: a minute kept a cold-start
# batch's 2-4x lateness in the factor for 70 s after the capacity estimate had been put right.
LATENESS_WINDOW_SLOTS = 6
# Calibration only ever widens the model's p90: early tickets meet easy promises, and narrowing on
# them broke the promises of the rush that followed.
ETA_SCALE_BOUNDS = (1.0, 5.0)
# Capacity counts as measured once tickets have finished under load for this long: the completion rate
# spans the current 5-second bucket and the one before, so only then does none of its window predate the
# rush, and the smoothing has left the assumption behind (0.7 ** 10 of it is left).
MEASURING_SECONDS = 2 * RATE_BUCKET_SECONDS


@dataclass
class _KindState:
    forecaster: Forecaster
    capacity: float | None = None
    measured_since: float | None = None  # first time tickets finished while work waited
    eta_scale: float = 1.0
    calibrated: bool = False  # eta_scale has been read off enough finished promises at least once
    saved_minute: int | None = None
    scanned_minute: int | None = None  # arrivals read up to here (a new forecast skips leading zeros)

    def capacity_measured(self, now: float) -> bool:
        return self.measured_since is not None and now - self.measured_since >= MEASURING_SECONDS


class AdmissionController:
    def __init__(
        self,
        stores: Stores,
        settings: Settings,
        broker: BrokerLink,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._control = stores.control
        self._settings = settings
        self._topology = Topology.from_settings(settings)
        self._broker = broker
        self._throttle = stores.throttle
        self._traffic = stores.traffic
        self._capacity = stores.capacity
        self._clock = clock
        self.identity = uuid.uuid4().hex[:12]
        self._kinds: dict[str, _KindState] | None = None
        self._channel: AbstractChannel | None = None
        self._outlook = Outlook(
            stores.control,
            stores.traffic,
            window_seconds=settings.bulk_window_seconds,
            every_seconds=min(60.0, settings.bulk_window_seconds),
        )
        self._loop = Periodic("admission-controller", settings.control_interval_seconds, self.step)
        self.leading = False

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        if self.leading:
            with contextlib.suppress(Exception):
                await self._save_forecasts(force=True)

    async def step(self) -> AdmissionPlan | None:
        leading = await self._control.hold_lease(self.identity, LEASE_MS)
        if leading and not self.leading:
            log.info("controller_leading", identity=self.identity)
            self._kinds = None  # resume from what the previous leader stored
        self.leading = leading
        if not leading:
            return None
        if self._kinds is None:
            self._kinds = await self._load()
        now = self._clock()
        throttle = await self._throttle.get()
        plans = {kind: await self._plan_kind(kind, self._kinds[kind], throttle, now) for kind in KINDS}
        plan = AdmissionPlan(at=now, leader=self.identity, kinds=plans)
        encoded = encode(plan)
        await self._control.write_plan(encoded, ttl_ms=PLAN_TTL_MS, kept_seconds=KEPT_PLAN_SECONDS)
        await self._save_forecasts()
        return plan

    async def _plan_kind(self, kind: str, state: _KindState, throttle: Throttle, now: float) -> KindPlan:
        second = int(now)
        arrivals = await self._traffic.seconds(kind, traffic.ARRIVALS, (second - s for s in DEMAND_WINDOW))
        demand = sum(arrivals) / len(DEMAND_WINDOW)
        await self._learn(kind, state, now)

        completed_rate = await self._traffic.finish_rate(kind, now)
        reports = await self._capacity.fresh(kind, now)
        # A process that has not called the core for this kind yet reports its presence, not a capacity.
        measured = [r for r in reports if r.measured]
        potential = sum(r.potential for r in measured) if measured else None
        live = sum(r.inflight / r.latency for r in reports if r.latency > 0)
        held = sum(r.held for r in reports)
        ready = await self._queue_depth(kind)
        backlog = max((ready or 0) + held, await self._unfinished(kind))
        inputs = admission.CapacityInputs(
            completed_rate=completed_rate,
            potential=potential,
            backlog=backlog,
            previous=state.capacity,
            assumed=self._settings.assumed_drain_per_second,
            live=live,
        )
        if throttle.mode is Mode.MAINTENANCE and state.capacity is not None:
            # Workers are stopped on purpose: what they will drain afterwards is what they drained before.
            capacity = state.capacity
        else:
            capacity = admission.estimate_capacity(inputs)
            if inputs.measures_drain and state.measured_since is None:
                state.measured_since = now
        state.capacity = capacity
        service = (
            sum(r.latency * max(r.inflight, 1) for r in measured) / sum(max(r.inflight, 1) for r in measured)
            if measured
            else 1.0
        )
        offered = await self._traffic.seconds(
            kind, traffic.ENTERPRISE_ARRIVALS, (second - s for s in DEMAND_WINDOW)
        )
        enterprise_demand = sum(offered) / len(DEMAND_WINDOW)
        rates = admission.effective_rate(
            throttle, kind, capacity=capacity, backlog=backlog, enterprise_demand=enterprise_demand
        )
        advice = admission.shed_advice(
            now=now,
            demand=demand,
            rate=rates.citizens,
            capacity=capacity,
            forecast=state.forecaster,
            max_retry_after=self._settings.shed_max_retry_after_seconds,
            not_before=throttle.maintenance_ends_at(),
        )
        await self._calibrate(kind, state, now)
        plan = KindPlan(
            rate=rates.citizens,
            enterprise_rate=round(rates.enterprises, 3),
            enterprise_cap=round(rates.total * throttle.enterprise_share, 3),
            capacity=round(capacity, 3),
            capacity_measured=state.capacity_measured(now),
            backlog=backlog,
            demand=round(demand, 3),
            service_seconds=round(service, 3),
            service_measured=bool(measured),
            eta_scale=round(state.eta_scale, 3),
            eta_calibrated=state.calibrated,
            retry_after_seconds=round(advice.retry_after_seconds, 1),
            suggested_at=advice.suggested_at,
            workers=len(reports),
        )
        if self._outlook.due(kind, now):
            await self._outlook.publish(
                kind,
                state.forecaster,
                plan,
                enterprise_share=throttle.enterprise_share,
                now=now,
            )
        return plan

    async def _learn(self, kind: str, state: _KindState, now: float) -> None:
        """Feed the forecaster every minute that every door has finished counting."""
        complete = int(now - 3) // 60 - 1
        last = state.forecaster.last_minute
        first = complete - 24 * 60 + 1 if last is None else last + 1
        first = max(first, complete - 8 * 24 * 60)
        if state.scanned_minute is not None:
            first = max(first, state.scanned_minute + 1)
        if first > complete:
            return
        state.scanned_minute = complete
        minutes = list(range(first, complete + 1))
        counts = await self._traffic.minutes(kind, traffic.ARRIVALS, minutes)
        if last is None:
            # A new forecast starts at the first minute anyone counted, not at a day of zeros.
            while minutes and counts[0] == 0:
                minutes.pop(0)
                counts.pop(0)
        for minute, count in zip(minutes, counts, strict=True):
            state.forecaster.observe(minute, count)

    async def _calibrate(self, kind: str, state: _KindState, now: float) -> None:
        """Set the kind's calibration to what the last 30 s of finished tickets needed: the factor on
        the model's p90 that ETA_HIT_TARGET of them finished within
        (see ``queue_config.planning.lateness``)."""
        slot = int(now // RATE_BUCKET_SECONDS)
        counts = await self._control.lateness(kind, [slot - back for back in range(LATENESS_WINDOW_SLOTS)])
        if sum(counts.values()) < ETA_MIN_SAMPLES:
            return  # too few to say; the last calibration stands
        needed = lateness.percentile(counts, ETA_HIT_TARGET)
        if needed is not None:
            low, high = ETA_SCALE_BOUNDS
            state.eta_scale = min(high, max(low, needed))
            state.calibrated = True

    async def _unfinished(self, kind: str) -> int:
        """Tickets queued and not yet finished, from the ticket store's counters. RabbitMQ counts
        messages, and a front door's bundle is many tickets in one; these count tickets, retries waiting
        in delay queues included."""
        return await self._control.unfinished(kind)

    async def _queue_depth(self, kind: str) -> int | None:
        if not self._broker.ready:
            return None
        try:
            if self._channel is None or self._channel.is_closed:
                self._channel = await self._broker.channel(prefetch=1)
            # Through the underlying aiormq channel: aio-pika's robust channel answers a repeated
            # declare_queue with the queue object it cached, whose message count never changes.
            raw = await self._channel.get_underlay_channel()
            depth = 0
            for queue in self._topology.work_queues(kind):
                declared = await raw.queue_declare(queue, passive=True)
                depth += int(declared.message_count or 0)
            return depth
        except Exception as exc:
            log.debug("queue_depth_failed", kind=kind, error=repr(exc))
            self._channel = None
            return None

    async def _load(self) -> dict[str, _KindState]:
        tz = self._settings.local_timezone
        states: dict[str, _KindState] = {}
        # After every door was down past the plan's 10 s, the kept plan still knows what the workers
        # drained: without it the first promises rest on ASSUMED_DRAIN_PER_SECOND for every kind.
        raw_plan = await self._control.last_plan()
        previous = decode_plan(raw_plan).kinds if raw_plan else {}
        for kind in KINDS:
            saved = await self._control.forecast_state(kind)
            holidays = self._settings.holidays
            forecaster = (
                Forecaster.from_state(saved, tz, holidays=holidays)
                if saved
                else Forecaster(tz, holidays=holidays)
            )
            state = _KindState(forecaster)
            if kind in previous:
                state.capacity = previous[kind].capacity
                state.eta_scale = previous[kind].eta_scale
                state.calibrated = previous[kind].eta_calibrated
                if previous[kind].capacity_measured:
                    state.measured_since = -float("inf")
            states[kind] = state
        return states

    async def _save_forecasts(self, force: bool = False) -> None:
        if self._kinds is None:
            return
        for kind, state in self._kinds.items():
            minute = state.forecaster.last_minute
            if minute is None or (minute == state.saved_minute and not force):
                continue
            await self._control.save_forecast_state(
                kind, state.forecaster.to_state(), ttl_seconds=FORECAST_KEPT_SECONDS
            )
            state.saved_minute = minute

    def forecaster(self, kind: str) -> Forecaster | None:
        return None if self._kinds is None else self._kinds[kind].forecaster
