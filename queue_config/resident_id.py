"""Resident identity numbers (GB 11643): 17 digits and an ISO 7064 MOD 11-2 check character."""

from __future__ import annotations

import datetime as dt

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK = "10X98765432"


def check_character(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def problem(value: object) -> str | None:
    """Why ``value`` is not a valid resident ID, or None when it is."""
    if not isinstance(value, str):
        return "must be a string"
    if len(value) != 18:
        return "must be 18 characters"
    body, check = value[:17], value[17].upper()
    if not body.isascii() or not body.isdigit() or not (check.isdigit() or check == "X"):
        return "must be 17 digits followed by a digit or X"
    try:
        dt.date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return "birth date part is not a calendar date"
    if check_character(body) != check:
        return "check character does not match"
    return None


def normalize(value: str) -> str:
    return value[:17] + value[17].upper()


def mask(value: str) -> str:
    """All but the first 6 and last 2 characters hidden, as SPEC requires for errors and logs."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 8) + value[-2:]


def make(seed: int, birth: dt.date = dt.date(1980, 1, 1), region: str = "110101") -> str:
    """A valid resident ID, for tests and load generators."""
    # The sequence code holds 1000 people per birth date; further seeds are born on later days.
    born = birth + dt.timedelta(days=seed // 1000)
    first17 = f"{region}{born:%Y%m%d}{seed % 1000:03d}"
    return first17 + check_character(first17)
