"""Which submissions go first when the door cannot admit everything (the policy is in the README).

Priority is applied inside one kind's admission rate through the limiter's burst tolerance: when demand
exceeds the rate, a lower class is refused as soon as the shared budget runs a little ahead, while a
higher class may still draw on the reserve behind it. So urgent work is admitted first, and lower classes
get whatever it leaves.
"""

from __future__ import annotations

import calendar
import datetime as dt
from enum import IntEnum

from frontdoor.intake.validation import Submission
from queue_config.kinds import Kind

# A payment is urgent from this many days before its period's statutory end (the period month's last
# day) and after it: late contributions cost citizens surcharges and coverage gaps.
URGENT_DAYS_BEFORE_PERIOD_END = 5


class Priority(IntEnum):
    DEFERRABLE = 0  # pension estimates: informational, can wait for a quiet hour
    NORMAL = 1  # transfers, pension claims, payments not near their deadline
    URGENT = 2  # payments near or past their period's end

    @property
    def burst_seconds(self) -> float:
        """How far ahead of the rate this class may draw on the kind's shared budget."""
        return (1.0, 3.0, 6.0)[self]


def priority_of(sub: Submission, today: dt.date) -> Priority:
    if sub.kind is Kind.PAYMENT:
        year, month = (int(x) for x in str(sub.payload["period"]).split("-"))
        end = dt.date(year, month, calendar.monthrange(year, month)[1])
        if (end - today).days <= URGENT_DAYS_BEFORE_PERIOD_END:
            return Priority.URGENT
        return Priority.NORMAL
    if sub.kind is Kind.PENSION and sub.payload.get("action") == "estimate":
        return Priority.DEFERRABLE
    return Priority.NORMAL
