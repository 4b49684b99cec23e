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
from queue_config.stores.tickets import as_text

AUTH = {"Authorization": f"Bearer {targets.OPERATOR_TOKEN}"}
GROUPS = ("ticket", "idem", "dedupe", "limit")


# The short names of ``queue_config.names`` (``i``, ``d``) beside the legacy ones.
_SHORT = {"i": "idem", "d": "dedupe"}


def group_of(key: str, namespace: str) -> str:
    part = key.removeprefix(namespace + ":").split(":", 1)[0]
    part = _SHORT.get(part, part)
    return part if part in GROUPS else "other"


async def measure(
    tickets: int, concurrency: int = 32
) -> tuple[int, Counter[str], Counter[str], dict[str, str]]:
    layout = targets.Layout(
        # Short like production's "tg": every key's bytes include the namespace.
        namespace=f"m{uuid.uuid4().hex[:5]}",
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
            examples: dict[str, str] = {}
            async for key in redis.scan_iter(f"{layout.namespace}:*", count=1000):
                name = key.decode()
                group = group_of(name, layout.namespace)
                if group not in examples:
                    examples[group] = await _shown(redis, name)
                sizes[group] += int(await redis.memory_usage(name, samples=0) or 0)
                counts[group] += 1
            await redis.aclose()
            return accepted, sizes, counts, examples
        finally:
            await running.stop()


async def _shown(redis: Redis, name: str) -> str:
    """One key as stored, so the table's bytes can be read against the key's name and contents."""
    kind = as_text(await redis.type(name))
    if kind == "hash":
        fields = await redis.hgetall(name)
        value = " ".join(f"{as_text(k)}={as_text(v)}" for k, v in fields.items())
    elif kind == "string":
        value = as_text(await redis.get(name) or b"")
    else:
        value = f"({kind})"
    return f"`{name}` → `{value}`"


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ticket_memory", description=__doc__)
    p.add_argument("--tickets", type=int, default=5000, help="open tickets to weigh (default 5000)")
    args = p.parse_args()
    accepted, sizes, counts, examples = asyncio.run(measure(args.tickets))
    command = f"python -m bench.ticket_memory --tickets {args.tickets}"
    print(f"{accepted:,} open tickets, each with an Idempotency-Key (`{command}`)")
    print()
    print("| keys | count | bytes | bytes per ticket |")
    print("| --- | ---: | ---: | ---: |")
    for group in (*GROUPS, "other"):
        print(f"| {group} | {counts[group]:,} | {sizes[group]:,} | {sizes[group] / max(1, accepted):,.0f} |")
    total = sum(sizes.values())
    print(f"| all | {sum(counts.values()):,} | {total:,} | {total / max(1, accepted):,.0f} |")
    print()
    print("One key of each group, as stored:")
    print()
    for group, shown in sorted(examples.items()):
        print(f"- {group}: {shown}")


if __name__ == "__main__":
    main()
