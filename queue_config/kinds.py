"""Business kinds and ticket statuses: the vocabulary every component shares.

A kind is declared once, here: one ``KindSpec`` in ``REGISTRY`` with its payload type (a msgspec
``Struct`` whose field types carry their constraints and, in their description, what a citizen is told
when a value breaks them), the checks a type cannot express, its priority rule, its core-system
operation, its labels and an example payload. Validation (``frontdoor.intake.validation``), the OpenAPI
document, the worker's handlers, the dashboard, the core simulator and the tests all read the registry.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec

# A kind's name as it travels: in bodies, queue names and Redis keys.
Kind = str


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
    def public(self) -> Status:
        return Status.QUEUED if self is Status.ACCEPTING else self

    def shown(self, maintenance: bool) -> Status:
        """What a client is told: in maintenance, tickets waiting for a worker are ``held``."""
        public = self.public
        if maintenance and public in (Status.QUEUED, Status.RETRYING):
            return Status.HELD
        return public

    @property
    def terminal(self) -> bool:
        return self in (Status.DONE, Status.FAILED)


class Priority(IntEnum):
    """Which submissions go first when the door cannot admit everything (the README's policy)."""

    DEFERRABLE = 0  # informational, can wait for a quiet hour
    NORMAL = 1
    URGENT = 2  # near or past a statutory deadline

    @property
    def burst_seconds(self) -> float:
        """How far ahead of the rate this class may draw on the kind's shared budget."""
        return (1.0, 3.0, 6.0)[self]


# --- field types: the constraint a schema states, and in its description what a citizen is told -----
MAX_AMOUNT_CENTS = 10_000_000
Amount = Annotated[
    int, msgspec.Meta(ge=1, le=MAX_AMOUNT_CENTS, description=f"an integer from 1 to {MAX_AMOUNT_CENTS:,}")
]
Day = Annotated[dt.date, msgspec.Meta(description="a string YYYY-MM-DD")]
Month = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4}-[0-9]{2}$", description="a string YYYY-MM")]
Region = Annotated[
    str,
    msgspec.Meta(pattern=r"^[0-9]{6}$", description="a 6-digit administrative division code (a string)"),
]
HospitalCode = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9A-Z]{12}$", description="12 digits or capital letters (a string)")
]
InvoiceNo = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9A-Z]{8,32}$", description="8 to 32 digits or capital letters (a string)")
]

P = TypeVar("P", bound=msgspec.Struct)


@dataclass(frozen=True, slots=True)
class Labels:
    zh: str
    en: str


def _no_checks(payload: Any, today: dt.date) -> dict[str, str]:
    return {}


def _normal(payload: Any, today: dt.date) -> Priority:
    return Priority.NORMAL


@dataclass(frozen=True, slots=True, kw_only=True)
class KindSpec(Generic[P]):
    name: Kind
    payload: type[P]
    labels: Labels
    # What the core system's receipts for this kind start with (the simulator's, e.g. ``PAY-…``).
    receipt: str
    example: Callable[[int], dict[str, Any]]  # a valid payload, distinct by seed: tests and benchmarks
    # Field -> reason, for what a type cannot express (a relation between fields, a date's range).
    check: Callable[[P, dt.date], dict[str, str]] = _no_checks
    priority: Callable[[P, dt.date], Priority] = _normal
    # The operation the core system runs (``POST /v1/<operation>``); the kind's name unless said.
    operation: str = ""
    # Payload fields whose values the core system accepts once: a repeat is refused for good, with
    # ``duplicate_error``, whatever ticket carries it.
    unique: tuple[str, ...] = ()
    duplicate_error: str = "duplicate"
    decoder: msgspec.json.Decoder[P] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decoder", msgspec.json.Decoder(self.payload))

    @property
    def core_operation(self) -> str:
        return self.operation or self.name


# --- the kinds ---------------------------------------------------------------------------------------
class PensionPayload(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["estimate", "claim"]
    retirement_date: Day


class TransferPayload(msgspec.Struct, forbid_unknown_fields=True):
    from_region: Region
    to_region: Region


class PaymentPayload(msgspec.Struct, forbid_unknown_fields=True):
    scheme: Literal["medical", "pension", "unemployment"]
    amount_cents: Amount
    period: Month


class ReimbursementPayload(msgspec.Struct, forbid_unknown_fields=True):
    """A medical-insurance reimbursement claim for one hospital invoice."""

    hospital_code: HospitalCode
    invoice_no: InvoiceNo
    amount_cents: Amount
    treated_on: Day


# A payment is urgent from this many days before its period's statutory end (the period month's last
# day) and after it: late contributions cost citizens surcharges and coverage gaps.
URGENT_DAYS_BEFORE_PERIOD_END = 5
# How far back a treatment may be claimed for.
REIMBURSABLE_DAYS = 365


def _period_end(period: str) -> dt.date | None:
    year, month = (int(x) for x in period.split("-"))
    if not year >= 1 or not 1 <= month <= 12:
        return None
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _payment_check(p: PaymentPayload, today: dt.date) -> dict[str, str]:
    return {} if _period_end(p.period) else {"period": "not a calendar month"}


def _payment_priority(p: PaymentPayload, today: dt.date) -> Priority:
    end = _period_end(p.period)
    urgent = end is not None and (end - today).days <= URGENT_DAYS_BEFORE_PERIOD_END
    return Priority.URGENT if urgent else Priority.NORMAL


def _transfer_check(p: TransferPayload, today: dt.date) -> dict[str, str]:
    return {"to_region": "must differ from from_region"} if p.from_region == p.to_region else {}


def _pension_priority(p: PensionPayload, today: dt.date) -> Priority:
    return Priority.DEFERRABLE if p.action == "estimate" else Priority.NORMAL


def _reimbursement_check(p: ReimbursementPayload, today: dt.date) -> dict[str, str]:
    if p.treated_on > today:
        return {"treated_on": "must not be in the future"}
    if (today - p.treated_on).days > REIMBURSABLE_DAYS:
        return {"treated_on": f"must be at most {REIMBURSABLE_DAYS} days ago"}
    return {}


def _reimbursement_example(seed: int) -> dict[str, Any]:
    return {
        "hospital_code": "H11010100001",
        "invoice_no": f"INV{seed:08d}",
        "amount_cents": 100 + seed % 9000,
        "treated_on": (dt.date.today() - dt.timedelta(days=3)).isoformat(),
    }


_SPECS: tuple[KindSpec[Any], ...] = (
    KindSpec(
        name="pension",
        payload=PensionPayload,
        labels=Labels("养老金", "Pension"),
        receipt="PEN",
        priority=_pension_priority,
        example=lambda seed: {
            "action": "claim" if seed % 2 else "estimate",
            "retirement_date": (dt.date(2031, 1, 1) + dt.timedelta(days=seed // 2 % 7300)).isoformat(),
        },
    ),
    KindSpec(
        name="transfer",
        payload=TransferPayload,
        labels=Labels("社保转移", "Transfer"),
        receipt="TRF",
        check=_transfer_check,
        example=lambda seed: {"from_region": "110101", "to_region": f"{310101 + seed % 600_000:06d}"},
    ),
    KindSpec(
        name="payment",
        payload=PaymentPayload,
        labels=Labels("缴费", "Payment"),
        receipt="PAY",
        check=_payment_check,
        priority=_payment_priority,
        example=lambda seed: {
            "scheme": "medical",
            "amount_cents": 100 + seed % (MAX_AMOUNT_CENTS // 2),
            "period": "2026-10",
        },
    ),
    KindSpec(
        name="reimbursement",
        payload=ReimbursementPayload,
        labels=Labels("医疗报销", "Medical reimbursement"),
        receipt="RMB",
        check=_reimbursement_check,
        # The core system pays an invoice once: a second claim for it is refused for good.
        unique=("hospital_code", "invoice_no"),
        duplicate_error="duplicate_invoice",
        example=_reimbursement_example,
    ),
)

REGISTRY: dict[Kind, KindSpec[Any]] = {spec.name: spec for spec in _SPECS}
KINDS: tuple[Kind, ...] = tuple(REGISTRY)
