"""What a reader is shown of a ticket: the SPEC's status document, built from the record and the ETA."""

from __future__ import annotations

import math
import time
from typing import Any

from queue_config.kinds import Status
from queue_config.planning.eta import EtaEstimator
from queue_config.stores.tickets import TicketRecord
from queue_config.web.http import iso_utc

# Poll hint for tickets that will not change by themselves soon (finished ones).
FINISHED_POLL_SECONDS = 3600


async def ticket_document(record: TicketRecord, eta: EtaEstimator, *, owner: bool) -> dict[str, Any]:
    """The document; a done ticket's ``result`` only for its ``owner`` (SPEC "Additions")."""
    status = record.status.shown(eta.maintenance)
    doc: dict[str, Any] = {
        "ticket_id": record.ticket_id,
        "kind": record.kind,
        "status": status.value,
        "attempts": record.attempts,
        "eta_seconds": None,
        "eta_p90_seconds": None,
        "position": None,
        "poll_after_seconds": FINISHED_POLL_SECONDS,
        "created_at": iso_utc(record.created_at),
        "updated_at": iso_utc(record.updated_at),
    }
    if record.batch:
        doc["batch_id"] = record.batch
    if status is Status.DONE:
        if owner:
            doc["result"] = record.result
    elif status is Status.FAILED:
        doc["error"] = record.error
    elif status is Status.SCHEDULED and record.scheduled_for is not None:
        # Booked into a later window: it joins the line when the window opens.
        wait = max(0.0, record.scheduled_for - time.time())
        doc.update(
            scheduled_for=iso_utc(record.scheduled_for),
            eta_seconds=math.ceil(wait * 10) / 10,
            poll_after_seconds=max(1, min(FINISHED_POLL_SECONDS, math.ceil(wait / 2))),
        )
    else:
        if status is Status.HELD:
            doc["held_until"] = eta.maintenance_until

        if status is Status.RETRYING and record.error is not None:
            doc["last_error"] = record.error
        # Tickets already with a worker are at the front of the line whatever their sequence says.
        seq = 0 if status in (Status.PROCESSING, Status.RETRYING) else record.seq
        estimate = await eta.estimate(record.kind, seq)
        doc.update(
            eta_seconds=estimate.eta_seconds,
            eta_p90_seconds=estimate.eta_p90_seconds,
            position=estimate.position,
            poll_after_seconds=estimate.poll_after_seconds,
        )
    return doc
