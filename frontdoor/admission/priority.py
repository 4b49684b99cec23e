"""Which submissions go first when the door cannot admit everything (the policy is in the README).

Priority is applied inside one kind's admission rate through the limiter's burst tolerance: when demand
exceeds the rate, a lower class is refused as soon as the shared budget runs a little ahead, while a
higher class may still draw on the reserve behind it. So urgent work is admitted first, and lower classes
get whatever it leaves. Each kind's rule is declared with the kind (``queue_config.kinds``).
"""

from __future__ import annotations

import datetime as dt

from frontdoor.intake.validation import Submission
from queue_config.kinds import Priority

__all__ = ["Priority", "priority_of"]


def priority_of(sub: Submission, today: dt.date) -> Priority:
    return sub.spec.priority(sub.typed, today)
