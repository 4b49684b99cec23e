"""Key shards: the hash slots a Redis Cluster spreads the ticket keys over.

Everything one Lua call touches must sit in one hash slot. A submission's call touches its ticket record,
its idempotency and dedupe keys (found by the client's scope before the ticket exists) and the counters
its kind keeps; so every client scope belongs to one of ``KEY_SHARDS`` shards, a ticket is minted in its
client's shard (its ID carries the shard, ``queue_config.ticket_ids``), and each shard keeps its own
per-kind counters, read by summing over the shards.

Each shard's hash tag is chosen so that the 16 tags fall in 16 even stretches of Redis's 16,384 slots:
``redis-cli --cluster create`` gives each primary one stretch, so three primaries hold 6, 5 and 5 shards
rather than whatever CRC16 of "0".."15" happens to give. Raising ``KEY_SHARDS`` keeps the first tags (IDs
already issued keep their keys); up to ``KEY_SHARDS`` primaries share the ticket load.
"""

from __future__ import annotations

import binascii
from functools import cache

KEY_SHARDS = 16
SLOTS = 16384


def key_slot(key: str) -> int:
    """Redis Cluster's slot of ``key``: CRC16 (XMODEM) of its hash tag, or of the whole key."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return binascii.crc_hqx(key.encode(), 0) % SLOTS


@cache
def shard_tag(shard: int) -> str:
    """The hash tag (with its braces) of ``shard``: the first ``s<shard>.<n>`` whose slot lies in the
    shard's even stretch of the slot space."""
    stretch = SLOTS // KEY_SHARDS
    n = 0
    while key_slot(f"{{s{shard}.{n}}}") // stretch != shard % KEY_SHARDS:
        n += 1
    return f"{{s{shard}.{n}}}"


def shard_of_scope(scope: str) -> int:
    """The shard of a client scope (a keyed digest, ``TicketIds.scope``): uniform over the shards."""
    return binascii.crc32(scope.encode()) % KEY_SHARDS
