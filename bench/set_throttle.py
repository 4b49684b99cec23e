"""``python -m bench.set_throttle '{"mode": "manual", "rates": {"payment": 1}}'``: merge fields into the
throttle document of ``NAMESPACE`` in Redis (what ``PUT /v1/admin/throttle`` will do for operators), for
benchmarks that need a fixed admission rate."""

from __future__ import annotations

import asyncio
import sys

import msgspec

from queue_config.planning.throttle import Throttle, merged
from queue_config.settings import Settings
from queue_config.stores.backend import Stores


async def merge(settings: Settings, changes: dict[str, object]) -> Throttle:
    stores = Stores.open(settings)
    try:
        throttle = msgspec.convert(merged(await stores.throttle.get(), changes), Throttle)
        await stores.throttle.put(throttle)
        return throttle
    finally:
        await stores.close()


def main() -> None:
    changes = msgspec.json.decode(sys.argv[1].encode())
    print(msgspec.json.encode(asyncio.run(merge(Settings.from_env(), changes))).decode())


if __name__ == "__main__":
    main()
