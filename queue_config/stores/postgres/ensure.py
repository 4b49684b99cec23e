"""``python -m queue_config.stores.postgres.ensure``: create the archive's database when it does not
exist, and bring its schema up to date (``scripts/setup.sh`` runs it; every process also migrates on
first use). Exits 1 with the reason when PostgreSQL refuses."""

from __future__ import annotations

import asyncio
import sys
import urllib.parse

import asyncpg

from queue_config.settings import Settings
from queue_config.stores.postgres.migrations import migrate


async def ensure(url: str) -> list[str]:
    parts = urllib.parse.urlsplit(url)
    database = parts.path.lstrip("/") or "postgres"
    # CREATE DATABASE from the server's own maintenance database, with the same credentials.
    admin = await asyncpg.connect(urllib.parse.urlunsplit(parts._replace(path="/postgres")), timeout=10)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            # An identifier cannot be a bind parameter: quoted instead.
            await admin.execute(f'CREATE DATABASE "{database.replace(chr(34), chr(34) * 2)}"')
    finally:
        await admin.close()
    connection = await asyncpg.connect(url, timeout=10)
    try:
        return await migrate(connection)
    finally:
        await connection.close()


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else Settings.from_env().database_url
    if not url:
        return 0
    try:
        applied = asyncio.run(ensure(url))
    except (OSError, asyncpg.PostgresError) as exc:
        host = urllib.parse.urlsplit(url).hostname
        print(f"[setup] PostgreSQL at {host} refused the archive's set-up: {exc}", file=sys.stderr)
        print(
            "[setup] set DATABASE_URL to a database ticketgate may use (or to '' for no archive)",
            file=sys.stderr,
        )
        return 1
    if applied:
        print(f"[setup] archive schema: applied {', '.join(applied)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
