"""How the ticket store lays out what it keeps per ticket: the record's field names and values, by store
format (``STORE_FORMAT``).

Format 2 (the default) names each record field with one letter, keeps the owner's first 16 digits, the
8 characters of a masked resident ID that are shown, 16 digits of an idempotency key's body digest, and
no field that still has its default (``attempts`` 0, ``updated_at`` = ``created_at``). A record is a
small hash, stored as a listpack whose entries carry their names: the names spelled out were a third of
an open ticket's record (issue 17: bytes per open ticket). Format 1 is what versions before 2026-12-06
wrote, field for field.

Every process reads both formats. A script that touches a record first renames the fields it finds under
the other format's names to its own (``compact`` in ``lib_record.lua``), values as they were. A rolling
upgrade from a version before runs every process with ``STORE_FORMAT=1`` first, so that the old ones
never meet a record they cannot read, and then switches them to 2. Code names a field by its long name;
the Lua scripts get the stored names as ``F`` (``lib_record.lua``), so they are declared once, here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from queue_config.kinds import Status
from queue_config.stores.tickets import TicketRecord, as_text

FIELDS: dict[str, str] = {
    "status": "s",
    "kind": "k",
    "citizen": "c",
    "attempts": "a",
    "failures": "f",
    "created_at": "t",
    "updated_at": "u",
    "owner": "o",
    "seq": "q",
    "batch": "b",
    "scheduled_for": "w",
    "promised_by": "p",
    "promise_model": "m",
    "result": "r",
    "error": "e",
    "parcel": "x",
    "swept": "y",
    "replayed_at": "z",
}
# Format 1 also kept when the promise was made; format 2 measures lateness from the ticket's creation,
# a few milliseconds earlier, and drops the field when it renames a record.
PROMISED_AT = "promised_at"

# A record's owner (``TicketIds.scope``, 32 hex digits) is, in format 2, its first 16: an equality check
# that a token's subject owns the ticket, never a name to look anything up by, for which 64 bits are
# plenty. An idempotency key keeps 16 digits of the body's digest likewise: 64 bits tell one client's
# two bodies under one key apart, and nobody can choose a body to match a digest under a secret-keyed key.
OWNER_DIGITS = {1: 32, 2: 16}
KEPT_DIGEST = {1: 32, 2: 16}


def stored(field: str, store_format: int = 2) -> str:
    """The name ``field`` (a long name) is stored under in ``store_format``."""
    return FIELDS[field] if store_format == 2 else field


def stored_citizen(masked: str, store_format: int = 2) -> str:
    """What a record keeps of a masked resident ID (``resident_id.mask``): in format 2 the 8 characters
    it shows."""
    if store_format == 2 and len(masked) == 18 and masked[6:16] == "*" * 10:
        return masked[:6] + masked[16:]
    return masked


def shown_citizen(kept: str) -> str:
    """The masked resident ID a record's ``citizen`` field stands for (either format)."""
    if len(kept) == 8 and "*" not in kept:
        return kept[:6] + "*" * 10 + kept[6:]
    return kept


def moment(at: float) -> str:
    """A time as a record keeps it: unix seconds to the millisecond (14 characters, where repr gives 18)."""
    return f"{at:.3f}"


def promise(promised_by: float | None, scheduled_for: float | None, model_p90: float | None) -> list[str]:
    """A commit's promise as the commit scripts take it: the p90 deadline and the window (unix times),
    and the model's p90 behind the promise to a tenth of a second (what lateness buckets can tell
    apart); "" for each one not given."""
    return [
        "" if promised_by is None else moment(promised_by),
        "" if scheduled_for is None else moment(scheduled_for),
        "" if model_p90 is None else f"{model_p90:.1f}",
    ]


def lua_constants(store_format: int) -> dict[str, str]:
    """The placeholders ``lib_record.lua`` and ``lib_reserve.lua`` take, for ``store_format``."""
    other = 3 - store_format
    mine = {long: stored(long, store_format) for long in FIELDS}
    foreign = {stored(long, other): name for long, name in mine.items()}
    dropped = [PROMISED_AT] if store_format == 2 else []
    return {
        "RECORD_FIELDS": _table({long: f"'{name}'" for long, name in mine.items()}),
        "RECORD_FOREIGN": _table({f"['{name}']": f"'{to}'" for name, to in foreign.items()}),
        "RECORD_DROPPED": _table({name: "true" for name in dropped}),
        "RECORD_FOREIGN_STATUS": stored("status", other),
        "RECORD_FORMAT": str(store_format),
        "KEPT_DIGEST": str(KEPT_DIGEST[store_format]),
    }


def _table(entries: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{key} = {value}" for key, value in entries.items()) + "}"


def read(fields: Mapping[str, Any], field: str, default: Any = None) -> Any:
    """``field`` of a record read whole (``HGETALL``, or the archive's copy of it), under either name.
    Where both are there the long name's value is the newer: every script of this version renames a
    record's long names first, so only a process of a version before writes a long name beside a short."""
    value = fields.get(field)
    if value is None:
        value = fields.get(FIELDS[field], default)
    return value


def both(*fields: str) -> list[str]:
    """The names to ``HMGET`` for ``fields``: the long names, then the short ones; ``first`` picks each
    field's value from the reply as ``read`` would."""
    return list(fields) + [FIELDS[f] for f in fields]


def first(row: Sequence[Any]) -> list[Any]:
    """Each field's value from an ``HMGET`` of ``both(...)``."""
    half = len(row) // 2
    return [row[i] if row[i] is not None else row[half + i] for i in range(half)]


def ticket_record(ticket_id: str, raw: Mapping[Any, Any]) -> TicketRecord:
    """A record as Redis (or the archive's copy of it) holds it, in either format."""
    f = {as_text(k): as_text(v) for k, v in raw.items()}

    def get(field: str) -> str | None:
        value: str | None = read(f, field)
        return value

    created = float(get("created_at") or "0")
    seq, scheduled, promised, result, error = (
        get(n) for n in ("seq", "scheduled_for", "promised_by", "result", "error")
    )
    citizen = get("citizen")
    return TicketRecord(
        ticket_id=ticket_id,
        kind=get("kind") or "",
        status=Status(get("status") or "queued"),
        attempts=int(get("attempts") or "0"),
        seq=int(seq) if seq is not None else None,
        created_at=created,
        updated_at=float(get("updated_at") or created),
        result=orjson.loads(result) if result is not None else None,
        error=orjson.loads(error) if error is not None else None,
        batch=get("batch"),
        scheduled_for=float(scheduled) if scheduled is not None else None,
        owner=get("owner"),
        citizen=shown_citizen(citizen) if citizen is not None else None,
        promised_by=float(promised) if promised is not None else None,
    )
