"""The replay tool end to end on a small trace: both models scored, CSV traces of either timestamp form."""

from __future__ import annotations

from pathlib import Path

from bench.forecasting.replay import replay, report
from bench.forecasting.traces import read_csv, synthetic, write_csv


def test_replay_scores_ours_and_the_reference_on_the_same_trace() -> None:
    rows = synthetic(days=3, surge_day=None, seed=9)
    series = [(int(at.timestamp()) // 60, float(n)) for at, n in rows]
    results = replay(
        series,
        burn_in_minutes=2 * 1440,
        origin_every=30,
        reference_every=720,
        reference_window=1440,
        segments={"all": (series[0][0], series[-1][0] + 1)},
        timezone="Asia/Shanghai",
        reference=True,
    )
    names = [r.name for r in results]
    assert any("statsforecast" in n for n in names) and any("online" in n for n in names)
    for result in results:
        for h in (1, 5, 15):
            score = result.score("all", h)
            assert score.n > 0 and 0 <= score.wape < 1 and 0 <= score.coverage <= 1
    text = report(results, "python -m bench.forecasting.replay ...", "test")
    assert "| statsforecast MSTL" in text and "CPU per step" in text


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
