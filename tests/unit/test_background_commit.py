"""The 202 goes out once the message is confirmed and the record reserved; the commit follows in the
background (``frontdoor.intake.acceptance``). A repeat of the submission waits for that commit, and a
door that stops finishes the commits of what it answered before it closes the store."""

from __future__ import annotations

import asyncio
from typing import Any

from frontdoor.intake.acceptance import Intake
from frontdoor.intake.validation import validate_submission
from queue_config.kinds import Status
from queue_config.planning.eta import EtaEstimator
from queue_config.settings import Settings
from queue_config.stores.memory import memory_stores
from queue_config.ticket_ids import TicketIds
from tests.support.system import submission


class ConfirmingBroker:
    """Confirms every publish at once, and counts them."""

    ready = True

    def __init__(self) -> None:
        self.published: list[str] = []

    async def publish(self, body: bytes, *, routing_key: str, message_id: str, **_: Any) -> None:
        self.published.append(message_id)


async def test_the_commit_follows_the_answer_and_a_stopping_door_finishes_it() -> None:
    stores = memory_stores(Settings(namespace="unit"))
    store = stores.tickets
    gate = asyncio.Event()
    commit = store.commit

    async def held_commit(*args: Any, **kwargs: Any) -> None:
        await gate.wait()  # Redis slow to take the commit
        await commit(*args, **kwargs)

    store.commit = held_commit  # type: ignore[method-assign]
    broker = ConfirmingBroker()
    eta = EtaEstimator(store, assumed_rate=10.0)
    intake = Intake(store, broker, TicketIds(b"unit-test-secret-of-32-bytes!!!!"), eta, "http://s", 1.0)  # type: ignore[arg-type]
    sub = validate_submission(submission("payment", 7))

    # The answer comes while the commit is still held: the record is reserved, the message confirmed
    accepted = await asyncio.wait_for(intake.submit(sub, None), timeout=5)
    ticket_id = accepted.body["ticket_id"]
    assert accepted.created and broker.published == [ticket_id]
    record = await store.get(ticket_id)
    assert record is not None and record.status is Status.ACCEPTING
    assert record.status.shown(False) is Status.QUEUED  # what a status read shows meanwhile

    # A repeat waits for the commit rather than publishing the ticket again
    repeat = asyncio.create_task(intake.submit(sub, None))
    await asyncio.sleep(0.1)
    assert not repeat.done()

    # A stopping door waits for its commits: released, the commit lands and settle returns
    settling = asyncio.create_task(intake.settle())
    await asyncio.sleep(0.05)
    assert not settling.done()
    gate.set()
    await asyncio.wait_for(settling, timeout=5)
    record = await store.get(ticket_id)
    assert record is not None and record.status is Status.QUEUED
    again = await asyncio.wait_for(repeat, timeout=5)
    assert (again.created, again.body["ticket_id"]) == (False, ticket_id)
    assert broker.published == [ticket_id]
