"""How the Redis client layer names what goes wrong, and how it reads cluster URLs (no servers)."""

from __future__ import annotations

import pytest

from queue_config.errors import StoreUnavailable
from queue_config.key_shards import KEY_SHARDS, SLOTS, key_slot, shard_of_scope, shard_tag
from queue_config.stores.redis.client import cluster_nodes, store_call
from queue_config.ticket_ids import TicketIds, shard_of


def _raising(exc: BaseException):  # type: ignore[no-untyped-def]
    @store_call
    async def call() -> None:
        raise exc

    return call


async def test_a_connection_torn_down_under_redis_py_is_an_outage_not_a_500() -> None:
    for exc in (
        RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed"),
        AttributeError("'NoneType' object has no attribute 'writelines'"),
    ):
        with pytest.raises(StoreUnavailable):
            await _raising(exc)()
    # Any other such error is a bug and stays one
    with pytest.raises(RuntimeError):
        await _raising(RuntimeError("something else"))()
    with pytest.raises(AttributeError):
        await _raising(AttributeError("no attribute 'hget'"))()


def test_a_cluster_url_lists_its_nodes() -> None:
    assert cluster_nodes("redis+cluster://10.0.0.1:7001,10.0.0.2:7002,h3") == [
        ("10.0.0.1", 7001),
        ("10.0.0.2", 7002),
        ("h3", 6379),
    ]
    assert cluster_nodes("redis+cluster://:secret@10.0.0.1:7001/0") == [("10.0.0.1", 7001)]


def test_key_shards_cover_the_slot_space_evenly_and_ids_carry_their_shard() -> None:
    slots = [key_slot(f"tg:ticket:{shard_tag(s)}:x") for s in range(KEY_SHARDS)]
    # Each shard in its own stretch of the slot space, so three primaries hold 6, 5 and 5 shards
    assert [slot // (SLOTS // KEY_SHARDS) for slot in slots] == list(range(KEY_SHARDS))
    ids = TicketIds(b"k" * 32)
    for scope in ("a", "b", "citizen-digest"):
        minted = ids.mint(shard_of_scope(scope))
        assert ids.verify(minted) and shard_of(minted) == shard_of_scope(scope)
    # Scopes spread over every shard
    assert len({shard_of_scope(f"scope-{i}") for i in range(500)}) == KEY_SHARDS
