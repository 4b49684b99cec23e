"""The benchmark harness itself, as CI runs it: a seconds-long smoke run of ``python -m bench`` that must
write its report and plots and find every ticket it was given done, none lost, none applied twice."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_smoke_run_writes_a_report_whose_accounting_shows_zero_loss(tmp_path: Path) -> None:
    out = tmp_path / "report"
    run = subprocess.run(  # our own harness with this interpreter
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--no-progress",
            "--out",
            str(out),
            "--port-base",
            "18700",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    text = (out / "report.md").read_text(encoding="utf-8")
    row = re.search(
        r"^\| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \|", text, re.M
    )
    assert row is not None, text
    issued, done, failed, booked, lost, twice, no_effect = (int(g.replace(",", "")) for g in row.groups())
    assert issued > 0 and done + failed + booked == issued
    assert lost == twice == no_effect == 0
    for plot in ("ticketgate-outcomes.png", "ticketgate-latency.png", "ticketgate-queue-core.png"):
        assert (out / "plots" / plot).stat().st_size > 1000
    assert (out / "raw" / "locust-ticketgate_stats_history.csv").exists()
