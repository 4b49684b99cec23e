"""Running locust headless against a target, with a progress bar, and reading back what it measured.

locust runs as its own process (it is built on gevent, which does not mix with this asyncio harness),
with ``--processes`` workers when one generator process would be the bottleneck. Its per-second history
(``--csv-full-history``) gives the time series; the final stats give the totals.
"""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from bench.harness.targets import ROOT

# The locustfile's fixed-count classes and their counts: the shape adds them to its citizens.
FIXED_COUNTS = {"StatusReader": 2, "ScriptAttacker": 1, "Enterprise": 1}


@dataclass(frozen=True, slots=True)
class LoadSpec:
    shape: str  # step | working_day | policy_day | constant
    duration: float
    capacity: float  # submissions a second the core can finish: the shapes' unit
    users: int  # constant shape
    user_classes: tuple[str, ...]
    processes: int = 1
    time_scale: float = 1.0
    surge: float = 20.0
    spawn_rate: float = 200.0


@dataclass
class Totals:
    count: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float


@dataclass
class LoadResult:
    totals: dict[tuple[str, str], Totals] = field(default_factory=dict)
    history: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    exit_code: int = 0

    def total(self, kind: str, name: str) -> Totals | None:
        return self.totals.get((kind, name))

    def count(self, kind: str, name: str) -> int:
        found = self.totals.get((kind, name))
        return found.count if found is not None else 0


async def run_locust(
    spec: LoadSpec,
    *,
    host: str,
    out_dir: Path,
    label: str,
    env: dict[str, str],
    on_started: Callable[[int], None] | None = None,
    progress: bool = True,
) -> LoadResult:
    prefix = out_dir / f"locust-{label}"
    tickets = out_dir / f"tickets-{label}"
    tickets.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--csv-full-history",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--logfile",
        str(out_dir / f"locust-{label}.log"),
        "--stop-timeout",
        "5",
        "--exit-code-on-error",
        "0",
    ]
    if spec.processes > 1:
        args += ["--processes", str(spec.processes)]
    args += list(spec.user_classes)
    load_env = {
        **env,
        "BENCH_SHAPE": spec.shape,
        "BENCH_DURATION": str(spec.duration),
        "BENCH_CAPACITY": str(spec.capacity),
        "BENCH_USERS": str(spec.users),
        "BENCH_SURGE": str(spec.surge),
        "BENCH_SPAWN_RATE": str(spec.spawn_rate),
        "BENCH_TIME_SCALE": str(spec.time_scale),
        "BENCH_TICKETS_DIR": str(tickets),
        "BENCH_FIXED_USERS": str(sum(FIXED_COUNTS.get(c, 0) for c in spec.user_classes)),
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    }
    began = time.monotonic()
    proc = _start(args, load_env, out_dir / f"locust-{label}.out")
    if on_started is not None:
        on_started(proc.pid)
    bar = tqdm(total=round(spec.duration), desc=label, unit="s", disable=not progress, leave=True)
    try:
        while proc.poll() is None:
            await asyncio.sleep(1.0)
            done = min(round(time.monotonic() - began), bar.total)
            bar.update(done - bar.n)
            bar.set_postfix_str(_live(prefix), refresh=False)
    finally:
        bar.close()
        if proc.poll() is None:
            proc.terminate()
    result = LoadResult(seconds=time.monotonic() - began, exit_code=proc.returncode or 0)
    result.totals = _totals(Path(f"{prefix}_stats.csv"))
    result.history = _rows(Path(f"{prefix}_stats_history.csv"))
    return result


def _start(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        # Our own locustfile with this interpreter: nothing here comes from untrusted input.
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _totals(path: Path) -> dict[tuple[str, str], Totals]:
    out: dict[tuple[str, str], Totals] = {}
    for row in _rows(path):
        out[(row["Type"], row["Name"])] = Totals(
            count=int(row["Request Count"]),
            failures=int(row["Failure Count"]),
            rps=float(row["Requests/s"]),
            p50=_ms(row.get("50%")),
            p95=_ms(row.get("95%")),
            p99=_ms(row.get("99%")),
        )
    return out


def _ms(value: str | None) -> float:
    try:
        return float(value or "nan")
    except ValueError:
        return float("nan")


def _live(prefix: Path) -> str:
    """The latest aggregated line of the history: users and requests a second, for the progress bar."""
    path = Path(f"{prefix}_stats_history.csv")
    if not path.exists():
        return ""
    try:
        with path.open(encoding="utf-8") as fh:
            lines = fh.readlines()[-12:]
    except OSError:
        return ""
    for line in reversed(lines):
        cells = line.split(",")
        if len(cells) > 4 and cells[3] == "Aggregated":
            return f"users={cells[1]} req/s={float(cells[4]):.0f}"
    return ""


def ticket_ids(out_dir: Path, label: str) -> list[str]:
    """Every ticket ID a 202 gave the load generator in this run."""
    ids: list[str] = []
    for path in sorted((out_dir / f"tickets-{label}").glob("*.txt")):
        ids += [line.strip() for line in path.read_text(encoding="ascii").splitlines() if line.strip()]
    return ids
