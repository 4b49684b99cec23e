"""Business kinds and ticket statuses: the vocabulary every component shares."""

from enum import StrEnum


class Kind(StrEnum):
    PENSION = "pension"
    TRANSFER = "transfer"
    PAYMENT = "payment"


KINDS: tuple[Kind, ...] = tuple(Kind)


class Status(StrEnum):
    # Internal: the record is reserved but the broker has not confirmed the message yet. Shown to
    # clients as "queued", because any reader holding the ID was given it with (or after) a 202.
    ACCEPTING = "accepting"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    PROCESSING = "processing"
    RETRYING = "retrying"
    HELD = "held"
    DONE = "done"
    FAILED = "failed"

    @property
    def public(self) -> "Status":
        return Status.QUEUED if self is Status.ACCEPTING else self

    def shown(self, maintenance: bool) -> "Status":
        """What a client is told: in maintenance, tickets waiting for a worker are ``held``."""
        public = self.public
        if maintenance and public in (Status.QUEUED, Status.RETRYING):
            return Status.HELD
        return public

    @property
    def terminal(self) -> bool:
        return self in (Status.DONE, Status.FAILED)
