"""Moves done tickets out of Redis into the archive once they are ``ARCHIVE_AFTER_SECONDS`` old, and
deletes archived ones past ``ARCHIVE_RETENTION_SECONDS``.

At ten million submissions a day, thirty days of records in Redis would be hundreds of gigabytes of RAM;
a done ticket never changes, so after a day it is read from PostgreSQL instead (the ticket store reads
through). Every worker process runs a mover; a lease per key shard lets one of them move that shard. A
move writes the archive first and deletes from Redis only what is unchanged since it was read, so a
mover that dies half-way leaves tickets in both places, never in neither, and the next move redoes it.
Failed tickets stay in Redis, where an operator can still replay them.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable

import structlog

from queue_config.aio.periodic import Periodic
from queue_config.key_shards import KEY_SHARDS
from queue_config.observability import metrics
from queue_config.stores.archive import ArchivedTicket, DoneTickets, TicketArchive

log = structlog.get_logger("archive_mover")

MOVE_BATCH = 500
EXPIRE_BATCH = 5000


class ArchiveMover:
    def __init__(
        self,
        done: DoneTickets,
        archive: TicketArchive,
        *,
        after_seconds: float,
        retention_seconds: float,
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._done = done
        self._archive = archive
        self._after = after_seconds
        self._retention = retention_seconds
        self._interval = interval
        self._clock = clock
        self._holder = uuid.uuid4().hex[:12]
        self._loop = Periodic("archive-mover", interval, self.move)

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def move(self) -> int:
        """One pass over the shards this process may move, then the retention; tickets moved."""
        now = self._clock()
        moved = 0
        shards = list(range(KEY_SHARDS))
        random.shuffle(shards)  # processes starting together do not all wait on shard 0
        for shard in shards:
            if not await self._done.claim(shard, self._holder, int(self._interval * 3000)):
                continue
            while True:
                due = await self._done.done_before(shard, now - self._after, MOVE_BATCH)
                if not due:
                    break
                await self._archive.store(
                    [ArchivedTicket(t.ticket_id, t.finished_at, t.fields) for t in due if t.fields]
                )
                moved += await self._done.forget(shard, due)
                if len(due) < MOVE_BATCH:
                    break
        expired = await self._archive.expire(now - self._retention, EXPIRE_BATCH)
        metrics.ARCHIVED.inc(moved)
        metrics.ARCHIVE_EXPIRED.inc(expired)
        if moved or expired:
            log.info("archive_moved", moved=moved, expired=expired)
        return moved
