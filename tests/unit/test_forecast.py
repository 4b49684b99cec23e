"""The forecaster on deterministic series: it takes whichever of its candidates has earned it (the flat
level on a trace without a season, the seasonal shape on one with), learns the working week, tracks a
surge within minutes without carrying it into the next day, and its interval covers what it claims."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from zoneinfo import ZoneInfo

from bench.forecasting.traces import poisson, synthetic
from frontdoor.admission.forecast import Forecaster

TZ = ZoneInfo("Asia/Shanghai")
START = 1_790_000_000 // 60  # a unix minute


def _series(**kwargs: object) -> list[tuple[int, float]]:
    rows = synthetic(**kwargs)  # type: ignore[arg-type]
    return [(int(at.timestamp()) // 60, float(n)) for at, n in rows]


def _minute(day: dt.date, hh: int, mm: int) -> int:
    return int(dt.datetime.combine(day, dt.time(hh, mm), TZ).timestamp()) // 60


def _train(series: list[tuple[int, float]], until: int) -> Forecaster:
    model = Forecaster("Asia/Shanghai")
    for minute, count in series:
        if minute > until:
            break
        model.observe(minute, count)
    return model


def _wape(series: list[tuple[int, float]], h: int, after: int) -> dict[str, float]:
    """5-minute-origin WAPE at ``h`` of ours, last value and the seasonal shape alone (a week back)."""
    model = Forecaster("Asia/Shanghai")
    counts = dict(series)
    errors = {"ours": 0.0, "last value": 0.0, "a week back": 0.0}
    actual = 0.0
    for minute, count in series:
        model.observe(minute, count)
        target = minute + h
        if minute < after or target not in counts or minute % 5:
            continue
        y = counts[target]
        actual += y
        errors["ours"] += abs(y - model.mean(h))
        errors["last value"] += abs(y - count)
        errors["a week back"] += abs(y - counts.get(target - 7 * 1440, count))
    return {name: e / actual for name, e in errors.items()}


def test_on_a_trace_without_a_season_it_takes_the_level_and_matches_last_value() -> None:
    # Given two weeks of arrivals whose rate wanders at random (no daily or weekly pattern)
    rng = random.Random(11)
    rate, series = 800.0, []
    for i in range(14 * 1440):
        rate = min(3000.0, max(100.0, rate * math.exp(rng.gauss(0, 0.03))))
        series.append((START + i, float(poisson(rng, rate))))
    # When it is scored over the second week, 5 minutes ahead
    wape = _wape(series, 5, after=START + 7 * 1440)
    # Then it is as good as last value (within 3 %) and far better than any seasonal forecast
    assert wape["ours"] <= 1.03 * wape["last value"], wape
    assert wape["ours"] < 0.5 * wape["a week back"], wape


def test_on_a_seasonal_trace_it_takes_the_shape_and_beats_last_value() -> None:
    # Given three weeks of the portal's working-week pattern
    series = _series(days=21, surge_day=None, seed=1)
    # When it is scored over the third week, 15 minutes ahead
    wape = _wape(series, 15, after=series[0][0] + 14 * 1440)
    # Then the shape it learned makes it far better than last value, and better than the shape alone
    assert wape["ours"] < 0.7 * wape["last value"], wape
    assert wape["ours"] < wape["a week back"], wape


def test_it_learns_the_working_day_peaks_and_the_quiet_weekend() -> None:
    # Given two weeks of the portal's pattern without a surge (2026-11-02 is a Monday)
    series = _series(days=14, surge_day=None, seed=1)
    start = dt.date(2026, 11, 2)
    thursday = start + dt.timedelta(days=10)

    # When the model has seen everything up to Thursday 08:45 of the second week
    model = _train(series, _minute(thursday, 8, 45))

    # Then it expects the 09:00 peak fifteen minutes ahead, many times the night's level
    peak = model.mean(15)
    actual_peak = dict(series)[_minute(thursday, 9, 0)]
    assert abs(peak - actual_peak) / actual_peak < 0.15
    work, rest = model.profiles["work"].values, model.profiles["rest"].values
    night, morning = work[3 * 12], work[10 * 12]  # 03:00, 10:00
    assert night is not None and morning is not None and morning > 8 * night
    # And weekends were learned as quieter than working days at the same hour
    weekend_morning = rest[10 * 12]
    assert weekend_morning is not None and weekend_morning < 0.6 * morning


def test_it_tracks_a_policy_day_surge_within_minutes_and_forgets_it_the_next_day() -> None:
    # Given a policy day (day 9, a Wednesday) when arrivals jump to 20x from 09:00
    series = _series(days=11, surge_day=9, surge_factor=20.0, seed=2)
    counts = dict(series)
    policy_day = dt.date(2026, 11, 2) + dt.timedelta(days=9)

    # When the surge has been running for ten minutes
    model = _train(series, _minute(policy_day, 9, 10))

    # Then the one-minute-ahead forecast is within 25 % of what arrives
    actual = counts[_minute(policy_day, 9, 11)]
    assert abs(model.mean(1) - actual) / actual < 0.25

    # And the next morning's peak is not forecast as another surge
    next_day = policy_day + dt.timedelta(days=1)
    model = _train(series, _minute(next_day, 8, 45))
    expected_normal = counts[_minute(next_day, 9, 0)]
    assert model.mean(15) < 1.6 * expected_normal


def test_a_holiday_the_operators_named_is_forecast_like_a_sunday() -> None:
    # Given three weeks of the working-week pattern, and a Wednesday the operators marked as a holiday
    series = _series(days=17, surge_day=None, seed=6)
    wednesday = dt.date(2026, 11, 2) + dt.timedelta(days=16)
    told = Forecaster("Asia/Shanghai", holidays=[wednesday.isoformat()])
    plain = Forecaster("Asia/Shanghai")
    until = _minute(wednesday, 0, 0) - 1
    for minute, count in series:
        if minute > until:
            break
        told.observe(minute, count)
        plain.observe(minute, count)
    # Then at midnight the told model expects the holiday's 10:00 far quieter than a working day's
    h = 10 * 60
    assert told.mean(h) < 0.6 * plain.mean(h)


def test_the_interval_covers_about_its_nominal_share() -> None:
    series = _series(days=10, surge_day=None, seed=3)
    model = Forecaster("Asia/Shanghai")
    inside = total = 0
    pending: dict[int, tuple[float, float]] = {}
    for i, (minute, count) in enumerate(series):
        if minute in pending:
            low, high = pending.pop(minute)
            inside += low <= count <= high
            total += 1
        model.observe(minute, count)
        if i > 3 * 1440:
            p = model.predict(5)
            pending[minute + 5] = (p.low, p.high)
    assert total > 5000
    assert 0.86 <= inside / total <= 0.94  # nominal 90 %


def test_state_round_trips_so_another_door_can_take_over() -> None:
    series = _series(days=3, surge_day=None, seed=4)
    model = _train(series, series[-1][0])
    copy = Forecaster.from_state(json.loads(json.dumps(model.to_state())), "Asia/Shanghai")
    for h in (1, 5, 15, 60, 120):
        assert copy.predict(h) == model.predict(h)
    # And both go on learning alike
    for minute in range(series[-1][0] + 1, series[-1][0] + 30):
        model.observe(minute, 500.0)
        copy.observe(minute, 500.0)
    assert copy.predict(5) == model.predict(5)


def test_before_any_skill_is_known_it_forecasts_the_recent_level() -> None:
    model = Forecaster("Asia/Shanghai")
    for minute in range(1000, 1100):
        model.observe(minute, 30.0)
    assert model.mean(5) == 30.0
    assert model.first_minute_below(60.0) == 1
