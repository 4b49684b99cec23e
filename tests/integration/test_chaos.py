"""The chaos harness (``python -m bench.chaos``): its schedule and verdict, and a one-minute run of the
whole system through every kind of fault, in which every ticket a 202 gave out must end done or failed,
once, with no 5xx but 503."""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from bench.chaos.accounting import Accounting
from bench.chaos.faults import Dealt, Planned, schedule
from bench.chaos.load import Answer
from bench.chaos.report import recoveries, verdict

ROOT = Path(__file__).resolve().parents[2]


def test_ten_minutes_get_the_faults_the_issue_ran_and_the_big_ones_never_overlap() -> None:
    plan = schedule(600)
    assert Counter(p.kind for p in plan) == {
        "worker kill": 20,
        "door kill": 4,
        "broker restart": 4,
        "redis restart": 3,
    }
    assert Counter(p.variant for p in plan if p.kind == "broker restart") == {"graceful": 2, "kill": 2}
    big = [p.at for p in plan if p.kind != "worker kill"]
    assert min(b - a for a, b in itertools.pairwise(big)) >= 30
    assert all(0 < p.at < 600 for p in plan)
    assert Counter(p.kind for p in schedule(60)) == {
        "worker kill": 2,
        "door kill": 1,
        "broker restart": 1,
        "redis restart": 1,
    }


def test_a_lost_ticket_or_a_500_fails_the_run() -> None:
    ok = [Answer(1.0, 1.1, "citizen", 202, ("t1",))]
    assert verdict(Accounting(issued=1), ok)
    assert not verdict(Accounting(issued=1, lost=["t1"]), ok)
    assert not verdict(Accounting(issued=1, stuck=[("t1", "retrying")]), ok)
    assert not verdict(Accounting(issued=1, applied_twice=["t1"]), ok)
    assert not verdict(Accounting(issued=1), [*ok, Answer(2.0, 2.1, "citizen", 500, ())])
    assert verdict(Accounting(issued=1), [*ok, Answer(2.0, 2.1, "citizen", 503, ())])


def test_recovery_is_the_longest_stretch_without_a_202() -> None:
    answers = [Answer(t, t + 0.05, "citizen", 202, (f"t{t}",)) for t in (9.0, 9.5, 10.2, 17.0, 17.3)]
    [r] = recoveries([Dealt(Planned(10.0, "redis restart"), 10.0, 12.0, "Redis")], answers)
    assert r.no_202_seconds == pytest.approx(17.05 - 10.25)
    assert r.after_back_seconds == pytest.approx(17.05 - 12.0)


@pytest.mark.timeout(900)
async def test_a_minute_of_chaos_loses_nothing_applies_nothing_twice_and_answers_no_500(
    tmp_path: Path,
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.chaos",
        "--minutes",
        "1",
        "--no-progress",
        "--out",
        str(tmp_path),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    figures = orjson.loads((tmp_path / "figures.json").read_bytes())
    assert proc.returncode == 0, text[-6000:]
    assert figures["passed"] is True
    assert figures["issued"] > 300
    assert figures["lost"] == [] and figures["stuck"] == [] and figures["applied_twice"] == []
    assert figures["server_errors"] == 0
    assert {f["kind"] for f in figures["faults"]} == {
        "worker kill",
        "door kill",
        "broker restart",
        "redis restart",
    }
    # Every fault was dealt and the system took 202s again after each
    assert all(f["no_202_for"] is not None for f in figures["faults"])
