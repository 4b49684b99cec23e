"""Per-client limits (SPEC): each resident ID and each client IP gets its own allowance a minute.

A client over its limit gets 429 with an honest ``Retry-After``: the time until the shared limiter will
admit its next request. The check costs one Redis round-trip and never touches RabbitMQ; and once a client
is refused until T, this front door refuses it locally until T without asking Redis at all, which is
safe because no other front door can make that client admissible earlier, only later. A client hammering
the door after its 429 (a script attack, a retry storm) then costs almost nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import OrderedDict

from aiohttp import web

from frontdoor.client_ip import Network, client_ip
from frontdoor.gcra import GcraLimiter, Limit, Verdict
from queue_config.http import retry_later
from queue_config.names import Names
from queue_config.ticket_ids import TicketIds

# Bounds the memory of the local refusal cache; the oldest entries go first (they expire soonest).
MAX_REMEMBERED_REFUSALS = 100_000


class ClientLimits:
    def __init__(
        self,
        limiter: GcraLimiter,
        names: Names,
        ids: TicketIds,
        *,
        per_client_per_minute: float,
        per_ip_per_minute: float,
        trusted_proxies: tuple[Network, ...],
    ) -> None:
        self._limiter = limiter
        self._names = names
        self._ids = ids
        self._per_client = per_client_per_minute
        self._per_ip = per_ip_per_minute
        self._trusted = trusted_proxies
        self._refused_until: OrderedDict[str, float] = OrderedDict()

    async def check(self, request: web.Request, citizen_id: str) -> Verdict:
        ip = client_ip(request.remote, request.headers.get("X-Forwarded-For"), self._trusted)
        # The resident ID enters the key only through a keyed digest: no resident IDs in Redis keys.
        citizen = self._names.rate_limit("citizen:" + self._ids.scope("citizen:" + citizen_id))
        limits = [Limit(citizen, self._per_client), Limit(self._names.rate_limit("ip:" + ip), self._per_ip)]
        now = time.monotonic()
        for limit in limits:
            until = self._refused_until.get(limit.key)
            if until is not None:
                if until > now:
                    return Verdict(False, until - now, limit.key)
                del self._refused_until[limit.key]
        verdict = await self._limiter.acquire(limits)
        if not verdict.allowed and verdict.exceeded is not None:
            self._remember(verdict.exceeded, now + verdict.retry_after_seconds)
        return verdict

    def _remember(self, key: str, until: float) -> None:
        self._refused_until[key] = until
        self._refused_until.move_to_end(key)
        while len(self._refused_until) > MAX_REMEMBERED_REFUSALS:
            self._refused_until.popitem(last=False)


def too_many_requests(verdict: Verdict) -> web.Response:
    # For a client over its own limit, the next time with spare capacity is when its allowance refills.
    suggested = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=math.ceil(verdict.retry_after_seconds))
    return retry_later(
        429,
        "rate_limited",
        "Too many requests from this client; please retry after the indicated time.",
        verdict.retry_after_seconds,
        suggested,
    )
