"""A staged bulk bundle that cannot be moved (the broker's publisher channels not back yet) is held a
moment before it goes back to its queue: sent back at once, it was redelivered at once, and each pass
published some of its tickets again (``workers.bulk.bundle_mover``)."""

from __future__ import annotations

import time
from typing import Any

from queue_config.errors import BrokerUnavailable
from queue_config.messages import TicketMessage, encode_bundle
from workers.bulk.bundle_mover import BundleMover


class HalfBackBroker:
    """Publishes the first ticket of each pass, then finds the next channel still closed."""

    def __init__(self) -> None:
        self.published: list[str] = []

    async def publish(self, body: bytes, *, routing_key: str, message_id: str, **_: Any) -> None:
        if len(self.published) % 2:
            self.published.append("refused")
            raise BrokerUnavailable("publish not confirmed: channel closed")
        self.published.append(message_id)


class Delivery:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.message_id = "bundle-1"
        self.settled: list[tuple[str, float]] = []

    async def nack(self, requeue: bool = True) -> None:
        self.settled.append(("nack" if requeue else "drop", time.monotonic()))

    async def ack(self) -> None:
        self.settled.append(("ack", time.monotonic()))

    async def reject(self, requeue: bool = False) -> None:
        self.settled.append(("reject", time.monotonic()))


def _ticket(n: int) -> TicketMessage:
    return TicketMessage(
        ticket_id=f"t{n}", kind="payment", citizen_id="x", payload={}, created_at=0.0, batch_id="b"
    )


async def test_a_bundle_that_cannot_be_moved_is_held_before_it_goes_back() -> None:
    broker = HalfBackBroker()
    mover = BundleMover(broker, requeue_delay=0.3)  # type: ignore[arg-type]
    delivery = Delivery(encode_bundle([_ticket(1), _ticket(2)]))

    began = time.monotonic()
    await mover.process(delivery)  # type: ignore[arg-type]

    ((outcome, at),) = delivery.settled
    assert outcome == "nack"  # back to its queue, to be moved again
    assert at - began >= 0.3  # but not at once
