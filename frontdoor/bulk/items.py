"""A batch's items on their way in, and how they reach RabbitMQ: grouped by destination (the kind's
staging queue, or the queue of the window they are booked into) into bundles of ``BUNDLE_ITEMS``
tickets, one confirmed message each (see ``queue_config.messages.TicketBundle``)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass

from frontdoor.intake.validation import Submission
from queue_config.broker import BrokerLink
from queue_config.messages import BUNDLE_HEADER, TicketMessage, encode_bundle
from queue_config.names import Names
from queue_config.stores.tickets import Reservation

# Items a bundle message carries: about 50 KB of JSON, so a 10,000-item batch is some 50 confirms.
BUNDLE_ITEMS = 200


@dataclass(slots=True)
class BatchItem:
    index: int
    sub: Submission
    window: int | None = None  # unix start of the window it is booked into; None: runs now
    booked_in: int = 0  # the window whose budget its booking took
    ticket_id: str = ""
    outcome: Reservation = Reservation.CREATED
    seq: int | None = None
    idem: str | None = None  # digest of (batch key, index): a retried batch finds this item's ticket


def by_kind(items: list[BatchItem]) -> dict[str, list[BatchItem]]:
    groups: dict[str, list[BatchItem]] = defaultdict(list)
    for item in items:
        groups[item.sub.kind].append(item)
    return groups


async def publish_bundles(
    broker: BrokerLink, names: Names, items: list[BatchItem], batch_id: str
) -> list[BatchItem]:
    """Publish the items in bundles, all confirms in flight together; the items whose bundle failed."""
    now = time.time()
    bundles = _bundles(items)
    results = await asyncio.gather(
        *(_publish(broker, names, bundle, batch_id, now) for bundle in bundles), return_exceptions=True
    )
    return [
        item
        for bundle, r in zip(bundles, results, strict=True)
        if isinstance(r, BaseException)
        for item in bundle
    ]


def _bundles(items: list[BatchItem]) -> list[list[BatchItem]]:
    by_queue: dict[tuple[str, int | None], list[BatchItem]] = defaultdict(list)
    for item in items:
        by_queue[(item.sub.kind, item.window)].append(item)
    return [
        group[start : start + BUNDLE_ITEMS]
        for group in by_queue.values()
        for start in range(0, len(group), BUNDLE_ITEMS)
    ]


async def _publish(
    broker: BrokerLink, names: Names, bundle: list[BatchItem], batch_id: str, now: float
) -> None:
    first = bundle[0]
    kind = first.sub.kind
    body = encode_bundle(
        [
            TicketMessage(
                ticket_id=item.ticket_id,
                kind=kind,
                citizen_id=item.sub.citizen_id,
                payload=item.sub.payload,
                created_at=now,
                batch_id=batch_id,
            )
            for item in bundle
        ]
    )
    queue = names.staging_queue(kind) if first.window is None else names.window_queue(kind, first.window)
    await broker.publish(
        body,
        routing_key=queue,
        message_id=f"{batch_id}:{first.index}",
        to_queue=True,
        headers={BUNDLE_HEADER: len(bundle)},
    )
