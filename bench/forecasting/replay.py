"""Replay an arrival trace through ticketgate's forecaster and everything it must beat, and score them all
at the same origins.

Models: ticketgate's forecaster, last value, the mean of the last 5 and 15 minutes, seasonal naive (a
day and a week back), the true rate where the trace was drawn from one (the noise floor), and
statsforecast's MSTL (daily and weekly seasons on 5-minute aggregates, refitted every
``--reference-every`` minutes; those origins are scored in a table of their own, with every model).

At each origin after the burn-in every model forecasts 1, 5, 15 and 60 minutes ahead. The report gives
WAPE (sum of absolute errors over sum of actuals) and, for models with one, the share of actuals inside
the 90 % interval, for the whole trace, each 30-day month, and the days marked as anomalies (holidays,
policy days, storms) apart from the rest; and the CPU each model spends per minute.

It also checks the quiet times a shed citizen is given: at every origin where that minute's arrivals
exceed the capacity the replay assumes (``--capacity-share`` of the 99th percentile of the trace's rate
per minute), the suggested
minute (the first one ahead forecast below capacity) is checked against what came: was it in fact
below capacity, and how much later was it than the first minute that was.

    python -m bench.forecasting.replay --synthetic --days 120          # the seed's pattern
    python -m bench.forecasting.replay --trace arrivals.csv            # per-minute counts
    python -m bench.forecasting.replay --trace bench/forecasting/data/taylor_2000.csv --as-rate
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.forecasting.models import (
    BUCKET,
    LastValue,
    OnlineModel,
    RecentMean,
    Reference,
    SeasonalNaive,
    Ticketgate,
    TrueRate,
)
from bench.forecasting.replay_report import report
from bench.forecasting.scores import HORIZONS, ModelResult, QuietTimes
from bench.forecasting.traces import (
    poisson_counts,
    rates_from_series,
    read_csv,
    read_points,
    synthetic_rates,
)

MONTH_DAYS = 30


@dataclass
class Trace:
    description: str
    counts: list[tuple[int, float]]
    rates: dict[int, float] | None  # what the counts were drawn from, when known
    anomaly_days: set[dt.date]  # scored apart
    holidays: list[str]  # told to the forecaster in advance (the operators' calendar)


def replay(
    trace: Trace,
    *,
    burn_in_minutes: int,
    origin_every: int,
    reference_every: int,
    reference_window_days: float,
    timezone: str,
    reference: bool,
    capacity_share: float,
) -> tuple[list[ModelResult], list[QuietTimes]]:
    tz = ZoneInfo(timezone)
    minutes = [m for m, _ in trace.counts]
    counts = [y for _, y in trace.counts]
    start = minutes[0]
    ours = Ticketgate(timezone, trace.holidays)
    models: list[OnlineModel] = [
        ours,
        LastValue(),
        RecentMean(5),
        RecentMean(15),
        SeasonalNaive(1440, "a day back"),
        SeasonalNaive(7 * 1440, "a week back"),
    ]
    if trace.rates is not None:
        models.append(TrueRate(trace.rates))
    mstl = Reference(reference_window_days) if reference else None
    results = {m.name: ModelResult(m.name) for m in models}
    if mstl is not None:
        results[mstl.name] = ModelResult(mstl.name)
    truth = trace.rates or dict(trace.counts)
    # A share of the busy minutes' rate (99th percentile), not of the highest: a surge 30 times the
    # usual would otherwise put every ordinary peak below capacity.
    ordered = sorted(truth.values())
    capacity = capacity_share * ordered[int(0.99 * (len(ordered) - 1))]
    quiet = {name: QuietTimes(name) for name in (ours.name, "seasonal naive (a day back)")}
    day_back: list[float] = []
    horizon = max(HORIZONS)

    def segments(target: int) -> list[str]:
        local = dt.datetime.fromtimestamp(target * 60, tz).date()
        special = "anomaly days" if local in trace.anomaly_days else "ordinary days"
        return ["all", f"month {(target - start) // (MONTH_DAYS * 1440) + 1}", special]

    for i, (minute, y) in enumerate(trace.counts):
        for model in models:
            began = time.process_time()
            model.observe(minute, y)
            result = results[model.name]
            result.cpu_seconds += time.process_time() - began
            result.steps += 1
        if mstl is not None:
            mstl.observe(minute, y)
        day_back.append(y)
        if minute - start < burn_in_minutes or i + horizon >= len(counts):
            continue
        at_origin = (minute - start) % origin_every == 0
        at_reference = (
            mstl is not None
            and (minute - start) % reference_every == reference_every - 1
            and minute % BUCKET == BUCKET - 1
        )
        if at_reference and mstl is not None:
            began = time.process_time()
            fitted = mstl.refit(horizon)
            results[mstl.name].cpu_seconds += time.process_time() - began
            results[mstl.name].steps += fitted
            at_reference = fitted
        tables = (["every origin"] if at_origin else []) + (["reference origins"] if at_reference else [])
        if not tables:
            continue
        scored: list[OnlineModel | Reference] = list(models)
        if at_reference and mstl is not None:
            scored.append(mstl)
        for model in scored:
            for h in HORIZONS:
                p = model.predict(h)
                for table in tables:
                    if table == "every origin" and model is mstl:
                        continue
                    for segment in segments(minute + h):
                        results[model.name].score(table, segment, h).add(counts[i + h], p.mean, p.low, p.high)
        if at_origin and truth.get(minute, 0.0) > capacity:
            _check_quiet_times(quiet, ours, day_back, minutes, i, truth=truth, capacity=capacity)
    return list(results.values()), list(quiet.values())


def _check_quiet_times(
    quiet: Mapping[str, QuietTimes],
    ours: Ticketgate,
    day_back: list[float],
    minutes: list[int],
    i: int,
    *,
    truth: Mapping[int, float],
    capacity: float,
) -> None:
    """At an overloaded origin: the minute each model suggests, against the first truly below capacity."""
    minute = minutes[i]
    first_below = next((h for h in range(1, 1441) if truth.get(minute + h, 0.0) < capacity), None)
    suggested = {
        ours.name: ours.model.first_minute_below(capacity),
        "seasonal naive (a day back)": next(
            (h for h in range(1, 1441) if len(day_back) >= 1440 and day_back[-1440 + h - 1] < capacity),
            None,
        ),
    }
    for name, h in suggested.items():
        q = quiet[name]
        q.asked += 1
        if h is None:
            continue
        q.found += 1
        if truth.get(minute + h, 0.0) < capacity:
            q.below += 1
            if first_below is not None:
                q.later_by.append(h - first_below)


# --- traces ----------------------------------------------------------------------------------------
def load_trace(args: argparse.Namespace) -> Trace:
    holidays = [d for d in (args.holidays or "").split(",") if d]
    anomalies = {dt.date.fromisoformat(d) for d in holidays}
    anomalies |= {dt.date.fromisoformat(d) for d in (args.anomaly_days or "").split(",") if d}
    if args.trace and args.as_rate:
        rates = rates_from_series(read_points(args.trace), peak_per_minute=args.peak_per_minute)
        counts = poisson_counts(rates, args.seed)
        description = (
            f"{args.trace}, as per-minute Poisson arrivals from its interpolated rate "
            f"(peak {args.peak_per_minute:,.0f}/min, seed {args.seed})"
        )
        return Trace(description, counts, rates, anomalies, holidays)
    if args.trace:
        return Trace(str(args.trace), read_csv(args.trace), None, anomalies, holidays)
    surge = None if args.surge_day < 0 else args.surge_day
    rows = synthetic_rates(days=args.days, surge_day=surge, timezone=args.timezone, seed=args.seed)
    rates = {int(at.timestamp()) // 60: rate for at, rate in rows}
    if surge is not None:
        anomalies.add(rows[0][0].date() + dt.timedelta(days=surge))
    description = f"synthetic, {args.days} days, policy-day surge on day {surge}, seed {args.seed}"
    return Trace(description, poisson_counts(rates, args.seed), rates, anomalies, holidays)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.forecasting.replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--trace", type=Path, help="CSV of timestamp,count (ISO 8601 or unix seconds)")
    source.add_argument("--synthetic", action="store_true", help="generate the seed's pattern")
    parser.add_argument(
        "--as-rate",
        action="store_true",
        help="the trace is a rate in any unit at any resolution: replay Poisson arrivals drawn from it",
    )
    parser.add_argument(
        "--peak-per-minute", type=float, default=3000.0, help="--as-rate: the peak (default 3000)"
    )
    parser.add_argument("--seed", type=int, default=7, help="Poisson draws and synthetic trace (default 7)")
    parser.add_argument("--days", type=int, default=120, help="synthetic: days (default 120)")
    parser.add_argument("--surge-day", type=int, default=75, help="synthetic: policy day index, -1 none")
    parser.add_argument("--holidays", help="comma-separated dates the forecaster is told of in advance")
    parser.add_argument("--anomaly-days", help="comma-separated dates scored apart but not told of")
    parser.add_argument("--burn-in-days", type=float, default=7.0, help="default 7")
    parser.add_argument("--origin-every", type=int, default=15, help="minutes between origins (default 15)")
    parser.add_argument(
        "--reference-every", type=int, default=360, help="minutes between statsforecast fits (default 360)"
    )
    parser.add_argument(
        "--reference-window-days", type=float, default=28.0, help="statsforecast's window (default 28)"
    )
    parser.add_argument("--no-reference", action="store_true", help="skip statsforecast")
    parser.add_argument(
        "--capacity-share",
        type=float,
        default=0.7,
        help="capacity as a share of the 99th percentile of the rate (default 0.7)",
    )
    parser.add_argument(
        "--timezone", default="Asia/Shanghai", help="the trace's local time (default Asia/Shanghai)"
    )
    parser.add_argument("--report", type=Path, help="also write the Markdown report here")
    args = parser.parse_args(argv)

    trace = load_trace(args)
    results, quiet = replay(
        trace,
        burn_in_minutes=int(args.burn_in_days * 1440),
        origin_every=args.origin_every,
        reference_every=args.reference_every,
        reference_window_days=args.reference_window_days,
        timezone=args.timezone,
        reference=not args.no_reference,
        capacity_share=args.capacity_share,
    )
    given = list(argv) if argv is not None else sys.argv[1:]
    command = "python -m bench.forecasting.replay " + " ".join(given)
    text = report(results, quiet, command.strip(), trace.description)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)


if __name__ == "__main__":
    main()
