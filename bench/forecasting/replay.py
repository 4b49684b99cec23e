"""Replay an arrival trace through ticketgate's forecaster and a statsforecast reference, and score both.

At each forecast origin (after the burn-in) both models forecast the next 15 minutes from what they have
seen; the report gives WAPE (sum of absolute errors over sum of actuals) and the share of actuals inside
the 90 % prediction interval, at 1, 5 and 15 minutes ahead, with the CPU each model used. The reference
is statsforecast's MSTL (daily seasonality, AutoETS on the rest), refitted on a trailing window at every
reference origin, since it has no online update; ours is scored on the same origins too.

    python -m bench.forecasting.replay --synthetic                # 21 days with a policy-day surge
    python -m bench.forecasting.replay --trace arrivals.csv       # any CSV of timestamp,count
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.forecasting.traces import read_csv, synthetic
from frontdoor.admission.forecast import HORIZONS, Forecaster

LEVEL = 90


@dataclass
class Score:
    abs_error: float = 0.0
    actual: float = 0.0
    inside: int = 0
    n: int = 0

    def add(self, actual: float, mean: float, low: float, high: float) -> None:
        self.abs_error += abs(actual - mean)
        self.actual += actual
        self.inside += low <= actual <= high
        self.n += 1

    @property
    def wape(self) -> float:
        return self.abs_error / self.actual if self.actual else float("nan")

    @property
    def coverage(self) -> float:
        return self.inside / self.n if self.n else float("nan")


@dataclass
class ModelResult:
    name: str
    scores: dict[tuple[str, int], Score] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    steps: int = 0  # updates (ours) or fits (reference)

    def score(self, segment: str, h: int) -> Score:
        return self.scores.setdefault((segment, h), Score())


def replay(
    series: list[tuple[int, float]],
    *,
    burn_in_minutes: int,
    origin_every: int,
    reference_every: int,
    reference_window: int,
    segments: dict[str, tuple[int, int]],
    timezone: str,
    reference: bool,
) -> list[ModelResult]:
    minutes = [m for m, _ in series]
    counts = [y for _, y in series]
    start = minutes[0]
    ours, ours_same = (
        ModelResult("ticketgate Holt-Winters (online)"),
        ModelResult("ticketgate, reference origins"),
    )
    ref = ModelResult("statsforecast MSTL + AutoETS (refit)")
    model = Forecaster(timezone)
    mstl = _reference_model() if reference else None
    horizon = max(HORIZONS)
    for i, (minute, y) in enumerate(series):
        began = time.process_time()
        model.observe(minute, y)
        ours.cpu_seconds += time.process_time() - began
        ours.steps += 1
        if minute - start < burn_in_minutes or i + horizon >= len(series):
            continue
        at_origin = (minute - start) % origin_every == 0
        at_reference = (minute - start) % reference_every == 0
        if not (at_origin or at_reference):
            continue
        began = time.process_time()
        predictions = {h: model.predict(h) for h in HORIZONS}
        ours.cpu_seconds += time.process_time() - began
        for name, (lo, hi) in segments.items():
            for h, p in predictions.items():
                target = minute + h
                if not lo <= target < hi:
                    continue
                actual = counts[i + h]
                if at_origin:
                    ours.score(name, h).add(actual, p.mean, p.low, p.high)
                if at_reference and mstl is not None:
                    ours_same.score(name, h).add(actual, p.mean, p.low, p.high)
        if at_reference and mstl is not None:
            window = counts[max(0, i + 1 - reference_window) : i + 1]
            began = time.process_time()
            forecast = _reference_forecast(mstl, window, horizon)
            ref.cpu_seconds += time.process_time() - began
            ref.steps += 1
            for name, (lo, hi) in segments.items():
                for h in HORIZONS:
                    if lo <= minute + h < hi:
                        mean, low, high = forecast[h - 1]
                        ref.score(name, h).add(counts[i + h], mean, low, high)
    return [ours, ours_same, ref] if mstl is not None else [ours]


def _reference_model() -> object:
    from statsforecast.models import MSTL, AutoETS

    return MSTL(season_length=[24 * 60], trend_forecaster=AutoETS(model="ZZN"))


def _reference_forecast(model: object, window: list[float], horizon: int) -> list[tuple[float, float, float]]:
    import numpy as np

    fitted = model.fit(np.asarray(window, dtype=float))  # type: ignore[attr-defined]
    out = fitted.predict(horizon, level=[LEVEL])
    return [
        (max(0.0, float(m)), max(0.0, float(lo)), float(hi))
        for m, lo, hi in zip(out["mean"], out[f"lo-{LEVEL}"], out[f"hi-{LEVEL}"], strict=True)
    ]


def report(results: list[ModelResult], command: str, trace: str) -> str:
    lines = [
        "# Forecast replay",
        "",
        f"Command: `{command}`  ",
        f"Trace: {trace}",
        "",
        "| model | segment | h (min) | WAPE | 90 % interval coverage | origins |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        for (segment, h), s in sorted(result.scores.items()):
            lines.append(f"| {result.name} | {segment} | {h} | {s.wape:.1%} | {s.coverage:.1%} | {s.n} |")
    lines += ["", "| model | CPU seconds | steps | CPU per step |", "| --- | ---: | ---: | ---: |"]
    for result in results:
        if result.steps:
            per = result.cpu_seconds / result.steps
            unit = f"{per * 1e6:.0f} µs" if per < 0.01 else f"{per:.2f} s"
            kind = "minute updates" if "online" in result.name else "fits"
            lines.append(f"| {result.name} | {result.cpu_seconds:.1f} | {result.steps} {kind} | {unit} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.forecasting.replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--trace", type=Path, help="CSV of timestamp,count (ISO 8601 or unix seconds)")
    source.add_argument("--synthetic", action="store_true", help="generate the seed's pattern")
    parser.add_argument("--days", type=int, default=21, help="synthetic: days to generate")
    parser.add_argument("--surge-day", type=int, default=15, help="synthetic: policy day index, -1 none")
    parser.add_argument("--burn-in-days", type=float, default=7.0)
    parser.add_argument("--origin-every", type=int, default=15, help="minutes between our origins")
    parser.add_argument("--reference-every", type=int, default=180, help="minutes between reference fits")
    parser.add_argument("--reference-window-days", type=float, default=4.0)
    parser.add_argument("--no-reference", action="store_true", help="skip statsforecast")
    parser.add_argument("--timezone", default="Asia/Shanghai")
    parser.add_argument("--report", type=Path, help="also write the Markdown report here")
    args = parser.parse_args(argv)

    if args.trace:
        series = read_csv(args.trace)
        trace = str(args.trace)
        segments = {"all": (series[0][0], series[-1][0] + 1)}
    else:
        surge = None if args.surge_day < 0 else args.surge_day
        rows = synthetic(days=args.days, surge_day=surge, timezone=args.timezone)
        series = [(int(at.timestamp()) // 60, float(n)) for at, n in rows]
        trace = f"synthetic, {args.days} days, policy-day surge on day {surge}"
        first = series[0][0]
        segments = {"all": (first, series[-1][0] + 1)}
        if surge is not None:
            segments["policy day"] = (first + surge * 1440, first + (surge + 1) * 1440)
            segments["other days"] = (first, first + surge * 1440)
    results = replay(
        series,
        burn_in_minutes=int(args.burn_in_days * 1440),
        origin_every=args.origin_every,
        reference_every=args.reference_every,
        reference_window=int(args.reference_window_days * 1440),
        segments=segments,
        timezone=args.timezone,
        reference=not args.no_reference,
    )
    given = list(argv) if argv is not None else sys.argv[1:]
    command = "python -m bench.forecasting.replay " + " ".join(given)
    text = report(results, command.strip(), trace)
    print(text)
    if args.report:
        args.report.write_text(text)


if __name__ == "__main__":
    main()
