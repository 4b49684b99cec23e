"""The admission policy, as pure functions the controller calls every second (and tests call directly).

- **Capacity** is what the workers are measured to finish: while work waits, the completion rate is the
  capacity; while they idle, their adaptive concurrency limits over their call latency (Little's law)
  say what they could do, an optimistic figure that may raise the estimate only gradually. It is
  smoothed, so one slow second does not halve admissions.
- **Rate**: admit what the measured capacity can finish within the promised wait. The backlog is steered
  towards 80 % of ``capacity * max_wait`` (the rest is room for priorities and for capacity to drop): at
  that target the door admits exactly the capacity, below it more, above it less, closing the gap within
  a few seconds. A trickle always remains so urgent work can still enter.
- **Shedding answer**: when demand exceeds the rate, the forecast names the next minute whose expected
  arrivals leave spare capacity; that is ``suggested_time``, and ``Retry-After`` points there (capped).
- **Citizens' share**: enterprise traffic may take at most ``enterprise_share`` of a kind's rate, and only
  what it is actually sending; the rest is the citizens'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from frontdoor.admission.forecast import Forecaster
from queue_config.planning.throttle import Throttle

TARGET_SHARE_OF_WAIT = 0.8
CATCH_UP_SECONDS = 5.0
MIN_RATE_SHARE = 0.05
CAPACITY_SMOOTHING = 0.3


@dataclass(frozen=True, slots=True)
class CapacityInputs:
    completed_rate: float  # tickets finished a second, recent
    potential: float | None  # sum over worker processes of limit / latency; None without reports
    backlog: int
    previous: float | None
    assumed: float
    live: float = 0.0  # sum over worker processes of in-flight calls / latency: throughput right now

    @property
    def busy(self) -> bool:
        return self.backlog > max(2.0, self.completed_rate)

    @property
    def measures_drain(self) -> bool:
        """Work waits and tickets finish: the completion rate is what the workers can do."""
        return self.busy and self.completed_rate > 0


def estimate_capacity(i: CapacityInputs) -> float:
    if i.measures_drain:
        # Work waits, so what finishes is what the workers can do, whatever limits them (the core, the
        # CPU, Redis): the one measure that cannot flatter.
        measured = i.completed_rate
    elif i.busy and i.live > 0:
        measured = i.live  # the first seconds of a rush: Little's law on what is in flight
    elif i.potential is not None and i.potential > 0:
        # Idle workers' limit over latency flatters: latency was measured below the limit, and would rise
        # if the limit were used. So it may lift the estimate only by a quarter a step; a rush then shows
        # the true figure through the completion rate within seconds.
        ceiling = i.potential if i.previous is None else min(i.potential, 1.25 * i.previous)
        measured = max(ceiling, i.completed_rate)
    elif i.completed_rate > 0:
        measured = max(i.completed_rate, i.previous or 0.0)
    else:
        measured = i.previous if i.previous is not None else i.assumed
    if i.previous is None:
        return measured
    return i.previous + CAPACITY_SMOOTHING * (measured - i.previous)


def admission_rate(capacity: float, backlog: int, max_wait: float) -> float:
    """Admissions a second that keep the backlog finishable within ``max_wait`` at ``capacity``."""
    target = capacity * max_wait * TARGET_SHARE_OF_WAIT
    rate = capacity + (target - backlog) / CATCH_UP_SECONDS
    return max(rate, capacity * MIN_RATE_SHARE)


@dataclass(frozen=True, slots=True)
class ShedAdvice:
    retry_after_seconds: float
    suggested_at: float | None


def shed_advice(
    *,
    now: float,
    demand: float,
    rate: float,
    capacity: float,
    forecast: Forecaster | None,
    max_retry_after: float,
    not_before: float | None = None,
) -> ShedAdvice:
    """What a shed client is told: when the forecast expects spare capacity, and how long to wait.

    ``not_before`` is when processing can start again at all (the announced end of maintenance): no
    earlier time would be honest, whatever the forecast says."""
    last = forecast.last_minute if forecast is not None else None
    ahead = forecast.first_minute_below(capacity * 60) if forecast is not None and last is not None else None
    window_start: float | None = (last + ahead) * 60 if last is not None and ahead is not None else None
    if not_before is not None and not_before > now:
        window_start = max(window_start or 0.0, not_before)
    if window_start is not None:
        wait = max(1.0, window_start - now)
        return ShedAdvice(min(wait, max_retry_after), max(window_start, now + 1))
    # No forecast to go by: each retry has about rate/demand odds, so space retries by the overload.
    overload = demand / rate if rate > 0 else math.inf
    wait = min(max_retry_after, max(1.0, overload))
    return ShedAdvice(wait, None)


@dataclass(frozen=True, slots=True)
class Rates:
    total: float  # admissions a second of the kind
    citizens: float
    enterprises: float  # the bulk items' part, which they use now


def effective_rate(
    throttle: Throttle, kind: str, *, capacity: float, backlog: int, enterprise_demand: float
) -> Rates:
    """The one rule from the operator's mode to a kind's admission rate, for the controller's plan,
    every door's admission and the operator's dry run: in manual mode the operator's rate for the kind
    where one is set, otherwise (auto, maintenance) the rate that keeps the backlog finishable within
    the promised wait at ``capacity``; then split between citizens and enterprises."""
    manual = throttle.manual_rate(kind)
    total = manual if manual is not None else admission_rate(capacity, backlog, throttle.max_wait_seconds)
    citizens, enterprises = split_rate(total, throttle.enterprise_share, enterprise_demand)
    return Rates(total, citizens, enterprises)


def split_rate(total: float, enterprise_share: float, enterprise_demand: float) -> tuple[float, float]:
    """(citizens' rate, enterprises' rate): enterprises get what they send, up to their share."""
    enterprise = min(total * enterprise_share, max(0.0, enterprise_demand))
    return total - enterprise, enterprise
