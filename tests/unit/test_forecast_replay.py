"""The replay tool end to end on small traces: every model scored at the same origins, the trivial ones
and the noise floor among them, the reference at its own origins, quiet times checked; CSV traces of
either timestamp form, and coarse series turned into per-minute arrivals."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.forecasting.replay import load_trace, replay
from bench.forecasting.replay_report import report
from bench.forecasting.scores import HORIZONS
from bench.forecasting.traces import rates_from_series, read_csv, synthetic, write_csv


def _args(**overrides: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "trace": None,
        "as_rate": False,
        "peak_per_minute": 3000.0,
        "seed": 9,
        "days": 16,
        "surge_day": 15,
        "holidays": None,
        "anomaly_days": None,
        "timezone": "Asia/Shanghai",
    }
    return argparse.Namespace(**(base | overrides))


def test_replay_scores_every_model_and_the_reference_at_the_same_origins() -> None:
    trace = load_trace(_args())
    results, quiet = replay(
        trace,
        burn_in_minutes=14 * 1440,
        origin_every=30,
        reference_every=720,
        reference_window_days=14,
        timezone="Asia/Shanghai",
        reference=True,
        capacity_share=0.7,
    )
    by_name = {r.name: r for r in results}
    for name in ("ticketgate", "last value", "mean of last 5 min", "noise floor (true rate)"):
        assert name in by_name
    reference = next(r for r in results if "statsforecast" in r.name)
    assert reference.steps >= 2  # fits
    origins = {r.score("every origin", "all", 1).n for r in results if r is not reference}
    assert len(origins) == 1 and origins.pop() > 0  # the same origins for every online model
    for r in results:
        for h in HORIZONS:
            s = r.score("reference origins", "all", h)
            assert s.n > 0 and 0 <= s.wape < 2
    # The policy day is scored apart, and the noise floor is the best anyone could do there
    floor = by_name["noise floor (true rate)"].score("every origin", "anomaly days", 5)
    assert floor.n > 0 and floor.wape < by_name["last value"].score("every origin", "anomaly days", 5).wape
    # On the policy day arrivals exceed capacity, so quiet times were suggested and checked
    ours = next(q for q in quiet if q.name == "ticketgate")
    assert ours.asked > 0 and ours.found <= ours.asked and ours.below <= ours.found
    text = report(results, quiet, "python -m bench.forecasting.replay ...", trace.description)
    assert "| statsforecast MSTL" in text and "CPU per step" in text and "Quiet times" in text


def test_a_coarse_series_becomes_a_per_minute_rate_scaled_to_the_peak() -> None:
    rates = rates_from_series([(0, 10.0), (30, 40.0), (60, 20.0)], peak_per_minute=3000.0)
    assert rates[0] == 750.0 and rates[30] == 3000.0 and rates[60] == 1500.0
    assert rates[15] == (750.0 + 3000.0) / 2
    assert sorted(rates) == list(range(61))


def test_the_real_demand_series_loads_as_poisson_arrivals() -> None:
    path = Path(__file__).parents[2] / "bench" / "forecasting" / "data" / "taylor_2000.csv"
    trace = load_trace(_args(trace=path, as_rate=True))
    assert trace.rates is not None and max(trace.rates.values()) == 3000.0
    assert len(trace.counts) == 4031 * 30 + 1  # 12 weeks of half-hours, every minute between
    assert abs(sum(c for _, c in trace.counts) / sum(trace.rates.values()) - 1) < 0.01


def test_traces_read_back_whatever_the_timestamp_form(tmp_path: Path) -> None:
    rows = synthetic(days=1, surge_day=None, seed=1)[:180]
    iso = tmp_path / "iso.csv"
    with iso.open("w", newline="") as fh:
        write_csv(rows, fh)
    unix = tmp_path / "unix.csv"
    # Per-second rows in unix time are summed into minutes, missing minutes read as zero
    lines = ["timestamp,count"]
    for at, n in rows[:60]:
        lines += [f"{at.timestamp():.0f},{n // 2}", f"{at.timestamp() + 30:.0f},{n - n // 2}"]
    unix.write_text("\n".join(lines) + "\n")
    from_iso, from_unix = read_csv(iso), read_csv(unix)
    assert [c for _, c in from_iso] == [float(n) for _, n in rows]
    assert from_unix == from_iso[:60]
