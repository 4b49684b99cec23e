"""The admission plan: what the admission controller decided this second, for every process to read.

One controller (whichever front door holds the lease) writes it every second; every front door enforces
its rates through the shared limiter, and the ETA of every answer uses its capacity and calibration. The
plan expires on its own, so a dead controller leaves no stale rates behind: without a fresh plan the
front doors admit without a load limit (per-client limits still apply) until a controller takes over.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec
import structlog

from queue_config.aio.periodic import Periodic
from queue_config.planning.throttle import Throttle
from queue_config.planning.throttle import decode as decode_throttle
from queue_config.stores.control import ControlStore
from queue_config.stores.notices import Notices

log = structlog.get_logger("admission_plan")

# A plan older than this is ignored; the controller writes one every control interval.
PLAN_STALE_SECONDS = 10.0


class KindPlan(msgspec.Struct, frozen=True, kw_only=True):
    rate: float | None  # citizens' admissions a second, shared by all front doors; None: no load limit
    enterprise_rate: float | None = None  # the part of the rate bulk items use now
    enterprise_cap: float | None = None  # bulk items a second that may run now; the rest is scheduled
    capacity: float  # tickets a second the workers are measured to finish
    # False while ``capacity`` still rests on ASSUMED_DRAIN_PER_SECOND: promises are then wider, and
    # not used to calibrate (they measure the assumption, not the model). Plans kept by earlier versions
    # had measured capacity.
    capacity_measured: bool = True
    # False until promises made on measured capacity have been checked against enough finishes (the
    # calibration's first 20): until then the p90 keeps the width it had on the assumption.
    eta_calibrated: bool = True
    backlog: int  # tickets waiting in RabbitMQ or with a worker
    demand: float  # arrivals a second, recent
    service_seconds: float  # a core call's recent latency (1 s, assumed, until a worker has measured it)
    service_measured: bool = True  # a worker has measured it (plans kept by earlier versions: unknown)
    eta_scale: float  # calibration factor applied to the p90 ETA
    retry_after_seconds: float  # what a shed answer tells the client
    suggested_at: float | None  # unix time of the forecast's next window with spare capacity
    workers: int = 0  # worker processes reporting for this kind


class AdmissionPlan(msgspec.Struct, frozen=True, kw_only=True):
    at: float
    leader: str
    kinds: dict[str, KindPlan]


_plan_decoder = msgspec.json.Decoder(AdmissionPlan)


def encode(plan: AdmissionPlan) -> bytes:
    return msgspec.json.encode(plan)


def decode(raw: bytes | str) -> AdmissionPlan:
    return _plan_decoder.decode(raw)


class PlanReader:
    """Keeps the latest plan and throttle document in memory, re-read every ``interval`` seconds with one
    round-trip and at once when a throttle change is announced; the hot path reads attributes, never
    Redis."""

    def __init__(
        self,
        control: ControlStore,
        notices: Notices,
        default_throttle: Throttle,
        *,
        interval: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._control = control
        self._notice_source = notices
        self._interval = interval
        self._clock = clock
        self.throttle = default_throttle
        self._default_throttle = default_throttle
        self._plan: AdmissionPlan | None = None
        self._loop = Periodic("plan-reader", interval, self.refresh)
        # An operator's change is announced: re-read at once rather than at the next tick. A message
        # lost in a reconnect only delays the change to that tick.
        self._notices = Periodic("throttle-notices", 1.0, self._listen)

    def kind(self, kind: str) -> KindPlan | None:
        plan = self._plan
        if plan is None or self._clock() - plan.at > PLAN_STALE_SECONDS:
            return None
        return plan.kinds.get(kind)

    @property
    def plan(self) -> AdmissionPlan | None:
        return self._plan

    async def refresh(self) -> None:
        raw_plan, raw_throttle = await self._control.plan_and_throttle()
        try:
            self._plan = decode(raw_plan) if raw_plan else None
            self.throttle = decode_throttle(raw_throttle) if raw_throttle else self._default_throttle
        except msgspec.DecodeError as exc:
            # Another version wrote something we cannot read: keep what we had and say so.
            log.warning("plan_undecodable", error=str(exc))

    async def _listen(self) -> None:
        async with self._notice_source.throttle_changes() as changes:
            while True:
                if await changes.next(timeout=5.0) is not None:
                    await self.refresh()

    async def start(self) -> None:
        await self._loop.start()
        await self._notices.start()

    async def stop(self) -> None:
        await self._notices.stop()
        await self._loop.stop()
