"""The HTTP contract's bodies as types (SPEC "HTTP contract"). The OpenAPI document
(``queue_config.web.openapi``) is derived from them and from the kinds' payload types, and the contract
tests decode real answers into them, so the document cannot drift from what the servers say.

Fields that an answer carries only sometimes are ``UNSET`` by default: the schema then lists them as
optional, not as nullable.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from queue_config.kinds import Status
from queue_config.planning.throttle import Throttle

Count = Annotated[int, Meta(ge=0)]
Seconds = Annotated[float, Meta(ge=0)]
Timestamp = Annotated[dt.datetime, Meta(description="ISO 8601 with offset")]


class Error(Struct, kw_only=True):
    error: str
    message: str
    fields: dict[str, str] | UnsetType = UNSET  # field path -> reason, for a 422
    retry_after_seconds: Annotated[int, Meta(ge=1)] | UnsetType = UNSET  # 429, 503
    suggested_time: Timestamp | UnsetType = UNSET  # the forecast's next time with spare capacity
    rejected: list[Rejected] | UnsetType = UNSET  # a batch none of whose items is valid


class Rejected(Struct, kw_only=True):
    index: Count
    fields: dict[str, str]


class Accepted(Struct, kw_only=True):
    ticket_id: str
    kind: str
    status: Status  # "queued" for a new ticket; a repeat is answered with its ticket as it stands
    status_url: str
    eta_seconds: Seconds | None
    eta_p90_seconds: Seconds | None
    position: Count | None


class Ticket(Struct, kw_only=True):
    ticket_id: str
    kind: str
    status: Status
    attempts: Count
    eta_seconds: Seconds | None
    eta_p90_seconds: Seconds | None
    position: Count | None
    poll_after_seconds: Annotated[int, Meta(ge=1)]
    created_at: Timestamp
    updated_at: Timestamp
    batch_id: str | UnsetType = UNSET
    result: dict[str, Any] | UnsetType = UNSET  # done
    error: dict[str, Any] | UnsetType = UNSET  # failed
    last_error: dict[str, Any] | UnsetType = UNSET  # retrying: the core's last transient answer
    scheduled_for: Timestamp | UnsetType = UNSET  # scheduled: when its window opens
    held_until: Timestamp | UnsetType | None = UNSET  # held: the announced end of maintenance


class BulkRequest(Struct, kw_only=True):
    items: Annotated[list[dict[str, Any]], Meta(max_length=10_000)]  # each a Submission
    callback_url: str | UnsetType = UNSET


class ScheduledWindow(Struct, kw_only=True):
    kind: str
    scheduled_for: Timestamp
    items: Count


class BatchAccepted(Struct, kw_only=True):
    batch_id: str
    accepted: Count
    rejected: list[Rejected]
    tickets: list[str | None]
    status_url: str
    running_now: Count | UnsetType = UNSET
    scheduled: list[ScheduledWindow] | UnsetType = UNSET


class FailedItem(Struct, kw_only=True):
    index: Count
    ticket_id: str
    error: Any


class BatchStatus(Struct, kw_only=True):
    batch_id: str
    total: Count
    accepted: Count
    rejected: Count
    # ``accepted`` while any item is open, then ``done`` or ``done_with_failures``
    state: Literal["accepting", "accepted", "done", "done_with_failures"]
    counts: dict[str, Count]  # status -> items
    failed: list[FailedItem]


class ThrottleDryRun(Struct, kw_only=True):
    """``PUT /v1/admin/throttle?dry_run=true``: what the change would be, and its predicted effect."""

    dry_run: Literal[True]
    throttle: Throttle
    predicted: dict[str, Any]  # per kind: admission rate, ETA and shedding it would bring


class NewEnterprise(Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    quota_per_minute: Annotated[int, Meta(ge=1)] | UnsetType = UNSET


class Replay(Struct, kw_only=True, forbid_unknown_fields=True):
    kind: str
    ticket_ids: list[str] | UnsetType = UNSET  # all dead letters of the kind when omitted


def schema_of(*types: Any) -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    return msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
