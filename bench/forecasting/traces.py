"""Synthetic arrival traces with the pattern the portal sees, and reading any CSV of counts.

A working day has two peaks (09:00-11:00 and 14:00-17:00), a quiet night and a quieter weekend; each day
varies a little; and on the policy day (``surge_day``) arrivals jump from 09:00 to many times the usual
load and decay through the day. Counts are Poisson around that rate, one row a minute.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import math
import random
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

# Share of the peak rate at local hours 0..24 (linear in between).
WEEKDAY_SHAPE = [
    0.03, 0.02, 0.02, 0.02, 0.02, 0.04, 0.10, 0.25, 0.55, 1.00, 1.00, 0.70, 0.45,
    0.50, 0.90, 0.95, 0.90, 0.50, 0.30, 0.25, 0.20, 0.12, 0.07, 0.04, 0.03,
]  # fmt: skip
WEEKEND_SCALE = 0.35


def _shape(hour: float, weekend: bool) -> float:
    i = int(hour)
    w = hour - i
    value = WEEKDAY_SHAPE[i] * (1 - w) + WEEKDAY_SHAPE[i + 1] * w
    if weekend:  # flatter as well as lower: no office-hours peaks
        value = WEEKEND_SCALE * (0.4 + 0.6 * value)
    return value


def synthetic_rates(
    *,
    days: int = 21,
    start: dt.date = dt.date(2026, 11, 2),
    peak_per_minute: float = 3000.0,
    surge_day: int | None = 15,
    surge_factor: float = 30.0,
    timezone: str = "Asia/Shanghai",
    seed: int = 7,
) -> list[tuple[dt.datetime, float]]:
    """The expected arrivals of every minute (the rate the counts are drawn from)."""
    rng = random.Random(seed)
    tz = ZoneInfo(timezone)
    rows: list[tuple[dt.datetime, float]] = []
    wobble = 1.0
    for day in range(days):
        date = start + dt.timedelta(days=day)
        daily = rng.uniform(0.9, 1.1)
        weekend = date.weekday() >= 5
        for minute in range(24 * 60):
            at = dt.datetime.combine(date, dt.time(), tz) + dt.timedelta(minutes=minute)
            if minute % 15 == 0:
                wobble = 0.7 * wobble + 0.3 * rng.uniform(0.85, 1.15)
            rate = peak_per_minute * daily * wobble * _shape(minute / 60, weekend)
            if surge_day is not None and day == surge_day and minute >= 9 * 60:
                since = minute - 9 * 60
                ramp = min(1.0, since / 10)  # reaches the full surge in ten minutes
                decay = 0.5 ** (since / 180)  # halves every three hours
                rate *= 1 + (surge_factor - 1) * ramp * decay
            rows.append((at, rate))
    return rows


def synthetic(seed: int = 7, **kwargs: Any) -> list[tuple[dt.datetime, int]]:
    """Poisson counts, one row a minute, around ``synthetic_rates`` (same arguments)."""
    rng = random.Random(seed + 1_000_003)
    return [(at, poisson(rng, rate)) for at, rate in synthetic_rates(seed=seed, **kwargs)]


def rates_from_series(series: list[tuple[int, float]], *, peak_per_minute: float) -> dict[int, float]:
    """A per-minute rate from a coarser series (any unit): linear between its points, scaled so its
    largest value is ``peak_per_minute``. ``series`` is (unix minute, value) at the coarse points."""
    points = [(m, v) for m, v in series]
    top = max(v for _, v in points)
    rates: dict[int, float] = {}
    for (m0, v0), (m1, v1) in itertools.pairwise(points):
        for m in range(m0, m1):
            w = (m - m0) / (m1 - m0)
            rates[m] = peak_per_minute * ((1 - w) * v0 + w * v1) / top
    last_m, last_v = points[-1]
    rates[last_m] = peak_per_minute * last_v / top
    return rates


def poisson_counts(rates: dict[int, float], seed: int) -> list[tuple[int, float]]:
    rng = random.Random(seed)
    return [(m, float(poisson(rng, rates[m]))) for m in sorted(rates)]


def poisson(rng: random.Random, lam: float) -> int:
    if lam < 50:
        threshold, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= rng.random()
            if p <= threshold:
                return k
            k += 1
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def write_csv(rows: Iterable[tuple[dt.datetime, int]], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(["timestamp", "count"])
    for at, count in rows:
        writer.writerow([at.isoformat(), count])


def read_points(path: Path) -> list[tuple[int, float]]:
    """(unix minute, value) of each row of a CSV of ``timestamp,value`` (ISO 8601 with an offset, or
    unix seconds), rows of the same minute summed, in order, without filling gaps."""
    totals: dict[int, float] = {}
    with path.open(newline="") as fh:
        for row in csv.reader(fh):
            if not row or row[0].strip().lower() in ("timestamp", "time", "ts"):
                continue
            stamp, raw = row[0].strip(), row[1].strip() if len(row) > 1 else "1"
            try:
                seconds = float(stamp)
            except ValueError:
                parsed = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    raise ValueError(f"timestamp without a UTC offset: {stamp}") from None
                seconds = parsed.timestamp()
            minute = int(seconds // 60)
            totals[minute] = totals.get(minute, 0.0) + float(raw)
    if not totals:
        raise ValueError(f"{path}: no rows")
    return sorted(totals.items())


def read_csv(path: Path) -> list[tuple[int, float]]:
    """Per-minute counts from a CSV of ``timestamp,count`` (any resolution, summed into minutes; missing
    minutes are zero). Returns (unix minute, count) in order."""
    totals = dict(read_points(path))
    first, last = min(totals), max(totals)
    return [(m, totals.get(m, 0.0)) for m in range(first, last + 1)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.forecasting.traces",
        description="Write a synthetic per-minute arrival trace (timestamp,count) as CSV.",
    )
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--peak-per-minute", type=float, default=3000.0)
    parser.add_argument(
        "--surge-day", type=int, default=15, help="day index of the policy-day surge; -1: none"
    )
    parser.add_argument("--surge-factor", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    rows = synthetic(
        days=args.days,
        peak_per_minute=args.peak_per_minute,
        surge_day=None if args.surge_day < 0 else args.surge_day,
        surge_factor=args.surge_factor,
        seed=args.seed,
    )
    if args.out:
        with args.out.open("w", newline="") as fh:
            write_csv(rows, fh)
    else:
        write_csv(rows, sys.stdout)


if __name__ == "__main__":
    main()
