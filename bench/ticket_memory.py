"""``python -m bench.ticket_memory``: Redis bytes per open ticket, by key (issue 17).

A front door with no worker (so every ticket stays open), its throttle opened wide, takes ``--tickets``
submissions from the benchmark's citizens, each with an ``Idempotency-Key``; then every key of the
namespace is weighed with ``MEMORY USAGE`` and grouped by what it is (ticket record, idempotency key,
dedupe key, limiter, counters). Prints a Markdown table: bytes per ticket by group and in all.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections import Counter

import aiohttp
from redis.asyncio import Redis

from bench import citizen_tokens
from bench.harness import targets
from bench.ports import free_port_block
from bench.submissions import submission
from queue_config.kinds import KINDS
from queue_config.settings import Settings

AUTH = {"Authorization": f"Bearer {targets.OPERATOR_TOKEN}"}
GROUPS = ("ticket", "idem", "dedupe", "limit")


def group_of(key: str, namespace: str) -> str:
    part = key.removeprefix(namespace + ":").split(":", 1)[0]
    return part if part in GROUPS else "other"


async def measure(tickets: int, concurrency: int = 32) -> tuple[int, Counter[str], Counter[str]]:
    layout = targets.Layout(
        namespace=f"tgmem-{uuid.uuid4().hex[:8]}",
        port_base=free_port_block(targets.Layout.PORTS),
        worker_processes=0,
    )
    async with aiohttp.ClientSession() as http:
        running = await targets.start(targets.TICKETGATE, layout, http)
        try:
            wide = {"mode": "manual", "rates": dict.fromkeys(KINDS, 1e6)}
            async with http.put(layout.front_url + "/v1/admin/throttle", json=wide, headers=AUTH) as r:
                r.raise_for_status()
            await asyncio.sleep(1.5)
            tokens = citizen_tokens.read(layout.tokens_file)
            numbers = iter(range(tickets))
            accepted = 0

            async def client() -> None:
                nonlocal accepted
                for n in numbers:
                    body = submission(700_000_000 + n)
                    headers = {
                        **citizen_tokens.header(tokens, body["citizen_id"]),
                        "Idempotency-Key": f"k-{n}",
                    }
                    async with http.post(
                        layout.front_url + "/v1/submissions", json=body, headers=headers
                    ) as r:
                        accepted += r.status == 202

            await asyncio.gather(*(client() for _ in range(concurrency)))
            redis = Redis.from_url(Settings.from_env(layout.env()).redis_url)
            sizes: Counter[str] = Counter()
            counts: Counter[str] = Counter()
            async for key in redis.scan_iter(f"{layout.namespace}:*", count=1000):
                name = key.decode()
                group = group_of(name, layout.namespace)
                sizes[group] += int(await redis.memory_usage(name, samples=0) or 0)
                counts[group] += 1
            await redis.aclose()
            return accepted, sizes, counts
        finally:
            await running.stop()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ticket_memory", description=__doc__)
    p.add_argument("--tickets", type=int, default=5000, help="open tickets to weigh (default 5000)")
    args = p.parse_args()
    accepted, sizes, counts = asyncio.run(measure(args.tickets))
    command = f"python -m bench.ticket_memory --tickets {args.tickets}"
    print(f"{accepted:,} open tickets, each with an Idempotency-Key (`{command}`)")
    print()
    print("| keys | count | bytes | bytes per ticket |")
    print("| --- | ---: | ---: | ---: |")
    for group in (*GROUPS, "other"):
        print(f"| {group} | {counts[group]:,} | {sizes[group]:,} | {sizes[group] / max(1, accepted):,.0f} |")
    total = sum(sizes.values())
    print(f"| all | {sum(counts.values()):,} | {total:,} | {total / max(1, accepted):,.0f} |")


if __name__ == "__main__":
    main()
