"""After a chaos run: where every ticket a 202 (or a 200 naming an existing ticket) gave out ended up.

Read from the system's own records in its private Redis, and from the core simulator's ledger, which
counts the effects applied under each ticket ID: ``done`` with one effect, ``failed`` with none, and
nothing else. A ticket whose record is gone is *lost*; one still open when the drain time is up is
*stuck*; one with two effects was *applied twice*.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import aiohttp
import orjson
from redis.asyncio import Redis

from bench.chaos.load import Answer
from queue_config.names import Names
from queue_config.stores.archive import TicketArchive
from queue_config.stores.redis import record_fields

TERMINAL = {b"done", b"failed"}


@dataclass
class Accounting:
    issued: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    failed_by_error: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    stuck: list[tuple[str, str]] = field(default_factory=list)
    applied_twice: list[str] = field(default_factory=list)
    done_without_effect: list[str] = field(default_factory=list)
    failed_with_effect: list[str] = field(default_factory=list)
    drain_seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not (
            self.lost
            or self.stuck
            or self.applied_twice
            or self.done_without_effect
            or self.failed_with_effect
        )


def issued_tickets(answers: Iterable[Answer]) -> list[str]:
    seen: dict[str, None] = {}
    for answer in answers:
        if answer.status in (200, 202):
            for ticket in answer.tickets:
                seen.setdefault(ticket)
    return list(seen)


def _field(record: dict[bytes, bytes], field: str) -> bytes | None:
    """``field`` of a record in either store format, the long name first (as ``record_fields.read``)."""
    return record.get(field.encode(), record.get(record_fields.stored(field).encode()))


async def _records(
    redis: Redis, names: Names, tickets: list[str], archive: TicketArchive | None
) -> list[dict[bytes, bytes]]:
    """Each ticket's record: from Redis, or from the archive for one done long enough ago to have moved
    there (a ticket in neither is lost)."""
    records: list[dict[bytes, bytes]] = []
    for start in range(0, len(tickets), 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for ticket in tickets[start : start + 1000]:
                pipe.hgetall(names.ticket(ticket))
            records += await pipe.execute()
    missing = [i for i, record in enumerate(records) if not record]
    if archive is not None and missing:
        for start in range(0, len(missing), 1000):
            chunk = missing[start : start + 1000]
            archived = await archive.fetch([tickets[i] for i in chunk])
            for i in chunk:
                if (fields := archived.get(tickets[i])) is not None:
                    records[i] = {k.encode(): v.encode() for k, v in fields.items()}
    return records


async def wait_for_drain(
    redis: Redis,
    names: Names,
    tickets: list[str],
    timeout: float,
    progress: bool = False,
    archive: TicketArchive | None = None,
) -> float:
    """Seconds until every ticket is done or failed (or ``timeout``, whichever first)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        statuses = [_field(r, "status") for r in await _records(redis, names, tickets, archive)]
        open_ = sum(1 for s in statuses if s not in TERMINAL)
        if progress:
            print(f"\r  draining: {open_} of {len(tickets)} tickets still open   ", end="", flush=True)
        if open_ == 0:
            break
        await asyncio.sleep(2.0)
    if progress:
        print()
    return time.monotonic() - began


async def account(
    redis: Redis,
    names: Names,
    http: aiohttp.ClientSession,
    core_url: str,
    tickets: list[str],
    archive: TicketArchive | None = None,
) -> Accounting:
    result = Accounting(issued=len(tickets))
    records = await _records(redis, names, tickets, archive)
    limit = asyncio.Semaphore(64)

    async def effects_of(ticket: str) -> int:
        async with limit, http.get(f"{core_url}/v1/ledger/{ticket}") as response:
            return int((await response.json())["effects"])

    effects = await asyncio.gather(*(effects_of(t) for t in tickets))
    for ticket, record, n in zip(tickets, records, effects, strict=True):
        status = (_field(record, "status") or b"").decode()
        if not record:
            result.lost.append(ticket)
            result.by_status["(no record)"] += 1
            continue
        result.by_status[status] += 1
        if n > 1:
            result.applied_twice.append(ticket)
        if status == "done" and n == 0:
            result.done_without_effect.append(ticket)
        elif status == "failed":
            error = orjson.loads(_field(record, "error") or b"{}")
            code = error.get("code", "?") if isinstance(error, dict) else "?"
            result.failed_by_error[str(code)] += 1
            if n > 0:
                result.failed_with_effect.append(ticket)
        elif status not in ("done", "failed"):
            result.stuck.append((ticket, status))
    return result
