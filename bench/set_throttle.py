"""``python -m bench.set_throttle '{"mode": "manual", "rates": {"payment": 1}}'``: merge fields into the
throttle document of ``NAMESPACE`` in Redis (what ``PUT /v1/admin/throttle`` will do for operators), for
benchmarks that need a fixed admission rate."""

from __future__ import annotations

import asyncio
import sys

import msgspec
from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.planning.throttle import Throttle, ThrottleStore, merged
from queue_config.settings import Settings


async def merge(settings: Settings, changes: dict[str, object]) -> Throttle:
    redis = Redis.from_url(settings.redis_url)
    try:
        store = ThrottleStore(redis, Names(settings.namespace), Throttle.defaults(settings))
        throttle = msgspec.convert(merged(await store.get(), changes), Throttle)
        await store.put(throttle)
        return throttle
    finally:
        await redis.aclose()


def main() -> None:
    changes = msgspec.json.decode(sys.argv[1].encode())
    print(msgspec.json.encode(asyncio.run(merge(Settings.from_env(), changes))).decode())


if __name__ == "__main__":
    main()
