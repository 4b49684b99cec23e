"""What a reader is shown of a ticket: the SPEC's status document, built from the record and the ETA."""

from __future__ import annotations

import datetime as dt
from typing import Any

from queue_config.eta import EtaEstimator
from queue_config.kinds import Status
from queue_config.ticket_store import TicketRecord

# Poll hint for tickets that will not change by themselves soon (finished ones).
FINISHED_POLL_SECONDS = 3600


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def ticket_document(record: TicketRecord, eta: EtaEstimator) -> dict[str, Any]:
    status = record.status.public
    doc: dict[str, Any] = {
        "ticket_id": record.ticket_id,
        "kind": record.kind,
        "status": status.value,
        "attempts": record.attempts,
        "eta_seconds": None,
        "eta_p90_seconds": None,
        "position": None,
        "poll_after_seconds": FINISHED_POLL_SECONDS,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
    }
    if status is Status.DONE:
        doc["result"] = record.result
    elif status is Status.FAILED:
        doc["error"] = record.error
    else:
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
