"""``python -m bench.ticket_memory``: Redis bytes per open ticket, by key (issue 17).

A front door with no worker (so every ticket stays open), its throttle opened wide, takes ``--tickets``
submissions from the benchmark's citizens, each with an ``Idempotency-Key``; then every key of the
namespace is weighed with ``MEMORY USAGE`` and grouped by what it is (ticket record, idempotency key,
dedupe key, limiter, counters). Prints a Markdown table: bytes per ticket by group and in all.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import string
from collections import Counter

import aiohttp
from redis.asyncio import Redis

from bench import citizen_tokens
from bench.harness import targets
from bench.ports import free_port_block
from bench.submissions import submission
from queue_config.settings import Settings
from queue_config.stores.redis import record_fields
from queue_config.stores.tickets import as_text

AUTH = {"Authorization": f"Bearer {targets.OPERATOR_TOKEN}"}
GROUPS = ("ticket", "idem", "dedupe", "limit")
MODELLED = "ticket with a promise model"


# The short names of ``queue_config.names`` (``i``, ``d``) beside the legacy ones.
_SHORT = {"i": "idem", "d": "dedupe"}


def group_of(key: str, namespace: str) -> str:
    part = key.removeprefix(namespace + ":").split(":", 1)[0]
    part = _SHORT.get(part, part)
    return part if part in GROUPS else "other"


async def _unused_namespace(redis_url: str) -> str:
    """A two-character namespace with no key in it: the run purges its namespace when it stops, so a
    second run at the same time must not share it."""
    redis = Redis.from_url(redis_url)
    try:
        for name in random.sample([f"m{c}" for c in string.digits + string.ascii_lowercase], 36):
            if not [key async for key in redis.scan_iter(f"{name}:*", count=10_000)]:
                return name
    finally:
        await redis.aclose()
    raise RuntimeError("every namespace m0..mz holds keys: purge the ones a stopped run left")


async def measure(
    tickets: int, concurrency: int = 32
) -> tuple[int, Counter[str], Counter[str], Counter[str], dict[str, str]]:
    layout = targets.Layout(
        # As long as production's "tg": every key's bytes include the namespace.
        namespace=await _unused_namespace(Settings.from_env().redis_url),
        port_base=free_port_block(targets.Layout.PORTS),
        worker_processes=0,
    )
    async with aiohttp.ClientSession() as http:
        running = await targets.start(targets.TICKETGATE, layout, http)
        try:
            await targets.admit_everything(http, layout.front_url)
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
            largest: Counter[str] = Counter()
            examples: dict[str, str] = {}
            # Listed first: weighing makes (and drops) copies in the namespace, which a scan could meet.
            listed = [as_text(k) async for k in redis.scan_iter(f"{layout.namespace}:*", count=1000)]
            for name in listed:
                group = group_of(name, layout.namespace)
                if group not in examples:
                    examples[group] = await _shown(redis, name)
                size = int(await redis.memory_usage(name, samples=0) or 0)
                sizes[group] += size
                counts[group] += 1
                largest[group] = max(largest[group], size)
                if group == "ticket":
                    modelled = await _with_promise_model(redis, name)
                    sizes[MODELLED] += modelled
                    counts[MODELLED] += 1
                    largest[MODELLED] = max(largest[MODELLED], modelled)
            await redis.aclose()
            return accepted, sizes, counts, largest, examples
        finally:
            await running.stop()


async def _with_promise_model(redis: Redis, name: str) -> int:
    """The record's bytes once it also holds the model's p90 behind its promise, as a record does in
    production (the model needs measured drain, and this front door has no worker): weighed on a copy."""
    if await redis.hexists(name, record_fields.stored("promise_model")):
        return int(await redis.memory_usage(name, samples=0) or 0)
    copy = name[:-1] + "_"  # a name of the same length (no ticket ID ends so)
    await redis.copy(name, copy)
    # the widest value a p90 of up to a day takes (seconds, one decimal)
    await redis.hset(copy, record_fields.stored("promise_model"), "86400.0")
    try:
        return int(await redis.memory_usage(copy, samples=0) or 0)
    finally:
        await redis.delete(copy)


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
    accepted, sizes, counts, largest, examples = asyncio.run(measure(args.tickets))
    command = f"python -m bench.ticket_memory --tickets {args.tickets}"
    print(f"{accepted:,} open tickets, each with an Idempotency-Key (`{command}`)")
    print()
    print("| keys | count | bytes | bytes per ticket | largest key |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for group in ("ticket", MODELLED, *GROUPS[1:], "other"):
        print(
            f"| {group} | {counts[group]:,} | {sizes[group]:,} | {sizes[group] / max(1, accepted):,.0f}"
            f" | {largest[group]:,} |"
        )
    total = sum(v for g, v in sizes.items() if g != MODELLED)
    keys = sum(c for g, c in counts.items() if g != MODELLED)
    print(f"| all | {keys:,} | {total:,} | {total / max(1, accepted):,.0f} | |")
    print()
    owned = ("ticket", "idem", "dedupe")
    each = sum(sizes[g] for g in owned) / max(1, accepted)
    modelled = (sizes[MODELLED] + sizes["idem"] + sizes["dedupe"]) / max(1, accepted)
    print(
        f"The three keys a ticket owns (record, idempotency, dedupe): {each:,.0f} bytes a ticket, the largest"
        f" of each together {sum(largest[g] for g in owned):,}. With the promise model's field a record has"
        f" in production: {modelled:,.0f} a ticket, the largest"
        f" {largest[MODELLED] + largest['idem'] + largest['dedupe']:,}."
    )
    print()
    print("One key of each group, as stored:")
    print()
    for group, shown in sorted(examples.items()):
        print(f"- {group}: {shown}")


if __name__ == "__main__":
    main()
