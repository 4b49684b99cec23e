"""The status API's reader: done tickets' records are kept (they never change), every other one is read
each time; a long-poll is woken by a change announced at any moment of its wait."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from queue_config.kinds import Status
from queue_config.planning.eta import EtaEstimator
from queue_config.stores.tickets import TicketRecord, TicketStore
from queue_config.ticket_ids import TicketIds
from status_api.ticket_events import TicketEvents
from status_api.tickets import TicketReader


class CountingStore:
    def __init__(self, records: dict[str, TicketRecord]) -> None:
        self.records = records
        self.reads = 0

    async def get(self, ticket_id: str) -> TicketRecord | None:
        self.reads += 1
        return self.records.get(ticket_id)


def _record(ticket_id: str, status: Status) -> TicketRecord:
    return TicketRecord(
        ticket_id=ticket_id, kind="payment", status=status, attempts=1, seq=1, created_at=1.0, updated_at=2.0,
        result={"receipt_id": "r"} if status is Status.DONE else None, error=None, batch=None,
        scheduled_for=None, owner=None, citizen=None, promised_by=None,
    )  # fmt: skip


async def test_a_done_ticket_is_read_once_and_any_other_each_time() -> None:
    ids = TicketIds(b"a secret of sixteen bytes or more")
    done, queued, failed, gone = (ids.mint() for _ in range(4))
    store = CountingStore(
        {
            done: _record(done, Status.DONE),
            queued: _record(queued, Status.QUEUED),
            failed: _record(failed, Status.FAILED),
        }
    )
    reader = TicketReader(
        ids, cast(TicketStore, store), cast(EtaEstimator, None), cast(TicketEvents, cast(Any, None))
    )
    for ticket_id, expected_reads in ((done, 1), (queued, 3), (failed, 3), (gone, 3)):
        store.reads = 0
        for _ in range(3):
            record = await reader.read(ticket_id)
            assert (record.ticket_id if record else None) == (None if ticket_id == gone else ticket_id)
        assert store.reads == expected_reads, ticket_id
    # A failed ticket may be replayed: once it is done again, it is cached from then on
    store.records[failed] = _record(failed, Status.DONE)
    await reader.read(failed)
    store.reads = 0
    assert (await reader.read(failed)) is not None and store.reads == 0


class QuietNotices:
    """No change notice ever arrives: only the readers' own re-reads and wake-ups move them."""


async def test_a_change_announced_while_the_reader_reads_wakes_it_at_once() -> None:
    ids = TicketIds(b"a secret of sixteen bytes or more")
    ticket_id = ids.mint()
    events = TicketEvents(cast(Any, QuietNotices()))
    store = CountingStore({ticket_id: _record(ticket_id, Status.QUEUED)})
    reader = TicketReader(ids, cast(TicketStore, store), cast(EtaEstimator, None), events)
    original_get = store.get

    async def get_then_change(wanted: str) -> TicketRecord | None:
        # The first read returns the queued record, and the ticket finishes (its notice published)
        # before the reader gets to wait
        record = await original_get(wanted)
        if store.reads == 1:
            store.records[wanted] = _record(wanted, Status.DONE)
            events._wake(wanted)
        return record

    store.get = get_then_change  # type: ignore[method-assign,assignment]
    loop = asyncio.get_running_loop()
    started = loop.time()
    record = await reader.read(ticket_id, wait=5.0)
    # Answered with the change at once, not after the wait or the re-read timer
    assert record is not None and record.status is Status.DONE
    assert loop.time() - started < 1.0
    assert events.watched == 0  # and no watch is left behind
