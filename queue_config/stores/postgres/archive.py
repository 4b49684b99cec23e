"""The archive of finished tickets in PostgreSQL, through asyncpg.

The pool opens on first use (a worker or status API starts while PostgreSQL is away, and reads of
tickets still in Redis never need it) and brings the schema up to date then. Every failure to reach the
database is ``ArchiveUnavailable``, which readers answer with 503: a ticket the archive cannot be asked
about is not a ticket that does not exist.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import asyncpg
import orjson
import structlog

from queue_config.errors import ArchiveUnavailable
from queue_config.stores.archive import ArchivedTicket
from queue_config.stores.postgres.migrations import migrate

log = structlog.get_logger("archive")

_T = TypeVar("_T")
# Each query's bound: a status read waits no longer than this for the archive before its 503.
QUERY_TIMEOUT_SECONDS = 2.0
_FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PostgresArchive:
    def __init__(self, url: str, namespace: str, *, max_connections: int = 4) -> None:
        self._url = url
        self._namespace = namespace
        self._max = max_connections
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def _open(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                pool = await asyncpg.create_pool(
                    self._url, min_size=1, max_size=self._max, timeout=QUERY_TIMEOUT_SECONDS
                )
                try:
                    async with pool.acquire() as connection:
                        if applied := await migrate(connection):
                            log.info("archive_migrated", applied=applied)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
        return self._pool

    async def _run(self, what: str, query: Callable[[asyncpg.Pool], Awaitable[_T]]) -> _T:
        try:
            pool = await asyncio.wait_for(self._open(), QUERY_TIMEOUT_SECONDS * 2)
            return await asyncio.wait_for(query(pool), QUERY_TIMEOUT_SECONDS)
        except _FAILURES as exc:
            raise ArchiveUnavailable(f"archive {what} failed: {exc!r}") from exc

    async def store(self, tickets: Sequence[ArchivedTicket]) -> None:
        rows = [
            (self._namespace, t.ticket_id, _timestamp(t.finished_at), orjson.dumps(dict(t.fields)).decode())
            for t in tickets
        ]
        if not rows:
            return

        async def insert(pool: asyncpg.Pool) -> None:
            await pool.executemany(
                "INSERT INTO ticket_archive (namespace, ticket_id, finished_at, fields)"
                " VALUES ($1, $2, $3, $4::jsonb)"
                " ON CONFLICT (namespace, ticket_id)"
                " DO UPDATE SET finished_at = EXCLUDED.finished_at, fields = EXCLUDED.fields",
                rows,
            )

        await self._run("store", insert)

    async def fetch(self, ticket_ids: Sequence[str]) -> dict[str, Mapping[str, str]]:
        if not ticket_ids:
            return {}

        async def select(pool: asyncpg.Pool) -> list[Any]:
            return list(
                await pool.fetch(
                    "SELECT ticket_id, fields::text AS fields FROM ticket_archive"
                    " WHERE namespace = $1 AND ticket_id = ANY($2::text[])",
                    self._namespace,
                    list(ticket_ids),
                )
            )

        rows = await self._run("fetch", select)
        return {row["ticket_id"]: orjson.loads(row["fields"]) for row in rows}

    async def expire(self, finished_before: float, limit: int) -> int:
        async def delete(pool: asyncpg.Pool) -> str:
            status: str = await pool.execute(
                "DELETE FROM ticket_archive WHERE ctid IN (SELECT ctid FROM ticket_archive"
                " WHERE finished_at < $1 LIMIT $2)",
                _timestamp(finished_before),
                limit,
            )
            return status

        return int((await self._run("expiry", delete)).split()[-1])

    async def forget_namespace(self) -> int:
        async def delete(pool: asyncpg.Pool) -> str:
            status: str = await pool.execute(
                "DELETE FROM ticket_archive WHERE namespace = $1", self._namespace
            )
            return status

        return int((await self._run("purge", delete)).split()[-1])

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


def _timestamp(unix: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix, dt.UTC)
