"""The door's decision for one valid submission: admit it, 429 (its client is over its own limit) or 503
(the system is shedding load), in one Redis round-trip or none.

One limiter call checks the resident ID's and the client IP's allowances and the kind's admission rate
(set by the admission controller, shared by every front door), and charges all or none. A refusal is
remembered locally until its Retry-After: a client refused until T is refused here until T without Redis
(no other front door can make it admissible sooner), and while the kind's budget is spent, submissions of
that priority or lower are shed without Redis for the few milliseconds until it refills. Under a flood
most refusals therefore cost no I/O at all; none ever touches RabbitMQ.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections import OrderedDict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web

from frontdoor.admission.policy import effective_rate
from frontdoor.admission.priority import Priority, priority_of
from frontdoor.intake.client_ip import Network, request_ip
from frontdoor.intake.validation import Submission
from queue_config.names import Names
from queue_config.planning.admission_plan import KindPlan, PlanReader
from queue_config.stores.limiter import Limit, Limiter
from queue_config.ticket_ids import TicketIds
from queue_config.web.http import retry_later

# Bounds the memory of the local refusal cache; the oldest entries go first (they expire soonest).
MAX_REMEMBERED_REFUSALS = 100_000
SHED_MEMORY_SECONDS = 1.0
# Shed clients are told to come back a little later than the bare estimate, spread over this factor, so
# a thousand refused at once do not all return in the same second.
RETRY_SPREAD = 0.25


@dataclass(frozen=True, slots=True)
class Decision:
    status: int  # 0: admitted; 429 or 503: refused
    retry_after_seconds: float = 0.0
    suggested_at: float | None = None  # unix time of the next window with spare capacity
    priority: Priority = Priority.NORMAL

    @property
    def admitted(self) -> bool:
        return self.status == 0

    def response(self) -> web.Response:
        suggested = dt.datetime.fromtimestamp(
            self.suggested_at or time.time() + math.ceil(self.retry_after_seconds), dt.UTC
        )
        if self.status == 429:
            return retry_later(
                429,
                "rate_limited",
                "Too many requests from this client; please retry after the indicated time.",
                self.retry_after_seconds,
                suggested,
            )
        return retry_later(
            503,
            "shedding",
            "服务繁忙，已为您预估空闲时段 / The service is at capacity; please retry at the suggested time.",
            self.retry_after_seconds,
            suggested,
        )


class AdmissionGate:
    def __init__(
        self,
        limiter: Limiter,
        names: Names,
        ids: TicketIds,
        plan: PlanReader,
        *,
        trusted_proxies: tuple[Network, ...],
        timezone: str,
    ) -> None:
        self._limiter = limiter
        self._names = names
        self._ids = ids
        self._plan = plan
        self._trusted = trusted_proxies
        self._tz = ZoneInfo(timezone)
        self._refused_until: OrderedDict[str, float] = OrderedDict()
        # (kind, priority) -> (until, the rate that refused): a new rate, or a second, ends the memory.
        self._shed_until: dict[tuple[str, Priority], tuple[float, float]] = {}

    async def check(self, request: web.Request, sub: Submission) -> Decision:
        throttle = self._plan.throttle
        ip = request_ip(request, self._trusted)
        # The resident ID enters the key only through a keyed digest: no resident IDs in Redis keys.
        citizen = self._names.citizen_limit(self._ids.scope("citizen:" + sub.citizen_id))
        limits = [
            Limit.per_minute(citizen, throttle.per_client_per_minute),
            Limit.per_minute(self._names.rate_limit("ip:" + ip), throttle.per_ip_per_minute),
        ]
        now = time.monotonic()
        for limit in limits:
            until = self._refused_until.get(limit.key)
            if until is not None:
                if until > now:
                    return Decision(429, until - now)
                del self._refused_until[limit.key]

        priority = priority_of(sub, dt.datetime.now(self._tz).date())
        kind = sub.kind
        plan = self._plan.kind(kind)
        admission_key = self._names.admission_limit(kind)
        rate: float | None = None
        if plan is not None:
            # The operator's mode applies from the moment this door reads it, not from the controller's
            # next plan: a change is in force within the re-read (0.5 s, or the change notice).
            rate = effective_rate(
                throttle,
                kind,
                capacity=plan.capacity,
                backlog=plan.backlog,
                enterprise_demand=plan.enterprise_rate or 0.0,
            ).citizens
        if plan is not None and rate is not None:
            until, remembered = self._shed_until.get((kind, priority), (0.0, 0.0))
            if until > now and remembered == rate:
                return self._shed(plan, priority)
            limits.append(Limit.per_second(admission_key, rate, priority.burst_seconds))

        verdict = await self._limiter.acquire(limits)
        if verdict.allowed:
            return Decision(0, priority=priority)
        if verdict.exceeded == admission_key and plan is not None and rate is not None:
            # Remembered for at most a second, and only under the rate that refused: an operator's
            # change or the controller's next plan must take effect at once, not when the memory ends.
            until = now + min(verdict.retry_after_seconds, SHED_MEMORY_SECONDS)
            for lower in Priority:
                if lower <= priority:
                    self._shed_until[(kind, lower)] = (until, rate)
            return self._shed(plan, priority)
        if verdict.exceeded is not None:
            self._remember(verdict.exceeded, now + verdict.retry_after_seconds)
        return Decision(429, verdict.retry_after_seconds, priority=priority)

    @staticmethod
    def _shed(plan: KindPlan, priority: Priority) -> Decision:
        wait = plan.retry_after_seconds * (1 + RETRY_SPREAD * random.random())
        return Decision(503, wait, plan.suggested_at, priority)

    def _remember(self, key: str, until: float) -> None:
        self._refused_until[key] = until
        self._refused_until.move_to_end(key)
        while len(self._refused_until) > MAX_REMEMBERED_REFUSALS:
            self._refused_until.popitem(last=False)
