"""The admission policy on its own: rates from capacity and backlog, capacity from measurements, the
advice a shed client gets, the citizens' protected share, and who goes first."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bench.forecasting.traces import synthetic
from frontdoor.admission.forecast import Forecaster
from frontdoor.admission.policy import (
    CapacityInputs,
    admission_rate,
    estimate_capacity,
    shed_advice,
    split_rate,
)
from frontdoor.admission.priority import Priority, priority_of
from frontdoor.intake.validation import validate_submission
from queue_config.resident_id import make


def test_at_the_backlog_target_the_door_admits_exactly_the_capacity() -> None:
    capacity, max_wait = 50.0, 60.0
    target = int(capacity * max_wait * 0.8)
    assert admission_rate(capacity, target, max_wait) == pytest.approx(capacity)


def test_the_rate_falls_when_capacity_falls() -> None:
    backlog, max_wait = 1000, 60.0
    rates = [admission_rate(c, backlog, max_wait) for c in (80.0, 40.0, 20.0, 10.0)]
    assert rates == sorted(rates, reverse=True) and rates[-1] < rates[0] / 4


def test_the_rate_rises_as_the_queue_drains() -> None:
    capacity, max_wait = 40.0, 60.0
    rates = [admission_rate(capacity, b, max_wait) for b in (5000, 2000, 500, 0)]
    assert rates == sorted(rates)
    assert rates[0] < capacity < rates[-1]


def test_a_trickle_remains_even_far_over_the_target() -> None:
    assert admission_rate(40.0, 1_000_000, 60.0) == pytest.approx(2.0)


def test_capacity_is_the_completion_rate_while_work_waits() -> None:
    busy = CapacityInputs(completed_rate=30.0, potential=90.0, backlog=500, previous=None, assumed=10.0)
    assert estimate_capacity(busy) == 30.0


def test_capacity_is_the_workers_potential_while_they_idle() -> None:
    idle = CapacityInputs(completed_rate=3.0, potential=90.0, backlog=0, previous=None, assumed=10.0)
    assert estimate_capacity(idle) == 90.0
    # but, once there is an estimate, it lifts it only gradually (the idle figure flatters)
    later = CapacityInputs(completed_rate=3.0, potential=90.0, backlog=0, previous=20.0, assumed=10.0)
    assert 20.0 < estimate_capacity(later) <= 25.0
    unknown = CapacityInputs(completed_rate=0.0, potential=None, backlog=0, previous=None, assumed=10.0)
    assert estimate_capacity(unknown) == 10.0


def test_capacity_is_smoothed_so_one_slow_second_does_not_halve_admissions() -> None:
    dip = CapacityInputs(completed_rate=20.0, potential=None, backlog=500, previous=40.0, assumed=10.0)
    assert 30.0 < estimate_capacity(dip) < 40.0


def test_a_shed_client_is_pointed_at_the_end_of_the_peak() -> None:
    # Given a forecaster that knows the working day, at Thursday 09:30 in the morning peak
    tz = ZoneInfo("Asia/Shanghai")
    rows = synthetic(days=11, surge_day=None, seed=5)
    now = dt.datetime(2026, 11, 12, 9, 30, tzinfo=tz)
    model = Forecaster("Asia/Shanghai")
    for at, n in rows:
        if at >= now:
            break
        model.observe(int(at.timestamp()) // 60, n)
    peak_per_minute = model.mean(1)

    # When capacity is 60 % of the peak's arrivals (the lunch dip falls to about half)
    capacity = 0.6 * peak_per_minute / 60
    advice = shed_advice(
        now=now.timestamp(),
        demand=peak_per_minute / 60,
        rate=capacity,
        capacity=capacity,
        forecast=model,
        max_retry_after=300,
    )

    # Then the suggested time is after the morning peak (it ends at 11:00) and before the afternoon one
    assert advice.suggested_at is not None
    suggested = dt.datetime.fromtimestamp(advice.suggested_at, tz)
    assert dt.time(10, 45) <= suggested.time() <= dt.time(14, 0), suggested
    # And only where the forecast is confident of it: even its interval's top is below capacity there
    ahead = round((advice.suggested_at - now.timestamp()) / 60) + 1
    assert model.predict(ahead).high < capacity * 60

    # When capacity is only half the peak's arrivals, the lunch dip is no sure quiet time any more
    half = shed_advice(
        now=now.timestamp(),
        demand=peak_per_minute / 60,
        rate=peak_per_minute / 120,
        capacity=peak_per_minute / 120,
        forecast=model,
        max_retry_after=300,
    )
    # Then the evening is suggested instead
    assert half.suggested_at is not None
    assert dt.datetime.fromtimestamp(half.suggested_at, tz).time() >= dt.time(17, 0)
    # And Retry-After is capped, since the window is further away than the cap
    assert advice.retry_after_seconds == 300


def test_without_a_forecast_retry_after_grows_with_the_overload() -> None:
    light = shed_advice(now=0, demand=12, rate=10, capacity=10, forecast=None, max_retry_after=300)
    heavy = shed_advice(now=0, demand=500, rate=10, capacity=10, forecast=None, max_retry_after=300)
    assert 1 <= light.retry_after_seconds < heavy.retry_after_seconds <= 300
    assert light.suggested_at is None


def test_during_maintenance_the_suggested_time_is_never_before_its_announced_end() -> None:
    ends = 1_000.0 + 3600
    # Without a forecast, and with a forecast whose spare minute comes before the end
    plain = shed_advice(
        now=1_000, demand=50, rate=10, capacity=10, forecast=None, max_retry_after=300, not_before=ends
    )
    assert plain.suggested_at == ends and plain.retry_after_seconds == 300
    short = shed_advice(
        now=1_000, demand=50, rate=10, capacity=10, forecast=None, max_retry_after=300, not_before=1_000 + 42
    )
    assert short.suggested_at == 1_042 and short.retry_after_seconds == 42
    # An end already past changes nothing
    past = shed_advice(
        now=1_000, demand=12, rate=10, capacity=10, forecast=None, max_retry_after=300, not_before=10.0
    )
    assert past == shed_advice(now=1_000, demand=12, rate=10, capacity=10, forecast=None, max_retry_after=300)


def test_enterprises_take_only_their_share_and_only_what_they_send() -> None:
    assert split_rate(100.0, 0.3, enterprise_demand=500.0) == (70.0, 30.0)
    assert split_rate(100.0, 0.3, enterprise_demand=10.0) == (90.0, 10.0)
    assert split_rate(100.0, 0.3, enterprise_demand=0.0) == (100.0, 0.0)


def _sub(kind: str, payload: dict[str, object]) -> object:
    return validate_submission({"kind": kind, "citizen_id": make(1), "payload": payload})


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        ("payment", {"scheme": "medical", "amount_cents": 100, "period": "2026-11"}, Priority.URGENT),
        ("payment", {"scheme": "medical", "amount_cents": 100, "period": "2026-10"}, Priority.URGENT),
        ("payment", {"scheme": "medical", "amount_cents": 100, "period": "2027-03"}, Priority.NORMAL),
        ("pension", {"action": "claim", "retirement_date": "2031-05-01"}, Priority.NORMAL),
        ("pension", {"action": "estimate", "retirement_date": "2031-05-01"}, Priority.DEFERRABLE),
        ("transfer", {"from_region": "110101", "to_region": "310101"}, Priority.NORMAL),
    ],
)
def test_priorities(kind: str, payload: dict[str, object], expected: Priority) -> None:
    # On 2026-11-26 November's period ends in four days: its payments are urgent, as are late ones
    assert priority_of(_sub(kind, payload), dt.date(2026, 11, 26)) is expected  # type: ignore[arg-type]


def test_higher_priorities_may_draw_further_ahead_on_the_shared_budget() -> None:
    bursts = [p.burst_seconds for p in Priority]
    assert bursts == sorted(bursts) and bursts[0] < bursts[-1]
