"""The operator audit log: every change an operator makes (throttle, enterprises, dead-letter replays),
with when, which token (its fingerprint), what it was before and after. The newest ``KEPT`` are kept."""

from __future__ import annotations

import time
from typing import Any

import orjson
from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.web.http import iso_utc

KEPT = 1000


async def record(
    redis: Redis,
    names: Names,
    *,
    token: str,
    action: str,
    before: Any,
    after: Any,
    announce: str | None = None,
) -> None:
    """Keep one entry; ``announce`` also publishes a change notice on that channel, in the same
    transaction, so no reader sees the notice without the entry."""
    entry = {"at": time.time(), "token": token, "action": action, "before": before, "after": after}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lpush(names.audit_log, orjson.dumps(entry))
        pipe.ltrim(names.audit_log, 0, KEPT - 1)
        if announce is not None:
            pipe.publish(announce, b"1")
        await pipe.execute()


async def entries(redis: Redis, names: Names) -> list[dict[str, Any]]:
    raw = await redis.lrange(names.audit_log, 0, KEPT - 1)
    out = [orjson.loads(item) for item in raw]
    for entry in out:
        entry["at"] = iso_utc(entry["at"])
    return out
