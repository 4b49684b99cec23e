"""The accounting: every ticket a 202 gave out, looked up in the ticket store and the core's ledger.

A ticket is ``lost`` when its record is missing, ``unfinished`` when it was not done or failed within
the drain timeout, and ``applied twice`` when the core's ledger holds more than one effect for it. For
the baselines, which keep no comparable record, the report compares their 2xx answers with the core's
effects.
"""

from __future__ import annotations

import asyncio
import csv
import statistics
import time
from dataclasses import astuple, dataclass, field, fields
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.stores.redis import record_fields

_FIELDS = (
    "status",
    "created_at",
    "updated_at",
    "promised_by",
    "scheduled_for",
    "batch",
    "kind",
    "seq",
    "attempts",
)
CITIZENS, BULK = "citizens", "bulk items"
_FINISHED = (b"done", b"failed")


@dataclass(frozen=True, slots=True)
class TicketRow:
    """One finished ticket as the store last saw it, for checking promises against finishes by hand."""

    kind: str
    source: str
    seq: int
    created_at: float
    promised_by: float | None
    finished_at: float
    status: str
    attempts: int

    @property
    def promise_use(self) -> float | None:
        """Its wait over its promised p90 (above 1: the promise was missed); None when not promised."""
        if self.promised_by is None or self.promised_by <= self.created_at:
            return None
        return (self.finished_at - self.created_at) / (self.promised_by - self.created_at)


@dataclass(frozen=True, slots=True)
class PromiseWindow:
    """The promises given to one source's tickets issued in one window of the run."""

    start: float  # seconds into the run
    source: str
    held: int
    judged: int
    use: float  # median of wait over promised p90


@dataclass
class Accounting:
    issued: int = 0
    done: int = 0
    failed: int = 0
    scheduled: int = 0  # bulk items still booked for a window that opens after the drain
    unfinished: int = 0  # still queued or processing when the drain timed out
    lost: int = 0  # no record at all
    applied_twice: int = 0
    not_applied: int = 0  # done, yet no effect in the ledger
    eta_hits: int = 0
    eta_judged: int = 0
    # Held promises apart for citizens' tickets and enterprises' bulk items: (held, judged).
    eta_by_source: dict[str, tuple[int, int]] = field(default_factory=dict)
    drain_seconds: float = 0.0
    completion: list[tuple[float, float]] = field(default_factory=list)  # (created_at, seconds to finish)
    tickets: list[TicketRow] = field(default_factory=list)

    @property
    def eta_hit_rate(self) -> float | None:
        return self.eta_hits / self.eta_judged if self.eta_judged else None

    def source_hit_rate(self, source: str) -> float | None:
        held, judged = self.eta_by_source.get(source, (0, 0))
        return held / judged if judged else None

    @property
    def promise_use(self) -> float | None:
        """Median over promised tickets of their wait over their promised p90: a hit rate near 100 % with
        this far below 1 means promises too wide to plan by."""
        shares = [share for t in self.tickets if (share := t.promise_use) is not None]
        return statistics.median(shares) if shares else None

    def promises_by_window(self, seconds: float = 10.0) -> list[PromiseWindow]:
        """Promises held, by when the ticket was issued: what the first seconds of a run, before anything
        was measured, promised apart from the rest."""
        promised = [(t, share) for t in self.tickets if (share := t.promise_use) is not None]
        if not promised:
            return []
        first = min(t.created_at for t, _ in promised)
        groups: dict[tuple[float, str], list[float]] = {}
        for t, share in promised:
            groups.setdefault(((t.created_at - first) // seconds * seconds, t.source), []).append(share)
        return [
            PromiseWindow(start, source, sum(s <= 1 for s in shares), len(shares), statistics.median(shares))
            for (start, source), shares in sorted(groups.items())
        ]

    @property
    def zero_loss(self) -> bool:
        return self.lost == self.unfinished == self.applied_twice == self.not_applied == 0


async def _records(redis: Redis, names: Names, ids: list[str]) -> list[list[bytes | None]]:
    out: list[list[bytes | None]] = []
    for start in range(0, len(ids), 2000):
        async with redis.pipeline(transaction=False) as pipe:
            for ticket_id in ids[start : start + 2000]:
                pipe.hmget(names.ticket(ticket_id), record_fields.both(*_FIELDS))
            out += [record_fields.first(row) for row in await pipe.execute()]
    return out


async def wait_finished(redis: Redis, names: Names, ids: list[str], timeout: float) -> float:
    """Seconds until every ticket is done or failed (or the timeout). A bulk item booked into a window
    that opens after the timeout is not waited for: it is counted as scheduled."""
    began = time.monotonic()
    beyond = time.time() + timeout

    def settled(record: list[bytes | None]) -> bool:
        status, booked_for = record[0], record[4]
        return status in _FINISHED or (status == b"scheduled" and float(booked_for or 0) > beyond)

    pending = list(ids)
    while pending and time.monotonic() - began < timeout:
        records = await _records(redis, names, pending)
        pending = [t for t, r in zip(pending, records, strict=True) if not settled(r)]
        if pending:
            await asyncio.sleep(1.0)
    return time.monotonic() - began


async def account(
    redis: Redis, names: Names, http: aiohttp.ClientSession, core_url: str, ids: list[str], drain: float
) -> Accounting:
    result = Accounting(issued=len(ids))
    result.drain_seconds = await wait_finished(redis, names, ids, drain)
    records = await _records(redis, names, ids)
    done_ids = []
    for ticket_id, record in zip(ids, records, strict=True):
        status, created, updated, promised, _, batch, kind, seq, attempts = record
        if status == b"done":
            result.done += 1
            done_ids.append(ticket_id)
        elif status == b"failed":
            result.failed += 1
        elif status == b"scheduled":
            result.scheduled += 1
            continue
        elif status is None:
            result.lost += 1
            continue
        else:
            result.unfinished += 1
            continue
        source = BULK if batch else CITIZENS
        if created is not None and updated is not None:
            result.completion.append((float(created), float(updated) - float(created)))
            result.tickets.append(
                TicketRow(
                    kind=(kind or b"").decode(),
                    source=source,
                    seq=int(seq or 0),
                    created_at=float(created),
                    promised_by=float(promised) if promised is not None else None,
                    finished_at=float(updated),
                    status=status.decode(),
                    attempts=int(attempts or 0),
                )
            )
        if promised is not None and updated is not None:
            held = float(updated) <= float(promised)
            result.eta_judged += 1
            result.eta_hits += held
            hits, judged = result.eta_by_source.get(source, (0, 0))
            result.eta_by_source[source] = (hits + held, judged + 1)
    effects = await _effects(http, core_url, done_ids)
    result.applied_twice = sum(1 for n in effects if n > 1)
    result.not_applied = sum(1 for n in effects if n == 0)
    return result


def write_tickets(acc: Accounting, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([column.name for column in fields(TicketRow)])
        writer.writerows(astuple(row) for row in acc.tickets)


async def _effects(http: aiohttp.ClientSession, core_url: str, ids: list[str]) -> list[int]:
    window = asyncio.Semaphore(64)

    async def one(ticket_id: str) -> int:
        async with window, http.get(f"{core_url}/v1/ledger/{ticket_id}") as response:
            return int((await response.json())["effects"])

    return list(await asyncio.gather(*(one(t) for t in ids)))


async def ledger_totals(http: aiohttp.ClientSession, core_url: str) -> dict[str, int]:
    async with http.get(core_url + "/v1/ledger") as response:
        return {k: int(v) for k, v in (await response.json()).items()}
