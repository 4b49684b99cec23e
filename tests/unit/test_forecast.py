"""The forecaster on deterministic synthetic series: it learns the daily pattern, tracks a surge within
minutes without carrying it into the next day, and its interval covers about what it claims."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bench.forecasting.traces import synthetic
from frontdoor.admission.forecast import Forecaster

TZ = ZoneInfo("Asia/Shanghai")


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
    night = model.profiles["weekday"][3 * 12]  # 03:00
    morning = model.profiles["weekday"][10 * 12]  # 10:00
    assert morning > 8 * night
    # And weekends were learned as quieter than working days at the same hour
    assert model.profiles["weekend"][10 * 12] < 0.6 * morning


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
    assert 0.82 <= inside / total <= 0.97  # nominal 90 %


def test_state_round_trips_so_another_door_can_take_over() -> None:
    series = _series(days=3, surge_day=None, seed=4)
    model = _train(series, series[-1][0])
    copy = Forecaster.from_state(model.to_state(), "Asia/Shanghai")
    for h in (1, 5, 15, 120):
        assert copy.predict(h) == model.predict(h)


def test_before_a_full_day_it_forecasts_the_recent_mean() -> None:
    model = Forecaster("Asia/Shanghai")
    for minute in range(1000, 1100):
        model.observe(minute, 30.0)
    assert model.mean(5) == 30.0
    assert model.first_minute_below(60.0) == 1
