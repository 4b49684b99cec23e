"""Per-client limits (SPEC): each resident ID and each client IP gets its own allowance a minute.

A client over its limit gets 429 with an honest ``Retry-After``: the time until the shared limiter will
admit its next request. The check costs one Redis round-trip and never touches RabbitMQ.
"""

from __future__ import annotations

import datetime as dt
import math

from aiohttp import web

from frontdoor.client_ip import Network, client_ip
from frontdoor.gcra import GcraLimiter, Limit, Verdict
from queue_config.http import error_response
from queue_config.names import Names
from queue_config.ticket_ids import TicketIds


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

    async def check(self, request: web.Request, citizen_id: str) -> Verdict:
        ip = client_ip(request.remote, request.headers.get("X-Forwarded-For"), self._trusted)
        # The resident ID enters the key only through a keyed digest: no resident IDs in Redis keys.
        citizen = self._names.rate_limit("citizen:" + self._ids.scope("citizen:" + citizen_id))
        return await self._limiter.acquire(
            [Limit(citizen, self._per_client), Limit(self._names.rate_limit("ip:" + ip), self._per_ip)]
        )


def too_many_requests(verdict: Verdict) -> web.Response:
    retry_after = max(1, math.ceil(verdict.retry_after_seconds))
    # For a client over its own limit, the next time with spare capacity is when its allowance refills.
    suggested = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=retry_after)
    return error_response(
        429,
        "rate_limited",
        "Too many requests from this client; please retry after the indicated time.",
        headers={"Retry-After": str(retry_after)},
        retry_after_seconds=retry_after,
        suggested_time=suggested.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
