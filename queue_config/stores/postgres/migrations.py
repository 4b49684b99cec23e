"""Versioned SQL migrations, applied in order at connect: plain ``NNNN_<what>.sql`` files beside this
module, each run once in its own transaction and recorded in ``ticketgate_migrations``.

Hand-written rather than Alembic: one table, no ORM and no models to autogenerate from, and every
process that opens the archive must be able to bring a fresh database up to date without a separate
command. An advisory lock makes concurrent starters (two workers, a status API) apply each file once.
"""

from __future__ import annotations

import re
from importlib import resources

import asyncpg

# Any constant: held while migrating, so a second process waits, then finds every file applied.
_LOCK = 0x7469636B  # "tick"
_FILE = re.compile(r"^(\d{4})_\w+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration, in order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        if match := _FILE.match(entry.name):
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(connection: asyncpg.Connection) -> list[str]:
    """Apply the migrations this database lacks; the names of those applied."""
    applied: list[str] = []
    # Held across the whole run (CREATE TABLE IF NOT EXISTS itself races between two sessions).
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS ticketgate_migrations (version integer PRIMARY KEY,"
            " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["version"] for row in await connection.fetch("SELECT version FROM ticketgate_migrations")}
        for version, name, sql in migrations():
            if version in done:
                continue
            async with connection.transaction():
                await connection.execute(sql)
                await connection.execute(
                    "INSERT INTO ticketgate_migrations (version, name) VALUES ($1, $2)", version, name
                )
            applied.append(name)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK)
    return applied
