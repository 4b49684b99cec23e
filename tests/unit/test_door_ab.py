"""The A/B bench's own arithmetic: its sides' environments and the medians it reports."""

from __future__ import annotations

import argparse

import pytest

from bench.door_ab import Run, cli, environment, report


def test_a_side_is_read_as_names_and_values() -> None:
    assert environment("GC_YOUNG_THRESHOLD=0, PUBLISHER_CHANNELS=1") == {
        "GC_YOUNG_THRESHOLD": "0",
        "PUBLISHER_CHANNELS": "1",
    }
    assert environment("") == {}
    with pytest.raises(argparse.ArgumentTypeError):
        environment("GC_YOUNG_THRESHOLD")


def test_the_report_gives_each_run_and_each_sides_median() -> None:
    args = cli(["--rate", "1300", "--a", "GC_YOUNG_THRESHOLD=0"])
    runs = [
        Run("A", 40.0, 300.0, 20.0, 400, 900.0, 180.0),
        Run("B", 30.0, 200.0, 19.0, 4, 40.0, 181.0),
        Run("A", 50.0, 600.0, 21.0, 350, 1400.0, 180.0),
        Run("B", 35.0, 250.0, 19.5, 4, 45.0, 181.0),
        Run("A", 45.0, 450.0, 20.5, 380, 1100.0, 180.0),
        Run("B", 32.0, 220.0, 19.2, 5, 38.0, 181.0),
    ]
    text = report(args, runs)
    assert "| 3 | A | 50.0 | 600.0 | 21.0 | 350 | 1,400 | 180 |" in text
    assert "| A | 45.0 | 450.0 | 20.5 | 380 | 1,100 |" in text
    assert "| B | 32.0 | 220.0 | 19.2 | 4 | 40 |" in text
    assert "A: `GC_YOUNG_THRESHOLD=0`; B: `defaults`" in text
